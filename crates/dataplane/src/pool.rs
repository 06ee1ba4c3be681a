//! The consumer's tunnels to one gateway for one endpoint, opened ahead of the flows that use
//! them so that no TLS handshake sits on a new flow's critical path.
//!
//! One pool per (endpoint, gateway address): the client certificate names the endpoint, so a
//! tunnel cannot be shared between endpoints.
//!
//! Multiplexed (the default, see the `mux` module): the pool keeps one tunnel open, and every
//! flow is a stream on it. A background task opens it at once, and again when it closes.
//!
//! Per flow: a background task keeps up to
//! [`crate::DataplaneConfig::tunnel_pool_size`] idle tunnels, each already past the handshake
//! and the gateway's identity check. A flow takes one, uses it for its whole life, and closes
//! it; the task then opens a replacement. Tunnels older than
//! [`crate::DataplaneConfig::pool_max_idle`] (kept below the gateway's preamble wait) or whose
//! gateway already closed them are discarded instead of used. When the pool is empty a flow
//! opens a tunnel itself. Failures put the gateway in a jittered exponential backoff (100 ms
//! doubling to 5 s) during which flows prefer other gateways.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::ReadBuf;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use underpass_pki::{expect_identity, PkiError, RevocationSet, Serial, SpiffeId};

use crate::flow::FlowReason;
use crate::mux::MuxClient;
use crate::net::{sleep_until_opt, Stop, StopRx, Tasks};
use crate::readahead::ReadAhead;
use crate::trust::is_tls_error;

/// A tunnel stream, consumer side.
pub(crate) type Tunnel = tokio_rustls::client::TlsStream<ReadAhead>;

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Why a tunnel could not be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    /// TCP connect failed.
    #[error("connect: {0}")]
    Connect(io::Error),
    /// TCP connect or the handshake took too long.
    #[error("{0} timed out")]
    Timeout(&'static str),
    /// The TLS handshake failed.
    #[error("TLS handshake: {0}")]
    Handshake(io::Error),
    /// The gateway's certificate names another identity.
    #[error("gateway identity: {0}")]
    Identity(PkiError),
}

impl OpenError {
    /// The flow reason when no other gateway does better.
    pub(crate) fn reason(&self) -> FlowReason {
        match self {
            Self::Connect(_) | Self::Timeout("connect") => FlowReason::GatewayUnreachable,
            Self::Timeout(_) => FlowReason::HandshakeTimeout,
            Self::Handshake(e) if !is_tls_error(e) => FlowReason::GatewayUnreachable,
            Self::Handshake(_) | Self::Identity(_) => FlowReason::Tls,
        }
    }
}

/// What a pool is built from (a pool is replaced when any of it changes).
#[derive(Clone)]
pub(crate) struct PoolSettings {
    pub(crate) addr: SocketAddr,
    pub(crate) tls: Arc<ClientConfig>,
    pub(crate) expected: SpiffeId,
    /// The live revocation set: a pooled tunnel whose gateway certificate was revoked since
    /// its handshake is discarded.
    pub(crate) revocations: RevocationSet,
    /// One multiplexed tunnel rather than a tunnel per flow (`tls` offers the matching ALPN).
    pub(crate) multiplex: bool,
    /// Multiplexed: the keepalive ping interval (and answer limit).
    pub(crate) keepalive: Duration,
    pub(crate) size: usize,
    pub(crate) max_idle: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    /// How much a tunnel's read may take beyond what its TLS session asked for.
    pub(crate) read_ahead: usize,
}

struct Pooled {
    stream: Tunnel,
    serial: Serial,
    born: Instant,
}

#[derive(Default)]
struct Failures {
    consecutive: u32,
    retry_at: Option<Instant>,
}

struct Shared {
    settings: PoolSettings,
    connector: TlsConnector,
    idle: Mutex<VecDeque<Pooled>>,
    wake: Notify,
    failures: Mutex<Failures>,
    /// The multiplexed tunnel, if one is open.
    session: Mutex<Option<Arc<MuxClient>>>,
    /// Held while a multiplexed tunnel is being opened, so that flows arriving meanwhile wait
    /// for it instead of opening their own.
    opening: tokio::sync::Mutex<()>,
    tasks: Tasks,
}

/// The pool of one (endpoint, gateway); its refill task stops when the pool is dropped.
pub(crate) struct TunnelPool {
    shared: Arc<Shared>,
    _stop: Stop,
}

