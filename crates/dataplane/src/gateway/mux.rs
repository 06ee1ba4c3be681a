//! The gateway's side of a multiplexed tunnel: every stream is a flow of its own, decided on
//! the live state when it opens; the tunnel closes once its certificate is revoked, or when it
//! carried nothing for the load balancer's idle timeout.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use h2::Reason;
use tokio::time::Instant;
use tracing::field::Empty;
use tracing::Instrument;
use underpass_domain::EndpointId;
use underpass_pki::Serial;

use super::{flow, record, Slot};
use crate::flow::{FlowEvent, FlowReason, FlowSide};
use crate::mux::{is_flow, refuse, server_builder, MuxStream};
use crate::net::{sleep_until_opt, StopRx};
use crate::readahead::ReadAhead;
use crate::Ctx;

/// How often an open tunnel's certificate and idleness are checked. Streams are
/// cut by the apply that changes their state; this only closes the tunnel itself.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long a closing tunnel may take to say goodbye (GOAWAY, the last frames).
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Serves a multiplexed tunnel from `peer` whose client certificate names `endpoint`, until
/// it closes.
pub(super) async fn serve(
    ctx: &Arc<Ctx>,
    slot: &Arc<Slot>,
    mut stop: StopRx,
    tls: tokio_rustls::server::TlsStream<ReadAhead>,
    endpoint: EndpointId,
    serial: Serial,
    (peer, dst): (SocketAddr, SocketAddr),
) {
    let handshake = tokio::time::timeout(
        ctx.cfg.handshake_timeout,
        server_builder().handshake::<_, Bytes>(tls),
    );
    let mut conn = tokio::select! {
        () = stop.stopped() => return,
        h = handshake => match h {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => {
                tracing::info!(error = %e, "multiplexed tunnel: HTTP/2 handshake failed");
                return;
            }
            Err(_) => {
                tracing::info!("multiplexed tunnel: HTTP/2 handshake timed out");
                return;
            }
        },
    };
    let mut tick = tokio::time::interval_at(Instant::now() + CHECK_EVERY, CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut quiet_since = Instant::now();
    let mut closing: Option<Instant> = None;
    loop {
        tokio::select! {
            () = stop.stopped(), if closing.is_none() => {
                conn.abrupt_shutdown(Reason::NO_ERROR);
                closing = Some(Instant::now() + CLOSE_GRACE);
            }
            () = sleep_until_opt(closing) => return,
            next = conn.accept() => match next {
                None => return,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "multiplexed tunnel ended");
                    return;
                }
                Some(Ok((req, respond))) => {
                    if !is_flow(&req) {
                        refuse(respond);
                        continue;
                    }
                    let stream = MuxStream::accepted(req.into_body(), respond);
                    let id = ctx.ids.next();
                    let span = tracing::info_span!("stream", conn = id, flow = Empty,
                        target = Empty);
                    let task = serve_stream(ctx.clone(), slot.clone(), stop.clone(), stream,
                        (endpoint, serial), (peer, dst), id);
                    ctx.tasks.spawn(task.instrument(span));
                }
            },
            _ = tick.tick(), if closing.is_none() => {
                let view = slot.view.load();
                // Revoked: the consumer's reopening is refused at the handshake and backs off.
                // An endpoint not (or no longer) admitted keeps its tunnel: each stream is
                // refused or cut on its own, and closing the tunnel would only have the
                // consumer reopen it at once, again and again.
                if ctx.revocations.is_revoked(serial) {
                    tracing::info!("closing the tunnel: its certificate is revoked");
                    conn.abrupt_shutdown(Reason::CANCEL);
                    closing = Some(Instant::now() + CLOSE_GRACE);
                } else if conn.has_streams() {
                    quiet_since = Instant::now();
                } else if quiet_since.elapsed() >= view.idle {
                    tracing::debug!("closing the tunnel: idle");
                    conn.graceful_shutdown();
                    closing = Some(Instant::now() + CLOSE_GRACE);
                }
            }
        }
    }
}

async fn serve_stream(
    ctx: Arc<Ctx>,
    slot: Arc<Slot>,
    stop: StopRx,
    stream: MuxStream,
    (endpoint, serial): (EndpointId, Serial),
    (peer, dst): (SocketAddr, SocketAddr),
    id: u64,
) {
    let view = slot.view.load();
    let side = FlowSide::Gateway {
        load_balancer_arn: view.load_balancer_arn.clone(),
    };
    let reason = FlowReason::Protocol;
    let mut ev = FlowEvent::opened(id, side, view.eni, Some(endpoint), peer, dst, reason);
    let outcome = flow(
        &ctx, &slot, view.idle, stop, stream, endpoint, serial, &mut ev,
    )
    .await;
    record(&ctx, ev, outcome);
}
