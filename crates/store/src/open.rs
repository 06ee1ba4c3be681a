//! Opening the database: pragmas, integrity and install checks, migrations, transactions.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use crate::StoreError;

/// The migrations compiled into the binary.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How to open the store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The SQLite file (created if missing).
    pub path: PathBuf,
    /// This install's id: a database written by another install is refused.
    pub install_id: String,
    /// The region this control plane serves.
    pub region: String,
    /// How long a call waits for a lock before failing with `Unavailable`.
    pub busy_timeout: Duration,
}

/// The state database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    writers: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// A writer's turn (see [`Store::writer_turn`]): hold it until the transaction ends.
pub type WriterTurn = tokio::sync::OwnedMutexGuard<()>;

/// One API action's transaction: commit it, or drop it and nothing happened.
pub type Tx = Transaction<'static, Sqlite>;

impl Store {
    /// Opens (creating if needed) and checks the database at `cfg.path`.
    pub async fn open(cfg: &StoreConfig) -> Result<Self, StoreError> {
        let refused = |reason: String| StoreError::Refused {
            path: cfg.path.display().to_string(),
            reason,
        };
        let existed = cfg.path.exists();
        let opts = SqliteConnectOptions::from_str("sqlite://")
            .map_err(StoreError::Db)?
            .filename(&cfg.path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is durable before the API acknowledges it.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Pages are read through a memory map rather than a pread each (the database is
            // small; listings read many pages on each of the pool's connections).
            .pragma("mmap_size", "268435456")
            .busy_timeout(cfg.busy_timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(cfg.busy_timeout + Duration::from_secs(1))
            .connect_with(opts)
            .await
            .map_err(|e| refused(format!("cannot open: {e}")))?;
        let store = Self {
            pool,
            writers: std::sync::Arc::default(),
        };
        if existed {
            let check: String = sqlx::query_scalar("PRAGMA quick_check")
                .fetch_one(&store.pool)
                .await
                .map_err(|e| refused(format!("not a readable SQLite database ({e})")))?;
            if check != "ok" {
                return Err(refused(format!("integrity check failed: {check}")));
            }
        }
        MIGRATOR
            .run(&store.pool)
            .await
            .map_err(|e| refused(format!("migration failed: {e}")))?;
        store.check_install(cfg).await.map_err(|e| match e {
            StoreError::Refused { reason, .. } => refused(reason),
            other => other,
        })?;
        Ok(store)
    }

    async fn check_install(&self, cfg: &StoreConfig) -> Result<(), StoreError> {
        let row = sqlx::query("SELECT install_id, region FROM install WHERE singleton = 1")
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => {
                let id: String = row.try_get("install_id")?;
                if id != cfg.install_id {
                    return Err(StoreError::Refused {
                        path: String::new(),
                        reason: format!(
                            "it belongs to install {id}, not to this install ({})",
                            cfg.install_id
                        ),
                    });
                }
                Ok(())
            }
            None => {
                sqlx::query("INSERT INTO install (singleton, install_id, region, created_ms) VALUES (1, ?, ?, ?)")
                    .bind(&cfg.install_id)
                    .bind(&cfg.region)
                    .bind(crate::to_ms(time::OffsetDateTime::now_utc()))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    }

    /// Starts a write transaction. `BEGIN IMMEDIATE` takes the write lock up front, so two
    /// actions never deadlock upgrading read locks, and a held lock fails after the busy timeout.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Waits for this process's turn to write. SQLite admits one writer at a time, and a writer
    /// that finds the lock taken sleeps in SQLite's busy handler with a growing backoff (up to
    /// 100 ms a nap, whenever the lock frees): under concurrent writes that backoff, not the
    /// work, made the latency tail. Writers that take turns here first queue in order (the
    /// mutex is fair) and begin the moment the one before them ends; the busy handler is left
    /// for writers of other processes.
    pub async fn writer_turn(&self) -> WriterTurn {
        self.writers.clone().lock_owned().await
    }

    /// Starts a read-only transaction (a consistent snapshot).
    pub async fn read(&self) -> Result<Tx, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// The pool, for queries outside a transaction.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The current revision: bumped by every change agents must see.
    pub async fn revision(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM revision WHERE singleton = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Bumps the revision inside `tx`; returns the new value.
pub(crate) async fn bump_revision(tx: &mut Tx) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "UPDATE revision SET value = value + 1 WHERE singleton = 1 RETURNING value",
    )
    .fetch_one(&mut **tx)
    .await?)
}
