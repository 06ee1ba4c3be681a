//! Underpass data plane: the part of `underpass agent` that carries traffic — endpoint
//! listeners, mTLS tunnels, provider gateways, load balancing and health checks. It drives the
//! sans-IO machines of `underpass-proto`; it holds no control-plane logic and never writes state.
//!
//! # The data path
//!
//! ```text
//! client ─▶ endpoint ENI ip:port          (consumer agent: ACL, security groups, state)
//!        ─▶ pooled mTLS tunnel            (client cert names the endpoint; gateway id checked)
//!        ─▶ gateway node ip:tunnel_port   (provider agent: cert + revocation, admitted?,
//!                                          listener, healthy target, PROXY v2)
//!        ─▶ target
//! ```
//!
//! [`Dataplane::apply`] reconciles everything with an [`AgentState`]: listeners and nodes whose
//! address is still wanted keep running and get the new rules, targets and admitted sets
//! swapped in atomically; the others are closed; flows are never dropped unless they are no
//! longer allowed. The provider's side is the enforcer: an endpoint leaving `admitted`, or a
//! revoked serial, cuts that endpoint's live flows at once (well within a second) and refuses
//! new ones, whatever the consumer's agent believes. The consumer's side likewise cuts flows of
//! endpoints that disappear or leave `available`. A security-group or ACL change applies to new
//! flows only: established flows are kept, as AWS keeps tracked connections
//! (RELIABILITY item 75).
//!
//! # Tunnels: flows as streams of one long-lived mTLS connection
//!
//! By default ([`DataplaneConfig::multiplex`]) the consumer keeps one TLS 1.3 tunnel per
//! (endpoint, gateway address), opened before the first flow needs it and checked against the
//! gateway identity (`expect_identity`), and carries every flow as an HTTP/2 `CONNECT` stream
//! on it (the `mux` module; the `h2` crate does framing and flow control). A new flow costs a
//! HEADERS frame, not a handshake, and an idle flow holds a stream's bookkeeping, not a TLS
//! session's buffers. Inside each stream the bytes are those of a per-flow tunnel: preamble,
//! verdict, payload. The gateway decides every stream on its live state when it opens, records
//! it as a flow of its own, and cuts it alone (`RST_STREAM`) when an apply no longer allows it;
//! the tunnel itself is closed once its certificate is revoked. Per-stream windows (256 KiB) keep a slow reader from stalling its neighbours.
//!
//! With `multiplex` off, every flow gets a tunnel of its own, taken from a small pool of
//! tunnels already past the handshake (the `pool` module); pooled tunnels are discarded before
//! the gateway's preamble wait expires ([`DataplaneConfig::pool_max_idle`] <
//! [`DataplaneConfig::preamble_timeout`]) and whenever the gateway has written anything to them
//! (a TLS alert, as when it refuses a revoked client certificate after a TLS 1.3 handshake).
//! Gateways accept both kinds; the ALPN protocol of the tunnel says which it is.
//!
//! # Behaviours worth knowing
//!
//! - **Refusals are resets.** A userland listener accepts a connection before it can check it:
//!   a flow refused by a security group, a network ACL or the endpoint state is accepted, then
//!   closed at once with an RST, and a REJECT event is recorded. AWS drops the SYN silently
//!   instead (RELIABILITY item 74). Flows refused by the gateway also end in an RST.
//! - **Fail open.** When no target of a group is healthy (or all are still `initial`), the
//!   gateway routes to all of them, as NLB does; an empty group is refused at once
//!   (RELIABILITY item 66). With cross-zone off, a node whose zone has no healthy target while
//!   another zone has one refuses with `Unavailable`, and the consumer tries the next node.
//! - **PROXY v2.** With `proxy_protocol_v2`, the gateway writes its header before any payload:
//!   the source is the client address from the preamble (sent by an authenticated agent), the
//!   destination the endpoint ENI address, and TLV 0xEA/0x01 the endpoint id. Whatever the
//!   client sends, PROXY-looking bytes included, follows as payload (RELIABILITY items 68, 70).
//! - **Buffers and timeouts.** At most one buffer per direction (16 KiB, doubling up to 64 KiB
//!   while reads fill it, so that bulk transfers move in 64 KiB reads and tunnel frames), held
//!   only while bytes move: an idle flow's buffers go back to a per-thread pool, and the
//!   phases before the copy (tunnel opening, TLS accept, the gateway's decision) are boxed so
//!   that their state is freed when they end; handshakes, preambles, verdicts, target connects
//!   and idle flows are all bounded in time.
//! - **Reads and writes sized for TLS.** A read bound for a tunnel stream leaves room for the
//!   9-byte frame header, so a full buffer's frame is four whole TLS records (`copy.rs`); under
//!   TLS, a tunnel's reads take what the socket holds beyond the record rustls asked for, into
//!   a buffer held only while it has bytes (`readahead.rs`). One `writev` and about one `readv`
//!   per 64 KiB frame, where there were two and four or more. A frame received on a tunnel
//!   stream is written on to its socket from where h2 holds it, not copied through a buffer.
//! - **Packets.** Flow events count payload bytes; a userland proxy does not see packets, so the
//!   packet counts are the kernel's segment counters of the ENI's connection (`tcpi_segs_in`,
//!   `tcpi_segs_out` of `TCP_INFO`, read through `NETLINK_SOCK_DIAG` without `unsafe`: see
//!   `tcpinfo.rs`), `None` where they cannot be read.
//! - **Runtime.** `apply` and `shutdown` run on a Tokio runtime (multi-threaded or not); flow
//!   events are handed to the [`FlowSink`] on a thread of their own.
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod alert;
mod balancer;
mod config;
mod copy;
mod error;
mod flow;
mod gateway;
pub mod health;
mod listener;
mod mux;
mod net;
mod pool;
mod probe;
mod readahead;
mod tcpinfo;
mod trust;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use underpass_pki::RevocationSet;
use underpass_proto::sync::{AgentState, TargetHealth};

