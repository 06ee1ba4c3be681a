//! Underpass domain model: ids, ARNs and account ids. No I/O, no async runtime.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]
