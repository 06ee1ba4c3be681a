//! Small runtime pieces shared by listeners and gateways: binding, an accept loop that survives
//! EMFILE, stop signals, task tracking, and atomically swapped views.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

/// The first pause after an accept error that is not about one connection (EMFILE…).
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
/// The longest pause between two accept attempts while errors go on.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Binds a listener with `SO_REUSEADDR` and the given backlog.
pub(crate) fn bind(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// Whether an accept error concerns only the connection being accepted.
fn per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// Accepts until stopped, handing each connection to `on_accept`.
///
/// Errors that are about the listener or the process (EMFILE, ENFILE, ENOBUFS…) pause the loop,
/// 10 ms at first and doubling to 1 s while they go on, so running out of descriptors never
/// becomes a busy loop (RELIABILITY item 63); the first success resets the pause.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    what: &str,
    mut stop: StopRx,
    mut on_accept: impl FnMut(TcpStream, SocketAddr),
) {
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        let accepted = tokio::select! {
            () = stop.stopped() => return,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff = ACCEPT_BACKOFF_MIN;
                on_accept(stream, peer);
            }
            Err(e) if per_connection(&e) => {}
            Err(e) => {
                tracing::warn!(listener = what, error = %e, pause_ms = backoff.as_millis() as u64,
                    "accept failed; pausing");
                tokio::select! {
                    () = stop.stopped() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
            }
        }
    }
}

/// Stops a background task when told to or when dropped.
pub(crate) struct Stop(watch::Sender<bool>);

/// The task's side of a [`Stop`].
#[derive(Clone)]
pub(crate) struct StopRx(watch::Receiver<bool>);

impl Stop {
    pub(crate) fn new() -> (Self, StopRx) {
        let (tx, rx) = watch::channel(false);
        (Self(tx), StopRx(rx))
    }
}

impl Drop for Stop {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

impl StopRx {
    /// Resolves once the task is to stop.
    pub(crate) async fn stopped(&mut self) {
        // An error means the Stop is gone, which also means stop.
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// Sleeps until `at`; forever if there is no `at`.
pub(crate) async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Counts running tasks so that shutdown can wait for them.
#[derive(Clone, Default)]
pub(crate) struct Tasks(Arc<TaskCount>);

#[derive(Default)]
pub(crate) struct TaskCount {
    running: AtomicUsize,
    idle: Notify,
}

struct TaskGuard(Arc<TaskCount>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Tasks {
    /// Spawns a counted task on the current runtime.
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) -> JoinHandle<()> {
        self.0.running.fetch_add(1, Ordering::AcqRel);
        let guard = TaskGuard(self.0.clone());
        tokio::spawn(async move {
            let _guard = guard;
            task.await;
        })
    }

    /// Waits until no counted task runs, or `limit` passes; returns how many still run.
    pub(crate) async fn wait_idle(&self, limit: Duration) -> usize {
        let wait = async {
            loop {
                let notified = self.0.idle.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.0.running.load(Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(limit, wait).await;
        self.0.running.load(Ordering::Acquire)
    }
}

/// A value replaced as a whole: readers take a snapshot, apply swaps in a new one.
pub(crate) struct Swap<T>(RwLock<Arc<T>>);

impl<T> Swap<T> {
    pub(crate) fn new(value: Arc<T>) -> Self {
        Self(RwLock::new(value))
    }

    pub(crate) fn load(&self) -> Arc<T> {
        // A panic cannot leave an Arc half-written: a poisoned lock still holds a whole value.
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn store(&self, value: Arc<T>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tasks_are_awaited_and_stop_on_drop() {
        let tasks = Tasks::default();
        let (stop, mut rx) = Stop::new();
        tasks.spawn(async move { rx.stopped().await });
        assert_eq!(tasks.wait_idle(Duration::from_millis(50)).await, 1);
        drop(stop);
        assert_eq!(tasks.wait_idle(Duration::from_secs(5)).await, 0);
    }

    #[test]
    fn per_connection_errors_do_not_pause() {
        assert!(per_connection(&io::ErrorKind::ConnectionAborted.into()));
        // EMFILE (24 on Linux) pauses the loop.
        assert!(!per_connection(&io::Error::from_raw_os_error(24)));
    }
}
