//! Flow events for the flow-log writer, and the table of live flows that apply cuts from.
//!
//! Events leave the data path through a bounded queue drained by one thread that calls the
//! [`FlowSink`]: a slow sink never blocks a flow; when the queue is full the event is dropped
//! and counted ([`crate::Dataplane::dropped_flow_events`]).

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime};

use tokio::sync::watch;
use underpass_domain::{EndpointId, EniId};
use underpass_pki::Serial;
use underpass_proto::tunnel::RefusalCode;

use crate::alert::{AlertCounts, Alerting};
use crate::copy::Meter;

/// Receives flow events, on a thread of its own (it may block briefly; the data path does not
/// wait for it).
pub trait FlowSink: Send + Sync + 'static {
    /// Records one event.
    fn record(&self, ev: FlowEvent);
}

impl<F: Fn(FlowEvent) + Send + Sync + 'static> FlowSink for F {
    fn record(&self, ev: FlowEvent) {
        self(ev)
    }
}

/// A sink that discards every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscardFlows;

impl FlowSink for DiscardFlows {
    fn record(&self, _: FlowEvent) {}
}

/// Whether a flow was carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowAction {
    /// The flow was admitted and carried (its end has a [`FlowReason`] too).
    Accept,
    /// The flow was refused.
    Reject,
}

impl FlowAction {
    /// `ACCEPT` or `REJECT`, as flow logs print it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accept => "ACCEPT",
            Self::Reject => "REJECT",
        }
    }
}

/// Why a flow ended or was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowReason {
    /// Both sides closed normally.
    Closed,
    /// No bytes either way for the idle timeout.
    IdleTimeout,
    /// One side reset the connection, or an I/O error ended it.
    Reset,
    /// The listener was removed or the data plane shut down.
    Shutdown,
    /// The ENI's security groups do not admit the flow.
    SecurityGroup,
    /// The subnet's network ACL denies the flow.
    NetworkAcl,
    /// The endpoint is not `available` (consumer side), at accept time or since.
    NotAvailable,
    /// The endpoint is not, or no longer, admitted by the gateway (live enforcement).
    NotAccepted,
    /// A certificate of the flow was revoked (live enforcement).
    Revoked,
    /// A TLS handshake or the peer's identity check failed.
    Tls,
    /// The TLS handshake did not finish in time.
    HandshakeTimeout,
    /// The gateway refused the flow with this code (on the gateway side: it sent it).
    Refused(RefusalCode),
    /// No gateway could be reached, or none answered the preamble.
    GatewayUnreachable,
    /// The tunnel preamble or verdict exchange failed.
    Protocol,
}

impl FlowReason {
    /// A short stable label (for logs, metrics and flow records).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::IdleTimeout => "idle-timeout",
            Self::Reset => "reset",
            Self::Shutdown => "shutdown",
            Self::SecurityGroup => "sg",
            Self::NetworkAcl => "acl",
            Self::NotAvailable => "not-available",
            Self::NotAccepted => "not-accepted",
            Self::Revoked => "revoked",
            Self::Tls => "tls",
            Self::HandshakeTimeout => "handshake-timeout",
            Self::Refused(_) => "refused-by-gateway",
            Self::GatewayUnreachable => "gateway-unreachable",
            Self::Protocol => "tunnel-protocol",
        }
    }
}

impl fmt::Display for FlowReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(code) => write!(f, "{} ({code})", self.as_str()),
            other => f.write_str(other.as_str()),
        }
    }
}

/// TCP flag bits, numbered as flow logs print them (`tcp-flags`).
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u16 = 1;
    /// SYN.
    pub const SYN: u16 = 2;
    /// RST.
    pub const RST: u16 = 4;
    /// SYN-ACK (reported as SYN with ACK, 18).
    pub const SYN_ACK: u16 = 18;
}

/// Which part of the data path saw the flow.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FlowSide {
    /// An endpoint ENI, on the consumer's agent.
    Endpoint,
    /// A load-balancer node, on the provider's agent.
    Gateway {
        /// The load balancer's ARN.
        load_balancer_arn: String,
    },
}

