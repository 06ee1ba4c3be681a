//! Where encoded objects go: the [`Sink`] trait, the local-directory [`FileSink`], and (in
//! [`crate::S3Sink`]) S3-compatible object stores; all of them through the `object_store` crate.
//!
//! A sink stores whole objects under keys in AWS's layout ([`crate::object_key`]); a put is
//! atomic: after `Ok` the object is complete and durable, after `Err` nothing of it is visible
//! under its key. The trait is synchronous: the agent's writer is a plain thread.
//!
//! [`FileSink`] is an `object_store` `LocalFileSystem` rooted at the destination's directory.
//! A put stores the object under a hidden temporary key beside the target
//! (`.<name>.tmp-<pid>-<n>`; `object_store` itself stages that through `<…>#<n>` and a
//! rename), fsyncs the file, renames it to its key and fsyncs the directory. A reader listing
//! `*.log.gz` or `*.log.parquet` therefore never sees a half-written object, even after a
//! `kill -9` or a power loss (RELIABILITY item 93); a crash leaves at most hidden temporary
//! files behind, and the next [`FileSink`] on the directory removes those that are older than
//! [`STALE_TEMP`] (no put takes that long; a younger one may be another writer's, in flight).
//! (`object_store`'s own put renames before any fsync, which is atomic against a process crash
//! only: hence the extra step.)

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{ObjectStoreExt as _, PutPayload};

use crate::spec::{check_relative, Destination};

/// Stores objects.
pub trait Sink: Send + Sync {
    /// Stores `body` at `key` atomically (see the module documentation). Putting the same key
    /// again replaces the object whole.
    fn put(&self, key: &str, body: &[u8]) -> Result<(), SinkError>;
}

/// Why an object was not stored.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// A file-system operation failed (a full disk, a read-only or missing directory…).
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// Where.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The object store refused or failed (S3 down, throttling past the retries, a full disk
    /// under a local store, a bucket that does not exist…).
    #[error("{op} {key}: {source}")]
    Store {
        /// What was being done.
        op: &'static str,
        /// The object's key (in the store).
        key: String,
        /// The error.
        source: object_store::Error,
    },
    /// The object store did not answer within the sink's bound.
    #[error("{op} {key}: no answer within {secs} s")]
    TimedOut {
        /// What was being done.
        op: &'static str,
        /// The object's key (in the store).
        key: String,
        /// The bound.
        secs: u64,
    },
    /// The destination cannot be served by this sink (an S3 destination for a [`FileSink`]).
    #[error("destination {0} is not supported by this sink")]
    Unsupported(String),
    /// An S3 destination on a writer that has no S3 settings.
    #[error("destination {0} is in S3, and this writer has no S3 settings (set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION, and the endpoint for an S3-compatible store)")]
    NoS3Settings(String),
    /// S3 settings the client refused (a malformed endpoint, say).
    #[error("S3 settings refused: {0}")]
    S3Config(String),
    /// A key or destination that could escape the sink's root.
    #[error("refusing the path {0:?}")]
    BadPath(String),
}

impl SinkError {
    /// EC2's `DeliverLogsErrorMessage` for this failure: `Access error` when the destination
    /// refuses us (permissions, credentials, no such bucket, a path outside the root),
    /// `Rate limited` when S3 throttles past the retries, else `Unknown error` (a full disk, a
    /// store that does not answer…; the writer's log has the details).
    pub fn deliver_logs_error(&self) -> &'static str {
        const ACCESS: &str = "Access error";
        const RATE: &str = "Rate limited";
        const UNKNOWN: &str = "Unknown error";
        match self {
            Self::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
                ACCESS
            }
            Self::Store { source, .. } => match source {
                object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
                | object_store::Error::NotFound { .. } => ACCESS,
                other => {
                    let text = other.to_string();
                    let throttled = ["SlowDown", "Throttl", "TooManyRequests", "503"]
                        .iter()
                        .any(|m| text.contains(m));
                    if throttled {
                        RATE
                    } else {
                        UNKNOWN
                    }
                }
            },
            Self::NoS3Settings(_) | Self::S3Config(_) | Self::BadPath(_) => ACCESS,
            Self::Io { .. } | Self::TimedOut { .. } | Self::Unsupported(_) => UNKNOWN,
        }
    }
}

/// A directory of objects: `<flow-log root>/<destination dir>/<key>`.
#[derive(Debug, Clone)]
pub struct FileSink {
    dir: PathBuf,
    /// Opened at the first put (the directory may not exist before).
    store: OnceLock<Arc<LocalFileSystem>>,
}

static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

