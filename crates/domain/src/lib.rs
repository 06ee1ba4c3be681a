//! Underpass domain model: ids, ARNs, CIDRs, the endpoint-connection state machine and
//! security-group rules. No I/O, no async runtime.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod account;
pub mod api;
pub mod arn;
pub mod connection;
pub mod dns;
pub mod firewall;
pub mod ids;
pub mod net;
pub mod text;

pub use account::{AccessKeyId, AccessKeyKind, AccountId, IdError};
pub use arn::{Arn, ArnError, PrincipalArn};
pub use connection::{ConnEvent, ConnState, IllegalTransition};
pub use ids::*;
