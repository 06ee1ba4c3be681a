//! The audit log's writer: every API call's entry goes through one task that writes what has
//! queued up in one transaction.
//!
//! Writing each entry as its own commit cost every call (reads included) an fsync and a turn
//! on SQLite's single write lock, queued behind the actions' own write transactions; batching
//! makes that one commit per burst. The queue is bounded and `record` waits when it is full, so
//! a flood slows callers rather than losing entries (throttled calls are sampled before they
//! get here). Entries reach the database within [`LINGER`] of the call that made them (or
//! sooner, once a batch is full); [`AuditLog::flush`] writes everything queued so far at once
//! and waits for it.
//!
//! Why linger rather than write the moment anything is queued: under steady load that was a
//! commit every millisecond or so, and every commit changes the write-ahead log, which makes
//! every pooled connection drop its page cache at its next read: reads then fetched every page
//! they touched again (with the memory map the store had then, by unmapping the whole file and
//! faulting the pages back in), and the commits' fsyncs took their share too.

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use underpass_store::iam::{audit_batch, AuditEntry};
use underpass_store::Store;

/// Entries waiting to be written, at most.
const QUEUE: usize = 8192;
/// Entries written in one transaction, at most. Every write holds the store's writers' turn
/// while it inserts, and the API's own writes queue behind it: 512 entries held it for 1.5-3.5
/// ms (8.8 ms once), a stall of every write in flight every 100 ms under load, and the whole of
/// CreateVpcEndpoint's p99 (bench/api). 32 hold it for about as long as one action does, and
/// under load each joins a batch of the API's writes and its commit (see the store's `Batch`).
const BATCH: usize = 32;
/// How long the first entry of a batch waits for others before the batch is written.
const LINGER: std::time::Duration = std::time::Duration::from_millis(100);

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
        let deadline = tokio::time::Instant::now() + LINGER;
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Entry(e) => entries.push(e),
                Msg::Flush(done) => waiting.push(done),
            }
            // A flush, a full batch or the deadline ends the batch; a closed channel too.
            if entries.len() < BATCH && waiting.is_empty() {
                next = tokio::time::timeout_at(deadline, rx.recv())
                    .await
                    .ok()
                    .flatten();
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use time::OffsetDateTime;
    use underpass_store::iam::audit_tail;
    use underpass_store::StoreConfig;

    use super::*;

    fn entry(i: usize) -> AuditEntry {
        AuditEntry {
            at: OffsetDateTime::now_utc(),
            request_id: format!("r-{i}"),
            principal: None,
            action: "DescribeRegions".into(),
            outcome: "Success".into(),
            error_code: None,
        }
    }

    async fn store(dir: &std::path::Path) -> Store {
        Store::open(&StoreConfig {
            path: dir.join("state.db"),
            install_id: "i".into(),
            region: "us-east-1".into(),
            busy_timeout: Duration::from_millis(500),
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn entries_land_without_a_flush_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let (log, task) = AuditLog::start(store.clone());
        for i in 0..(BATCH + 10) {
            log.record(entry(i)).await;
        }
        // No flush: the lingering batch is written on its own (a bounded wait, not a timing).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut tail = Vec::new();
        while tokio::time::Instant::now() < deadline {
            tail = audit_tail(&store, 1000).await.unwrap();
            if tail.len() == BATCH + 10 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let ids: Vec<&str> = tail.iter().rev().map(|e| e.request_id.as_str()).collect();
        let want: Vec<String> = (0..BATCH + 10).map(|i| format!("r-{i}")).collect();
        assert_eq!(ids, want, "every entry, in the order recorded");
        drop(log);
        task.await.unwrap();
    }

    #[tokio::test]
    async fn a_flush_writes_what_is_queued_and_the_last_handle_drains_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path()).await;
        let (log, task) = AuditLog::start(store.clone());
        log.flush().await;
        assert!(audit_tail(&store, 10).await.unwrap().is_empty());
        log.record(entry(1)).await;
        log.flush().await;
        assert_eq!(audit_tail(&store, 10).await.unwrap().len(), 1);
        log.record(entry(2)).await;
        drop(log);
        task.await.unwrap();
        let tail = audit_tail(&store, 10).await.unwrap();
        assert_eq!(tail.first().map(|e| e.request_id.as_str()), Some("r-2"));
    }
}
