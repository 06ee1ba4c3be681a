//! The store's error type.

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
    Db(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            let msg = db.message().to_owned();
            // SQLITE_BUSY / SQLITE_LOCKED / SQLITE_FULL: transient, the client may retry.
            if let Some(code) = db.code() {
                if matches!(code.as_ref(), "5" | "6" | "13" | "517" | "261") {
                    return Self::Unavailable(msg);
                }
            }
            if msg.contains("database is locked") || msg.contains("database or disk is full") {
                return Self::Unavailable(msg);
            }
            if db.is_unique_violation() {
                return Self::Conflict(msg);
            }
        }
        if matches!(e, sqlx::Error::PoolTimedOut) {
            return Self::Unavailable("timed out waiting for a database connection".into());
        }
        Self::Db(e)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self::Refused {
            path: String::new(),
            reason: format!("migration failed: {e}"),
        }
    }
}
