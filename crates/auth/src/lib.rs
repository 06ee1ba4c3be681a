//! Underpass authentication and authorization: SigV4 verification, credentials and IAM policy
//! evaluation. Pure: no sockets, no files, no clocks; callers pass `now` and look secrets up.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod credentials;
pub mod iam;
pub mod sigv4;
