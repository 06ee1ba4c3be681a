//! Opening the database: pragmas, integrity and install checks, migrations, transactions.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::db::{self, Conn, Pool, Tx, Writer};
use crate::StoreError;

/// One schema migration compiled into the binary.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its number: migrations apply in this order, each once.
    pub version: i64,
    /// What it is about (the file's name without number and extension).
    pub description: &'static str,
    /// Its SQL.
    pub sql: &'static str,
    /// It rebuilds a table that others refer to, so it runs with foreign keys off (dropping
    /// the old table would otherwise run their `ON DELETE` actions); the keys are checked
    /// before it commits.
    pub foreign_keys_off: bool,
}

const fn m(version: i64, description: &'static str, sql: &'static str) -> Migration {
    Migration {
        version,
        description,
        sql,
        foreign_keys_off: false,
    }
}

/// A migration that rebuilds a table others refer to (see [`Migration::foreign_keys_off`]).
const fn rebuild(version: i64, description: &'static str, sql: &'static str) -> Migration {
    Migration {
        foreign_keys_off: true,
        ..m(version, description, sql)
    }
}

/// Every migration, in order: one per file of `migrations/` (a test checks the two agree).
pub static MIGRATIONS: &[Migration] = &[
    m(1, "init", include_str!("../migrations/0001_init.sql")),
    m(
        2,
        "elb_attributes",
        include_str!("../migrations/0002_elb_attributes.sql"),
    ),
    m(
        10,
        "agent_certs",
        include_str!("../migrations/0010_agent_certs.sql"),
    ),
    m(20, "dns", include_str!("../migrations/0020_dns.sql")),
    m(
        30,
        "iam_managed_policies",
        include_str!("../migrations/0030_iam_managed_policies.sql"),
    ),
    m(
        31,
        "routing_and_tags",
        include_str!("../migrations/0031_routing_and_tags.sql"),
    ),
    m(
        40,
        "flow_logs",
        include_str!("../migrations/0040_flow_logs.sql"),
    ),
    m(
        41,
        "flow_log_destination_options",
        include_str!("../migrations/0041_flow_log_destination_options.sql"),
    ),
    m(
        50,
        "gateway_endpoints",
        include_str!("../migrations/0050_gateway_endpoints.sql"),
    ),
    m(
        51,
        "egress_subnet_attributes_cidr_blocks",
        include_str!("../migrations/0051_egress_subnet_attributes_cidr_blocks.sql"),
    ),
    m(
        52,
        "connection_notifications",
        include_str!("../migrations/0052_connection_notifications.sql"),
    ),
    m(
        53,
        "endpoint_pages",
        include_str!("../migrations/0053_endpoint_pages.sql"),
    ),
    m(
        54,
        "default_vpcs",
        include_str!("../migrations/0054_default_vpcs.sql"),
    ),
    m(
        55,
        "flow_log_delivery",
        include_str!("../migrations/0055_flow_log_delivery.sql"),
    ),
    m(
        56,
        "enis_subnet",
        include_str!("../migrations/0056_enis_subnet.sql"),
    ),
    m(
        57,
        "regions",
        include_str!("../migrations/0057_regions.sql"),
    ),
    m(
        58,
        "iam_generation",
        include_str!("../migrations/0058_iam_generation.sql"),
    ),
    m(
        59,
        "subnet_ip_floor",
        include_str!("../migrations/0059_subnet_ip_floor.sql"),
    ),
    m(
        60,
        "drop_enis_subnet",
        include_str!("../migrations/0060_drop_enis_subnet.sql"),
    ),
    m(
        61,
        "endpoint_version",
        include_str!("../migrations/0061_endpoint_version.sql"),
    ),
    m(
        62,
        "history_rowid",
        include_str!("../migrations/0062_history_rowid.sql"),
    ),
    rebuild(
        63,
        "endpoints_without_rowid",
        include_str!("../migrations/0063_endpoints_without_rowid.sql"),
    ),
    m(
        64,
        "endpoint_listing_index",
        include_str!("../migrations/0064_endpoint_listing_index.sql"),
    ),
];

/// Connections in the pool: readers run side by side (WAL), writers take turns on one of them
/// (kept by the writers between batches, once a write has happened).
const POOL_SIZE: usize = 8;

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
    pool: Arc<Pool>,
    writer: Writer,
}

impl Store {
    /// How long the fsyncs of the write-ahead log have taken since the store opened (each
    /// acknowledged write waited for one).
    pub fn wal_fsync_times(&self) -> crate::db::FsyncTimes {
        self.pool.fsync_times()
    }

    /// Opens (creating if needed) and checks the database at `cfg.path`.
    pub async fn open(cfg: &StoreConfig) -> Result<Self, StoreError> {
        let refused = |reason: String| StoreError::Refused {
            path: cfg.path.display().to_string(),
            reason,
        };
        let existed = cfg.path.exists();
        let pool = Pool::open(&cfg.path, cfg.busy_timeout, POOL_SIZE)
            .map_err(|e| refused(format!("cannot open: {e}")))?;
        let store = Self {
            pool,
            writer: Writer::default(),
        };
        let mut conn = store.conn().await?;
        if existed {
            let check: String = db::query_scalar("PRAGMA quick_check")
                .fetch_one(&mut conn)
                .map_err(|e| refused(format!("not a readable SQLite database ({e})")))?;
            if check != "ok" {
                return Err(refused(format!("integrity check failed: {check}")));
            }
        }
        migrate(&mut conn).map_err(|e| match e {
            StoreError::Refused { reason, .. } => refused(reason),
            other => refused(format!("migration failed: {other}")),
        })?;
        drop(conn);
        store.check_install(cfg).await.map_err(|e| match e {
            StoreError::Refused { reason, .. } => refused(reason),
            other => other,
        })?;
        Ok(store)
    }

