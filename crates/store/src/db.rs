//! SQLite access: a small pool of connections, one action's transaction, and the query builder
//! every repository uses.
//!
//! Statements run on the calling thread. SQLite answers a statement of this store in
//! microseconds (its pages are in the connection's cache), so a hand-off to a database thread
//! per statement (what sqlx's SQLite driver does) cost more than the statement: two wake-ups each,
//! about 20 statements per `CreateVpcEndpoint`, all of them while the writer's turn is held.
//! The slow step, the fsync of the WAL after a write transaction's commit, runs on a thread of
//! its own, once for every batch of writers that queued meanwhile (group commit, see [`Batch`]
//! and [`WalSync`]).

use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::types::{FromSql, FromSqlError, ToSql, ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use crate::StoreError;

/// Prepared statements kept per connection (the store has about 250 distinct statements; the
/// hot ones stay).
const STATEMENT_CACHE: usize = 256;

/// Pages in the WAL (32 MiB) from which the next batch's committer checkpoints. SQLite's own
/// default is 1,000, but each checkpoint ends with a step that holds the writers' turn for a
/// few milliseconds (see [`commit_batch`]): at 1,000 pages that came every 140 endpoints
/// created, 56 stalls of 2.2 ms each in 8,000 creations, and they were the slowest 1% of the
/// answers (bench/api, 8 clients: p99 6.3 ms; at 8,000 pages 7 stalls of 2.7-3.6 ms, p99
/// 3.9-4.6 ms). A larger WAL costs disk, not reads: SQLite finds a page in it by hash.
const CHECKPOINT_PAGES: i32 = 8000;

/// Where the WAL's checkpoint stands (see [`commit_batch`]).
#[derive(Debug, Default)]
struct Checkpoints {
    /// The WAL's size in pages from which a checkpoint is due ([`CHECKPOINT_PAGES`]; tests
    /// set a smaller one).
    at: i32,
    /// A commit left at least `at` pages in the WAL.
    due: AtomicBool,
    /// [`IDLE`], [`BULK`] or [`TAIL`].
    phase: AtomicU8,
}

/// No checkpoint under way.
const IDLE: u8 = 0;
/// A committer is copying the WAL into the database file, off the writers' turn.
const BULK: u8 = 1;
/// The bulk is copied; the next committer copies what was appended meanwhile, on the turn.
const TAIL: u8 = 2;

/// The fsyncs of the WAL that make committed batches durable: one thread of their own (the
/// syncer), shared by the pool's committers. A committer hands over its batch's answers once the
/// batch's frames are in the WAL ([`WalSync::durable`]); the syncer takes every batch handed over
/// so far, fsyncs the WAL once for all of them, answers them, and at once starts over with the
/// batches that came during that fsync. Under load that is one fsync per fsync's time, not one
/// per batch: each costs the kernel about 70 us of CPU besides its wait (perf under
/// CreateVpcEndpoint load: 12% of the server's CPU).
///
/// A thread of its own rather than a blocking-pool task per batch: each batch's task had to be
/// woken on a busy 2-core machine (80-130 us), waited for the fsync under way, and the next
/// fsync began only once a woken task got the CPU to start it. The syncer, busy under load,
/// starts the next fsync the moment the last one returns, and wakes each answered writer
/// directly.
#[derive(Debug)]
struct WalSync {
    shared: Arc<SyncShared>,
}

#[derive(Debug)]
struct SyncShared {
    /// The WAL, opened by name for each fsync (the kernel syncs the file, whichever descriptor
    /// asks): SQLite may delete it and start a new file when its last connection closes, and a
    /// kept descriptor would then sync the old one.
    wal: PathBuf,
    state: Mutex<SyncState>,
    /// Signalled when batches are handed over to an idle syncer, or when it must stop.
    work: Condvar,
    /// fsyncs run, counted before their batches are answered.
    syncs: std::sync::atomic::AtomicU64,
    /// How long they took.
    times: SyncTimes,
    /// Held by a test to keep the syncer inside its fsync.
    #[cfg(test)]
    gate: Mutex<()>,
}

/// The answers of one batch's writers.
type Answers = Vec<oneshot::Sender<Result<(), String>>>;

#[derive(Debug, Default)]
struct SyncState {
    /// Batches committed (their frames written to the WAL) since the fsync under way began.
    waiting: Vec<Answers>,
    /// The syncer waits for work (a hand-over must wake it).
    idle: bool,
    /// The pool is gone: sync what is waiting, then end.
    stop: bool,
}

impl WalSync {
    /// Starts the syncer of the WAL `wal`.
    fn start(wal: PathBuf) -> std::io::Result<Self> {
        let shared = Arc::new(SyncShared {
            wal,
            state: Mutex::default(),
            work: Condvar::new(),
            syncs: std::sync::atomic::AtomicU64::new(0),
            times: SyncTimes::default(),
            #[cfg(test)]
            gate: Mutex::new(()),
        });
        let syncer = shared.clone();
        std::thread::Builder::new()
            .name("underpass-wal-sync".into())
            .spawn(move || syncer.run())?;
        Ok(Self { shared })
    }

    /// Hands over a batch whose commit has written its frames to the WAL: its writers are
    /// answered after an fsync that begins after this call.
    fn durable(&self, answers: Answers) {
        let mut st = self.shared.lock();
        st.waiting.push(answers);
        if st.idle {
            st.idle = false;
            self.shared.work.notify_one();
        }
    }

    /// How many fsyncs the syncer has run.
    #[cfg(test)]
    fn syncs(&self) -> u64 {
        self.shared.syncs.load(Ordering::Acquire)
    }

    /// How long its fsyncs took so far.
    fn times(&self) -> FsyncTimes {
        self.shared.times.snapshot()
    }
}

/// Upper bounds of the WAL fsync histogram's buckets, in seconds: from the 0.1-0.3 ms a local
/// SSD takes to the seconds that mean a disk in trouble.
pub const FSYNC_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.1, 0.5, 1.0, 5.0,
];

/// An fsync this slow is logged as a warning: writes are waiting on the disk, not the server.
const SLOW_FSYNC: Duration = Duration::from_secs(1);

/// The WAL fsyncs' durations, counted by the syncer.
#[derive(Debug, Default)]
struct SyncTimes {
    /// Per bucket of [`FSYNC_BUCKETS`] (not cumulative); the last slot is past the last bound.
    buckets: [std::sync::atomic::AtomicU64; FSYNC_BUCKETS.len() + 1],
    sum_ns: std::sync::atomic::AtomicU64,
}

impl SyncTimes {
    fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let slot = FSYNC_BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(FSYNC_BUCKETS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    fn snapshot(&self) -> FsyncTimes {
        let mut counts = [0; FSYNC_BUCKETS.len() + 1];
        for (c, b) in counts.iter_mut().zip(&self.buckets) {
            *c = b.load(Ordering::Relaxed);
        }
        FsyncTimes {
            counts,
            sum: Duration::from_nanos(self.sum_ns.load(Ordering::Relaxed)),
        }
    }
}

/// How long the store's fsyncs of its write-ahead log have taken since it opened: the wait
/// every acknowledged write includes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsyncTimes {
    /// fsyncs per bucket of [`FSYNC_BUCKETS`] (not cumulative); the last is past the last bound.
    pub counts: [u64; FSYNC_BUCKETS.len() + 1],
    /// Their total duration.
    pub sum: Duration,
}

impl Drop for WalSync {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.stop = true;
        self.shared.work.notify_one();
    }
}

