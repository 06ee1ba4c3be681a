//! Underpass domain model: ids, ARNs and account ids. No I/O, no async runtime.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod account;
pub mod arn;

pub use account::{AccessKeyId, AccessKeyKind, AccountId, IdError};
pub use arn::{Arn, ArnError, PrincipalArn};