/// One flow, once it is refused or has ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowEvent {
    /// The consumer agent's id for the flow; the gateway logs the same id (from the preamble)
    /// once the preamble arrived, its own otherwise.
    pub flow_id: u64,
    /// Endpoint or gateway.
    pub side: FlowSide,
    /// The ENI that saw the flow.
    pub interface_id: EniId,
    /// The endpoint, once known (always on the consumer side).
    pub endpoint_id: Option<EndpointId>,
    /// The TCP peer of the ENI: the client (endpoint side) or the consumer agent (gateway side).
    pub src: SocketAddr,
    /// The ENI's own address and port.
    pub dst: SocketAddr,
    /// Gateway side: the original client, as the consumer agent described it.
    pub client: Option<SocketAddr>,
    /// Gateway side: the target the flow went to.
    pub target: Option<SocketAddr>,
    /// The IANA protocol number (6, TCP).
    pub protocol: u8,
    /// Payload bytes from the client towards the service.
    pub bytes_in: u64,
    /// Payload bytes from the service towards the client.
    pub bytes_out: u64,
    /// Segments the ENI's connection received (the kernel's `tcpi_segs_in`), where known.
    pub packets_in: Option<u64>,
    /// Segments it sent (`tcpi_segs_out`), where known.
    pub packets_out: Option<u64>,
    /// When the connection was accepted.
    pub start: SystemTime,
    /// When it was refused or ended.
    pub end: SystemTime,
    /// `start` on the monotonic clock (durations come from these two, never from the wall
    /// clock, which may jump).
    pub start_instant: Instant,
    /// `end` on the monotonic clock.
    pub end_instant: Instant,
    /// TCP flags the ENI received from its peer, as far as the data plane knows them
    /// ([`tcp_flags`]): SYN on accept, FIN when the peer closed, RST when it reset.
    pub tcp_flags_in: u16,
    /// TCP flags the ENI sent: SYN-ACK on accept, FIN on a clean close, RST when the data plane
    /// reset the connection (a refusal, a cut, an idle timeout, an error).
    pub tcp_flags_out: u16,
    /// Accepted or rejected.
    pub action: FlowAction,
    /// Why it was refused, or how it ended.
    pub reason: FlowReason,
}

impl FlowEvent {
    /// A flow just accepted on a listener: it counts as refused (with `reason`) until it is
    /// carried, and starts with the handshake's flags (SYN in, SYN-ACK out) and the clocks now.
    pub(crate) fn opened(
        flow_id: u64,
        side: FlowSide,
        interface_id: EniId,
        endpoint_id: Option<EndpointId>,
        src: SocketAddr,
        dst: SocketAddr,
        reason: FlowReason,
    ) -> Self {
        let start = SystemTime::now();
        let start_instant = Instant::now();
        Self {
            flow_id,
            side,
            interface_id,
            endpoint_id,
            src,
            dst,
            client: None,
            target: None,
            protocol: 6,
            bytes_in: 0,
            bytes_out: 0,
            packets_in: None,
            packets_out: None,
            start,
            end: start,
            start_instant,
            end_instant: start_instant,
            tcp_flags_in: tcp_flags::SYN,
            tcp_flags_out: tcp_flags::SYN_ACK,
            action: FlowAction::Reject,
            reason,
        }
    }
}

/// A handle on the count of flow events dropped because the sink's queue was full (or
/// closed): the flow-log writer turns it into `SKIPDATA` records.
#[derive(Debug, Clone, Default)]
pub struct DroppedFlowEvents(Arc<AtomicU64>);

