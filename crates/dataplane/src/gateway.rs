//! The provider side: one gateway node per load balancer in this agent's zone.
//!
//! On accept: the mTLS handshake within the handshake timeout (a stalled client is closed when
//! it expires, RELIABILITY item 60); the client certificate must name an endpoint; the
//! [`TunnelAccept`] machine reads the preamble; the admission decision is taken on the live
//! state at that moment (acceptance, revocation, listener), then a target is picked and
//! connected, the PROXY v2 header is written first if the target group asks for it, the
//! verdict goes back, and the bytes flow both ways until closed, idle, or cut.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tracing::field::Empty;
use tracing::Instrument;
use underpass_domain::{EndpointId, EniId, ServiceId};
use underpass_pki::{handshake_failure_hint, peer_identity, Serial, SpiffeId};
use underpass_proto::sync::{AgentState, GatewayConfig, TargetConfig};
use underpass_proto::tunnel::accept::{Input, Output, RejectReason};
use underpass_proto::tunnel::{RefusalCode, TunnelAccept};

mod admit;
mod mux;

use self::admit::decide;
use crate::balancer::{Active, BalancerState};
use crate::copy::{pipe, reset, Socket};
use crate::error::{ApplyProblem, DataplaneError};
use crate::flow::{tcp_flags, FlowAction, FlowEvent, FlowKey, FlowReason, FlowSide, FlowTicket};
use crate::mux::MUX_ALPN;
use crate::net::{accept_loop, bind, Stop, StopRx, Swap};
use crate::probe::{ProbeSpec, Probers, TargetKey};
use crate::readahead::ReadAhead;
use crate::trust::{tunnel_server, Trust};
use crate::{ApplyReport, Ctx};

/// A gateway node as its accept loop sees it; replaced as a whole on apply.
struct GatewayView {
    load_balancer_arn: String,
    service: Option<ServiceId>,
    eni: EniId,
    zone: String,
    cross_zone: bool,
    idle: Duration,
    admitted: HashSet<EndpointId>,
    listeners: HashMap<u16, Arc<ListenerView>>,
    acceptor: TlsAcceptor,
}

struct ListenerView {
    target_group_arn: String,
    targets: Vec<TargetConfig>,
    proxy_v2: bool,
    balancer: Arc<BalancerState>,
}

struct Slot {
    key: SocketAddr,
    view: Swap<GatewayView>,
}

struct Node {
    slot: Arc<Slot>,
    local: SocketAddr,
    accept: JoinHandle<()>,
    _stop: Stop,
}

/// Every gateway node, balancer and health prober of the data plane.
#[derive(Default)]
pub(crate) struct Provider {
    nodes: HashMap<SocketAddr, Node>,
    balancers: HashMap<String, Arc<BalancerState>>,
    probers: Probers,
}

impl Provider {
    /// Reconciles nodes, balancers and health probers with `state.gateways`; the accept loops
    /// of removed nodes are stopped and their handles pushed to `closing`.
    pub(crate) fn apply(
        &mut self,
        ctx: &Arc<Ctx>,
        state: &AgentState,
        trust: &Trust,
        report: &mut ApplyReport,
        closing: &mut Vec<JoinHandle<()>>,
    ) {
        let mut desired: HashMap<SocketAddr, (String, Arc<GatewayView>)> = HashMap::new();
        let mut probes: HashMap<TargetKey, ProbeSpec> = HashMap::new();
        let mut balancers = HashMap::new();
        for gw in &state.gateways {
            let addr = SocketAddr::new(gw.ip.into(), gw.tunnel_port);
            let what = format!("gateway {} ({})", gw.load_balancer_arn, gw.eni_id);
            if let Some((first, _)) = desired.get(&addr) {
                let error = DataplaneError::Conflict {
                    addr,
                    first: first.clone(),
                    second: what.clone(),
                };
                report.problems.push(ApplyProblem { item: what, error });
                continue;
            }
            let view = match self.view(ctx, gw, state, trust, &what, &mut balancers, report) {
                Ok((view, specs)) => {
                    probes.extend(specs);
                    view
                }
                Err(error) => {
                    report.problems.push(ApplyProblem { item: what, error });
                    continue;
                }
            };
            desired.insert(addr, (what, Arc::new(view)));
        }
        self.balancers = balancers;
        let removed: Vec<SocketAddr> = self
            .nodes
            .keys()
            .filter(|addr| !desired.contains_key(*addr))
            .copied()
            .collect();
        for addr in removed {
            if let Some(n) = self.nodes.remove(&addr) {
                let arn = n.slot.view.load().load_balancer_arn.clone();
                report.stopped.push(format!("gateway {arn} {}", n.local));
                closing.push(n.accept); // the rest of `n`, its Stop included, drops here
            }
        }
        for (addr, (what, view)) in desired {
            if let Some(n) = self.nodes.get(&addr) {
                n.slot.view.store(view);
                continue;
            }
            match start(ctx, addr, view) {
                Ok(n) => {
                    report.started.push(format!("{what} {}", n.local));
                    self.nodes.insert(addr, n);
                }
                Err(error) => report.problems.push(ApplyProblem { item: what, error }),
            }
        }
        self.probers.reconcile(probes, &ctx.health, &ctx.tasks);
    }

