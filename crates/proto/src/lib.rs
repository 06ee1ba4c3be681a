//! Underpass wire formats and sans-IO state machines (PROXY protocol v2, the tunnel preamble).
//! No sockets, no async runtime, no clocks: callers feed bytes and pass `now` where time matters.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod crc32c;
mod error;
pub mod proxy_v2;
pub mod sync;
pub mod tunnel;

pub use error::ParseError;