impl TunnelPool {
    /// Starts a pool and its refill task.
    pub(crate) fn start(settings: PoolSettings, tasks: &Tasks) -> Arc<Self> {
        let shared = Arc::new(Shared {
            connector: TlsConnector::from(settings.tls.clone()),
            settings,
            idle: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            failures: Mutex::new(Failures::default()),
            session: Mutex::new(None),
            opening: tokio::sync::Mutex::new(()),
            tasks: tasks.clone(),
        });
        let (stop, stop_rx) = Stop::new();
        if shared.settings.multiplex {
            tasks.spawn(keep_session(shared.clone(), stop_rx));
        } else if shared.settings.size > 0 {
            tasks.spawn(refill(shared.clone(), stop_rx));
        }
        Arc::new(Self {
            shared,
            _stop: stop,
        })
    }

    /// The gateway's address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.shared.settings.addr
    }

    /// A pooled tunnel that is young enough and still open, if any.
    pub(crate) fn take(&self) -> Option<(Tunnel, Serial)> {
        let found = {
            let mut idle = lock(&self.shared.idle);
            let mut found = None;
            while let Some(p) = idle.pop_front() {
                if self.shared.usable(&p) {
                    found = Some((p.stream, p.serial));
                    break;
                }
            }
            found
        };
        self.shared.wake.notify_one();
        found
    }

    /// Whether flows are streams of one multiplexed tunnel.
    pub(crate) fn multiplexed(&self) -> bool {
        self.shared.settings.multiplex
    }

    /// The multiplexed tunnel, opened now if none is usable; and whether it was open already.
    pub(crate) async fn session(&self) -> Result<(Arc<MuxClient>, bool), OpenError> {
        Shared::session(&self.shared).await
    }

    /// Stops offering `session` to new flows (a stream on it failed); the next flow, or the
    /// pool's task, opens a fresh one.
    pub(crate) fn forget(&self, session: &Arc<MuxClient>) {
        let mut current = lock(&self.shared.session);
        if current.as_ref().is_some_and(|s| Arc::ptr_eq(s, session)) {
            *current = None;
            self.shared.wake.notify_one();
        }
    }

    /// Opens a tunnel now (the pool was empty, or a pooled one failed).
    pub(crate) async fn open(&self) -> Result<(Tunnel, Serial), OpenError> {
        self.shared.open().await
    }

    /// Whether the gateway failed recently and is in its backoff.
    pub(crate) fn in_backoff(&self) -> bool {
        lock(&self.shared.failures)
            .retry_at
            .is_some_and(|t| t > Instant::now())
    }

    /// The gateway answered.
    pub(crate) fn mark_ok(&self) {
        self.shared.mark_ok();
    }

    /// The gateway failed: back off before trying it again.
    pub(crate) fn mark_failed(&self) {
        self.shared.mark_failed();
    }
}

// Each update is one queue or field operation; a poisoned lock still holds whole values.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    async fn open(&self) -> Result<(Tunnel, Serial), OpenError> {
        let s = &self.settings;
        let tcp = tokio::time::timeout(s.connect_timeout, TcpStream::connect(s.addr))
            .await
            .map_err(|_| OpenError::Timeout("connect"))?
            .map_err(OpenError::Connect)?;
        // Preamble and verdict are small frames: do not let Nagle hold them back.
        let _ = tcp.set_nodelay(true);
        let name = ServerName::IpAddress(s.addr.ip().into());
        let tcp = ReadAhead::new(tcp, s.read_ahead);
        let tls = tokio::time::timeout(s.handshake_timeout, self.connector.connect(name, tcp))
            .await
            .map_err(|_| OpenError::Timeout("TLS handshake"))?
            .map_err(OpenError::Handshake)?;
        let serial = expect_identity(tls.get_ref().1, &s.expected).map_err(OpenError::Identity)?;
        Ok((tls, serial))
    }

    /// The open multiplexed tunnel, if it still takes new flows.
    fn current(&self) -> Option<Arc<MuxClient>> {
        let mut current = lock(&self.session);
        match &*current {
            Some(s) if s.usable(&self.settings.revocations) => Some(s.clone()),
            Some(_) => {
                *current = None;
                None
            }
            None => None,
        }
    }

    async fn session(this: &Arc<Self>) -> Result<(Arc<MuxClient>, bool), OpenError> {
        if let Some(s) = this.current() {
            return Ok((s, true));
        }
        let _opening = this.opening.lock().await;
        if let Some(s) = this.current() {
            return Ok((s, true));
        }
        let (tls, serial) = this.open().await?;
        let weak = Arc::downgrade(this);
        let on_close = move || {
            if let Some(shared) = weak.upgrade() {
                shared.wake.notify_one();
            }
        };
        let keepalive = this.settings.keepalive;
        let client = MuxClient::start(tls, serial, keepalive, &this.tasks, on_close)
            .await
            .map_err(|e| OpenError::Handshake(io::Error::other(e)))?;
        let client = Arc::new(client);
        *lock(&this.session) = Some(client.clone());
        Ok((client, false))
    }

    fn usable(&self, p: &Pooled) -> bool {
        p.born.elapsed() < self.settings.max_idle
            && !self.settings.revocations.is_revoked(p.serial)
            && idle_and_open(&p.stream)
    }

    fn prune(&self) -> usize {
        let mut idle = lock(&self.idle);
        idle.retain(|p| self.usable(p));
        idle.len()
    }

    fn oldest_expiry(&self) -> Option<Instant> {
        lock(&self.idle)
            .iter()
            .map(|p| p.born + self.settings.max_idle)
            .min()
    }

    fn mark_ok(&self) {
        *lock(&self.failures) = Failures::default();
    }

    fn mark_failed(&self) {
        let mut f = lock(&self.failures);
        f.consecutive = f.consecutive.saturating_add(1);
        let exp = BACKOFF_MIN.saturating_mul(1 << f.consecutive.min(8).saturating_sub(1));
        f.retry_at = Some(Instant::now() + jitter(exp.min(BACKOFF_MAX)));
    }

    fn retry_at(&self) -> Option<Instant> {
        lock(&self.failures).retry_at
    }
}

