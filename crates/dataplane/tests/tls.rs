//! The tunnel's TLS: revocation, foreign CAs, wrong identities, stalled handshakes, and the
//! pool that keeps handshakes off a new flow's critical path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use underpass_dataplane::{AlertKind, FlowAction, FlowReason};
use underpass_domain::{ConnState, ServiceId};
use underpass_pki::{
    server_config, trust_roots, ClientAuth, RevocationSet, TlsCredentials, TlsOptions,
};
use underpass_proto::tunnel::{parse_preamble, RefusalCode, Verdict};
use underpass_proto::ParseError;

const LOCAL: Ipv4Addr = Ipv4Addr::LOCALHOST;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_endpoint_certificate_cannot_open_tunnels() {
    let w = World::new(30);
    let target = Backend::start(w.target_ip(1), false);
    let (pe, ce) = (Events::default(), Events::default());
    let provider = dataplane(&w.provider_key, &pe);
    let consumer = dataplane(&w.consumer_key, &ce);
    let gw = w.gateway_config(vec![w.endpoint], w.target_group(&[1], false));
    provider
        .apply(&w.provider_state(1, gw.clone()))
        .await
        .unwrap();
    let ep = w.endpoint_config(ConnState::Available, "127.0.0.1/32");
    consumer
        .apply(&w.consumer_state(1, vec![ep]))
        .await
        .unwrap();
    let mut live = connect_from(LOCAL, w.eni_addr()).await;
    assert_eq!(round_trip(&mut live, b"before").await.unwrap(), b"before");

    // The control plane revokes the endpoint's certificate; only the provider hears of it.
    let mut state = w.provider_state(2, gw);
    state.trust.revoked_serials = vec![w.endpoint_serial.to_string()];
    let report = provider.apply(&state).await.unwrap();
    assert_eq!(report.flows_cut, 1);
    let mut buf = [0u8; 8];
    let read = tokio::time::timeout(Duration::from_secs(2), live.read(&mut buf))
        .await
        .expect("the live flow was not cut within 2 s");
    assert!(matches!(read, Ok(0) | Err(_)), "got {read:?}");
    pe.wait_for("gateway cut", |e| {
        e.action == FlowAction::Accept && e.reason == FlowReason::Revoked
    })
    .await;

    // New flows: tunnels pooled before the revocation are refused at the preamble, new
    // handshakes are refused by the certificate check.
    for _ in 0..3 {
        assert!(refused(LOCAL, w.eni_addr()).await);
    }
    // The event is recorded just after the client is reset: wait for all three.
    let rejects = eventually("three REJECT events", || {
        let rejects: Vec<_> = ce
            .all()
            .into_iter()
            .filter(|e| e.action == FlowAction::Reject)
            .collect();
        (rejects.len() == 3).then_some(rejects)
    })
    .await;
    for e in &rejects {
        assert!(
            matches!(
                e.reason,
                FlowReason::Tls | FlowReason::Refused(RefusalCode::NOT_ACCEPTED)
            ),
            "{e:?}"
        );
    }
    pe.wait_for("a handshake refused", |e| e.reason == FlowReason::Tls)
        .await;
    assert_eq!(target.accepted(), 1, "nothing new reached the target");
    consumer.shutdown().await;
    provider.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_with_a_certificate_from_another_ca_is_refused() {
    let mut w = World::new(31);
    let target = Backend::start(w.target_ip(1), false);
    let rogue = TestCa::new("rogue");
    (w.gateway_identity, _) = rogue.issue(&spiffe_service(w.service), &w.provider_key);
    let (pe, ce) = (Events::default(), Events::default());
    let provider = dataplane(&w.provider_key, &pe);
    let consumer = dataplane(&w.consumer_key, &ce);
    let gw = w.gateway_config(vec![w.endpoint], w.target_group(&[1], false));
    let report = provider.apply(&w.provider_state(1, gw)).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let ep = w.endpoint_config(ConnState::Available, "127.0.0.1/32");
    consumer
        .apply(&w.consumer_state(1, vec![ep]))
        .await
        .unwrap();

    assert!(refused(LOCAL, w.eni_addr()).await);
    let ev = ce
        .wait_for("REJECT", |e| e.action == FlowAction::Reject)
        .await;
    assert_eq!(ev.reason, FlowReason::Tls);
    assert_eq!(target.accepted(), 0);
    // A failed authentication is an alert (RELIABILITY item 94).
    assert!(consumer.alert_counts().get(AlertKind::Unauthenticated) >= 1);
    assert_eq!(consumer.alert_counts().get(AlertKind::Denied), 0);
    consumer.shutdown().await;
    provider.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_presenting_another_service_identity_is_refused() {
    let w = World::new(32);
    let target = Backend::start(w.target_ip(1), false);
    let (pe, ce) = (Events::default(), Events::default());
    let provider = dataplane(&w.provider_key, &pe);
    let consumer = dataplane(&w.consumer_key, &ce);
    let gw = w.gateway_config(vec![w.endpoint], w.target_group(&[1], false));
    provider.apply(&w.provider_state(1, gw)).await.unwrap();
    let mut ep = w.endpoint_config(ConnState::Available, "127.0.0.1/32");
    ep.gateway_identity = spiffe_service(ServiceId::from_bits(0xbad)).to_string();
    consumer
        .apply(&w.consumer_state(1, vec![ep]))
        .await
        .unwrap();

    assert!(refused(LOCAL, w.eni_addr()).await);
    let ev = ce
        .wait_for("REJECT", |e| e.action == FlowAction::Reject)
        .await;
    assert_eq!(ev.reason, FlowReason::Tls);
    assert_eq!(target.accepted(), 0);
    consumer.shutdown().await;
    provider.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_tls_client_is_closed_at_the_handshake_timeout() {
    let w = World::new(33);
    let _target = Backend::start(w.target_ip(1), false);
    let (pe, ce) = (Events::default(), Events::default());
    let provider = dataplane(&w.provider_key, &pe);
    let gw = w.gateway_config(vec![w.endpoint], w.target_group(&[1], false));
    provider.apply(&w.provider_state(1, gw)).await.unwrap();

    // One client sends nothing, one sends the first bytes of a ClientHello and stops.
    let started = Instant::now();
    let mut silent = TcpStream::connect(w.gateway_addr()).await.unwrap();
    let mut partial = TcpStream::connect(w.gateway_addr()).await.unwrap();
    partial
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00])
        .await
        .unwrap();
    assert!(closed_without_data(&mut silent).await);
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(LIMIT, partial.read(&mut buf))
        .await
        .expect("the stalled handshake was never closed");
    assert!(matches!(n, Ok(0) | Err(_)), "got {n:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed before the 1 s handshake timeout"
    );
    let timeouts = eventually("two handshake timeouts", || {
        let n = pe
            .all()
            .iter()
            .filter(|e| e.reason == FlowReason::HandshakeTimeout)
            .count();
        (n == 2).then_some(n)
    })
    .await;
    assert_eq!(timeouts, 2);
    assert_eq!(provider.alert_counts().get(AlertKind::Unauthenticated), 2);

    // Real agents still get through.
    let consumer = dataplane(&w.consumer_key, &ce);
    let ep = w.endpoint_config(ConnState::Available, "127.0.0.1/32");
    consumer
        .apply(&w.consumer_state(1, vec![ep]))
        .await
        .unwrap();
    works(w.eni_addr()).await;
    consumer.shutdown().await;
    provider.shutdown().await;
}

/// A gateway stand-in that records when each tunnel finished its handshake and which tunnels
/// carried a preamble; it admits every flow and echoes.
struct FakeGateway {
    handshakes: Arc<Mutex<Vec<Instant>>>,
    used: Arc<Mutex<Vec<Instant>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeGateway {
    async fn start(w: &World) -> Self {
        let creds =
            TlsCredentials::from_pem(&w.gateway_identity.cert_pem, &w.provider_key.pem()).unwrap();
        let roots = trust_roots([w.ca.ca.cert_der()]).unwrap();
        let cfg = server_config(
            creds,
            roots,
            &RevocationSet::new(),
            ClientAuth::Required,
            &TlsOptions::default(),
        )
        .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(cfg));
        let listener = TcpListener::bind(w.gateway_addr()).await.unwrap();
        let handshakes = Arc::new(Mutex::new(Vec::new()));
        let used = Arc::new(Mutex::new(Vec::new()));
        let (h, u) = (handshakes.clone(), used.clone());
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, h, u) = (acceptor.clone(), h.clone(), u.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let done = Instant::now();
                    h.lock().unwrap().push(done);
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    let used_bytes = loop {
                        match parse_preamble(&buf) {
                            Ok((_, n)) => break n,
                            Err(ParseError::Incomplete { .. }) => {}
                            Err(ParseError::Invalid(why)) => panic!("bad preamble: {why}"),
                        }
                        match tls.read(&mut chunk).await {
                            Ok(0) | Err(_) => return, // an unused pooled tunnel
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    u.lock().unwrap().push(done);
                    tls.write_all(&Verdict::Admitted.encode()).await.unwrap();
                    tls.write_all(&buf[used_bytes..]).await.unwrap();
                    loop {
                        match tls.read(&mut chunk).await {
                            Ok(0) => {
                                let _ = tls.shutdown().await; // close_notify, as a gateway does
                                return;
                            }
                            Err(_) => return,
                            Ok(n) => {
                                if tls.write_all(&chunk[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        Self {
            handshakes,
            used,
            task,
        }
    }

    fn handshakes(&self) -> usize {
        self.handshakes.lock().unwrap().len()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pooled_tunnels_take_the_handshake_off_the_critical_path() {
    let w = World::new(34);
    let gateway = FakeGateway::start(&w).await;
    let ce = Events::default();
    let consumer = per_flow_dataplane(&w.consumer_key, &ce); // tunnel_pool_size = 2
    let ep = w.endpoint_config(ConnState::Available, "127.0.0.1/32");
    consumer
        .apply(&w.consumer_state(1, vec![ep]))
        .await
        .unwrap();

    // Before any client: the pool fills, and stops at its size.
    eventually("2 pre-opened tunnels", || {
        (gateway.handshakes() == 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(gateway.handshakes(), 2);

    let client_start = Instant::now();
    works(w.eni_addr()).await;
    let used = gateway.used.lock().unwrap().clone();
    assert_eq!(used.len(), 1);
    assert!(
        used[0] < client_start,
        "the flow's tunnel finished its handshake before the client connected"
    );
    // The pool refills in the background.
    eventually("a replacement tunnel", || {
        (gateway.handshakes() == 3).then_some(())
    })
    .await;
    let ev = ce
        .wait_for("ACCEPT", |e| e.action == FlowAction::Accept)
        .await;
    assert_eq!(ev.reason, FlowReason::Closed);
    consumer.shutdown().await;
    gateway.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_gateway_is_skipped_for_another_one() {
    let w = World::new(35);
    let target = Backend::start(w.target_ip(1), false);
    let (pe, ce) = (Events::default(), Events::default());
    let provider = dataplane(&w.provider_key, &pe);
    let consumer = dataplane(&w.consumer_key, &ce);
    let gw = w.gateway_config(vec![w.endpoint], w.target_group(&[1], false));
    provider.apply(&w.provider_state(1, gw)).await.unwrap();
    // The first gateway listed (same zone) has nothing listening.
    let mut ep = w.endpoint_config(ConnState::Available, "127.0.0.1/32");
    let dead = SocketAddr::new(ip(35, [0, 9]).into(), TUNNEL_PORT);
    ep.gateways.insert(
        0,
        underpass_proto::sync::GatewayAddr {
            zone: ZONE.into(),
            addr: dead,
        },
    );
    consumer
        .apply(&w.consumer_state(1, vec![ep]))
        .await
        .unwrap();
    for _ in 0..3 {
        works(w.eni_addr()).await;
    }
    assert_eq!(target.accepted(), 3);
    consumer.shutdown().await;
    provider.shutdown().await;
}

/// A TCP relay in front of a gateway that can go silent: it stops moving bytes and keeps every
/// socket open, as a gateway host that vanished without a FIN looks to the consumer.
struct Relay {
    addr: SocketAddr,
    silent: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(to: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let silent = Arc::new(AtomicBool::new(false));
        let flag = silent.clone();
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = TcpStream::connect(to).await else {
                    continue;
                };
                let (ir, iw) = inbound.into_split();
                let (or, ow) = outbound.into_split();
                tokio::spawn(pump(ir, ow, flag.clone()));
                tokio::spawn(pump(or, iw, flag.clone()));
            }
        });
        Self { addr, silent, task }
    }
}

/// Copies until EOF; once `silent`, moves nothing more and holds both sockets open.
async fn pump(
    mut r: tokio::net::tcp::OwnedReadHalf,
    mut w: tokio::net::tcp::OwnedWriteHalf,
    silent: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match r.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if silent.load(Ordering::SeqCst) {
            return std::future::pending().await;
        }
        if w.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// RELIABILITY items 61 and 78 for multiplexed tunnels: a gateway that goes silent without a
/// FIN is found by the tunnel's keepalive pings; the flows on that tunnel break instead of
/// hanging until their idle timeout, and new flows get a fresh tunnel once it answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_gone_silent_is_found_by_the_tunnel_keepalive() {
    let w = World::new(36);
    let target = Backend::start(w.target_ip(1), false);
    let (pe, ce) = (Events::default(), Events::default());
    let provider = dataplane(&w.provider_key, &pe);
    let mut cfg = test_config(&w.consumer_key);
    cfg.multiplex = true;
    cfg.tunnel_keepalive = Duration::from_millis(300);
    let consumer = underpass_dataplane::Dataplane::new(cfg, ce.sink());
    let gw = w.gateway_config(vec![w.endpoint], w.target_group(&[1], false));
    provider.apply(&w.provider_state(1, gw)).await.unwrap();
    let relay = Relay::start(w.gateway_addr()).await;
    let mut ep = w.endpoint_config(ConnState::Available, "127.0.0.1/32");
    ep.gateways[0].addr = relay.addr;
    consumer
        .apply(&w.consumer_state(1, vec![ep]))
        .await
        .unwrap();
    let mut live = connect_from(LOCAL, w.eni_addr()).await;
    assert_eq!(round_trip(&mut live, b"before").await.unwrap(), b"before");

    relay.silent.store(true, Ordering::SeqCst);
    let mut buf = [0u8; 8];
    let read = tokio::time::timeout(Duration::from_secs(3), live.read(&mut buf))
        .await
        .expect("the flow on the silent tunnel still hangs after 3 s");
    assert!(matches!(read, Ok(0) | Err(_)), "got {read:?}");
    ce.wait_for("the broken flow's end", |e| e.action == FlowAction::Accept)
        .await;

    // The gateway answers again: the next flow gets a fresh tunnel.
    relay.silent.store(false, Ordering::SeqCst);
    works(w.eni_addr()).await;
    assert_eq!(target.accepted(), 2);
    relay.task.abort();
    consumer.shutdown().await;
    provider.shutdown().await;
}