    #[allow(clippy::too_many_arguments)]
    fn view(
        &self,
        ctx: &Ctx,
        gw: &GatewayConfig,
        state: &AgentState,
        trust: &Trust,
        what: &str,
        balancers: &mut HashMap<String, Arc<BalancerState>>,
        report: &mut ApplyReport,
    ) -> Result<(GatewayView, Vec<(TargetKey, ProbeSpec)>), DataplaneError> {
        let roots = trust.require_roots(what)?;
        let tls = tunnel_server(
            what,
            &gw.identity.cert_pem,
            &ctx.cfg.agent_key_pem,
            roots,
            &ctx.revocations,
        )?;
        let mut listeners = HashMap::new();
        let mut specs = Vec::new();
        for l in &gw.listeners {
            let group = &l.target_group;
            if listeners.contains_key(&l.port) {
                report.warnings.push(ApplyProblem {
                    item: what.to_owned(),
                    error: DataplaneError::Unsupported {
                        what: format!("listener port {}", l.port),
                        detail: "listed twice; the first one is used".into(),
                    },
                });
                continue;
            }
            let balancer = balancers
                .entry(group.arn.clone())
                .or_insert_with(|| self.balancers.get(&group.arn).cloned().unwrap_or_default())
                .clone();
            let (group_specs, warning) = ProbeSpec::for_group(group, ctx.cfg.health_timing);
            specs.extend(group_specs);
            if let Some(error) = warning {
                report.warnings.push(ApplyProblem {
                    item: what.to_owned(),
                    error,
                });
            }
            let view = ListenerView {
                target_group_arn: group.arn.clone(),
                targets: group.targets.clone(),
                proxy_v2: group.proxy_protocol_v2,
                balancer,
            };
            listeners.insert(l.port, Arc::new(view));
        }
        let view = GatewayView {
            load_balancer_arn: gw.load_balancer_arn.clone(),
            service: gw.service_id,
            eni: gw.eni_id,
            zone: state.agent.zone.clone(),
            cross_zone: gw.cross_zone,
            idle: Duration::from_secs(u64::from(gw.idle_timeout_secs.max(1))),
            admitted: gw.admitted.iter().copied().collect(),
            listeners,
            acceptor: TlsAcceptor::from(tls),
        };
        Ok((view, specs))
    }

    /// Why a live gateway flow must be cut under the state just applied, if it must.
    pub(crate) fn cut_verdict(&self, ctx: &Ctx, key: &FlowKey) -> Option<FlowReason> {
        let FlowKey::Gateway {
            node,
            endpoint,
            serial,
            port,
        } = key
        else {
            return None;
        };
        let Some(n) = self.nodes.get(node) else {
            return Some(FlowReason::Shutdown);
        };
        let view = n.slot.view.load();
        if view.service.is_none() || !view.admitted.contains(endpoint) {
            return Some(FlowReason::NotAccepted);
        }
        if ctx.revocations.is_revoked(*serial) {
            return Some(FlowReason::Revoked);
        }
        if !view.listeners.contains_key(port) {
            return Some(FlowReason::Shutdown);
        }
        None
    }