impl DroppedFlowEvents {
    /// Events dropped so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// How long the sink's thread rests after draining the queue.
const EVENT_BATCH_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

/// The bounded queue between the data path and the sink's thread.
pub(crate) struct FlowEvents {
    tx: RwLock<Option<SyncSender<FlowEvent>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    dropped: DroppedFlowEvents,
    alerts: AlertCounts,
}

impl FlowEvents {
    /// Starts the sink's thread with a queue of `capacity` events (at least 1).
    pub(crate) fn start(sink: impl FlowSink, capacity: usize) -> Self {
        let (tx, rx) = sync_channel::<FlowEvent>(capacity.max(1));
        let alerts = AlertCounts::default();
        let mut alerting = Alerting::new(alerts.clone());
        let spawned = std::thread::Builder::new()
            .name("underpass-flow-events".into())
            .spawn(move || {
                // Drain, then pause: the events that pile up meanwhile cost one wake-up instead
                // of a futex wake and two context switches each (issue 6, W3: a few percent of
                // a gateway's CPU at thousands of flows a second). The queue holds far more than
                // a pause's worth.
                while let Ok(first) = rx.recv() {
                    for ev in std::iter::once(first).chain(rx.try_iter()) {
                        alerting.observe(&ev);
                        sink.record(ev);
                    }
                    std::thread::sleep(EVENT_BATCH_PAUSE);
                }
            });
        let (tx, thread) = match spawned {
            Ok(handle) => (Some(tx), Some(handle)),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the flow-event thread; events are dropped");
                (None, None)
            }
        };
        Self {
            tx: RwLock::new(tx),
            thread: Mutex::new(thread),
            dropped: DroppedFlowEvents::default(),
            alerts,
        }
    }

    /// Refused attempts counted by alert kind.
    pub(crate) fn alerts(&self) -> AlertCounts {
        self.alerts.clone()
    }

    /// Queues an event; drops and counts it if the queue is full or closed. Never blocks.
    pub(crate) fn emit(&self, ev: FlowEvent) {
        let guard = self.tx.read().unwrap_or_else(PoisonError::into_inner);
        let sent = match guard.as_ref() {
            Some(tx) => match tx.try_send(ev) {
                Ok(()) => true,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
            },
            None => false,
        };
        if !sent {
            self.dropped.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Events dropped so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.get()
    }

    /// A handle on the drop count.
    pub(crate) fn dropped_handle(&self) -> DroppedFlowEvents {
        self.dropped.clone()
    }

    /// Closes the queue; the sink's thread finishes what is queued. Returns its handle.
    pub(crate) fn close(&self) -> Option<JoinHandle<()>> {
        self.tx
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// Flow ids: a random start, then counting.
pub(crate) struct FlowIds(AtomicU64);

impl FlowIds {
    pub(crate) fn new() -> Self {
        use std::hash::{BuildHasher, Hasher};
        // RandomState is seeded from the OS; ids need to be unlikely to repeat across restarts,
        // not secret.
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Self(AtomicU64::new(seed))
    }

    pub(crate) fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

/// What a live flow depends on; apply cuts flows whose dependencies are gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FlowKey {
    /// A flow into an endpoint ENI.
    Endpoint {
        /// The listener's configured address (ENI ip, service port).
        listener: SocketAddr,
        /// The endpoint.
        endpoint: EndpointId,
        /// The serial of the gateway certificate, once the tunnel is up.
        gateway_serial: Option<Serial>,
    },
    /// A flow through a gateway node.
    Gateway {
        /// The node's configured tunnel address.
        node: SocketAddr,
        /// The endpoint named by the client certificate.
        endpoint: EndpointId,
        /// The client certificate's serial.
        serial: Serial,
        /// The service port from the preamble.
        port: u16,
    },
}

struct FlowEntry {
    key: FlowKey,
    cut: watch::Sender<Option<FlowReason>>,
    /// Who the flow is, once known (for [`LiveFlows::snapshot`]).
    live: Option<LiveFlow>,
    /// The flow's byte counters, once its bytes are being copied.
    meter: Option<Arc<Meter>>,
}

/// A live flow as [`LiveFlows::snapshot`] samples it: the counters since it started. The
/// flow-log writer reports the bytes of long flows window by window from these, and subtracts
/// what it reported from the flow's final [`FlowEvent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveFlow {
    /// As in the flow's [`FlowEvent`] (the same on both).
    pub flow_id: u64,
    /// Endpoint or gateway.
    pub side: FlowSide,
    /// The ENI.
    pub interface_id: EniId,
    /// The ENI's TCP peer.
    pub src: SocketAddr,
    /// The ENI's own address and port.
    pub dst: SocketAddr,
    /// Gateway side: the original client.
    pub client: Option<SocketAddr>,
    /// When the connection was accepted (monotonic).
    pub start_instant: Instant,
    /// The last byte either way (the start until one moved).
    pub last_instant: Instant,
    /// Bytes from the client towards the service so far.
    pub bytes_in: u64,
    /// Bytes towards the client so far.
    pub bytes_out: u64,
    /// The kernel's segment counters of the ENI's connection so far (in, out), when known.
    pub segments: Option<(u64, u64)>,
}

/// A handle on the live flows of a data plane ([`crate::Dataplane::live_flows_handle`]).
#[derive(Clone, Default)]
pub struct LiveFlows {
    table: FlowTable,
}

impl LiveFlows {
    /// The flows that are being carried now, with their counters (the kernel's segment counters
    /// are read after the table is released).
    pub fn snapshot(&self) -> Vec<LiveFlow> {
        let mut flows: Vec<LiveFlow> = {
            let entries = lock(&self.table.entries);
            entries
                .values()
                .filter_map(|e| {
                    let mut f = e.live.clone()?;
                    let m = e.meter.as_ref()?;
                    let (bytes_in, bytes_out, last) = m.sample();
                    f.bytes_in = bytes_in;
                    f.bytes_out = bytes_out;
                    f.last_instant = last.max(f.start_instant);
                    Some(f)
                })
                .collect()
        };
        for f in &mut flows {
            f.segments = crate::tcpinfo::segments(f.dst, f.src);
        }
        flows
    }
}

impl std::fmt::Debug for LiveFlows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveFlows").finish_non_exhaustive()
    }
}

