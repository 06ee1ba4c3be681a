//! The admission decision: acceptance, revocation and listener checked on the live state, a
//! target picked and connected, the PROXY v2 header written.

use std::net::SocketAddr;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;
use underpass_pki::Serial;
use underpass_proto::proxy_v2::ProxyHeader;
use underpass_proto::tunnel::{Preamble, Refusal, RefusalCode};

use super::Slot;
use crate::balancer::{eligible, Active, Eligible};
use crate::flow::FlowTicket;
use crate::health::HealthState;
use crate::Ctx;

/// The admission decision on the live state, then a target connected (with the PROXY header
/// written); or the refusal to send.
pub(super) async fn decide(
    ctx: &Ctx,
    slot: &Slot,
    preamble: &Preamble,
    serial: Serial,
    deadline: Instant,
    ticket: &mut FlowTicket,
) -> Result<(TcpStream, SocketAddr, Active), Refusal> {
    let view = slot.view.load();
    let endpoint = preamble.endpoint;
    if view.service.is_none() {
        return Err(Refusal::new(
            RefusalCode::UNKNOWN_ENDPOINT,
            "this load balancer fronts no endpoint service",
        ));
    }
    if !view.admitted.contains(&endpoint) {
        return Err(Refusal::new(
            RefusalCode::NOT_ACCEPTED,
            format!("the connection of {endpoint} is not accepted"),
        ));
    }
    if ctx.revocations.is_revoked(serial) {
        return Err(Refusal::new(
            RefusalCode::NOT_ACCEPTED,
            "the endpoint certificate is revoked",
        ));
    }
    let Some(listener) = view.listeners.get(&preamble.service_port) else {
        return Err(Refusal::new(
            RefusalCode::UNKNOWN_ENDPOINT,
            format!(
                "the service has no listener on port {}",
                preamble.service_port
            ),
        ));
    };
    let unavailable = |why: String| Refusal::new(RefusalCode::UNAVAILABLE, why);
    let group = &listener.target_group_arn;
    let healthy = |addr| ctx.health.state(group, addr) == HealthState::Healthy;
    let addrs = match eligible(&listener.targets, &view.zone, view.cross_zone, healthy) {
        Eligible::Targets { addrs, fail_open } => {
            if fail_open {
                tracing::warn!(target_group = %group, "no healthy target: failing open");
            }
            addrs
        }
        Eligible::Empty => return Err(unavailable("the target group has no targets".into())),
        Eligible::OtherZonesOnly => {
            return Err(unavailable(format!(
                "no usable target in zone {}",
                view.zone
            )))
        }
    };
    let Some((addr, active)) = listener.balancer.pick(ctx.cfg.balancing, &addrs) else {
        return Err(unavailable("no target".into()));
    };
    let limit = ctx
        .cfg
        .connect_timeout
        .min(deadline.saturating_duration_since(Instant::now()));
    let connect = tokio::time::timeout(limit, TcpStream::connect(addr));
    let connected = tokio::select! {
        c = connect => c,
        reason = ticket.cut() => {
            return Err(Refusal::new(RefusalCode::NOT_ACCEPTED, format!("flow cut: {reason}")))
        }
    };
    let mut target = match connected {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => return Err(unavailable(format!("target {addr}: {e}"))),
        Err(_) => return Err(unavailable(format!("target {addr}: connect timed out"))),
    };
    let _ = target.set_nodelay(true);
    if listener.proxy_v2 {
        let header = ProxyHeader::tcp(preamble.client, preamble.eni)
            .with_vpce_id(endpoint)
            .encode()
            .map_err(|e| unavailable(format!("PROXY header: {e}")))?;
        if let Err(e) = target.write_all(&header).await {
            return Err(unavailable(format!("target {addr}: {e}")));
        }
    }
    Ok((target, addr, active))
}
