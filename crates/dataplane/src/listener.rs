//! The consumer side: one listener per endpoint ENI address and service port.
//!
//! On accept: network ACL, security groups, endpoint state; then a tunnel to a gateway (same
//! zone first), the preamble, the verdict, and the bytes both ways. A refused flow is closed
//! with an RST at once and logged as REJECT. A userland listener has to accept the connection
//! before it can check it, so the client sees a connection that is reset rather than AWS's
//! silent drop of the SYN (RELIABILITY item 74).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::SystemTime;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;
use underpass_domain::firewall::{
    evaluate_acl, evaluate_groups, AclEntry, Flow, IngressRule, Protocol, RuleAction,
};
use underpass_domain::{ConnState, EndpointId, EniId};
use underpass_pki::{Serial, SpiffeId};
use underpass_proto::sync::{AgentState, EndpointConfig};
use underpass_proto::tunnel::connect::{ConnectFailure, Input, Output};
use underpass_proto::tunnel::{Preamble, Refusal, RefusalCode, TunnelConnect};

use crate::copy::{pipe, reset, Socket};
use crate::error::{ApplyProblem, DataplaneError};
use crate::flow::{tcp_flags, FlowAction, FlowEvent, FlowKey, FlowReason, FlowSide, FlowTicket};
use crate::mux::MuxStream;
use crate::net::{accept_loop, bind, Stop, Swap};
use crate::pool::{PoolSettings, Tunnel, TunnelPool};
use crate::trust::{is_tls_error, tunnel_client, Trust};
use crate::{ApplyReport, Ctx};

/// One endpoint port as the listener sees it; replaced as a whole on apply.
pub(crate) struct EndpointView {
    endpoint: EndpointId,
    eni: EniId,
    state: ConnState,
    port: u16,
    ingress: Vec<IngressRule>,
    acl: Vec<AclEntry>,
    /// Tunnel pools, same zone first; empty unless the endpoint is `available`.
    pools: Vec<Arc<TunnelPool>>,
}

impl EndpointView {
    /// The ACL (when the subnet has one), the security groups, then the endpoint state.
    fn admit(&self, client: IpAddr) -> Result<(), FlowReason> {
        let flow = Flow {
            protocol: Protocol::Tcp,
            src: client,
            dst_port: self.port,
            // The client is not one of our ENIs: rules that name a group do not match it.
            src_groups: &[],
        };
        if !self.acl.is_empty() && evaluate_acl(&self.acl, &flow).0 == RuleAction::Deny {
            return Err(FlowReason::NetworkAcl);
        }
        if evaluate_groups(&[&self.ingress], &flow).is_none() {
            return Err(FlowReason::SecurityGroup);
        }
        if self.state != ConnState::Available {
            return Err(FlowReason::NotAvailable);
        }
        Ok(())
    }
}

struct Slot {
    key: SocketAddr,
    view: Swap<EndpointView>,
}

struct EndpointListener {
    slot: Arc<Slot>,
    local: SocketAddr,
    accept: JoinHandle<()>,
    _stop: Stop,
}

/// What a pool was built from: a pool is kept across applies only if this is unchanged.
#[derive(Clone, PartialEq, Eq)]
struct PoolSource {
    cert_pem: String,
    gateway_identity: String,
    ca_pems: Vec<String>,
}

/// Every endpoint listener and tunnel pool of the data plane.
#[derive(Default)]
pub(crate) struct Consumer {
    listeners: HashMap<SocketAddr, EndpointListener>,
    pools: HashMap<(EndpointId, SocketAddr), (PoolSource, Arc<TunnelPool>)>,
}