pub use alert::{Alert, AlertCounts, AlertKind, AlertLimiter};
pub use config::{Balancing, DataplaneConfig, HealthTiming, MAX_BUFFER_SIZE, MIN_BUFFER_SIZE};
pub use error::{ApplyProblem, DataplaneError};
pub use flow::{
    tcp_flags, DiscardFlows, DroppedFlowEvents, FlowAction, FlowEvent, FlowReason, FlowSide,
    FlowSink, LiveFlow, LiveFlows,
};

use crate::flow::{FlowEvents, FlowIds, FlowTable};
use crate::gateway::Provider;
use crate::listener::Consumer;
use crate::net::Tasks;
use crate::probe::HealthBoard;
use crate::trust::Trust;

/// How long apply waits for the accept loop of a removed listener to return.
const ACCEPT_LOOP_EXIT: std::time::Duration = std::time::Duration::from_secs(1);

/// What one [`Dataplane::apply`] did.
#[derive(Debug, Default)]
pub struct ApplyReport {
    /// The revision of the state applied.
    pub revision: i64,
    /// Listeners and gateway nodes started (`endpoint vpce-… 127.0.0.5:80`, …).
    pub started: Vec<String>,
    /// Listeners and gateway nodes stopped.
    pub stopped: Vec<String>,
    /// Live flows cut because the new state no longer allows them.
    pub flows_cut: usize,
    /// Items not served, and why (a bad certificate, an address that cannot be bound…).
    /// An item that was running and now has a problem is stopped: the data plane fails closed.
    pub problems: Vec<ApplyProblem>,
    /// Items served, but not exactly as configured (an unsupported health-check protocol…).
    pub warnings: Vec<ApplyProblem>,
}

/// What every listener, node and flow shares.
pub(crate) struct Ctx {
    pub(crate) cfg: DataplaneConfig,
    pub(crate) flows: FlowTable,
    pub(crate) events: FlowEvents,
    pub(crate) ids: FlowIds,
    pub(crate) tasks: Tasks,
    pub(crate) revocations: RevocationSet,
    pub(crate) health: Arc<HealthBoard>,
}

#[derive(Default)]
struct State {
    consumer: Consumer,
    provider: Provider,
    shut_down: bool,
}

/// The data plane of one agent. Dropping it stops every listener and cuts every flow;
/// [`Dataplane::shutdown`] also waits for them to finish.
pub struct Dataplane {
    ctx: Arc<Ctx>,
    state: Mutex<State>,
}

impl Dataplane {
    /// A data plane serving nothing yet; [`Dataplane::apply`] gives it work.
    pub fn new(cfg: DataplaneConfig, events: impl FlowSink) -> Self {
        let events = FlowEvents::start(events, cfg.flow_event_capacity);
        Self {
            ctx: Arc::new(Ctx {
                cfg,
                flows: FlowTable::default(),
                events,
                ids: FlowIds::new(),
                tasks: Tasks::default(),
                revocations: RevocationSet::new(),
                health: Arc::default(),
            }),
            state: Mutex::new(State::default()),
        }
    }