    /// (what, bound address) of every node.
    pub(crate) fn listening(&self) -> Vec<(String, SocketAddr)> {
        self.nodes
            .values()
            .map(|n| {
                let arn = n.slot.view.load().load_balancer_arn.clone();
                (format!("gateway {arn}"), n.local)
            })
            .collect()
    }

    /// Stops every node and prober.
    pub(crate) fn clear(&mut self, ctx: &Ctx) {
        self.nodes.clear();
        self.balancers.clear();
        self.probers.clear(&ctx.health);
    }
}

fn start(ctx: &Arc<Ctx>, addr: SocketAddr, view: Arc<GatewayView>) -> Result<Node, DataplaneError> {
    let bound = bind(addr, ctx.cfg.listen_backlog);
    let listener = bound.map_err(|source| DataplaneError::Bind { addr, source })?;
    let local = listener.local_addr().unwrap_or(addr);
    let what = format!("gateway {} {local}", view.load_balancer_arn);
    let slot = Arc::new(Slot {
        key: addr,
        view: Swap::new(view),
    });
    let (stop, stop_rx) = Stop::new();
    let (task_ctx, task_slot, node_stop) = (ctx.clone(), slot.clone(), stop_rx.clone());
    let accept = ctx.tasks.spawn(async move {
        accept_loop(listener, &what, stop_rx, |tcp, peer| {
            let conn = task_ctx.ids.next();
            let v = task_slot.view.load();
            let span = tracing::info_span!("flow", side = "gateway",
                load_balancer = %v.load_balancer_arn, eni = %v.eni, srcaddr = %peer.ip(),
                srcport = peer.port(), conn, endpoint = Empty, flow = Empty, target = Empty);
            let flow = serve(
                task_ctx.clone(),
                task_slot.clone(),
                node_stop.clone(),
                tcp,
                peer,
                conn,
            );
            task_ctx.tasks.spawn(flow.instrument(span));
        })
        .await;
    });
    Ok(Node {
        slot,
        local,
        accept,
        _stop: stop,
    })
}

async fn serve(
    ctx: Arc<Ctx>,
    slot: Arc<Slot>,
    stop: StopRx,
    tcp: TcpStream,
    peer: SocketAddr,
    conn: u64,
) {
    let view = slot.view.load();
    let dst = tcp.local_addr().unwrap_or(slot.key);
    let side = FlowSide::Gateway {
        load_balancer_arn: view.load_balancer_arn.clone(),
    };
    let mut ev = FlowEvent::opened(conn, side, view.eni, None, peer, dst, FlowReason::Tls);
    let outcome = tunnel(&ctx, &slot, &view, stop, tcp, &mut ev).await;
    record(&ctx, ev, outcome);
}

/// Logs and emits the event of a flow that ended with `outcome` (see [`tunnel`]).
fn record(ctx: &Ctx, mut ev: FlowEvent, outcome: Result<FlowReason, Option<FlowReason>>) {
    ev.end = SystemTime::now();
    ev.end_instant = std::time::Instant::now();
    match outcome {
        Ok(reason) => {
            ev.action = FlowAction::Accept;
            ev.reason = reason;
        }
        Err(Some(reason)) => {
            ev.tcp_flags_out |= tcp_flags::RST;
            ev.reason = reason;
        }
        Err(None) => {
            tracing::debug!("tunnel closed; no flow of its own");
            return;
        }
    }
    // Debug, not info: every flow is recorded by the flow logs already, and a line per flow at
    // thousands of flows a second costs more CPU than carrying them (issue 6, W3).
    tracing::debug!(action = ev.action.as_str(), reason = %ev.reason, bytes_in = ev.bytes_in,
        bytes_out = ev.bytes_out, "flow end");
    ctx.events.emit(ev);
}

