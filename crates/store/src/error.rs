//! The store's error type.

use rusqlite::ErrorCode;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database is busy beyond the busy timeout, or the disk is full: retry later.
    #[error("the state database is unavailable: {0}")]
    Unavailable(String),
    /// A row the action expected does not exist.
    #[error("{kind} '{id}' does not exist")]
    NotFound {
        /// What kind of thing, e.g. "vpc".
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// A uniqueness rule refused the change.
    #[error("{0}")]
    Conflict(String),
    /// The database file is corrupt, from another install, or of a newer schema.
    #[error("refusing to use the state database {path}: {reason}")]
    Refused {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A stored value no longer parses (a bug or tampering).
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Db(rusqlite::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, msg) = &e {
            let text = msg.clone().unwrap_or_else(|| f.to_string());
            match f.code {
                // Busy or locked beyond the busy timeout, disk full, I/O error: transient, the
                // client may retry.
                ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::DiskFull
                | ErrorCode::SystemIoFailure => return Self::Unavailable(text),
                ErrorCode::ConstraintViolation
                    if matches!(
                        f.extended_code,
                        rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                            | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    ) =>
                {
                    return Self::Conflict(text)
                }
                _ => {}
            }
        }
        Self::Db(e)
    }
}
