//! Where encoded objects go: the [`Sink`] trait, and the local-directory sink.
//!
//! A sink stores whole objects under keys in AWS's layout ([`crate::object_key`]); a put is
//! atomic: after `Ok` the object is complete and durable, after `Err` nothing of it is visible.
//! [`FileSink`] writes a hidden temporary file beside the target (`.<name>.tmp…`), fsyncs it,
//! renames it into place and fsyncs the directory, so a reader never sees a half-written object
//! (RELIABILITY item 93) and a crash loses at most the object being written. An S3 sink (through
//! `object_store`, with multipart completion as the commit point) and a Parquet encoder are the
//! next implementations of the same trait.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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
    /// The destination cannot be served by this sink (an S3 destination, for now).
    #[error("destination {0} is not supported by this writer yet")]
    Unsupported(String),
    /// A key or destination that could escape the sink's root.
    #[error("refusing the path {0:?}")]
    BadPath(String),
}

/// A directory of objects: `<flow-log root>/<destination dir>/<key>`.
#[derive(Debug, Clone)]
pub struct FileSink {
    dir: PathBuf,
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
                })
            }
            other => Err(SinkError::Unsupported(other.value())),
        }
    }

    /// The directory objects go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> SinkError + 'a {
    move |source| SinkError::Io {
        op,
        path: path.display().to_string(),
        source,
    }
}

impl Sink for FileSink {
    fn put(&self, key: &str, body: &[u8]) -> Result<(), SinkError> {
        // Keys come from object_key; checked anyway, as a relative path of plain names.
        let ok = !key.is_empty()
            && !key.starts_with('/')
            && key.split('/').all(|s| {
                !s.is_empty()
                    && s != "."
                    && s != ".."
                    && !s.starts_with('.')
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            });
        if !ok {
            return Err(SinkError::BadPath(key.chars().take(128).collect()));
        }
        let path = self.dir.join(key);
        let parent = path
            .parent()
            .ok_or_else(|| SinkError::BadPath(key.to_owned()))?;
        fs::create_dir_all(parent).map_err(io("creating", parent))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = parent.join(format!(
            ".{name}.tmp-{}-{}",
            std::process::id(),
            TEMP_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temp)
                .map_err(io("creating", &temp))?;
            f.write_all(body).map_err(io("writing", &temp))?;
            f.sync_all().map_err(io("syncing", &temp))?;
            drop(f);
            fs::rename(&temp, &path).map_err(io("renaming into", &path))
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
        // The rename is durable once the directory is synced.
        fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(io("syncing", parent))?;
        Ok(())
    }
}
