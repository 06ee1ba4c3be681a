//! The resolver's sockets: UDP and TCP on one address, driving [`crate::answer::handle`].
//!
//! Limits (RELIABILITY items 80, 82, 87): UDP replies are capped by the wire module; forwarded
//! queries in flight are bounded (SERVFAIL past the bound, no queue); TCP connections are
//! bounded per source address and in total, closed after an idle period, and a length prefix
//! that promises more than arrives costs one idle period, not a task forever. Pipelined
//! queries on one connection are served one after the other.
//!
//! The zone set is swapped whole ([`DnsServer::swap`]): a query sees the old set or the new
//! one, never a mix, and the next query after a swap sees the new one.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::{timeout, Instant};

use crate::answer::{handle, relay, Handled};
use crate::client::exchange;
use crate::wire::{servfail, Query, Transport};
use crate::zone::ZoneSet;

/// How the resolver runs.
#[derive(Debug, Clone)]
pub struct DnsServerConfig {
    /// UDP and TCP address (port 0: one free port for both).
    pub listen: SocketAddr,
    /// A TCP connection with no complete query for this long is closed.
    pub tcp_idle: Duration,
    /// Open TCP connections allowed from one source address.
    pub tcp_per_source: usize,
    /// Open TCP connections allowed in total.
    pub tcp_total: usize,
    /// Forwarded queries in flight at once.
    pub forward_inflight: usize,
    /// How long a forwarded query may take, all upstreams together.
    pub forward_timeout: Duration,
    /// Upstreams used when the zone set names none (e.g. the host's resolv.conf).
    pub fallback_upstreams: Vec<SocketAddr>,
}

impl DnsServerConfig {
    /// Defaults: 10 s TCP idle timeout, 16 TCP connections per source and 1,024 in total, 256
    /// forwarded queries in flight, 3 s per forwarded query, no fallback upstreams.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            tcp_idle: Duration::from_secs(10),
            tcp_per_source: 16,
            tcp_total: 1024,
            forward_inflight: 256,
            forward_timeout: Duration::from_secs(3),
            fallback_upstreams: Vec::new(),
        }
    }
}

struct Shared {
    zones: RwLock<Arc<ZoneSet>>,
    forward: Arc<Semaphore>,
    cfg: DnsServerConfig,
    addr: SocketAddr,
    tcp: Mutex<TcpCount>,
}

#[derive(Default)]
struct TcpCount {
    total: usize,
    per_source: HashMap<IpAddr, usize>,
}

/// Releases a TCP connection's slot when the connection ends.
struct TcpSlot {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for TcpSlot {
    fn drop(&mut self) {
        let mut c = self.shared.tcp.lock().unwrap_or_else(|p| p.into_inner());
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.per_source.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.per_source.remove(&self.ip);
            }
        }
    }
}

impl Shared {
    fn zones(&self) -> Arc<ZoneSet> {
        self.zones.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<TcpSlot> {
        let mut c = self.tcp.lock().unwrap_or_else(|p| p.into_inner());
        let from_ip = c.per_source.get(&ip).copied().unwrap_or(0);
        if c.total >= self.cfg.tcp_total || from_ip >= self.cfg.tcp_per_source {
            return None;
        }
        c.total += 1;
        c.per_source.insert(ip, from_ip + 1);
        Some(TcpSlot {
            shared: self.clone(),
            ip,
        })
    }

    fn permit(&self) -> Option<OwnedSemaphorePermit> {
        self.forward.clone().try_acquire_owned().ok()
    }

    /// Forwards `q` to the upstreams in turn and relays the first usable reply; SERVFAIL when
    /// none gives one in time.
    async fn forward(&self, zones: &ZoneSet, q: &Query) -> Vec<u8> {
        let upstreams = if zones.upstreams().is_empty() {
            &self.cfg.fallback_upstreams
        } else {
            zones.upstreams()
        };
        let deadline = Instant::now() + self.cfg.forward_timeout;
        let upstreams: Vec<SocketAddr> = upstreams
            .iter()
            .copied()
            .filter(|u| *u != self.addr)
            .collect();
        for (i, up) in upstreams.iter().enumerate() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // A silent upstream takes its share of the time, not all of it.
            let share = left / u32::try_from(upstreams.len() - i).unwrap_or(1);
            match exchange(*up, &q.question, share).await {
                Ok(reply) => match relay(q, &reply) {
                    Ok(bytes) => return bytes,
                    Err(e) => {
                        tracing::debug!(upstream = %up, error = %e, "unusable upstream reply")
                    }
                },
                Err(e) => tracing::debug!(upstream = %up, error = %e, "upstream failed"),
            }
        }
        servfail(q)
    }
}