/// Whether an idle tunnel's gateway has said nothing: the gateway never writes before the
/// preamble, so any readable byte (a TLS alert) or EOF means it closed or refused the tunnel.
fn idle_and_open(stream: &Tunnel) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    let mut byte = [0u8; 1];
    let mut buf = ReadBuf::new(&mut byte);
    let tcp = stream.get_ref().0;
    !tcp.has_unread() && matches!(tcp.tcp().poll_peek(&mut cx, &mut buf), Poll::Pending)
}

/// `d` scaled by a random factor in 0.75..1.25, so that agents do not retry in step.
fn jitter(d: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let r = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let permille = 750 + r % 501;
    d.mul_f64(permille as f64 / 1000.0)
}

async fn refill(shared: Arc<Shared>, mut stop: StopRx) {
    loop {
        let missing = shared.settings.size.saturating_sub(shared.prune());
        let retry_at = shared.retry_at().filter(|t| *t > Instant::now());
        if missing > 0 && retry_at.is_none() {
            let opened = tokio::select! {
                () = stop.stopped() => return,
                opened = shared.open() => opened,
            };
            match opened {
                Ok((stream, serial)) => {
                    shared.mark_ok();
                    lock(&shared.idle).push_back(Pooled {
                        stream,
                        serial,
                        born: Instant::now(),
                    });
                    continue;
                }
                Err(e) => {
                    tracing::debug!(gateway = %shared.settings.addr, error = %e,
                        "cannot pre-open a tunnel");
                    shared.mark_failed();
                    continue;
                }
            }
        }
        let wake_at = [shared.oldest_expiry(), retry_at.filter(|_| missing > 0)]
            .into_iter()
            .flatten()
            .min();
        tokio::select! {
            () = stop.stopped() => return,
            () = shared.wake.notified() => {}
            () = sleep_until_opt(wake_at) => {}
        }
    }
}

/// Keeps a multiplexed tunnel open: at once, then whenever it closes (with the backoff).
async fn keep_session(shared: Arc<Shared>, mut stop: StopRx) {
    loop {
        let retry_at = shared.retry_at().filter(|t| *t > Instant::now());
        if retry_at.is_none() && shared.current().is_none() {
            let opened = tokio::select! {
                () = stop.stopped() => return,
                opened = Shared::session(&shared) => opened,
            };
            match opened {
                Ok(_) => shared.mark_ok(),
                Err(e) => {
                    tracing::debug!(gateway = %shared.settings.addr, error = %e,
                        "cannot open the multiplexed tunnel");
                    shared.mark_failed();
                }
            }
            continue;
        }
        tokio::select! {
            () = stop.stopped() => return,
            () = shared.wake.notified() => {}
            () = sleep_until_opt(retry_at) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_a_quarter() {
        for _ in 0..100 {
            let d = jitter(Duration::from_secs(4));
            assert!(
                d >= Duration::from_secs(3) && d <= Duration::from_secs(5),
                "{d:?}"
            );
        }
    }

    #[test]
    fn open_errors_map_to_flow_reasons() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(
            OpenError::Connect(refused).reason(),
            FlowReason::GatewayUnreachable
        );
        assert_eq!(
            OpenError::Timeout("TLS handshake").reason(),
            FlowReason::HandshakeTimeout
        );
        let tls = io::Error::new(io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert_eq!(OpenError::Handshake(tls).reason(), FlowReason::Tls);
    }
}