impl Consumer {
    /// Reconciles listeners and pools with `state.endpoints`; the accept loops of removed
    /// listeners are stopped and their handles pushed to `closing`.
    pub(crate) fn apply(
        &mut self,
        ctx: &Arc<Ctx>,
        state: &AgentState,
        trust: &Trust,
        report: &mut ApplyReport,
        closing: &mut Vec<JoinHandle<()>>,
    ) {
        let mut desired: HashMap<SocketAddr, (String, Arc<EndpointView>)> = HashMap::new();
        let mut pools = HashMap::new();
        for ep in &state.endpoints {
            let what = format!("endpoint {} ({})", ep.endpoint_id, ep.eni_id);
            let route = if ep.state == ConnState::Available {
                self.pools_for(ctx, ep, state, trust, &what, &mut pools)
            } else {
                Ok(Vec::new())
            };
            let route = match route {
                Ok(route) => route,
                Err(error) => {
                    report.problems.push(ApplyProblem { item: what, error });
                    continue;
                }
            };
            for &port in &ep.ports {
                let addr = SocketAddr::new(ep.ip.into(), port);
                if let Some((first, _)) = desired.get(&addr) {
                    let error = DataplaneError::Conflict {
                        addr,
                        first: first.clone(),
                        second: what.clone(),
                    };
                    report.problems.push(ApplyProblem {
                        item: what.clone(),
                        error,
                    });
                    continue;
                }
                let view = EndpointView {
                    endpoint: ep.endpoint_id,
                    eni: ep.eni_id,
                    state: ep.state,
                    port,
                    ingress: ep.ingress.clone(),
                    acl: ep.acl.clone(),
                    pools: route.clone(),
                };
                desired.insert(addr, (what.clone(), Arc::new(view)));
            }
        }
        // Pools no endpoint uses any more are dropped here, which stops their refill tasks.
        self.pools = pools;
        let removed: Vec<SocketAddr> = self
            .listeners
            .keys()
            .filter(|addr| !desired.contains_key(*addr))
            .copied()
            .collect();
        for addr in removed {
            if let Some(l) = self.listeners.remove(&addr) {
                let v = l.slot.view.load();
                report
                    .stopped
                    .push(format!("endpoint {} {}", v.endpoint, l.local));
                closing.push(l.accept); // the rest of `l`, its Stop included, drops here
            }
        }
        for (addr, (what, view)) in desired {
            if let Some(l) = self.listeners.get(&addr) {
                l.slot.view.store(view);
                continue;
            }
            match start(ctx, addr, view) {
                Ok(l) => {
                    report.started.push(format!("{what} {}", l.local));
                    self.listeners.insert(addr, l);
                }
                Err(error) => report.problems.push(ApplyProblem { item: what, error }),
            }
        }
    }

    fn pools_for(
        &self,
        ctx: &Arc<Ctx>,
        ep: &EndpointConfig,
        state: &AgentState,
        trust: &Trust,
        what: &str,
        used: &mut HashMap<(EndpointId, SocketAddr), (PoolSource, Arc<TunnelPool>)>,
    ) -> Result<Vec<Arc<TunnelPool>>, DataplaneError> {
        let expected: SpiffeId =
            ep.gateway_identity
                .parse()
                .map_err(|source| DataplaneError::Identity {
                    what: format!("{what}: gateway identity"),
                    source,
                })?;
        let roots = trust.require_roots(what)?;
        let tls = tunnel_client(
            what,
            ctx.cfg.multiplex,
            &ep.identity.cert_pem,
            &ctx.cfg.agent_key_pem,
            roots,
            &ctx.revocations,
        )?;
        let source = PoolSource {
            cert_pem: ep.identity.cert_pem.clone(),
            gateway_identity: ep.gateway_identity.clone(),
            ca_pems: state.trust.ca_pems.clone(),
        };
        let mut gateways: Vec<_> = ep.gateways.iter().collect();
        gateways.sort_by_key(|g| g.zone != state.agent.zone); // stable: same zone first
        let mut route = Vec::new();
        for g in gateways {
            let key = (ep.endpoint_id, g.addr);
            if used.contains_key(&key) {
                continue; // listed twice
            }
            let pool = match self.pools.get(&key) {
                Some((old, pool)) if *old == source => pool.clone(),
                _ => TunnelPool::start(
                    PoolSettings {
                        addr: g.addr,
                        tls: tls.clone(),
                        expected: expected.clone(),
                        revocations: ctx.revocations.clone(),
                        multiplex: ctx.cfg.multiplex,
                        keepalive: ctx.cfg.tunnel_keepalive,
                        size: ctx.cfg.tunnel_pool_size,
                        max_idle: ctx.cfg.pool_max_idle,
                        connect_timeout: ctx.cfg.connect_timeout,
                        handshake_timeout: ctx.cfg.handshake_timeout,
                        read_ahead: ctx.cfg.buffers().1,
                    },
                    &ctx.tasks,
                ),
            };
            used.insert(key, (source.clone(), pool.clone()));
            route.push(pool);
        }
        Ok(route)
    }