impl SyncShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, SyncState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The syncer's loop: waits for batches, fsyncs once for all that are waiting, answers them.
    fn run(&self) {
        let mut st = self.lock();
        loop {
            if st.waiting.is_empty() {
                if st.stop {
                    return;
                }
                st.idle = true;
                st = self.work.wait(st).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            // Every batch handed over so far has written its frames: this fsync covers them.
            let batches = std::mem::take(&mut st.waiting);
            drop(st);
            let began = std::time::Instant::now();
            let synced = self.fsync();
            let took = began.elapsed();
            self.times.observe(took);
            if took >= SLOW_FSYNC {
                tracing::warn!(
                    took_ms = took.as_millis(),
                    wal = %self.wal.display(),
                    "slow fsync of the write-ahead log: every write waited for it"
                );
            }
            let result = synced.map_err(|e| format!("syncing the write-ahead log failed: {e}"));
            self.syncs.fetch_add(1, Ordering::Release);
            // A failed fsync fails the batches it was to cover (the kernel may have dropped
            // their pages' error state: a retry could succeed without writing them). Batches
            // handed over since then get an fsync of their own.
            for answers in batches {
                for a in answers {
                    let _ = a.send(result.clone());
                }
            }
            st = self.lock();
        }
    }

    fn fsync(&self) -> std::io::Result<()> {
        #[cfg(test)]
        let _gate = self.gate.lock().unwrap_or_else(PoisonError::into_inner);
        std::fs::File::open(&self.wal).and_then(|f| f.sync_data())
    }
}

/// How connections are opened.
#[derive(Debug, Clone)]
struct Opener {
    path: PathBuf,
    busy_timeout: Duration,
    /// The WAL's checkpoint, shared by the pool's connections.
    checkpoints: Arc<Checkpoints>,
    /// The fsyncs of the WAL.
    wal: Arc<WalSync>,
}

impl Opener {
    fn open(&self) -> Result<Connection, rusqlite::Error> {
        let mut conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // Plans must not depend on the values bound. Without this, SQLite (3.54) marks a
        // parameter like `owner_id = ?` in a sorted query as "may change the plan" (its
        // heuristic for a bound 0 or 1), and every later bind of text to it, or the
        // `clear_bindings` below, expires the cached statement: each run re-parsed and
        // re-planned it, about a tenth of a listing's CPU.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        // WAL: readers never block the writer. NORMAL: a commit writes the WAL without an
        // fsync; the batch's committer syncs the WAL itself after handing the turn on, and only
        // then answers (see [`Batch`]), so the API still acknowledges nothing before it is on
        // disk. No memory map: a commit by any other connection makes a reader drop
        // its cache and unmap the whole file at its next transaction, then fault in every page
        // again; with a commit every few milliseconds under write load, reading pages with
        // pread cost less (CreateVpcEndpoint 360-440 -> 310-350 us of server CPU; listings
        // unchanged, bench/api).
        // Temporary storage in memory: every writer runs in a savepoint of its batch, and a
        // savepoint's statement journal (the pages' prior contents) spilled past 64 KiB into a
        // file SQLite created in /var/tmp or $TMPDIR: an open, writes and a close per spill
        // (41 a second under CreateVpcEndpoint load), all while the writers' turn was held, and
        // a write failed wherever that directory was full. The journal holds only the pages one
        // action changes, and large sorts are rare here (lists are read in index order).
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
             PRAGMA mmap_size = 0; PRAGMA temp_store = MEMORY;",
        )?;
        // Checkpoints leave the commit. SQLite's automatic one runs inside the COMMIT that
        // passes 1,000 WAL pages: copying them into the database file and an fsync of it, while
        // the writers' turn is held, so every queued writer waited for it. A hook in its place
        // (installing one turns the automatic checkpoint off) only marks the checkpoint due;
        // batch committers run it (`commit_batch`).
        let checkpoints = self.checkpoints.clone();
        conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: i32| {
            if pages >= checkpoints.at {
                checkpoints.due.store(true, Ordering::Relaxed);
            }
            Ok(())
        }))?;
        Ok(conn)
    }
}

/// The WAL of the database at `path`: its name with `-wal` added.
fn wal_path(path: &Path) -> PathBuf {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

/// Zero-fills the WAL up to the size at which a checkpoint is due (`pages` frames), so that
/// commits overwrite blocks already written rather than append. A WAL already that large is
/// left alone.
///
/// Until its first checkpoint starts the WAL over, every commit appends to it, and the fsync
/// after an append also commits the file system's journal (the file's new size and blocks):
/// 215 us against 120 us after an overwrite (`bench/wal-fsync`: ext4, 20 pages a commit).
/// That was the fsync of each of the first ~900 endpoint creations after every start (SQLite
/// deletes the WAL when its last connection closes): from commit to durable, 500 us a batch,
/// against 200-280 us with the WAL zero-filled (bench/api, CreateVpcEndpoint, 8 clients).
/// PostgreSQL zero-fills new WAL segments for the same reason (`wal_init_zero`). `fallocate`
/// does not do: writing into its unwritten extents changes metadata too (205 us).
///
/// Safe beside SQLite's own writes: the zeros are appended, so they land past the file's end
/// at that moment and never over a frame; a zero frame fails the WAL header's salt check, so
/// recovery still stops at the last valid frame.
///
/// The zeros go in 64 KiB writes, not larger: the page cache keeps what one write brought in
/// as one folio, up to the write's size, and ext4 walks every block of a folio on each later
/// write into it. SQLite writes a frame as two small writes (its header, then its page); into
/// the 1 MiB folios of 1 MiB writes they cost 5.5 us of CPU a frame, against 2.6 us into
/// 64 KiB ones, with the same fsync (`bench/wal-fsync`, ext4, Linux 6.18). A creation writes
/// about five frames, all while the writers' turn is held.
fn preallocate_wal(conn: &Connection, path: &Path, pages: i32) -> std::io::Result<()> {
    use std::io::Write;
    const CHUNK: usize = 64 << 10;
    let sql = |e: rusqlite::Error| std::io::Error::other(e);
    // A read opens the WAL (and creates it, for a new database).
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(sql)?;
    let page_size: u32 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .map_err(sql)?;
    // The WAL's header, then each frame: a 24-byte header and a page.
    let target = 32 + u64::try_from(pages).unwrap_or(0) * (u64::from(page_size) + 24);
    let wal = wal_path(path);
    let mut file = match std::fs::OpenOptions::new().append(true).open(&wal) {
        Ok(f) => f,
        // No WAL (another journal mode): nothing to prepare.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut len = file.metadata()?.len();
    if len >= target {
        return Ok(());
    }
    let fs = rustix::fs::statvfs(wal.as_os_str())?;
    let free = fs.f_bavail.saturating_mul(fs.f_frsize);
    if !worth_zero_filling(target - len, free) {
        tracing::info!(
            free,
            needed = target - len,
            "not zero-filling the write-ahead log: too little free space"
        );
        return Ok(());
    }
    let zeros = vec![0u8; CHUNK];
    while len < target {
        let n = usize::try_from(target - len).map_or(CHUNK, |n| n.min(CHUNK));
        file.write_all(&zeros[..n])?;
        len += n as u64;
    }
    // Durable now, blocks and size: else the first commit's fsync would write them all.
    file.sync_all()
}

/// Whether zeros for `needed` bytes of WAL may take from `free` bytes of disk: only if they
/// take at most a quarter of it. On a nearly full disk the zeros would take the space that
/// the database file needs at the next checkpoint (and the WAL can start over only once a
/// checkpoint completes): there, commits append as they did before.
fn worth_zero_filling(needed: u64, free: u64) -> bool {
    needed <= free / 4
}

/// The connections of one database file, at most `size` in use at once.
#[derive(Debug)]
pub(crate) struct Pool {
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
    opener: Opener,
    acquire_timeout: Duration,
}

impl Pool {
    /// How many times committers have synced the WAL.
    #[cfg(test)]
    fn wal_syncs(&self) -> u64 {
        self.opener.wal.syncs()
    }

    /// How long the WAL's fsyncs have taken.
    pub(crate) fn fsync_times(&self) -> FsyncTimes {
        self.opener.wal.times()
    }

    /// How long a writer waits for another process's write lock.
    pub(crate) fn busy_timeout(&self) -> Duration {
        self.opener.busy_timeout
    }
}

impl Pool {
    /// A pool of at most `size` connections to `path`; the first is opened now, so a file that
    /// cannot be opened fails here.
    pub(crate) fn open(
        path: &Path,
        busy_timeout: Duration,
        size: usize,
    ) -> Result<Arc<Self>, String> {
        Self::open_checkpointing_at(path, busy_timeout, size, CHECKPOINT_PAGES)
    }

    /// As [`Pool::open`], with checkpoints due from `pages` WAL pages.
    fn open_checkpointing_at(
        path: &Path,
        busy_timeout: Duration,
        size: usize,
        pages: i32,
    ) -> Result<Arc<Self>, String> {
        let wal = WalSync::start(wal_path(path))
            .map_err(|e| format!("cannot start the write-ahead log's syncer thread: {e}"))?;
        let opener = Opener {
            path: path.to_owned(),
            busy_timeout,
            checkpoints: Arc::new(Checkpoints {
                at: pages,
                ..Checkpoints::default()
            }),
            wal: Arc::new(wal),
        };
        let first = opener.open().map_err(|e| e.to_string())?;
        if let Err(e) = preallocate_wal(&first, path, pages) {
            // Only slower commits until the first checkpoint: not a reason to refuse to start.
            tracing::warn!(error = %e, "could not zero-fill the write-ahead log ahead of use");
        }
        Ok(Arc::new(Self {
            idle: Mutex::new(vec![first]),
            permits: Arc::new(Semaphore::new(size)),
            opener,
            acquire_timeout: busy_timeout + Duration::from_secs(1),
        }))
    }

    /// A connection, waiting for one to free up if all are in use.
    pub(crate) async fn get(self: &Arc<Self>) -> Result<Conn, StoreError> {
        let permit =
            tokio::time::timeout(self.acquire_timeout, self.permits.clone().acquire_owned())
                .await
                .map_err(|_| {
                    StoreError::Unavailable("timed out waiting for a database connection".into())
                })?
                .map_err(|_| StoreError::Unavailable("the state database is closed".into()))?;
        let reused = self.idle.lock().map_or(None, |mut idle| idle.pop());
        let conn = match reused {
            Some(c) => c,
            None => self.opener.open()?,
        };
        Ok(Conn {
            conn: Some(conn),
            pool: self.clone(),
            _permit: permit,
        })
    }

    /// Closes the idle connections (the last one to close checkpoints the WAL) and refuses new
    /// ones.
    pub(crate) fn close(&self) {
        self.permits.close();
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }
}

/// A connection borrowed from the pool; it goes back when dropped.
#[derive(Debug)]
pub struct Conn {
    conn: Option<Connection>,
    pool: Arc<Pool>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // A connection left inside a transaction (a failed rollback) is not reused.
            if conn.is_autocommit() && !self.pool.permits.is_closed() {
                if let Ok(mut idle) = self.pool.idle.lock() {
                    idle.push(conn);
                }
            }
        }
    }
}

