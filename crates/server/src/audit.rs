//! The audit log's writer: every API call's entry goes through one task that writes what has
//! queued up in one transaction.
//!
//! Writing each entry as its own commit cost every call (reads included) an fsync and a turn
//! on SQLite's single write lock, queued behind the actions' own write transactions; batching
//! makes that one commit per burst. The queue is bounded and `record` waits when it is full, so
//! a flood slows callers rather than losing entries (throttled calls are sampled before they
//! get here). Entries reach the database within one batch of the call that made them;
//! [`AuditLog::flush`] waits until everything queued so far is written.

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use underpass_store::iam::{audit_batch, AuditEntry};
use underpass_store::Store;

/// Entries waiting to be written, at most.
const QUEUE: usize = 8192;
/// Entries written in one transaction, at most.
const BATCH: usize = 512;

#[derive(Debug)]
enum Msg {
    Entry(AuditEntry),
    Flush(oneshot::Sender<()>),
}

/// The handle calls use to log.
#[derive(Debug, Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Msg>,
}

impl AuditLog {
    /// Starts the writer on the current Tokio runtime; it ends when every handle is dropped,
    /// after writing what is queued.
    pub(crate) fn start(store: Store) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (Self { tx }, tokio::spawn(write_loop(store, rx)))
    }

    /// Queues one entry (waits while the queue is full).
    pub(crate) async fn record(&self, entry: AuditEntry) {
        if self.tx.send(Msg::Entry(entry)).await.is_err() {
            tracing::warn!("audit log writer has stopped: entry not written");
        }
    }

    /// Waits until every entry queued before this call is written.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn write_loop(store: Store, mut rx: mpsc::Receiver<Msg>) {
    let mut entries = Vec::with_capacity(BATCH);
    let mut waiting = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Entry(e) => entries.push(e),
                Msg::Flush(done) => waiting.push(done),
            }
            if entries.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !entries.is_empty() {
            let written = match store.begin().await {
                Ok(mut tx) => match audit_batch(&mut tx, &entries).await {
                    Ok(()) => tx.commit().await,
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            if let Err(e) = written {
                tracing::warn!(error = %e, lost = entries.len(), "audit log write failed");
            }
            entries.clear();
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}