type Entries = Arc<Mutex<HashMap<u64, FlowEntry>>>;

/// Live flows by id.
#[derive(Clone, Default)]
pub(crate) struct FlowTable {
    entries: Entries,
}

impl FlowTable {
    /// Registers a flow; it leaves the table when the ticket is dropped.
    pub(crate) fn register(&self, key: FlowKey) -> FlowTicket {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let slot = NEXT.fetch_add(1, Ordering::Relaxed);
        let (cut, rx) = watch::channel(None);
        lock(&self.entries).insert(
            slot,
            FlowEntry {
                key,
                cut,
                live: None,
                meter: None,
            },
        );
        FlowTicket {
            slot,
            entries: self.entries.clone(),
            cut: rx,
        }
    }

    /// Cuts every live flow for which `verdict` names a reason; returns how many were cut.
    pub(crate) fn cut_where(&self, verdict: impl Fn(&FlowKey) -> Option<FlowReason>) -> usize {
        let entries = lock(&self.entries);
        let mut n = 0;
        for entry in entries.values() {
            if entry.cut.borrow().is_some() {
                continue;
            }
            if let Some(reason) = verdict(&entry.key) {
                entry.cut.send_replace(Some(reason));
                n += 1;
            }
        }
        n
    }

    /// How many flows are live.
    pub(crate) fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    /// A handle for sampling the live flows.
    pub(crate) fn live(&self) -> LiveFlows {
        LiveFlows {
            table: self.clone(),
        }
    }
}

fn lock(entries: &Entries) -> std::sync::MutexGuard<'_, HashMap<u64, FlowEntry>> {
    // Every update is one map operation: a panic elsewhere cannot leave it half-done.
    entries.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A flow's place in the [`FlowTable`], and its cut signal.
pub(crate) struct FlowTicket {
    slot: u64,
    entries: Entries,
    cut: watch::Receiver<Option<FlowReason>>,
}

impl FlowTicket {
    /// Changes what the flow depends on (as it learns the gateway serial, say).
    pub(crate) fn update(&self, f: impl FnOnce(&mut FlowKey)) {
        if let Some(entry) = lock(&self.entries).get_mut(&self.slot) {
            f(&mut entry.key);
        }
    }