/// What a statement runs on: a transaction or a bare connection.
pub trait Db {
    /// The connection.
    fn connection(&mut self) -> Result<&Connection, StoreError>;
}

impl Db for Conn {
    fn connection(&mut self) -> Result<&Connection, StoreError> {
        self.conn
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("the connection is gone".into()))
    }
}

/// This process's writers: whose turn it is, and the batch of actions that share one SQLite
/// transaction (group commit).
///
/// Writers take turns: each runs inside a savepoint of the batch's transaction, and when it
/// commits, it releases its savepoint and hands the turn to the next writer without waiting for
/// the disk. The batch's committer (a task the batch's first member starts) queues for the turn
/// like any writer and commits the whole batch, then answers every member. Under load, one
/// commit covers every writer that queued meanwhile, instead of one each.
///
/// The commit only writes the WAL (`synchronous = NORMAL`); the committer hands the turn on,
/// and the members are answered after an fsync of the WAL that began after their commit (see
/// [`WalSync`]). A member is thus answered only
/// after its changes are durable, as with a commit of its own, but the next batch runs during
/// the fsync instead of queueing behind it (CreateVpcEndpoint calls/s, bench/api: four clients
/// 2,710 and 2,910 -> 3,022 and 3,029; eight clients 3,431 and 3,163 -> 3,849 and 3,251).
///
/// The price: for the length of one fsync, other readers can see a batch that a power failure
/// or an OS crash would still take back. Its writers were not answered yet, so nothing
/// acknowledged is lost, and a later write that read it commits after it in the WAL, so it is
/// lost with it (SQLite recovers a prefix of the WAL). A crash of the process alone loses
/// nothing: the WAL is in the kernel's page cache.
///
/// A member that fails rolls back to its savepoint: the others keep their changes. If SQLite
/// drops the whole transaction (an I/O error, a full disk), every member fails: none was
/// answered yet.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// The batch's open write transaction; `None` between batches.
    conn: Option<Conn>,
    /// The connection the last batch committed on, for the next one. In WAL mode a connection
    /// drops its whole page cache when it finds that another one has committed since its last
    /// transaction; batches that took any pooled connection thus began cold, and read every
    /// page they touched again (`pread`). Batches on one connection keep its cache.
    spare: Option<Conn>,
    /// The members waiting for the batch's commit.
    waiting: Answers,
}

/// The writers' turn: the batch, behind a fair lock.
pub(crate) type Writer = Arc<tokio::sync::Mutex<Batch>>;

/// A writer's hold of the turn.
type Turn = tokio::sync::OwnedMutexGuard<Batch>;

/// One API action's transaction: commit it, or drop it and nothing happened.
#[derive(Debug)]
pub struct Tx {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// A read snapshot on a connection of its own.
    Read(Conn),
    /// A savepoint in the batch's write transaction, with the writers' turn.
    Write { turn: Turn, writer: Writer },
    /// Committed or rolled back.
    Ended,
}

impl Db for Tx {
    fn connection(&mut self) -> Result<&Connection, StoreError> {
        match &mut self.kind {
            Kind::Read(c) => c.connection(),
            Kind::Write { turn, .. } => match turn.conn.as_mut() {
                Some(c) => c.connection(),
                None => Err(StoreError::Unavailable(
                    "the write transaction is gone".into(),
                )),
            },
            Kind::Ended => Err(StoreError::Unavailable("the transaction has ended".into())),
        }
    }
}

/// The savepoint each writer of a batch runs in.
const SAVEPOINT: &str = "SAVEPOINT action";

impl Tx {
    /// Begins a read transaction on `conn`: a consistent snapshot from its first read.
    pub(crate) fn begin_read(mut conn: Conn) -> Result<Self, StoreError> {
        conn.connection()?.execute_batch("BEGIN")?;
        Ok(Self {
            kind: Kind::Read(conn),
        })
    }

    /// Begins a write: waits up to `patience` for the writers' turn, joins the open batch or
    /// starts one (`BEGIN IMMEDIATE` on the connection the last batch committed on, else on one
    /// of `pool`), and opens its savepoint.
    pub(crate) async fn begin_write(
        pool: &Arc<Pool>,
        writer: &Writer,
        patience: Duration,
    ) -> Result<Self, StoreError> {
        let mut turn = tokio::time::timeout(patience, writer.clone().lock_owned())
            .await
            .map_err(|_| {
                StoreError::Unavailable("timed out waiting for the writer's turn".into())
            })?;
        if turn.conn.is_none() {
            let conn = match turn.spare.take() {
                Some(conn) => conn,
                None => pool.get().await?,
            };
            turn.conn = Some(begin_immediate(conn, patience).await?);
        }
        let mut tx = Self {
            kind: Kind::Write {
                turn,
                writer: writer.clone(),
            },
        };
        // Cached: `execute_batch` would parse the statement again on every write.
        tx.connection()?.prepare_cached(SAVEPOINT)?.execute([])?;
        Ok(tx)
    }

