//! Underpass control-plane state: SQLite (through rusqlite), with embedded migrations.
//!
//! Every API action runs in one [`Tx`]: it either commits whole or leaves nothing behind. The
//! database runs in WAL mode, and a write returns from its commit only once its batch's commit
//! is on disk (the batch's committer fsyncs the WAL), so neither a `kill -9` nor a power failure
//! loses anything acknowledged.
//! Opening refuses a corrupt file, and a database that belongs to another install.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod acls;
pub mod agents;
mod cols;
mod db;
mod error;
pub mod flow_logs;
pub mod gateway_endpoints;
pub mod iam;
pub mod network;
pub mod notifications;
mod open;
pub mod policies;
pub mod records;
pub mod regions;
pub mod routing;
pub mod services;
pub mod tags;

pub use db::{Conn, Db, FsyncTimes, Tx, FSYNC_BUCKETS};
pub use error::StoreError;
pub use open::{revision_in, Migration, Store, StoreConfig, MIGRATIONS};

/// Milliseconds since the Unix epoch: how the store writes times.
pub fn to_ms(t: time::OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The inverse of [`to_ms`].
pub fn from_ms(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}