    /// Reconciles the data plane with `state`, without dropping live flows that remain allowed.
    ///
    /// A trust bundle that does not parse refuses the whole state (`Err`, nothing changed).
    /// Problems with single items are reported in [`ApplyReport::problems`]; those items are
    /// not served. Must be called on a Tokio runtime.
    pub async fn apply(&self, state: &AgentState) -> Result<ApplyReport, DataplaneError> {
        let trust = Trust::from_bundle(&state.trust)?;
        let mut report = ApplyReport {
            revision: state.revision,
            ..ApplyReport::default()
        };
        let mut closing = Vec::new();
        {
            let mut st = self.lock();
            if st.shut_down {
                return Err(DataplaneError::ShutDown);
            }
            // Revocations first: every TLS config consults the live set on its next handshake.
            self.ctx.revocations.replace(trust.revoked.iter().copied());
            let ctx = &self.ctx;
            st.consumer
                .apply(ctx, state, &trust, &mut report, &mut closing);
            st.provider
                .apply(ctx, state, &trust, &mut report, &mut closing);
            let st = &*st;
            report.flows_cut = ctx.flows.cut_where(|key| {
                st.consumer
                    .cut_verdict(ctx, key)
                    .or_else(|| st.provider.cut_verdict(ctx, key))
            });
        }
        // Removed listeners stop at once; waiting for their loops to return means their
        // addresses are free when apply returns.
        for accept in closing {
            let _ = tokio::time::timeout(ACCEPT_LOOP_EXIT, accept).await;
        }
        for p in &report.problems {
            tracing::warn!(problem = %p, "not served");
        }
        for w in &report.warnings {
            tracing::warn!(warning = %w, "served with a change");
        }
        tracing::info!(
            revision = state.revision,
            started = report.started.len(),
            stopped = report.stopped.len(),
            flows_cut = report.flows_cut,
            "state applied"
        );
        Ok(report)
    }

    /// The health of every target the gateways check, as `DescribeTargetHealth` reports it.
    pub fn target_health(&self) -> Vec<TargetHealth> {
        self.ctx.health.snapshot()
    }

    /// What listens where: `("endpoint vpce-…", addr)` and `("gateway <arn>", addr)`, sorted.
    pub fn listening(&self) -> Vec<(String, SocketAddr)> {
        let st = self.lock();
        let mut out = st.consumer.listening();
        out.extend(st.provider.listening());
        out.sort();
        out
    }

    /// Live flows (accepted and not yet ended, on both sides).
    pub fn live_flows(&self) -> usize {
        self.ctx.flows.len()
    }

    /// Flow events dropped because the sink did not keep up.
    pub fn dropped_flow_events(&self) -> u64 {
        self.ctx.events.dropped()
    }

    /// A handle for sampling the live flows and their byte counters (for the flow-log writer,
    /// which reports long flows window by window).
    pub fn live_flows_handle(&self) -> LiveFlows {
        self.ctx.flows.live()
    }

    /// Refused connection attempts counted by kind (each also a REJECT flow record, and a
    /// rate-limited `underpass::alert` warning in the log).
    pub fn alert_counts(&self) -> AlertCounts {
        self.ctx.events.alerts()
    }

    /// A handle that follows [`Dataplane::dropped_flow_events`] (for the flow-log writer).
    pub fn dropped_flow_events_handle(&self) -> DroppedFlowEvents {
        self.ctx.events.dropped_handle()
    }

    /// Stops every listener, node, pool and prober, cuts every flow, waits up to
    /// [`DataplaneConfig::shutdown_grace`] for them to finish, then flushes the flow events.
    pub async fn shutdown(self) {
        self.stop_all();
        let left = self.ctx.tasks.wait_idle(self.ctx.cfg.shutdown_grace).await;
        if left > 0 {
            tracing::warn!(
                tasks = left,
                "shutdown grace expired with tasks still running"
            );
        }
        if let Some(thread) = self.ctx.events.close() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    fn stop_all(&self) {
        let mut st = self.lock();
        st.shut_down = true;
        st.consumer.clear();
        st.provider.clear(&self.ctx);
        self.ctx
            .flows
            .cut_where(|_| Some(flow::FlowReason::Shutdown));
    }

    // apply is the only writer and does each step to completion; a panic in one leaves
    // consistent maps behind, so a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Dataplane {
    fn drop(&mut self) {
        self.stop_all();
    }
}

impl std::fmt::Debug for Dataplane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataplane")
            .field("live_flows", &self.live_flows())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use super::*;

    /// The agent boxes `apply` as a `Send` future and shares the data plane across tasks.
    fn apply_is_send<'a>(
        dp: &'a Dataplane,
        state: &'a AgentState,
    ) -> impl Future<Output = Result<ApplyReport, DataplaneError>> + Send + 'a {
        dp.apply(state)
    }

    fn shareable<T: Send + Sync + 'static>() {}

    #[test]
    fn the_data_plane_is_send_and_sync() {
        shareable::<Dataplane>();
        let _ = apply_is_send;
    }
}