    /// Commits: a read ends its snapshot; a write joins its batch's commit and returns once
    /// its changes are on disk.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        match std::mem::replace(&mut self.kind, Kind::Ended) {
            Kind::Read(mut conn) => end(&mut conn, "COMMIT"),
            Kind::Write { mut turn, writer } => {
                let released = match turn.conn.as_mut().map(Db::connection) {
                    // SQLite ends the whole transaction on some errors (I/O, a full disk).
                    Some(Ok(c)) if c.is_autocommit() => Err(StoreError::Unavailable(
                        "SQLite rolled the write transaction back".into(),
                    )),
                    // The transaction is open, so `RELEASE` only folds the savepoint into it.
                    Some(Ok(c)) => c
                        .prepare_cached("RELEASE action")
                        .and_then(|mut st| st.execute([]))
                        .map(drop)
                        .map_err(StoreError::from),
                    Some(Err(e)) => Err(e),
                    None => Err(StoreError::Unavailable(
                        "the write transaction is gone".into(),
                    )),
                };
                if let Err(e) = released {
                    abandon(turn);
                    return Err(e);
                }
                let (done, answer) = oneshot::channel();
                turn.waiting.push(done);
                if turn.waiting.len() == 1 {
                    // The batch's first member starts its committer. A task of its own: it runs
                    // even if this caller stops waiting.
                    tokio::spawn(commit_batch(writer));
                }
                drop(turn);
                match answer.await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(why)) => Err(StoreError::Unavailable(why)),
                    Err(_) => Err(StoreError::Unavailable("the commit was abandoned".into())),
                }
            }
            Kind::Ended => Ok(()),
        }
    }

    /// Rolls back: nothing the transaction did remains.
    pub async fn rollback(mut self) -> Result<(), StoreError> {
        self.end_now();
        Ok(())
    }

    fn end_now(&mut self) {
        match std::mem::replace(&mut self.kind, Kind::Ended) {
            Kind::Read(mut conn) => {
                let _ = end(&mut conn, "ROLLBACK");
            }
            Kind::Write { turn, .. } => abandon(turn),
            Kind::Ended => {}
        }
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        self.end_now();
    }
}