/// A running resolver.
pub struct DnsServer {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl DnsServer {
    /// Binds UDP and TCP on `cfg.listen` and serves `zones`.
    pub async fn start(cfg: DnsServerConfig, zones: ZoneSet) -> std::io::Result<Self> {
        let (udp, tcp) = bind_pair(cfg.listen).await?;
        let addr = udp.local_addr()?;
        let shared = Arc::new(Shared {
            zones: RwLock::new(Arc::new(zones)),
            forward: Arc::new(Semaphore::new(cfg.forward_inflight.max(1))),
            cfg,
            addr,
            tcp: Mutex::new(TcpCount::default()),
        });
        let (stop, stop_rx) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(serve_udp(Arc::new(udp), shared.clone(), stop_rx.clone())),
            tokio::spawn(serve_tcp(tcp, shared.clone(), stop_rx)),
        ];
        tracing::info!(%addr, "DNS resolver listening (UDP and TCP)");
        Ok(Self {
            shared,
            stop,
            tasks,
        })
    }

    /// The address both sockets are bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// Replaces the zone set; the next query is answered from `zones`.
    pub fn swap(&self, zones: ZoneSet) {
        *self.shared.zones.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(zones);
    }

    /// The zone set being served.
    pub fn zones(&self) -> Arc<ZoneSet> {
        self.shared.zones()
    }

    /// Stops serving (open TCP connections are closed).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Resolves once a stop is asked for (the guard `wait_for` returns is not `Send`).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Binds UDP, then TCP on the same address and port (for port 0: retried until one free port
/// serves both).
pub(crate) async fn bind_pair(listen: SocketAddr) -> std::io::Result<(UdpSocket, TcpListener)> {
    let mut last = None;
    for _ in 0..8 {
        let udp = UdpSocket::bind(listen).await?;
        let addr = udp.local_addr()?;
        match TcpListener::bind(addr).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if listen.port() == 0 => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free port for UDP and TCP")))
}

async fn serve_udp(sock: Arc<UdpSocket>, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let (n, src) = tokio::select! {
            r = sock.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    // ICMP errors from earlier sends surface here; the socket is still fine.
                    tracing::debug!(error = %e, "UDP receive error");
                    continue;
                }
            },
            _ = stopped(&mut stop) => return,
        };
        if src.port() == 0 {
            continue;
        }
        let zones = shared.zones();
        match handle(&zones, &buf[..n], src.ip(), Transport::Udp) {
            Handled::Reply(bytes) => {
                let _ = sock.send_to(&bytes, src).await;
            }
            Handled::Drop => {}
            Handled::Forward(q) => match shared.permit() {
                None => {
                    let _ = sock.send_to(&servfail(&q), src).await;
                }
                Some(permit) => {
                    let (sock, shared) = (sock.clone(), shared.clone());
                    tokio::spawn(async move {
                        let bytes = shared.forward(&zones, &q).await;
                        let _ = sock.send_to(&bytes, src).await;
                        drop(permit);
                    });
                }
            },
        }
    }
}

async fn serve_tcp(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!(error = %e, "TCP accept error");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => return,
        };
        let Some(slot) = shared.admit(peer.ip()) else {
            tracing::debug!(%peer, "TCP connection refused: limit reached");
            drop(stream);
            continue;
        };
        let (shared, stop) = (shared.clone(), stop.clone());
        tokio::spawn(async move {
            let _slot = slot;
            tcp_connection(stream, peer, &shared, stop).await;
        });
    }
}

async fn tcp_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: &Shared,
    mut stop: watch::Receiver<bool>,
) {
    let idle = shared.cfg.tcp_idle;
    loop {
        let read = async {
            let mut len = [0u8; 2];
            stream.read_exact(&mut len).await?;
            let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
            stream.read_exact(&mut msg).await?;
            Ok::<_, std::io::Error>(msg)
        };
        let msg = tokio::select! {
            r = timeout(idle, read) => match r {
                Ok(Ok(m)) => m,
                _ => return,
            },
            _ = stopped(&mut stop) => return,
        };
        let zones = shared.zones();
        let reply = match handle(&zones, &msg, peer.ip(), Transport::Tcp) {
            Handled::Reply(bytes) => bytes,
            Handled::Drop => return,
            Handled::Forward(q) => match shared.permit() {
                None => servfail(&q),
                Some(_permit) => shared.forward(&zones, &q).await,
            },
        };
        let Ok(len) = u16::try_from(reply.len()) else {
            return;
        };
        let mut framed = Vec::with_capacity(reply.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&reply);
        if !matches!(timeout(idle, stream.write_all(&framed)).await, Ok(Ok(()))) {
            return;
        }
    }
}