/// Handshake, identity, then the flow (or, on a multiplexed tunnel, each stream's flow); `Ok`
/// is how an admitted flow ended, `Err` why the tunnel was refused, or `Err(None)` for a tunnel
/// that is not a flow: a pooled tunnel the consumer closed before any preamble byte arrived,
/// or a multiplexed tunnel, whose streams were recorded as flows of their own.
async fn tunnel(
    ctx: &Arc<Ctx>,
    slot: &Arc<Slot>,
    view: &GatewayView,
    mut stop: StopRx,
    tcp: TcpStream,
    ev: &mut FlowEvent,
) -> Result<FlowReason, Option<FlowReason>> {
    let _ = tcp.set_nodelay(true);
    // Boxed, as the other phases before the copy: a flow's task is as large as its largest
    // phase for its whole life, and an idle flow should not carry a finished TLS handshake's
    // or target connect's state (issue 6, W4).
    let handshake = Box::pin(tokio::time::timeout(
        ctx.cfg.handshake_timeout,
        view.acceptor
            .accept(ReadAhead::new(tcp, ctx.cfg.buffers().1)),
    ));
    let handshake = tokio::select! {
        () = stop.stopped() => return Err(None),
        h = handshake => h,
    };
    let tls = match handshake {
        Err(_) => return Err(Some(FlowReason::HandshakeTimeout)),
        Ok(Err(e)) => {
            let hint = e
                .get_ref()
                .and_then(|i| i.downcast_ref::<rustls::Error>())
                .and_then(handshake_failure_hint);
            tracing::info!(error = %e, hint = hint.unwrap_or(""), "tunnel handshake failed");
            return Err(Some(FlowReason::Tls));
        }
        Ok(Ok(tls)) => tls,
    };
    let (endpoint, serial) = match peer_identity(tls.get_ref().1) {
        Ok((SpiffeId::Endpoint { endpoint, .. }, serial)) => (endpoint, serial),
        Ok((other, _)) => {
            tracing::info!(peer = %other, "tunnel client is not an endpoint");
            reset(tls);
            return Err(Some(FlowReason::Tls));
        }
        Err(e) => {
            tracing::info!(error = %e, "tunnel client identity unreadable");
            reset(tls);
            return Err(Some(FlowReason::Tls));
        }
    };
    tracing::Span::current().record("endpoint", tracing::field::display(endpoint));
    if tls.get_ref().1.alpn_protocol() == Some(MUX_ALPN) {
        let addrs = (ev.src, ev.dst);
        Box::pin(mux::serve(ctx, slot, stop, tls, endpoint, serial, addrs)).await;
        return Err(None);
    }
    ev.endpoint_id = Some(endpoint);
    flow(ctx, slot, view.idle, stop, tls, endpoint, serial, ev).await
}