/// `BEGIN IMMEDIATE` on `conn` (the write lock now), waiting up to `patience` for a writer of
/// another process to finish. The wait is a timer, not SQLite's busy handler, which would sleep
/// on (and hold) the runtime's thread.
async fn begin_immediate(mut conn: Conn, patience: Duration) -> Result<Conn, StoreError> {
    let deadline = tokio::time::Instant::now() + patience;
    let mut nap = Duration::from_millis(1);
    loop {
        let c = conn.connection()?;
        c.busy_timeout(Duration::ZERO)?;
        let tried = c.execute_batch("BEGIN IMMEDIATE");
        c.busy_timeout(patience)?;
        match tried {
            Ok(()) => return Ok(conn),
            Err(e) if is_busy(&e) && tokio::time::Instant::now() + nap < deadline => {
                tokio::time::sleep(nap).await;
                nap = (nap * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Undoes a writer's savepoint. The rest of its batch stays for the batch's committer; a batch
/// with nothing else in it ends now. If the transaction itself is lost, so is every member.
fn abandon(mut turn: Turn) {
    let Some(conn) = turn.conn.as_mut() else {
        return;
    };
    let undone = conn.connection().and_then(|c| {
        c.execute_batch("ROLLBACK TO action; RELEASE action")?;
        Ok(!c.is_autocommit())
    });
    let keep = matches!(undone, Ok(true)) && !turn.waiting.is_empty();
    if !keep {
        if let Some(mut conn) = turn.conn.take() {
            let _ = end(&mut conn, "ROLLBACK");
        }
        for w in turn.waiting.drain(..) {
            let _ = w.send(Err(
                "the write transaction was lost with another action's failure".into(),
            ));
        }
    }
}

/// The batch's committer: takes the turn after the writers queued before it, commits the
/// batch's transaction, hands the turn on, and hands the members' answers to the WAL's syncer,
/// which answers them once an fsync has made the batch durable (see [`WalSync`]).
///
/// It also checkpoints the WAL, in two steps, so that neither holds up the writers for long. A
/// checkpoint copies the WAL's pages into the database file, and SQLite starts the WAL over
/// from its beginning only at a write transaction that begins when every page has been copied.
/// - The committer that finds the checkpoint due hands the turn on first, then, once its batch
///   is durable, copies the bulk of the WAL while the next batches run.
/// - The next committer, still holding the turn, copies what those batches appended (a few
///   pages, and an fsync of the database file): the next batch begins on a fully copied WAL,
///   and starts it over. Copying off the turn alone would never get there under steady writes,
///   and the WAL would grow without bound.
async fn commit_batch(writer: Writer) {
    let mut turn = writer.lock_owned().await;
    let mut waiting = std::mem::take(&mut turn.waiting);
    let fail = |waiting: Answers, why: String| {
        for w in waiting {
            let _ = w.send(Err(why.clone()));
        }
    };
    let Some(mut conn) = turn.conn.take() else {
        fail(waiting, "the write transaction is gone".into());
        return;
    };
    // The commit only appends the batch's pages to the WAL, in the page cache (`synchronous =
    // NORMAL`, no fsync, no automatic checkpoint): tens of microseconds, on this thread as the
    // writers' statements are. Handed to the blocking pool it held the turn for the round trip
    // too, 170 us a commit in all (bench/api, CreateVpcEndpoint, 4 clients), while the writers
    // themselves held it for 120 us an action.
    if let Err(e) = end(&mut conn, "COMMIT") {
        fail(waiting, e.to_string());
        return;
    }
    let pool = conn.pool.clone();
    let checkpoints = &pool.opener.checkpoints;
    if checkpoints.phase.load(Ordering::Acquire) == TAIL {
        // The rest of a checkpoint syncs the database file: on the blocking pool, on the turn.
        // If this task fails, its members hear that the commit was abandoned (their senders
        // drop).
        let _ = tokio::task::spawn_blocking(move || {
            checkpoint(&mut conn, "the rest");
            let checkpoints = &pool.opener.checkpoints;
            checkpoints.due.store(false, Ordering::Relaxed);
            checkpoints.phase.store(IDLE, Ordering::Release);
            turn.spare = Some(conn);
            drop(turn);
            pool.opener.wal.durable(waiting);
        })
        .await;
        return;
    }
    if checkpoints.due.swap(false, Ordering::Relaxed)
        && checkpoints
            .phase
            .compare_exchange(IDLE, BULK, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    {
        // Off the turn, after the batch is durable; the connection goes back to the pool
        // after it.
        drop(turn);
        let (synced, durable) = oneshot::channel();
        waiting.push(synced);
        pool.opener.wal.durable(waiting);
        let _ = durable.await;
        let _ = tokio::task::spawn_blocking(move || {
            checkpoint(&mut conn, "the bulk");
            pool.opener.checkpoints.phase.store(TAIL, Ordering::Release);
        })
        .await;
        return;
    }
    turn.spare = Some(conn);
    drop(turn);
    pool.opener.wal.durable(waiting);
}

/// A passive checkpoint: copies what no reader still needs from the WAL into the database
/// file, without waiting for any lock.
fn checkpoint(conn: &mut Conn, part: &'static str) {
    let checkpointed = conn.connection().and_then(|c| {
        // Its row: whether it was blocked, the WAL's pages, the pages now copied.
        c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        })
        .map_err(StoreError::from)
    });
    match checkpointed {
        Ok((wal, copied)) => tracing::debug!(part, wal, copied, "checkpointed the WAL"),
        Err(e) => {
            tracing::warn!(part, error = %e, "checkpointing the WAL failed; the next one retries")
        }
    }
}

/// Whether SQLite said another connection holds the lock.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

/// Ends the transaction on `conn`; on a failed commit, rolls back so the connection is clean.
fn end(conn: &mut Conn, how: &str) -> Result<(), StoreError> {
    let c = conn.connection()?;
    let result = c.execute_batch(how).map_err(StoreError::from);
    if result.is_err() && !c.is_autocommit() {
        let _ = c.execute_batch("ROLLBACK");
    }
    result
}

/// A statement with its arguments.
#[must_use = "a query does nothing until it is run"]
pub(crate) struct Query<'q> {
    sql: &'q str,
    args: Vec<Value>,
    bad_arg: Option<rusqlite::Error>,
}

/// A statement over `sql` (`?` and `?N` placeholders), arguments to follow with `bind`.
pub(crate) fn query(sql: &str) -> Query<'_> {
    Query {
        sql,
        args: Vec::new(),
        bad_arg: None,
    }
}

/// What `execute` did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Done {
    rows: u64,
}

impl Done {
    /// Rows inserted, updated or deleted.
    pub(crate) fn rows_affected(&self) -> u64 {
        self.rows
    }
}

impl<'q> Query<'q> {
    /// Binds the next argument.
    pub(crate) fn bind<T: ToSql>(mut self, value: T) -> Self {
        match value.to_sql() {
            Ok(ToSqlOutput::Borrowed(v)) => match Value::try_from(v) {
                Ok(v) => self.args.push(v),
                Err(e) => self.bad_arg = Some(rusqlite::Error::ToSqlConversionFailure(e.into())),
            },
            Ok(ToSqlOutput::Owned(v)) => self.args.push(v),
            Ok(other) => {
                // Zero-blobs and the like: not used by the store.
                self.bad_arg = Some(rusqlite::Error::ToSqlConversionFailure(
                    format!("unsupported argument {other:?}").into(),
                ));
            }
            Err(e) => self.bad_arg = Some(e),
        }
        self
    }

    fn run<R>(
        self,
        db: &mut (impl Db + ?Sized),
        f: impl FnOnce(&Connection, &mut rusqlite::Statement<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        if let Some(e) = self.bad_arg {
            return Err(e.into());
        }
        let conn = db.connection()?;
        let mut stmt = conn.prepare_cached(self.sql)?;
        for (i, v) in self.args.iter().enumerate() {
            stmt.raw_bind_parameter(i + 1, v)?;
        }
        let out = f(conn, &mut stmt);
        // A cached statement keeps its last arguments until the next run: let large ones go.
        stmt.clear_bindings();
        out
    }

    /// Runs the statement, discarding any rows it returns.
    pub(crate) fn execute(self, db: &mut (impl Db + ?Sized)) -> Result<Done, StoreError> {
        self.run(db, |conn, stmt| {
            let mut rows = stmt.raw_query();
            while rows.next()?.is_some() {}
            Ok(Done {
                rows: conn.changes(),
            })
        })
    }

    /// Every row.
    pub(crate) fn fetch_all(self, db: &mut (impl Db + ?Sized)) -> Result<Vec<Row>, StoreError> {
        let sql = self.sql;
        self.run(db, |_, stmt| {
            let mut out = Vec::new();
            let mut names = None;
            let mut rows = stmt.raw_query();
            while let Some(r) = rows.next()? {
                // Once stepped: a statement prepared before a change of schema is prepared
                // again by its first step, and only then names the new columns.
                let names = names.get_or_insert_with(|| column_names(sql, r.as_ref()));
                out.push(Row::read(names, r)?);
            }
            Ok(out)
        })
    }

    /// Every row, each read by `f` straight from the statement: for hot reads of a few typed
    /// columns, without the owned copy of every value (and of every text) that a [`Row`] is.
    pub(crate) fn fetch_map<T>(
        self,
        db: &mut (impl Db + ?Sized),
        mut f: impl FnMut(&rusqlite::Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.run(db, |_, stmt| {
            let mut out = Vec::new();
            let mut rows = stmt.raw_query();
            while let Some(r) = rows.next()? {
                out.push(f(r)?);
            }
            Ok(out)
        })
    }

    /// The first row, if any.
    pub(crate) fn fetch_optional(
        self,
        db: &mut (impl Db + ?Sized),
    ) -> Result<Option<Row>, StoreError> {
        let sql = self.sql;
        self.run(db, |_, stmt| {
            let mut rows = stmt.raw_query();
            // An `UPDATE … RETURNING` makes all its changes at the first step, so stopping
            // after one row leaves nothing undone.
            match rows.next()? {
                Some(r) => Ok(Some(Row::read(&column_names(sql, r.as_ref()), r)?)),
                None => Ok(None),
            }
        })
    }

    /// The first row; no row is an error.
    pub(crate) fn fetch_one(self, db: &mut (impl Db + ?Sized)) -> Result<Row, StoreError> {
        self.fetch_optional(db)?
            .ok_or_else(|| StoreError::Db(rusqlite::Error::QueryReturnedNoRows))
    }
}

/// Most statements whose column names a thread keeps; past it they start over (statements
/// built at run time each bring their own text).
const KEPT_NAMES: usize = 512;

/// Column names by the address and length of their statement's text.
type NamesByText = std::collections::HashMap<(usize, usize), Arc<[String]>>;

thread_local! {
    /// Column names as [`column_names`] last built them on this thread.
    static NAMES: std::cell::RefCell<NamesByText> = std::cell::RefCell::default();
}

/// The names of `stmt`'s columns (`stmt` prepared from `sql` and stepped), shared by every row
/// read.
///
/// Built once per statement text and thread, not once per run: copying them took 6% of a
/// CreateVpcEndpoint's time in its action (bench/api, perf). Kept by the text's address, which
/// is cheap to hash; what is kept is compared with the statement's own names on every use,
/// without copying, so a change of schema or an address reused by other text gets new names.
fn column_names(sql: &str, stmt: &rusqlite::Statement<'_>) -> Arc<[String]> {
    let key = (sql.as_ptr() as usize, sql.len());
    NAMES.with_borrow_mut(|kept| {
        if let Some(names) = kept.get(&key) {
            if names.len() == stmt.column_count()
                && names.iter().zip(stmt.column_names()).all(|(a, b)| a == b)
            {
                return Arc::clone(names);
            }
        }
        let names: Arc<[String]> = stmt.column_names().map(str::to_owned).collect();
        if kept.len() >= KEPT_NAMES {
            kept.clear();
        }
        kept.insert(key, Arc::clone(&names));
        names
    })
}

/// A statement whose rows are one value each.
#[must_use = "a query does nothing until it is run"]
pub(crate) struct Scalar<'q, T> {
    q: Query<'q>,
    _t: PhantomData<fn() -> T>,
}

/// A statement over `sql` returning one column, read as `T`.
pub(crate) fn query_scalar<T: FromSql>(sql: &str) -> Scalar<'_, T> {
    Scalar {
        q: query(sql),
        _t: PhantomData,
    }
}

impl<'q, T: FromSql> Scalar<'q, T> {
    /// Binds the next argument.
    pub(crate) fn bind<A: ToSql>(self, value: A) -> Self {
        Self {
            q: self.q.bind(value),
            _t: PhantomData,
        }
    }

    /// The first row's value; no row is an error.
    pub(crate) fn fetch_one(self, db: &mut (impl Db + ?Sized)) -> Result<T, StoreError> {
        Ok(self.q.fetch_one(db)?.try_get(0)?)
    }

    /// The first row's value, if there is a row.
    pub(crate) fn fetch_optional(
        self,
        db: &mut (impl Db + ?Sized),
    ) -> Result<Option<T>, StoreError> {
        match self.q.fetch_optional(db)? {
            Some(r) => Ok(Some(r.try_get(0)?)),
            None => Ok(None),
        }
    }

    /// Every row's value.
    pub(crate) fn fetch_all(self, db: &mut (impl Db + ?Sized)) -> Result<Vec<T>, StoreError> {
        self.q
            .fetch_all(db)?
            .iter()
            .map(|r| Ok(r.try_get(0)?))
            .collect()
    }
}

/// One row, read out of its statement.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    names: Arc<[String]>,
    values: Vec<Value>,
}

/// A column by name or by position.
pub(crate) trait ColumnIndex {
    /// Its position in `names`.
    fn position(&self, names: &[String]) -> Result<usize, rusqlite::Error>;
}

impl ColumnIndex for &str {
    fn position(&self, names: &[String]) -> Result<usize, rusqlite::Error> {
        names
            .iter()
            .position(|n| n == self)
            .ok_or_else(|| rusqlite::Error::InvalidColumnName((*self).to_owned()))
    }
}