impl FileSink {
    /// The sink of a `file` destination under `root`. The destination's path is checked again
    /// here: whatever the control plane sent, nothing outside `root` is written.
    pub fn new(root: &Path, destination: &Destination) -> Result<Self, SinkError> {
        match destination {
            Destination::File { dir } => {
                let dir = check_relative(dir).map_err(|_| SinkError::BadPath(dir.clone()))?;
                Ok(Self {
                    dir: root.join(dir),
                    store: OnceLock::new(),
                })
            }
            other => Err(SinkError::Unsupported(other.value())),
        }
    }

    /// The directory objects go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn store(&self) -> Result<&LocalFileSystem, SinkError> {
        if let Some(s) = self.store.get() {
            return Ok(s);
        }
        fs::create_dir_all(&self.dir).map_err(io("creating", &self.dir))?;
        let removed = sweep_stale_temps(&self.dir, SystemTime::now());
        if removed > 0 {
            tracing::info!(dir = %self.dir.display(), removed,
                "removed temporary files a crashed writer left");
        }
        let s = LocalFileSystem::new_with_prefix(&self.dir).map_err(|source| SinkError::Store {
            op: "opening",
            key: self.dir.display().to_string(),
            source,
        })?;
        Ok(self.store.get_or_init(|| Arc::new(s)))
    }
}

/// A hidden temporary file this old is a crashed writer's leftover.
pub const STALE_TEMP: Duration = Duration::from_secs(600);

/// Removes, under `dir`, the temporary files of puts that never finished (hidden names with
/// `.tmp-`, as [`FileSink::put`] and `object_store` stage them) last modified more than
/// [`STALE_TEMP`] before `now`; returns how many. Failures are skipped: a leftover only
/// wastes space, and objects are never touched.
pub fn sweep_stale_temps(dir: &Path, now: SystemTime) -> usize {
    let mut removed = 0;
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(kind) = e.file_type() else { continue };
            let name = e.file_name();
            let name = name.to_string_lossy();
            if kind.is_dir() {
                todo.push(e.path());
            } else if kind.is_file() && name.starts_with('.') && name.contains(".tmp-") {
                let stale = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > STALE_TEMP));
                if stale && fs::remove_file(e.path()).is_ok() {
                    removed += 1;
                }
            }
        }
    }
    removed
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> SinkError + 'a {
    move |source| SinkError::Io {
        op,
        path: path.display().to_string(),
        source,
    }
}

fn store_err<'a>(
    op: &'static str,
    key: &'a StorePath,
) -> impl FnOnce(object_store::Error) -> SinkError + 'a {
    move |source| SinkError::Store {
        op,
        key: key.to_string(),
        source,
    }
}

/// A key as a relative path of plain names (`[A-Za-z0-9._=-]`, none starting with `.`), as
/// [`crate::object_key`] makes them; anything else is refused.
pub(crate) fn checked_key(key: &str) -> Result<StorePath, SinkError> {
    let ok = !key.is_empty()
        && key.len() <= 1024
        && !key.starts_with('/')
        && key.split('/').all(|s| {
            !s.is_empty()
                && !s.starts_with('.')
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'='))
        });
    let refused = || SinkError::BadPath(key.chars().take(128).collect());
    if !ok {
        return Err(refused());
    }
    StorePath::parse(key).map_err(|_| refused())
}

impl Sink for FileSink {
    fn put(&self, key: &str, body: &[u8]) -> Result<(), SinkError> {
        let target = checked_key(key)?;
        let store = self.store()?;
        let name = target.filename().unwrap_or_default();
        let temp_name = format!(
            ".{name}.tmp-{}-{}",
            std::process::id(),
            TEMP_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let temp = target.parent().unwrap_or_default().join(temp_name.as_str());
        let temp_file = store
            .path_to_filesystem(&temp)
            .map_err(store_err("staging", &temp))?;
        let parent_dir = temp_file
            .parent()
            .map(Path::to_path_buf)
            .ok_or_else(|| SinkError::BadPath(key.to_owned()))?;
        let payload = PutPayload::from(bytes::Bytes::copy_from_slice(body));
        // No tokio runtime here: LocalFileSystem then does its I/O inline, on this thread.
        let written = futures_executor::block_on(async {
            store
                .put(&temp, payload)
                .await
                .map_err(store_err("writing", &temp))?;
            fs::File::open(&temp_file)
                .and_then(|f| f.sync_all())
                .map_err(io("syncing", &temp_file))?;
            store
                .rename(&temp, &target)
                .await
                .map_err(store_err("renaming into", &target))
        });
        if let Err(e) = written {
            let _ = fs::remove_file(&temp_file);
            return Err(e);
        }
        // The rename is durable once the directory is synced.
        fs::File::open(&parent_dir)
            .and_then(|d| d.sync_all())
            .map_err(io("syncing", &parent_dir))?;
        Ok(())
    }
}