    /// Names the flow for [`LiveFlows::snapshot`] (from its event as known so far).
    pub(crate) fn describe(&self, ev: &FlowEvent) {
        if let Some(entry) = lock(&self.entries).get_mut(&self.slot) {
            entry.live = Some(LiveFlow {
                flow_id: ev.flow_id,
                side: ev.side.clone(),
                interface_id: ev.interface_id,
                src: ev.src,
                dst: ev.dst,
                client: ev.client,
                start_instant: ev.start_instant,
                last_instant: ev.start_instant,
                bytes_in: 0,
                bytes_out: 0,
                segments: None,
            });
        }
    }

    /// Shares the byte counters of the flow's copier with [`LiveFlows::snapshot`].
    pub(crate) fn attach_meter(&self, meter: Arc<Meter>) {
        if let Some(entry) = lock(&self.entries).get_mut(&self.slot) {
            entry.meter = Some(meter);
        }
    }

    /// Whether, and why, the flow was cut.
    pub(crate) fn is_cut(&self) -> Option<FlowReason> {
        *self.cut.borrow()
    }

    /// Resolves when the flow is cut.
    pub(crate) async fn cut(&mut self) -> FlowReason {
        match self.cut.wait_for(Option::is_some).await {
            Ok(reason) => (*reason).unwrap_or(FlowReason::Shutdown),
            Err(_) => FlowReason::Shutdown,
        }
    }
}

impl Drop for FlowTicket {
    fn drop(&mut self) {
        lock(&self.entries).remove(&self.slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(port: u16) -> FlowKey {
        FlowKey::Gateway {
            node: "127.0.0.1:1".parse().unwrap(),
            endpoint: EndpointId::from_bits(7),
            serial: Serial::from(1),
            port,
        }
    }

    #[tokio::test]
    async fn cut_where_signals_only_matching_flows_once() {
        let table = FlowTable::default();
        let mut a = table.register(key(80));
        let b = table.register(key(443));
        let pick = |k: &FlowKey| match k {
            FlowKey::Gateway { port: 80, .. } => Some(FlowReason::NotAccepted),
            _ => None,
        };
        assert_eq!(table.cut_where(pick), 1);
        assert_eq!(table.cut_where(pick), 0, "already cut");
        assert_eq!(a.cut().await, FlowReason::NotAccepted);
        assert_eq!(b.is_cut(), None);
        drop(a);
        assert_eq!(table.len(), 1);
        drop(b);
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
        let gate = Mutex::new(gate_rx);
        let events = FlowEvents::start(
            move |_ev: FlowEvent| {
                let _ = gate.lock().map(|rx| rx.recv());
            },
            1,
        );
        let ev = FlowEvent {
            flow_id: 1,
            side: FlowSide::Endpoint,
            interface_id: EniId::from_bits(1),
            endpoint_id: None,
            src: "127.0.0.1:1".parse().unwrap(),
            dst: "127.0.0.1:2".parse().unwrap(),
            client: None,
            target: None,
            protocol: 6,
            bytes_in: 0,
            bytes_out: 0,
            packets_in: None,
            packets_out: None,
            start: SystemTime::now(),
            end: SystemTime::now(),
            start_instant: Instant::now(),
            end_instant: Instant::now(),
            tcp_flags_in: tcp_flags::SYN,
            tcp_flags_out: tcp_flags::SYN_ACK | tcp_flags::RST,
            action: FlowAction::Reject,
            reason: FlowReason::SecurityGroup,
        };
        // One event blocks in the sink, one waits in the queue; the rest are dropped.
        for _ in 0..10 {
            events.emit(ev.clone());
        }
        assert!(events.dropped() >= 8, "dropped {}", events.dropped());
        for _ in 0..10 {
            let _ = gate_tx.send(());
        }
        drop(gate_tx);
        let handle = events.close().unwrap();
        handle.join().unwrap();
        events.emit(ev);
        assert!(events.dropped() >= 9);
    }
}
