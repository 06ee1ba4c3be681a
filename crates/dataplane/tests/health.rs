//! Health checks against real loopback targets (200 ms interval, thresholds of 2): targets
//! leave and rejoin the rotation, fail-open, empty groups, HTTP status checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use underpass_dataplane::{Dataplane, FlowAction, FlowReason};
use underpass_domain::ConnState;
use underpass_proto::proxy_v2::{parse_proxy_v2, Command};
use underpass_proto::sync::TargetHealth;
use underpass_proto::tunnel::RefusalCode;
use underpass_proto::ParseError;

const LOCAL: Ipv4Addr = Ipv4Addr::LOCALHOST;

async fn wait_health(dp: &Dataplane, addr: SocketAddr, state: &str) -> TargetHealth {
    eventually(&format!("{addr} {state}"), || {
        dp.target_health()
            .into_iter()
            .find(|t| t.addr == addr && t.state == state)
    })
    .await
}

/// A provider and a consumer wired to one endpoint, with `group` behind the gateway.
async fn wire(
    w: &World,
    group: underpass_proto::sync::TargetGroupConfig,
) -> (Dataplane, Dataplane, Events, Events) {
    let (pe, ce) = (Events::default(), Events::default());
    let provider = dataplane(&w.provider_key, &pe);
    let consumer = dataplane(&w.consumer_key, &ce);
    let gw = w.gateway_config(vec![w.endpoint], group);
    let report = provider.apply(&w.provider_state(1, gw)).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let ep = w.endpoint_config(ConnState::Available, "127.0.0.1/32");
    consumer
        .apply(&w.consumer_state(1, vec![ep]))
        .await
        .unwrap();
    (provider, consumer, pe, ce)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_target_leaves_the_rotation_and_comes_back() {
    let w = World::new(20);
    let one = Backend::start(w.target_ip(1), false);
    let two = Backend::start(w.target_ip(2), false);
    let (provider, consumer, _pe, _ce) = wire(&w, w.target_group(&[1, 2], false)).await;
    let initial = provider.target_health();
    assert_eq!(initial.len(), 2);
    wait_health(&provider, one.addr, "healthy").await;
    wait_health(&provider, two.addr, "healthy").await;

    // Target one stops listening: after two failed checks it is out of the rotation.
    let addr_one = one.addr;
    one.stop().await;
    let h = wait_health(&provider, addr_one, "unhealthy").await;
    assert_eq!(h.reason.as_deref(), Some("Target.FailedHealthChecks"));
    assert_eq!(h.target_group_arn, TG_ARN);
    let before = two.accepted();
    for _ in 0..6 {
        works(w.eni_addr()).await; // a flow routed to the dead target would fail here
    }
    assert_eq!(
        two.accepted() - before,
        6,
        "every new flow went to the healthy target"
    );

    // It comes back: two good checks later it receives flows again.
    let one = Backend::start(w.target_ip(1), false);
    wait_health(&provider, one.addr, "healthy").await;
    for _ in 0..6 {
        works(w.eni_addr()).await;
    }
    assert!(one.accepted() > 0, "the recovered target gets new flows");
    consumer.shutdown().await;
    provider.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_targets_unhealthy_fails_open() {
    let w = World::new(21);
    // Traffic ports work, health ports are closed: every check fails.
    let one = Backend::start_with_health(w.target_ip(1), false, false);
    let two = Backend::start_with_health(w.target_ip(2), false, false);
    let (provider, consumer, _pe, _ce) = wire(&w, w.target_group(&[1, 2], false)).await;
    wait_health(&provider, one.addr, "unhealthy").await;
    wait_health(&provider, two.addr, "unhealthy").await;
    for _ in 0..4 {
        works(w.eni_addr()).await;
    }
    assert!(
        one.accepted() > 0 && two.accepted() > 0,
        "NLB-style fail-open spreads over all targets: {} / {}",
        one.accepted(),
        two.accepted()
    );
    consumer.shutdown().await;
    provider.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_target_group_is_refused_at_once() {
    let w = World::new(22);
    let (provider, consumer, pe, ce) = wire(&w, w.target_group(&[], false)).await;
    assert!(provider.target_health().is_empty());
    let refused_fast = tokio::time::timeout(Duration::from_secs(2), refused(LOCAL, w.eni_addr()));
    assert!(refused_fast.await.expect("the client was left hanging"));
    let unavailable = FlowReason::Refused(RefusalCode::UNAVAILABLE);
    let ev = ce
        .wait_for("consumer REJECT", |e| e.action == FlowAction::Reject)
        .await;
    assert_eq!(ev.reason, unavailable);
    let gev = pe
        .wait_for("gateway REJECT", |e| e.action == FlowAction::Reject)
        .await;
    assert_eq!(gev.reason, unavailable);
    consumer.shutdown().await;
    provider.shutdown().await;
}

/// Answers every health check with `status`, after a PROXY v2 LOCAL header; records the
/// request lines.
fn http_health(
    ip: Ipv4Addr,
    status: u16,
    lines: Arc<Mutex<Vec<String>>>,
) -> tokio::task::JoinHandle<()> {
    let s = tokio::net::TcpSocket::new_v4().unwrap();
    s.set_reuseaddr(true).unwrap();
    s.bind(SocketAddr::new(ip.into(), HEALTH_PORT)).unwrap();
    let listener = s.listen(16).unwrap();
    tokio::spawn(async move {
        while let Ok((mut c, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 512];
            // The header first (its signature itself contains a blank line), then the request.
            let (header, used) = loop {
                match parse_proxy_v2(&buf) {
                    Ok(found) => break found,
                    Err(ParseError::Incomplete { .. }) => {}
                    Err(ParseError::Invalid(why)) => panic!("no PROXY header: {why}"),
                }
                match c.read(&mut chunk).await {
                    Ok(0) | Err(_) => panic!("closed before a PROXY header"),
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            };
            while !buf[used..].windows(4).any(|w| w == b"\r\n\r\n") {
                match c.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            assert_eq!(header.command, Command::Local);
            let request = String::from_utf8_lossy(&buf[used..]).to_string();
            let first = request.lines().next().unwrap_or("").to_owned();
            lines.lock().unwrap().push(first);
            let answer = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
            let _ = c.write_all(answer.as_bytes()).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_checks_expect_200_to_399_and_carry_a_local_proxy_header() {
    let w = World::new(23);
    let lines = Arc::new(Mutex::new(Vec::new()));
    let ok = http_health(w.target_ip(1), 302, lines.clone());
    let bad = http_health(w.target_ip(2), 503, lines.clone());
    let mut group = w.target_group(&[1, 2], true);
    group.health.protocol = "HTTP".into();
    group.health.path = "/healthz".into();
    let (provider, consumer, _pe, _ce) = wire(&w, group.clone()).await;
    let target = |i| SocketAddr::new(w.target_ip(i).into(), TARGET_PORT);
    wait_health(&provider, target(1), "healthy").await;
    let h = wait_health(&provider, target(2), "unhealthy").await;
    assert_eq!(h.reason.as_deref(), Some("Target.ResponseCodeMismatch"));
    let seen = lines.lock().unwrap().clone();
    assert!(
        seen.iter().all(|l| l == "GET /healthz HTTP/1.1"),
        "{seen:?}"
    );

    // A target removed from the group is no longer checked or reported.
    group.targets.truncate(1);
    let gw = w.gateway_config(vec![w.endpoint], group);
    provider.apply(&w.provider_state(2, gw)).await.unwrap();
    let now: Vec<SocketAddr> = provider.target_health().iter().map(|t| t.addr).collect();
    assert_eq!(now, vec![target(1)]);
    ok.abort();
    bad.abort();
    consumer.shutdown().await;
    provider.shutdown().await;
}