    /// Why a live endpoint flow must be cut under the state just applied, if it must.
    pub(crate) fn cut_verdict(&self, ctx: &Ctx, key: &FlowKey) -> Option<FlowReason> {
        let FlowKey::Endpoint {
            listener,
            endpoint,
            gateway_serial,
        } = key
        else {
            return None;
        };
        let Some(l) = self.listeners.get(listener) else {
            return Some(FlowReason::Shutdown);
        };
        let view = l.slot.view.load();
        if view.endpoint != *endpoint || view.state != ConnState::Available {
            return Some(FlowReason::NotAvailable);
        }
        if gateway_serial.is_some_and(|s| ctx.revocations.is_revoked(s)) {
            return Some(FlowReason::Revoked);
        }
        None
    }

    /// (what, bound address) of every listener.
    pub(crate) fn listening(&self) -> Vec<(String, SocketAddr)> {
        self.listeners
            .values()
            .map(|l| (format!("endpoint {}", l.slot.view.load().endpoint), l.local))
            .collect()
    }

    /// Stops every listener and pool.
    pub(crate) fn clear(&mut self) {
        self.listeners.clear();
        self.pools.clear();
    }
}

fn start(
    ctx: &Arc<Ctx>,
    addr: SocketAddr,
    view: Arc<EndpointView>,
) -> Result<EndpointListener, DataplaneError> {
    let bound = bind(addr, ctx.cfg.listen_backlog);
    let listener = bound.map_err(|source| DataplaneError::Bind { addr, source })?;
    let local = listener.local_addr().unwrap_or(addr);
    let what = format!("endpoint {} {local}", view.endpoint);
    let slot = Arc::new(Slot {
        key: addr,
        view: Swap::new(view),
    });
    let (stop, stop_rx) = Stop::new();
    let (task_ctx, task_slot) = (ctx.clone(), slot.clone());
    let accept = ctx.tasks.spawn(async move {
        accept_loop(listener, &what, stop_rx, |client, peer| {
            let flow_id = task_ctx.ids.next();
            let v = task_slot.view.load();
            let span = tracing::info_span!("flow", side = "endpoint", endpoint = %v.endpoint,
                eni = %v.eni, srcaddr = %peer.ip(), srcport = peer.port(), dstaddr = %addr.ip(),
                dstport = addr.port(), flow = flow_id);
            let flow = serve(task_ctx.clone(), task_slot.clone(), client, peer, flow_id);
            task_ctx.tasks.spawn(flow.instrument(span));
        })
        .await;
    });
    Ok(EndpointListener {
        slot,
        local,
        accept,
        _stop: stop,
    })
}

async fn serve(ctx: Arc<Ctx>, slot: Arc<Slot>, client: TcpStream, peer: SocketAddr, id: u64) {
    let dst = client.local_addr().unwrap_or(slot.key);
    let first = slot.view.load();
    let mut ticket = ctx.flows.register(FlowKey::Endpoint {
        listener: slot.key,
        endpoint: first.endpoint,
        gateway_serial: None,
    });
    // Read the view again now that the flow is registered: an apply that swaps it from here on
    // also sees (and cuts) this flow.
    let view = slot.view.load();
    let mut ev = FlowEvent::opened(
        id,
        FlowSide::Endpoint,
        view.eni,
        Some(view.endpoint),
        peer,
        dst,
        FlowReason::NotAvailable,
    );
    ticket.describe(&ev);
    let outcome = carry(&ctx, &view, client, peer, dst, id, &mut ticket, &mut ev).await;
    // The flow leaves the live table before it is recorded as ended.
    drop(ticket);
    ev.end = SystemTime::now();
    ev.end_instant = std::time::Instant::now();
    match outcome {
        Ok(reason) => {
            ev.action = FlowAction::Accept;
            ev.reason = reason;
        }
        Err(reason) => {
            // Every refusal resets the client's connection.
            ev.tcp_flags_out |= tcp_flags::RST;
            ev.reason = reason;
        }
    }
    // Debug, not info: every flow is recorded by the flow logs already, and a line per flow at
    // thousands of flows a second costs more CPU than carrying them (issue 6, W3).
    tracing::debug!(action = ev.action.as_str(), reason = %ev.reason, bytes_in = ev.bytes_in,
        bytes_out = ev.bytes_out, "flow end");
    ctx.events.emit(ev);
}