impl ColumnIndex for usize {
    fn position(&self, names: &[String]) -> Result<usize, rusqlite::Error> {
        if *self < names.len() {
            Ok(*self)
        } else {
            Err(rusqlite::Error::InvalidColumnIndex(*self))
        }
    }
}

impl Row {
    fn read(names: &Arc<[String]>, r: &rusqlite::Row<'_>) -> Result<Self, rusqlite::Error> {
        let values = (0..names.len())
            .map(|i| {
                let v = r.get_ref(i)?;
                Value::try_from(v).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(i, v.data_type(), Box::new(e))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            names: names.clone(),
            values,
        })
    }

    /// The text column `idx`, borrowed from the row: for columns that are parsed or decoded
    /// rather than kept as a `String` (ids, states, JSON), no copy and no second UTF-8 check.
    pub(crate) fn text<I: ColumnIndex>(&self, idx: I) -> Result<&str, rusqlite::Error> {
        let i = idx.position(&self.names)?;
        match &self.values[i] {
            Value::Text(s) => Ok(s),
            other => Err(rusqlite::Error::InvalidColumnType(
                i,
                self.names[i].clone(),
                ValueRef::from(other).data_type(),
            )),
        }
    }

    /// The column `idx` as `T`.
    pub(crate) fn try_get<T: FromSql, I: ColumnIndex>(&self, idx: I) -> Result<T, rusqlite::Error> {
        let i = idx.position(&self.names)?;
        let v = ValueRef::from(&self.values[i]);
        T::column_result(v).map_err(|e| match e {
            FromSqlError::InvalidType => {
                rusqlite::Error::InvalidColumnType(i, self.names[i].clone(), v.data_type())
            }
            other => rusqlite::Error::FromSqlConversionFailure(i, v.data_type(), Box::new(other)),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// SQLite's own default threshold: the checkpoint tests need a few thousand pages of WAL,
    /// not tens of thousands.
    const TEST_CHECKPOINT_PAGES: i32 = 1000;

    fn pool(dir: &Path, busy: Duration) -> Arc<Pool> {
        let p =
            Pool::open_checkpointing_at(&dir.join("t.db"), busy, 2, TEST_CHECKPOINT_PAGES).unwrap();
        let c = p.opener.open().unwrap();
        c.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, b BLOB)")
            .unwrap();
        p
    }

    #[tokio::test]
    async fn cached_statements_are_not_re_planned_for_each_new_argument() {
        let dir = tempfile::tempdir().unwrap();
        let p = pool(dir.path(), Duration::from_millis(200));
        let c = p.opener.open().unwrap();
        // The shape of the listings' hottest reads: an indexed equality, sorted by other
        // columns, with rows to sort.
        c.execute_batch(
            "CREATE TABLE e (id TEXT PRIMARY KEY, owner TEXT NOT NULL, zone TEXT NOT NULL); \
             CREATE INDEX e_owner ON e(owner); \
             INSERT INTO e VALUES ('e1', 'o1', 'z2'), ('e2', 'o1', 'z1'), ('e3', 'o2', 'z1');",
        )
        .unwrap();
        drop(c);
        const SQL: &str = "SELECT id FROM e WHERE owner = ? ORDER BY zone, id";
        let mut tx = Tx::begin_read(p.get().await.unwrap()).unwrap();
        for owner in ["o1", "o2", "o1", "o2", "o1"] {
            let rows = query(SQL).bind(owner).fetch_all(&mut tx).unwrap();
            assert_eq!(rows.len(), if owner == "o1" { 2 } else { 1 });
        }
        let rows = query(SQL).bind("o1").fetch_all(&mut tx).unwrap();
        let ids: Vec<String> = rows.iter().map(|r| r.try_get("id").unwrap()).collect();
        assert_eq!(ids, ["e2", "e1"], "sorted by zone");
        let stmt = tx.connection().unwrap().prepare_cached(SQL).unwrap();
        assert_eq!(
            stmt.get_status(rusqlite::StatementStatus::RePrepare),
            0,
            "six runs of one cached statement compiled it once"
        );
    }

    #[tokio::test]
    async fn kept_column_names_follow_the_schema_and_the_statement_text() {
        let dir = tempfile::tempdir().unwrap();
        let p = pool(dir.path(), Duration::from_millis(200));
        let mut c = p.get().await.unwrap();
        c.connection()
            .unwrap()
            .execute_batch("CREATE TABLE w (a INTEGER, b INTEGER); INSERT INTO w VALUES (1, 2)")
            .unwrap();
        const SQL: &str = "SELECT * FROM w";
        let first = query(SQL).fetch_one(&mut c).unwrap();
        let second = query(SQL).fetch_one(&mut c).unwrap();
        assert!(Arc::ptr_eq(&first.names, &second.names), "built once");
        assert_eq!(second.try_get::<i64, _>("b").unwrap(), 2);
        // The same text after a change of schema: the new columns, by name.
        c.connection()
            .unwrap()
            .execute_batch("ALTER TABLE w RENAME COLUMN b TO c; ALTER TABLE w ADD COLUMN d")
            .unwrap();
        let after = query(SQL).fetch_one(&mut c).unwrap();
        assert_eq!(&*after.names, ["a", "c", "d"]);
        assert_eq!(after.try_get::<i64, _>("c").unwrap(), 2);
        assert!(after.try_get::<i64, _>("b").is_err());
        // Other text at the same address (a statement built at run time, then freed).
        for cols in ["a", "c", "a AS x, d"] {
            let text = format!("SELECT {cols} FROM w");
            let row = query(&text).fetch_one(&mut c).unwrap();
            let want: Vec<&str> = match cols {
                "a AS x, d" => vec!["x", "d"],
                one => vec![one],
            };
            assert_eq!(&*row.names, want.as_slice());
        }
    }

    #[tokio::test]
    async fn text_columns_are_borrowed_and_other_columns_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = pool(dir.path(), Duration::from_millis(200));
        let mut tx = Tx::begin_read(p.get().await.unwrap()).unwrap();
        let row = query("SELECT 'vpc-1' AS k, 7 AS n, NULL AS z")
            .fetch_one(&mut tx)
            .unwrap();
        assert_eq!(row.text("k").unwrap(), "vpc-1");
        assert_eq!(row.text(0).unwrap(), "vpc-1");
        assert!(matches!(
            row.text("n"),
            Err(rusqlite::Error::InvalidColumnType(1, ref name, rusqlite::types::Type::Integer)) if name == "n"
        ));
        assert!(matches!(
            row.text("z"),
            Err(rusqlite::Error::InvalidColumnType(
                2,
                _,
                rusqlite::types::Type::Null
            ))
        ));
        assert!(matches!(
            row.text("nope"),
            Err(rusqlite::Error::InvalidColumnName(_))
        ));
    }

    #[tokio::test]
    async fn a_dropped_transaction_leaves_nothing_and_its_connection_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let p = pool(dir.path(), Duration::from_millis(200));
        let w = Writer::default();
        let mut tx = Tx::begin_write(&p, &w, Duration::from_millis(200))
            .await
            .unwrap();
        let done = query("INSERT INTO t (k, n) VALUES (?, ?)")
            .bind("a")
            .bind(1_i64)
            .execute(&mut tx)
            .unwrap();
        assert_eq!(done.rows_affected(), 1);
        drop(tx);
        assert_eq!(p.idle.lock().unwrap().len(), 1, "the connection came back");
        assert!(w.lock().await.conn.is_none(), "no batch is left open");
        let mut tx = Tx::begin_read(p.get().await.unwrap()).unwrap();
        let n: i64 = query_scalar("SELECT count(*) FROM t")
            .fetch_one(&mut tx)
            .unwrap();
        assert_eq!(n, 0);
    }