/// Preamble, decision, then the bytes both ways, on a tunnel (or stream) whose client
/// certificate named `endpoint`; the result as for [`tunnel`].
#[allow(clippy::too_many_arguments)]
async fn flow<S: Socket>(
    ctx: &Ctx,
    slot: &Slot,
    idle: Duration,
    mut stop: StopRx,
    mut tls: S,
    endpoint: EndpointId,
    serial: Serial,
    ev: &mut FlowEvent,
) -> Result<FlowReason, Option<FlowReason>> {
    let deadline = Instant::now() + ctx.cfg.preamble_timeout;
    let mut machine = TunnelAccept::new(endpoint, deadline.into_std());
    let mut admitted: Option<(TcpStream, Active, FlowTicket)> = None;
    let mut buf = vec![0u8; 1024];
    let mut got_bytes = false;
    loop {
        while let Some(out) = machine.poll_output() {
            match out {
                Output::Send(bytes) => {
                    let write = async {
                        tls.write_all(&bytes).await?;
                        tls.flush().await
                    };
                    let limit = ctx.cfg.handshake_timeout;
                    if !matches!(tokio::time::timeout(limit, write).await, Ok(Ok(()))) {
                        reset(tls);
                        return Err(Some(FlowReason::Reset));
                    }
                }
                Output::Check(preamble) => {
                    ev.flow_id = preamble.flow_id;
                    ev.client = Some(preamble.client);
                    if tls.shared() {
                        // A stream has no socket of its own: the tunnel's host with the
                        // client's port keeps the flows of one tunnel apart in the flow logs,
                        // as the source ports of per-flow tunnels do.
                        ev.src = SocketAddr::new(ev.src.ip(), preamble.client.port());
                    }
                    let span = tracing::Span::current();
                    span.record("flow", preamble.flow_id);
                    let key = FlowKey::Gateway {
                        node: slot.key,
                        endpoint,
                        serial,
                        port: preamble.service_port,
                    };
                    // Registered before the decision reads the live state: an apply from here
                    // on either is seen by the decision or cuts the flow.
                    let mut ticket = ctx.flows.register(key);
                    ticket.describe(ev);
                    let decision =
                        Box::pin(decide(ctx, slot, &preamble, serial, deadline, &mut ticket)).await;
                    let now = Instant::now().into_std();
                    match decision {
                        Ok((target, addr, active)) => {
                            ev.target = Some(addr);
                            span.record("target", tracing::field::display(addr));
                            admitted = Some((target, active, ticket));
                            machine.handle(now, Input::Decision(Ok(())));
                        }
                        Err(refusal) => {
                            ev.reason = FlowReason::Refused(refusal.code);
                            tracing::info!(%refusal, "flow refused");
                            machine.handle(now, Input::Decision(Err(refusal)));
                        }
                    }
                }
                Output::Admit {
                    leftover_payload, ..
                } => {
                    let Some((mut target, active, mut ticket)) = admitted.take() else {
                        reset(tls);
                        return Err(Some(FlowReason::Protocol));
                    };
                    // The preamble's read buffer and the acceptor are done with: an idle flow
                    // should not hold them for its whole life (issue 6, W4).
                    drop(std::mem::take(&mut buf));
                    let early = leftover_payload.len() as u64;
                    if early > 0 && target.write_all(&leftover_payload).await.is_err() {
                        reset(tls);
                        reset(target);
                        ev.bytes_in += early;
                        ev.tcp_flags_out |= tcp_flags::RST;
                        return Ok(FlowReason::Reset);
                    }
                    let moved = (early, 0);
                    let end = pipe(tls, target, ctx.cfg.buffers(), idle, moved, &mut ticket).await;
                    drop(active);
                    ev.bytes_in += end.client_to_service;
                    ev.bytes_out += end.service_to_client;
                    ev.tcp_flags_in |= end.client_flags;
                    ev.tcp_flags_out |= end.reply_flags;
                    if let Some((segs_in, segs_out)) = end.client_segments {
                        ev.packets_in = Some(segs_in);
                        ev.packets_out = Some(segs_out);
                    }
                    return Ok(end.reason);
                }
                Output::Close(reason) => {
                    // Any refusal verdict was written just before: close cleanly so that the
                    // consumer's agent reads it.
                    let _ = tokio::time::timeout(Duration::from_secs(1), tls.shutdown()).await;
                    if !got_bytes {
                        return Err(None);
                    }
                    return Err(Some(close_reason(&reason, ev.reason)));
                }
            }
        }
        let read = tokio::select! {
            () = stop.stopped() => {
                reset(tls);
                return Err(got_bytes.then_some(FlowReason::Shutdown));
            }
            r = tokio::time::timeout_at(deadline, tls.read(&mut buf)) => r,
        };
        let now = Instant::now().into_std();
        match read {
            Ok(Ok(0)) => machine.handle(now, Input::Eof),
            Ok(Ok(n)) => {
                got_bytes = true;
                machine.handle(now, Input::Bytes(&buf[..n]));
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "tunnel read failed before admission");
                reset(tls);
                return Err(got_bytes.then_some(FlowReason::Reset));
            }
            Err(_) => machine.handle(now, Input::Timeout),
        }
    }
}

fn close_reason(reason: &RejectReason, decided: FlowReason) -> FlowReason {
    match reason {
        RejectReason::Refused(_) => decided,
        RejectReason::Timeout => FlowReason::Refused(RefusalCode::TIMEOUT),
        RejectReason::EndpointMismatch { .. } => {
            FlowReason::Refused(RefusalCode::ENDPOINT_MISMATCH)
        }
        RejectReason::Malformed(_) | RejectReason::EarlyPayloadLimit => {
            FlowReason::Refused(RefusalCode::MALFORMED)
        }
        RejectReason::PeerClosed => FlowReason::Protocol,
    }
}