/// Checks and carries one flow; `Ok` is how an accepted flow ended, `Err` why it was refused.
#[allow(clippy::too_many_arguments)]
async fn carry(
    ctx: &Ctx,
    view: &EndpointView,
    client: TcpStream,
    peer: SocketAddr,
    dst: SocketAddr,
    id: u64,
    ticket: &mut FlowTicket,
    ev: &mut FlowEvent,
) -> Result<FlowReason, FlowReason> {
    if let Some(reason) = view.admit(peer.ip()).err().or_else(|| ticket.is_cut()) {
        if let Some((segs_in, _)) = client.segments() {
            ev.packets_in = Some(segs_in);
        }
        reset(client);
        return Err(reason);
    }
    let _ = client.set_nodelay(true);
    let early = early_bytes(&client);
    let preamble = Preamble {
        endpoint: view.endpoint,
        service_port: view.port,
        client: peer,
        eni: dst,
        flow_id: id,
    };
    let opened = tokio::select! {
        // Boxed: a flow's task is as large as its largest phase for its whole life, and an
        // idle flow should not carry a tunnel opening's state (issue 6, W4).
        opened = Box::pin(open_tunnel(ctx, view, &preamble, &early)) => opened,
        reason = ticket.cut() => Err(reason),
    };
    let (carrier, leftover, serial) = match opened {
        Ok(o) => o,
        Err(reason) => {
            reset(client);
            return Err(reason);
        }
    };
    ticket.update(|k| {
        if let FlowKey::Endpoint { gateway_serial, .. } = k {
            *gateway_serial = Some(serial);
        }
    });
    let sent = early.len() as u64;
    match carrier {
        Carrier::Tls(t) => forward(ctx, client, *t, (sent, leftover), serial, ticket, ev).await,
        Carrier::Mux(s) => forward(ctx, client, s, (sent, leftover), serial, ticket, ev).await,
    }
}

/// The most a flow sends with its preamble.
const EARLY_DATA: usize = 8 * 1024;

/// What the client has sent already (at most [`EARLY_DATA`] bytes), read without waiting. It
/// goes with the preamble, and the gateway holds it until it admits the flow (it takes up to
/// `MAX_EARLY_PAYLOAD`): a client-first protocol's request then saves a tunnel round trip
/// and its own frames. A server-first protocol's client has sent nothing yet.
fn early_bytes(client: &TcpStream) -> Vec<u8> {
    let mut buf = [0u8; EARLY_DATA];
    match client.try_read(&mut buf) {
        Ok(n) => buf[..n].to_vec(),
        // Nothing yet, or an error the copy will meet again.
        Err(_) => Vec::new(),
    }
}

/// Carries an admitted flow that already sent `sent` bytes (with the preamble): the provider's
/// first bytes (`leftover`), then both ways until the end.
async fn forward<T: Socket>(
    ctx: &Ctx,
    mut client: TcpStream,
    tunnel: T,
    (sent, leftover): (u64, Vec<u8>),
    serial: Serial,
    ticket: &mut FlowTicket,
    ev: &mut FlowEvent,
) -> Result<FlowReason, FlowReason> {
    if ctx.revocations.is_revoked(serial) {
        ev.bytes_in += sent;
        reset(client);
        reset(tunnel);
        return Err(FlowReason::Revoked);
    }
    if !leftover.is_empty() && client.write_all(&leftover).await.is_err() {
        ev.bytes_in += sent;
        reset(client);
        reset(tunnel);
        ev.tcp_flags_out |= tcp_flags::RST;
        return Ok(FlowReason::Reset);
    }
    // The copy counts every byte, those moved so far included.
    let idle = ctx.cfg.endpoint_idle_timeout;
    let moved = (sent, leftover.len() as u64);
    let end = pipe(client, tunnel, ctx.cfg.buffers(), idle, moved, ticket).await;
    ev.bytes_in += end.client_to_service;
    ev.bytes_out += end.service_to_client;
    ev.tcp_flags_in |= end.client_flags;
    ev.tcp_flags_out |= end.reply_flags;
    if let Some((segs_in, segs_out)) = end.client_segments {
        ev.packets_in = Some(segs_in);
        ev.packets_out = Some(segs_out);
    }
    Ok(end.reason)
}