    #[tokio::test]
    async fn rows_are_read_by_name_and_position_and_bad_values_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = pool(dir.path(), Duration::from_millis(200));
        let mut c = p.get().await.unwrap();
        query("INSERT INTO t (k, n, b) VALUES (?, ?, ?)")
            .bind("a")
            .bind(Option::<i64>::None)
            .bind(vec![1_u8, 2])
            .execute(&mut c)
            .unwrap();
        let row = query("SELECT k, n, b FROM t").fetch_one(&mut c).unwrap();
        assert_eq!(row.try_get::<String, _>("k").unwrap(), "a");
        assert_eq!(row.try_get::<Option<i64>, _>(1).unwrap(), None);
        assert_eq!(row.try_get::<Vec<u8>, _>("b").unwrap(), vec![1, 2]);
        assert!(
            row.try_get::<i64, _>("k").is_err(),
            "text is not an integer"
        );
        assert!(row.try_get::<String, _>("missing").is_err());
        assert!(row.try_get::<String, _>(7).is_err());
        // A duplicate key is a conflict.
        let err = query("INSERT INTO t (k) VALUES ('a')")
            .execute(&mut c)
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert!(query("SELECT k FROM t WHERE k = 'zz'")
            .fetch_optional(&mut c)
            .unwrap()
            .is_none());
        assert!(query("SELECT k FROM t WHERE k = 'zz'")
            .fetch_one(&mut c)
            .is_err());
    }

    #[tokio::test]
    async fn a_writer_waits_on_a_timer_for_another_connections_lock() {
        let dir = tempfile::tempdir().unwrap();
        let p = pool(dir.path(), Duration::from_secs(5));
        // Another process's writer, holding the lock for 100 ms.
        let other = p.opener.open().unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            other.execute_batch("COMMIT").unwrap();
        });
        // On this single-threaded runtime the release above runs only if the wait yields.
        let w = Writer::default();
        let tx = Tx::begin_write(&p, &w, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(release.is_finished());
        tx.commit().await.unwrap();
        // With the turn held past the patience, the answer is Unavailable.
        let holder = Tx::begin_write(&p, &w, Duration::from_secs(5))
            .await
            .unwrap();
        let err = Tx::begin_write(&p, &w, Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        drop(holder);
        // And with another process's write lock held past it, too.
        let other = p.opener.open().unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let err = Tx::begin_write(&p, &w, Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    }

    async fn insert(p: &Arc<Pool>, w: &Writer, k: &str) -> Tx {
        let mut tx = Tx::begin_write(p, w, Duration::from_secs(5)).await.unwrap();
        query("INSERT INTO t (k) VALUES (?)")
            .bind(k)
            .execute(&mut tx)
            .unwrap();
        tx
    }

    async fn keys(p: &Arc<Pool>) -> Vec<String> {
        query_scalar("SELECT k FROM t ORDER BY k")
            .fetch_all(&mut p.get().await.unwrap())
            .unwrap()
    }

    /// The WAL's size for `pages` frames of 4 KiB.
    fn wal_bytes(pages: u64) -> u64 {
        32 + pages * (4096 + 24)
    }

    #[tokio::test]
    async fn the_wal_is_zero_filled_to_the_checkpoint_size_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = pool(dir.path(), Duration::from_secs(5));
        let wal = dir.path().join("t.db-wal");
        let full = wal_bytes(TEST_CHECKPOINT_PAGES as u64);
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), full);
        let w = Writer::default();
        for k in ["a", "b", "c"] {
            insert(&p, &w, k).await.commit().await.unwrap();
        }
        // The commits overwrote zeros: the file did not grow.
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), full);
        // A second pool on the same file (a restart before the WAL is deleted) finds it large
        // enough, appends nothing, and reads every row.
        let again = Pool::open_checkpointing_at(
            &dir.path().join("t.db"),
            Duration::from_secs(5),
            2,
            TEST_CHECKPOINT_PAGES,
        )
        .unwrap();
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), full);
        assert_eq!(keys(&again).await, ["a", "b", "c"]);
    }

    #[test]
    fn the_wal_is_zero_filled_only_where_the_zeros_take_a_quarter_of_the_free_space_at_most() {
        let mib = 1u64 << 20;
        assert!(worth_zero_filling(33 * mib, 200 * mib));
        assert!(worth_zero_filling(33 * mib, 132 * mib));
        assert!(!worth_zero_filling(33 * mib, 131 * mib));
        // A 2 MiB tmpfs (RELIABILITY item 39).
        assert!(!worth_zero_filling(33 * mib, 2 * mib));
        assert!(!worth_zero_filling(1, 0));
    }

    #[tokio::test]
    async fn zeros_appended_after_a_crash_keep_every_committed_frame() {
        let dir = tempfile::tempdir().unwrap();
        let p = pool(dir.path(), Duration::from_secs(5));
        let w = Writer::default();
        for i in 0..20 {
            insert(&p, &w, &format!("k{i:02}"))
                .await
                .commit()
                .await
                .unwrap();
        }
        // The files as a crash now would leave them (no checkpoint has run), with the WAL cut
        // back to its frames: the zeros after them are the test's to add.
        let crashed = tempfile::tempdir().unwrap();
        std::fs::copy(dir.path().join("t.db"), crashed.path().join("t.db")).unwrap();
        let mut wal = std::fs::read(dir.path().join("t.db-wal")).unwrap();
        let used = wal.iter().rposition(|b| *b != 0).unwrap() as u64 + 1;
        let frames = (used - 32).div_ceil(4096 + 24);
        assert!(frames >= 20, "one frame or more a commit: {frames}");
        wal.truncate(usize::try_from(wal_bytes(frames)).unwrap());
        std::fs::write(crashed.path().join("t.db-wal"), &wal).unwrap();
        let recovered = Pool::open_checkpointing_at(
            &crashed.path().join("t.db"),
            Duration::from_secs(5),
            2,
            TEST_CHECKPOINT_PAGES,
        )
        .unwrap();
        assert_eq!(
            std::fs::metadata(crashed.path().join("t.db-wal"))
                .unwrap()
                .len(),
            wal_bytes(TEST_CHECKPOINT_PAGES as u64),
            "zero-filled after the frames"
        );
        let want: Vec<String> = (0..20).map(|i| format!("k{i:02}")).collect();
        assert_eq!(keys(&recovered).await, want);
        // And it goes on writing after them.
        let w = Writer::default();
        insert(&recovered, &w, "k20").await.commit().await.unwrap();
        assert_eq!(keys(&recovered).await.len(), 21);
    }

    #[tokio::test]
    async fn a_write_is_answered_only_after_its_commit_is_synced() {
        let dir = tempfile::tempdir().unwrap();
        let p = pool(dir.path(), Duration::from_secs(5));
        let w = Writer::default();
        // The commit itself does not fsync (NORMAL); the committer's own sync is what makes
        // an answered write durable.
        let level: i64 = query_scalar("PRAGMA synchronous")
            .fetch_one(&mut p.get().await.unwrap())
            .unwrap();
        assert_eq!(level, 1, "synchronous = NORMAL");
        for i in 0..20_u64 {
            let before = p.wal_syncs();
            insert(&p, &w, &format!("k{i:02}"))
                .await
                .commit()
                .await
                .unwrap();
            assert!(
                p.wal_syncs() > before,
                "write {i} was answered before the WAL was synced"
            );
        }
        assert_eq!(keys(&p).await.len(), 20);
    }

    /// One batch's answer.
    fn batch() -> (Answers, oneshot::Receiver<Result<(), String>>) {
        let (tx, rx) = oneshot::channel();
        (vec![tx], rx)
    }

    /// Waits up to 10 s for `rx`'s answer.
    fn answer(rx: oneshot::Receiver<Result<(), String>>) -> Result<(), String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut rx = rx;
        loop {
            match rx.try_recv() {
                Ok(r) => return r,
                Err(oneshot::error::TryRecvError::Empty)
                    if std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => panic!("no answer: {e}"),
            }
        }
    }

    #[test]
    fn batches_that_commit_during_an_fsync_share_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("t.db-wal");
        std::fs::write(&wal, b"frames").unwrap();
        let sync = WalSync::start(wal).unwrap();
        // An fsync is under way: the syncer took the first batch and is held inside it.
        let gate = sync.shared.gate.lock().unwrap();
        let (first, first_rx) = batch();
        sync.durable(first);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !sync.shared.lock().waiting.is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut later = Vec::new();
        for _ in 0..3 {
            let (answers, rx) = batch();
            sync.durable(answers);
            later.push(rx);
        }
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            later.iter_mut().all(|rx| rx.try_recv().is_err()),
            "a batch was answered before an fsync that began after its commit"
        );
        drop(gate);
        answer(first_rx).unwrap();
        for rx in later {
            answer(rx).unwrap();
        }
        assert_eq!(sync.syncs(), 2, "one fsync covers the three later batches");
    }

    #[test]
    fn a_failed_fsync_fails_its_batches_and_the_next_one_tries_again() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("t.db-wal");
        let sync = WalSync::start(wal.clone()).unwrap();
        let (answers, rx) = batch();
        sync.durable(answers);
        let err = answer(rx).unwrap_err();
        assert!(err.contains("syncing the write-ahead log failed"), "{err}");
        std::fs::write(&wal, b"frames").unwrap();
        let (answers, rx) = batch();
        sync.durable(answers);
        answer(rx).unwrap();
        assert_eq!(sync.syncs(), 2);
    }

    #[test]
    fn the_syncer_answers_what_is_waiting_then_ends_with_its_pool() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("t.db-wal");
        std::fs::write(&wal, b"frames").unwrap();
        let sync = WalSync::start(wal).unwrap();
        let shared = sync.shared.clone();
        let gate = shared.gate.lock().unwrap();
        let (answers, rx) = batch();
        sync.durable(answers);
        drop(sync);
        drop(gate);
        answer(rx).unwrap();
        // The thread holds the last other reference; it lets go when it ends.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&shared) > 1 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(
            Arc::strong_count(&shared),
            1,
            "the syncer thread did not end"
        );
    }

    #[tokio::test]
    async fn batches_one_after_another_run_on_one_connection() {
        let dir = tempfile::tempdir().unwrap();
        let p = pool(dir.path(), Duration::from_secs(5));
        let w = Writer::default();
        for i in 0..4_i64 {
            // A reader holds a pooled connection, so that the pool must have another one for a
            // batch that does not keep its own.
            let reader = p.get().await.unwrap();
            let mut tx = Tx::begin_write(&p, &w, Duration::from_secs(5))
                .await
                .unwrap();
            // A connection's own figure: the rowid of the last row inserted on it.
            let last: i64 = query_scalar("SELECT last_insert_rowid()")
                .fetch_one(&mut tx)
                .unwrap();
            assert_eq!(
                last, i,
                "batch {i} runs where the batch before it committed"
            );
            query("INSERT INTO t (k, n) VALUES (?, ?)")
                .bind(format!("k{i}"))
                .bind(i)
                .execute(&mut tx)
                .unwrap();
            drop(reader);
            tx.commit().await.unwrap();
            // The batch's committer is done once it has handed on the turn. A connection it
            // gave back would be the pool's next (the last given back goes out first).
            drop(w.lock().await);
            let n: i64 = query_scalar("SELECT count(*) FROM t")
                .fetch_one(&mut p.get().await.unwrap())
                .unwrap();
            assert_eq!(n, i + 1, "readers see every committed batch");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_is_checkpointed_and_started_over_without_sqlites_automatic_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let p = pool(dir.path(), Duration::from_secs(5));
        let w = Writer::default();
        // 100 rows of 4,000 bytes: each rewrite of them is about 100 pages of WAL.
        let mut tx = Tx::begin_write(&p, &w, Duration::from_secs(5))
            .await
            .unwrap();
        tx.connection()
            .unwrap()
            .execute_batch(
                "WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 100) \
                 INSERT INTO t (k, n, b) SELECT 'r' || k, k, zeroblob(4000) FROM n;",
            )
            .unwrap();
        tx.commit().await.unwrap();
        let wal = dir.path().join("t.db-wal");
        // 60 rewrites, 6,000 pages: without a checkpoint the WAL would hold all of them.
        for round in 0..60 {
            let mut tx = Tx::begin_write(&p, &w, Duration::from_secs(5))
                .await
                .unwrap();
            tx.connection()
                .unwrap()
                .execute("UPDATE t SET n = n + 1, b = randomblob(4000)", [])
                .unwrap();
            tx.commit().await.unwrap();
            let pages = std::fs::metadata(&wal).unwrap().len() / (4096 + 24);
            assert!(
                pages < 2_500,
                "after rewrite {round} the WAL has {pages} pages: it is not started over"
            );
        }
        // The rows hold the last rewrite: checkpoints lost nothing.
        let mut c = p.get().await.unwrap();
        let n: i64 = query_scalar("SELECT min(n) FROM t")
            .fetch_one(&mut c)
            .unwrap();
        assert_eq!(n, 61);
        // And the copies reached the database file itself.
        let file_pages = std::fs::metadata(dir.path().join("t.db")).unwrap().len() / 4096;
        assert!(
            file_pages >= 100,
            "the database file has {file_pages} pages"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_share_a_commit_and_a_failed_one_takes_only_its_own_changes() {
        let dir = tempfile::tempdir().unwrap();
        let p = pool(dir.path(), Duration::from_secs(5));
        let w = Writer::default();
        let mut tasks = Vec::new();
        for i in 0..40 {
            let (p, w) = (p.clone(), w.clone());
            tasks.push(tokio::spawn(async move {
                let tx = insert(&p, &w, &format!("k{i:02}")).await;
                if i % 5 == 0 {
                    // Fails after writing: its row must not survive, the others' must.
                    drop(tx);
                    false
                } else {
                    tx.commit().await.unwrap();
                    true
                }
            }));
        }
        let mut want = Vec::new();
        for (i, t) in tasks.into_iter().enumerate() {
            if t.await.unwrap() {
                want.push(format!("k{i:02}"));
            }
        }
        assert_eq!(keys(&p).await, want);
        assert!(w.lock().await.conn.is_none(), "every batch ended");
    }

    #[tokio::test]
    async fn a_commit_whose_caller_stops_waiting_still_lands() {
        let dir = tempfile::tempdir().unwrap();
        let p = pool(dir.path(), Duration::from_secs(5));
        let w = Writer::default();
        let tx = insert(&p, &w, "a").await;
        // One poll: the savepoint is released into the batch and the committer started; then
        // the caller goes away (a client that hung up).
        // Exactly one poll: a timeout of zero may poll again once the committer has run.
        let mut commit = Box::pin(tx.commit());
        let first = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(std::future::Future::poll(commit.as_mut(), cx).is_pending())
        })
        .await;
        assert!(first, "the commit was still waiting for the disk");
        drop(commit);
        // The next writer commits after the batch's committer: by then "a" is durable.
        insert(&p, &w, "b").await.commit().await.unwrap();
        assert_eq!(keys(&p).await, ["a", "b"]);
    }

    #[tokio::test]
    async fn a_failure_that_loses_the_transaction_fails_the_whole_batch() {
        let dir = tempfile::tempdir().unwrap();
        let p = pool(dir.path(), Duration::from_secs(5));
        let w = Writer::default();
        let first = insert(&p, &w, "a").await;
        // A second writer queues for the turn, ahead of the batch's committer (started only when
        // the first commits). It loses the transaction, as an I/O error would: SQLite rolls all
        // of it back.
        let second = tokio::spawn({
            let (p, w) = (p.clone(), w.clone());
            async move {
                let mut second = insert(&p, &w, "b").await;
                second
                    .connection()
                    .unwrap()
                    .execute_batch("ROLLBACK")
                    .unwrap();
                second.commit().await
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let err = first.commit().await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        let err = second.await.unwrap().unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        assert!(keys(&p).await.is_empty(), "neither member's change remains");
        insert(&p, &w, "c").await.commit().await.unwrap();
        assert_eq!(keys(&p).await, ["c"]);
    }
}