    /// A connection outside any transaction (each statement commits on its own).
    pub async fn conn(&self) -> Result<Conn, StoreError> {
        self.pool.get().await
    }

    async fn check_install(&self, cfg: &StoreConfig) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let row = db::query("SELECT install_id, region FROM install WHERE singleton = 1")
            .fetch_optional(&mut conn)?;
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
                db::query("INSERT INTO install (singleton, install_id, region, created_ms) VALUES (1, ?, ?, ?)")
                    .bind(&cfg.install_id)
                    .bind(&cfg.region)
                    .bind(crate::to_ms(time::OffsetDateTime::now_utc()))
                    .execute(&mut conn)?;
                Ok(())
            }
        }
    }

    /// Starts a write transaction: one writer of this process at a time, in the order they
    /// asked, each waiting at most the busy timeout for its turn (then `Unavailable`). Its
    /// commit is grouped with those of the writers that queued meanwhile (see `db::Batch`).
    /// `BEGIN IMMEDIATE` takes the write lock up front, so two actions never deadlock upgrading
    /// read locks.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Tx::begin_write(&self.pool, &self.writer, self.pool.busy_timeout()).await
    }

    /// Starts a read-only transaction (a consistent snapshot).
    pub async fn read(&self) -> Result<Tx, StoreError> {
        Tx::begin_read(self.conn().await?)
    }

    /// The current revision: bumped by every change agents must see.
    pub async fn revision(&self) -> Result<i64, StoreError> {
        db::query_scalar("SELECT value FROM revision WHERE singleton = 1")
            .fetch_one(&mut self.conn().await?)
    }

    /// Closes the pool: idle connections close now (the last checkpoints the WAL), the rest as
    /// they come back.
    pub async fn close(&self) {
        self.pool.close();
    }
}

/// The revision as `tx` sees it.
pub async fn revision_in(tx: &mut Tx) -> Result<i64, StoreError> {
    db::query_scalar("SELECT value FROM revision WHERE singleton = 1").fetch_one(tx)
}

/// Bumps the revision inside `tx` ([`revision_in`] reads it).
///
/// Without `RETURNING`: SQLite buffers a `RETURNING` statement's rows in a temporary B-tree,
/// which it opens and closes on every run, and that cost more than the update (perf,
/// CreateVpcEndpoint: 6% of the action). No caller needed the value.
pub(crate) async fn bump_revision(tx: &mut Tx) -> Result<(), StoreError> {
    let done =
        db::query("UPDATE revision SET value = value + 1 WHERE singleton = 1").execute(tx)?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Corrupt("the revision row is missing".into()));
    }
    Ok(())
}

/// Applies the migrations `conn`'s database lacks, each in its own transaction. A database
/// with a migration this binary does not know is of a newer schema: refused.
fn migrate(conn: &mut Conn) -> Result<(), StoreError> {
    use crate::db::Db;
    let c = conn.connection()?;
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, \
         description TEXT NOT NULL, installed_ms INTEGER NOT NULL)",
    )?;
    // Databases made before the store left sqlx recorded their migrations in sqlx's table.
    let sqlx_table: i64 = c.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        [],
        |r| r.get(0),
    )?;
    if sqlx_table > 0 {
        c.execute_batch(
            "INSERT OR IGNORE INTO schema_migrations (version, description, installed_ms) \
             SELECT version, description, 0 FROM _sqlx_migrations WHERE success",
        )?;
    }
    let applied: Vec<i64> = {
        let mut stmt = c.prepare("SELECT version FROM schema_migrations ORDER BY version")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    if let Some(v) = applied
        .iter()
        .find(|v| !MIGRATIONS.iter().any(|m| m.version == **v))
    {
        return Err(StoreError::Refused {
            path: String::new(),
            reason: format!("it has schema migration {v}, unknown to this version of Underpass (a newer schema)"),
        });
    }
    for mig in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        let now = crate::to_ms(time::OffsetDateTime::now_utc());
        if mig.foreign_keys_off {
            // Only outside a transaction does this take effect.
            c.execute_batch("PRAGMA foreign_keys = OFF")?;
        }
        let run = c.execute_batch(&format!("BEGIN IMMEDIATE;\n{}\n;", mig.sql)).and_then(|()| {
            if mig.foreign_keys_off {
                let broken: i64 =
                    c.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                        r.get(0)
                    })?;
                if broken > 0 {
                    return Err(rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                        Some(format!("{broken} rows break a foreign key")),
                    ));
                }
            }
            c.execute(
                "INSERT INTO schema_migrations (version, description, installed_ms) VALUES (?1, ?2, ?3)",
                rusqlite::params![mig.version, mig.description, now],
            )?;
            c.execute_batch("COMMIT")
        });
        if run.is_err() && !c.is_autocommit() {
            let _ = c.execute_batch("ROLLBACK");
        }
        if mig.foreign_keys_off {
            let on = c.execute_batch("PRAGMA foreign_keys = ON");
            if let (Ok(()), Err(e)) = (&run, on) {
                return Err(e.into());
            }
        }
        if let Err(e) = run {
            return Err(StoreError::Refused {
                path: String::new(),
                reason: format!(
                    "migration {} ({}) failed: {e}",
                    mig.version, mig.description
                ),
            });
        }
    }
    Ok(())
}