/// What carries an admitted flow to the gateway.
enum Carrier {
    /// A tunnel of its own (boxed: a TLS stream is over a kilobyte, a stream handle is small).
    Tls(Box<Tunnel>),
    /// A stream of the multiplexed tunnel.
    Mux(MuxStream),
}

/// How a preamble/verdict exchange went wrong.
enum ExchangeError {
    /// The gateway answered with a refusal.
    Refused(Refusal),
    /// The tunnel broke or the exchange failed; a fresh tunnel may do better.
    Broken(FlowReason),
}

/// Whether a refusal from one gateway node is worth trying on another.
fn try_another_node(code: RefusalCode) -> bool {
    code == RefusalCode::UNAVAILABLE || code == RefusalCode::TIMEOUT
}

/// A tunnel or stream past its verdict, the provider's first bytes, and the gateway's serial;
/// or why not.
async fn open_tunnel(
    ctx: &Ctx,
    view: &EndpointView,
    preamble: &Preamble,
    early: &[u8],
) -> Result<(Carrier, Vec<u8>, Serial), FlowReason> {
    // Gateways that failed recently go last, but are still tried.
    let (ready, backing_off): (Vec<_>, Vec<_>) = view.pools.iter().partition(|p| !p.in_backoff());
    let mut last = FlowReason::GatewayUnreachable;
    for pool in ready.into_iter().chain(backing_off) {
        let tried = if pool.multiplexed() {
            open_stream(ctx, pool, preamble, early).await
        } else {
            open_own(ctx, pool, preamble, early).await
        };
        match tried {
            Ok(opened) => return Ok(opened),
            Err(Next::Stop(reason)) => return Err(reason),
            Err(Next::Try(reason)) => last = reason,
        }
    }
    Err(last)
}

/// Why one gateway did not take a flow, and whether another may.
enum Next {
    /// Try the next gateway (this one is unreachable, unavailable or broken).
    Try(FlowReason),
    /// The refusal stands for every gateway.
    Stop(FlowReason),
}

/// The flow's verdict from one gateway, on a tunnel of its own (pooled, or opened now).
async fn open_own(
    ctx: &Ctx,
    pool: &TunnelPool,
    preamble: &Preamble,
    early: &[u8],
) -> Result<(Carrier, Vec<u8>, Serial), Next> {
    let mut pooled = pool.take();
    loop {
        let from_pool = pooled.is_some();
        let (mut tunnel, serial) = match pooled.take() {
            Some(t) => t,
            None => match pool.open().await {
                Ok(t) => t,
                Err(e) => {
                    tracing::debug!(gateway = %pool.addr(), error = %e, "no tunnel");
                    pool.mark_failed();
                    return Err(Next::Try(e.reason()));
                }
            },
        };
        match exchange(&mut tunnel, preamble, early, ctx.cfg.verdict_timeout).await {
            Ok(leftover) => {
                pool.mark_ok();
                return Ok((Carrier::Tls(Box::new(tunnel)), leftover, serial));
            }
            Err(ExchangeError::Refused(refusal)) => return Err(refused(pool, &refusal)),
            Err(ExchangeError::Broken(reason)) => {
                reset(tunnel);
                if from_pool {
                    continue; // The pooled tunnel may have gone stale: try a fresh one.
                }
                tracing::debug!(gateway = %pool.addr(), %reason, "tunnel failed");
                pool.mark_failed();
                return Err(Next::Try(reason));
            }
        }
    }
}

/// The flow's verdict from one gateway, on a stream of its multiplexed tunnel.
async fn open_stream(
    ctx: &Ctx,
    pool: &TunnelPool,
    preamble: &Preamble,
    early: &[u8],
) -> Result<(Carrier, Vec<u8>, Serial), Next> {
    let mut retried = false;
    loop {
        let (session, reused) = match pool.session().await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(gateway = %pool.addr(), error = %e, "no tunnel");
                pool.mark_failed();
                return Err(Next::Try(e.reason()));
            }
        };
        let limit = ctx.cfg.verdict_timeout;
        let opened = tokio::time::timeout(limit, session.open(preamble.eni)).await;
        let exchanged = match opened {
            Ok(Ok(mut stream)) => exchange(&mut stream, preamble, early, limit)
                .await
                .map(|leftover| (stream, leftover)),
            Ok(Err(e)) => {
                tracing::debug!(gateway = %pool.addr(), error = %e, "no stream");
                Err(ExchangeError::Broken(FlowReason::GatewayUnreachable))
            }
            Err(_) => Err(ExchangeError::Broken(FlowReason::Protocol)),
        };
        match exchanged {
            Ok((stream, leftover)) => {
                pool.mark_ok();
                return Ok((Carrier::Mux(stream), leftover, session.serial()));
            }
            Err(ExchangeError::Refused(refusal)) => return Err(refused(pool, &refusal)),
            Err(ExchangeError::Broken(reason)) => {
                // The tunnel may have died while idle: a flow retries once, on the tunnel open
                // now (fresh, unless another flow opened one meanwhile).
                pool.forget(&session);
                if reused && !retried {
                    retried = true;
                    continue;
                }
                tracing::debug!(gateway = %pool.addr(), %reason, "tunnel failed");
                pool.mark_failed();
                return Err(Next::Try(reason));
            }
        }
    }
}

fn refused(pool: &TunnelPool, refusal: &Refusal) -> Next {
    pool.mark_ok();
    tracing::debug!(gateway = %pool.addr(), %refusal, "refused by the gateway");
    let reason = FlowReason::Refused(refusal.code);
    if try_another_node(refusal.code) {
        Next::Try(reason)
    } else {
        Next::Stop(reason)
    }
}

/// Drives [`TunnelConnect`]: sends the preamble with the client's `early` bytes right behind
/// it, reads the verdict before `limit` passes.
async fn exchange<T: AsyncRead + AsyncWrite + Unpin>(
    tunnel: &mut T,
    preamble: &Preamble,
    early: &[u8],
    limit: std::time::Duration,
) -> Result<Vec<u8>, ExchangeError> {
    let deadline = Instant::now() + limit;
    let mut machine = TunnelConnect::new(preamble, deadline.into_std());
    let mut buf = [0u8; 512];
    loop {
        while let Some(out) = machine.poll_output() {
            match out {
                Output::Send(mut bytes) => {
                    // The machine sends one frame, the preamble; one write keeps the early
                    // bytes in the same record (and, multiplexed, the same DATA frame).
                    bytes.extend_from_slice(early);
                    let write = async {
                        tunnel.write_all(&bytes).await?;
                        tunnel.flush().await
                    };
                    match tokio::time::timeout_at(deadline, write).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => return Err(ExchangeError::Broken(io_reason(&e))),
                        Err(_) => return Err(ExchangeError::Broken(FlowReason::Protocol)),
                    }
                }
                Output::Established { leftover } => return Ok(leftover),
                Output::Close(ConnectFailure::Refused(refusal)) => {
                    return Err(ExchangeError::Refused(refusal))
                }
                Output::Close(failure) => {
                    tracing::debug!(%failure, "no verdict");
                    return Err(ExchangeError::Broken(FlowReason::Protocol));
                }
            }
        }
        let read = tokio::time::timeout_at(deadline, tunnel.read(&mut buf)).await;
        let now = Instant::now().into_std();
        match read {
            Ok(Ok(0)) => machine.handle(now, Input::Eof),
            Ok(Ok(n)) => machine.handle(now, Input::Bytes(&buf[..n])),
            Ok(Err(e)) => return Err(ExchangeError::Broken(io_reason(&e))),
            Err(_) => machine.handle(now, Input::Timeout),
        }
    }
}

fn io_reason(e: &std::io::Error) -> FlowReason {
    if is_tls_error(e) {
        FlowReason::Tls
    } else {
        FlowReason::GatewayUnreachable
    }
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;

    use super::*;

    #[tokio::test]
    async fn early_bytes_are_what_the_client_sent_already_and_never_wait() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (client, accepted) = tokio::join!(TcpStream::connect(addr), l.accept());
        let (mut client, (server, _)) = (client.unwrap(), accepted.unwrap());
        // A server-first protocol: nothing sent, nothing read, no wait.
        assert!(early_bytes(&server).is_empty());
        client.write_all(&[7u8; EARLY_DATA + 100]).await.unwrap();
        let mut early = Vec::new();
        for _ in 0..100 {
            early = early_bytes(&server);
            if !early.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        // At most EARLY_DATA; the rest is left for the copy.
        assert!(
            !early.is_empty() && early.len() <= EARLY_DATA,
            "{}",
            early.len()
        );
        assert!(early.iter().all(|&b| b == 7));
    }
}
