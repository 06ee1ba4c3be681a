//! End-to-end flows over real loopback sockets and real mTLS: a consumer data plane, a provider
//! data plane, echo targets. Every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use underpass_dataplane::{tcp_flags, AlertKind, FlowAction, FlowReason, FlowSide};
use underpass_domain::firewall::{AclEntry, PortRange, Protocol, RuleAction};
use underpass_domain::{ConnState, EndpointId};
use underpass_proto::proxy_v2::{kind, ProxyHeader};
use underpass_proto::tunnel::RefusalCode;

const LOCAL: Ipv4Addr = Ipv4Addr::LOCALHOST;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_reaches_the_target_and_gets_its_bytes_back() {
    let w = World::new(10);
    let target = Backend::start(w.target_ip(1), false);
    let (pe, ce) = (Events::default(), Events::default());
    let provider = dataplane(&w.provider_key, &pe);
    let consumer = dataplane(&w.consumer_key, &ce);
    let gw = w.gateway_config(vec![w.endpoint], w.target_group(&[1], false));
    let report = provider.apply(&w.provider_state(1, gw)).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.started.len(), 1);
    let ep = w.endpoint_config(ConnState::Available, "127.0.0.1/32");
    let report = consumer
        .apply(&w.consumer_state(1, vec![ep]))
        .await
        .unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(
        consumer.listening(),
        vec![(format!("endpoint {}", w.endpoint), w.eni_addr())]
    );
    assert_eq!(
        provider.listening(),
        vec![(format!("gateway {LB_ARN}"), w.gateway_addr())]
    );

    let mut client = connect_from(LOCAL, w.eni_addr()).await;
    let client_addr = client.local_addr().unwrap();
    let msg = b"hello through the tunnel";
    assert_eq!(round_trip(&mut client, msg).await.unwrap(), msg);
    // Half-close: the client is done sending; the echo target closes; the close comes back.
    client.shutdown().await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(LIMIT, client.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert!(rest.is_empty());

    let ev = ce
        .wait_for("consumer ACCEPT", |e| e.action == FlowAction::Accept)
        .await;
    assert_eq!(ev.side, FlowSide::Endpoint);
    assert_eq!(ev.endpoint_id, Some(w.endpoint));
    assert_eq!((ev.src, ev.dst), (client_addr, w.eni_addr()));
    assert_eq!(
        (ev.bytes_in, ev.bytes_out),
        (msg.len() as u64, msg.len() as u64)
    );
    assert_eq!(ev.reason, FlowReason::Closed);
    assert_eq!(ev.protocol, 6);
    // The client's SYN and FIN came in; SYN-ACK and a FIN went out.
    assert_eq!(
        (ev.tcp_flags_in, ev.tcp_flags_out),
        (
            tcp_flags::SYN | tcp_flags::FIN,
            tcp_flags::SYN_ACK | tcp_flags::FIN
        )
    );
    assert!(ev.end_instant >= ev.start_instant);
    // The kernel's segment counters of the client's connection (TCP_INFO through sock_diag).
    let (pin, pout) = (ev.packets_in.unwrap(), ev.packets_out.unwrap());
    assert!(pin >= 3 && pout >= 2, "{pin} {pout}");
    let gev = pe
        .wait_for("gateway ACCEPT", |e| e.action == FlowAction::Accept)
        .await;
    assert_eq!(gev.flow_id, ev.flow_id, "both sides log the same flow id");
    assert_eq!(gev.client, Some(client_addr));
    assert_eq!(gev.target, Some(target.addr));
    assert_eq!(gev.endpoint_id, Some(w.endpoint));
    assert_eq!(
        (gev.bytes_in, gev.bytes_out),
        (msg.len() as u64, msg.len() as u64)
    );
    assert_eq!(target.accepted(), 1);

    consumer.shutdown().await;
    provider.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_endpoint_gets_nothing() {
    let w = World::new(11);
    let target = Backend::start(w.target_ip(1), false);
    let (pe, ce) = (Events::default(), Events::default());
    let provider = dataplane(&w.provider_key, &pe);
    let consumer = dataplane(&w.consumer_key, &ce);
    let gw = w.gateway_config(vec![], w.target_group(&[1], false));
    provider.apply(&w.provider_state(1, gw)).await.unwrap();
    let ep = w.endpoint_config(ConnState::PendingAcceptance, "127.0.0.1/32");
    consumer
        .apply(&w.consumer_state(1, vec![ep]))
        .await
        .unwrap();

    assert!(refused(LOCAL, w.eni_addr()).await);
    let ev = ce
        .wait_for("REJECT", |e| e.action == FlowAction::Reject)
        .await;
    assert_eq!(ev.reason, FlowReason::NotAvailable);
    assert_eq!(target.accepted(), 0, "the target saw no connection");
    consumer.shutdown().await;
    provider.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_refuses_an_endpoint_it_does_not_admit() {
    let w = World::new(12);
    let target = Backend::start(w.target_ip(1), false);
    let (pe, ce) = (Events::default(), Events::default());
    let provider = dataplane(&w.provider_key, &pe);
    let consumer = dataplane(&w.consumer_key, &ce);
    // The consumer's own state claims `available`; the provider has not accepted it.
    let gw = w.gateway_config(vec![], w.target_group(&[1], false));
    provider.apply(&w.provider_state(1, gw)).await.unwrap();
    let ep = w.endpoint_config(ConnState::Available, "127.0.0.1/32");
    consumer
        .apply(&w.consumer_state(1, vec![ep]))
        .await
        .unwrap();

    assert!(refused(LOCAL, w.eni_addr()).await);
    let refused = FlowReason::Refused(RefusalCode::NOT_ACCEPTED);
    let ev = ce
        .wait_for("consumer REJECT", |e| e.action == FlowAction::Reject)
        .await;
    assert_eq!(ev.reason, refused);
    let gev = pe
        .wait_for("gateway REJECT", |e| e.action == FlowAction::Reject)
        .await;
    assert_eq!(gev.reason, refused);
    assert_eq!(gev.endpoint_id, Some(w.endpoint));
    assert_eq!(gev.flow_id, ev.flow_id);
    assert_eq!(target.accepted(), 0, "the target saw no connection");
    consumer.shutdown().await;
    provider.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_endpoint_from_admitted_cuts_live_flows_and_refuses_new_ones() {
    let w = World::new(13);
    let target = Backend::start(w.target_ip(1), false);
    let (pe, ce) = (Events::default(), Events::default());
    let provider = dataplane(&w.provider_key, &pe);
    let consumer = dataplane(&w.consumer_key, &ce);
    let group = w.target_group(&[1], false);
    let gw = w.gateway_config(vec![w.endpoint], group.clone());
    provider.apply(&w.provider_state(1, gw)).await.unwrap();
    let ep = w.endpoint_config(ConnState::Available, "127.0.0.1/32");
    consumer
        .apply(&w.consumer_state(1, vec![ep]))
        .await
        .unwrap();

    let mut client = connect_from(LOCAL, w.eni_addr()).await;
    assert_eq!(round_trip(&mut client, b"live").await.unwrap(), b"live");
    assert_eq!(provider.live_flows(), 1);

    // The provider rejects the connection: the gateway must cut the flow by itself.
    let gw = w.gateway_config(vec![], group);
    let report = provider.apply(&w.provider_state(2, gw)).await.unwrap();
    assert_eq!(report.flows_cut, 1);
    assert!(report.started.is_empty() && report.stopped.is_empty());
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(2), client.read(&mut buf))
        .await
        .expect("the live flow was not cut within 2 s");
    assert!(matches!(read, Ok(0) | Err(_)), "got {read:?}");
    let gev = pe
        .wait_for("gateway end", |e| e.action == FlowAction::Accept)
        .await;
    assert_eq!(gev.reason, FlowReason::NotAccepted);
    assert_eq!(gev.bytes_in, 4);

    assert!(refused(LOCAL, w.eni_addr()).await);
    ce.wait_for("new flow refused", |e| {
        e.reason == FlowReason::Refused(RefusalCode::NOT_ACCEPTED)
    })
    .await;
    assert_eq!(target.accepted(), 1, "no new connection reached the target");
    consumer.shutdown().await;
    provider.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_security_group_that_does_not_allow_the_client_rejects_it() {
    let w = World::new(14);
    let target = Backend::start(w.target_ip(1), false);
    let (pe, ce) = (Events::default(), Events::default());
    let provider = dataplane(&w.provider_key, &pe);
    let consumer = dataplane(&w.consumer_key, &ce);
    let gw = w.gateway_config(vec![w.endpoint], w.target_group(&[1], false));
    provider.apply(&w.provider_state(1, gw)).await.unwrap();
    let ep = w.endpoint_config(ConnState::Available, "127.0.0.1/32");
    consumer
        .apply(&w.consumer_state(1, vec![ep]))
        .await
        .unwrap();

    let outsider = Ipv4Addr::new(127, 0, 0, 9);
    assert!(refused(outsider, w.eni_addr()).await);
    let ev = ce
        .wait_for("REJECT", |e| e.action == FlowAction::Reject)
        .await;
    assert_eq!(ev.reason, FlowReason::SecurityGroup);
    assert_eq!(ev.src.ip(), outsider);
    assert_eq!(ev.tcp_flags_in, tcp_flags::SYN);
    assert_eq!(ev.tcp_flags_out, tcp_flags::SYN_ACK | tcp_flags::RST);
    assert!(ev.packets_in.is_some_and(|p| p >= 2), "SYN and ACK: {ev:?}");
    assert_eq!(target.accepted(), 0);
    assert!(pe.all().is_empty(), "nothing reached the gateway");
    // The refusal is also an alert (RELIABILITY item 94), counted as a denial.
    let alerts = consumer.alert_counts();
    assert_eq!(alerts.get(AlertKind::Denied), 1);
    assert_eq!(alerts.get(AlertKind::Unauthenticated), 0);

    // The allowed source still gets through.
    works(w.eni_addr()).await;
    assert_eq!(target.accepted(), 1);
    consumer.shutdown().await;
    provider.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_acl_deny_rejects_before_the_security_group() {
    let w = World::new(15);
    let target = Backend::start(w.target_ip(1), false);
    let (pe, ce) = (Events::default(), Events::default());
    let provider = dataplane(&w.provider_key, &pe);
    let consumer = dataplane(&w.consumer_key, &ce);
    let gw = w.gateway_config(vec![w.endpoint], w.target_group(&[1], false));
    provider.apply(&w.provider_state(1, gw)).await.unwrap();
    let mut ep = w.endpoint_config(ConnState::Available, "127.0.0.0/8");
    let entry = |number, cidr: &str, action| AclEntry {
        number,
        protocol: Protocol::Tcp,
        ports: PortRange::ALL,
        cidr: cidr.parse().unwrap(),
        action,
    };
    ep.acl = vec![
        entry(100, "127.0.0.9/32", RuleAction::Deny),
        entry(200, "127.0.0.0/8", RuleAction::Allow),
    ];
    consumer
        .apply(&w.consumer_state(1, vec![ep]))
        .await
        .unwrap();

    assert!(refused(Ipv4Addr::new(127, 0, 0, 9), w.eni_addr()).await);
    let ev = ce
        .wait_for("REJECT", |e| e.action == FlowAction::Reject)
        .await;
    assert_eq!(ev.reason, FlowReason::NetworkAcl);
    works(w.eni_addr()).await;
    assert_eq!(target.accepted(), 1);
    consumer.shutdown().await;
    provider.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_v2_comes_first_and_a_client_proxy_header_is_payload() {
    let w = World::new(16);
    let target = Backend::start(w.target_ip(1), true);
    let (pe, ce) = (Events::default(), Events::default());
    let provider = dataplane(&w.provider_key, &pe);
    let consumer = dataplane(&w.consumer_key, &ce);
    let gw = w.gateway_config(vec![w.endpoint], w.target_group(&[1], true));
    provider.apply(&w.provider_state(1, gw)).await.unwrap();
    let ep = w.endpoint_config(ConnState::Available, "127.0.0.1/32");
    consumer
        .apply(&w.consumer_state(1, vec![ep]))
        .await
        .unwrap();

    // The client tries to pass as another endpoint from another address (items 68 and 70).
    let impostor: EndpointId = "vpce-0ffffffffffffffff".parse().unwrap();
    let mut spoof = ProxyHeader::tcp(
        "1.2.3.4:1111".parse().unwrap(),
        "5.6.7.8:80".parse().unwrap(),
    )
    .with_vpce_id(impostor)
    .encode()
    .unwrap();
    spoof.extend_from_slice(b"PROXY TCP4 1.2.3.4 5.6.7.8 1111 80\r\nGET / HTTP/1.0\r\n\r\n");

    let mut client = connect_from(LOCAL, w.eni_addr()).await;
    let client_addr = client.local_addr().unwrap();
    assert_eq!(round_trip(&mut client, &spoof).await.unwrap(), spoof);
    drop(client);

    let (header, payload) = target.seen.lock().unwrap()[0].clone();
    assert_eq!(header.addresses.source(), Some(client_addr));
    assert_eq!(header.addresses.destination(), Some(w.eni_addr()));
    assert_eq!(header.vpce_id(), Some(w.endpoint));
    assert_eq!(
        header.tlvs.iter().filter(|t| t.kind == kind::AWS).count(),
        1,
        "exactly one AWS TLV, ours"
    );
    assert_eq!(payload, spoof, "the client's own headers arrive as payload");
    consumer.shutdown().await;
    provider.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reapplying_keeps_allowed_flows_and_cuts_the_rest() {
    let w = World::new(17);
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
        .apply(&w.consumer_state(1, vec![ep.clone()]))
        .await
        .unwrap();
    let mut client = connect_from(LOCAL, w.eni_addr()).await;
    assert_eq!(round_trip(&mut client, b"one").await.unwrap(), b"one");

    // Same provider state, new revision: nothing restarts, nothing is cut.
    let report = provider.apply(&w.provider_state(2, gw)).await.unwrap();
    assert_eq!(
        (report.flows_cut, report.started.len(), report.stopped.len()),
        (0, 0, 0)
    );
    // The SG no longer admits 127.0.0.1: new flows are refused, the tracked one stays.
    let mut narrowed = ep.clone();
    narrowed.ingress = allow_from("127.0.0.2/32");
    let report = consumer
        .apply(&w.consumer_state(2, vec![narrowed]))
        .await
        .unwrap();
    assert_eq!(
        (report.flows_cut, report.started.len(), report.stopped.len()),
        (0, 0, 0)
    );
    assert_eq!(round_trip(&mut client, b"two").await.unwrap(), b"two");
    assert!(refused(LOCAL, w.eni_addr()).await);
    ce.wait_for("SG REJECT", |e| e.reason == FlowReason::SecurityGroup)
        .await;

    // The consumer's own state says the endpoint was rejected: its flows end.
    let mut rejected = ep.clone();
    rejected.state = ConnState::Rejected;
    let report = consumer
        .apply(&w.consumer_state(3, vec![rejected]))
        .await
        .unwrap();
    assert_eq!(report.flows_cut, 1);
    let mut buf = [0u8; 8];
    let read = tokio::time::timeout(Duration::from_secs(2), client.read(&mut buf))
        .await
        .expect("the flow was not cut within 2 s");
    assert!(matches!(read, Ok(0) | Err(_)), "got {read:?}");
    ce.wait_for("consumer end", |e| {
        e.action == FlowAction::Accept && e.reason == FlowReason::NotAvailable
    })
    .await;

    // The endpoint is gone: its listener closes.
    let report = consumer.apply(&w.consumer_state(4, vec![])).await.unwrap();
    assert_eq!(report.stopped.len(), 1);
    assert!(consumer.listening().is_empty());
    let refused = tokio::time::timeout(LIMIT, tokio::net::TcpStream::connect(w.eni_addr()))
        .await
        .unwrap();
    assert!(refused.is_err(), "the listener still accepts");
    assert_eq!(target.accepted(), 1);
    consumer.shutdown().await;
    provider.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_items_are_reported_and_not_served() {
    let w = World::new(18);
    let consumer = dataplane(&w.consumer_key, &Events::default());
    let mut ep = w.endpoint_config(ConnState::Available, "127.0.0.1/32");
    ep.identity.cert_pem = "not a certificate".into();
    let report = consumer
        .apply(&w.consumer_state(1, vec![ep]))
        .await
        .unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(consumer.listening().is_empty());

    // An unparsable trust bundle refuses the whole state and changes nothing.
    let good = w.endpoint_config(ConnState::Available, "127.0.0.1/32");
    consumer
        .apply(&w.consumer_state(2, vec![good.clone()]))
        .await
        .unwrap();
    let mut bad = w.consumer_state(3, vec![]);
    bad.trust.revoked_serials = vec!["not hex".into()];
    assert!(consumer.apply(&bad).await.is_err());
    assert_eq!(consumer.listening().len(), 1, "the previous state stays");
    consumer.shutdown().await;
}

/// Multiplexed tunnels (the default): concurrent flows are streams of one tunnel, each decided
/// and cut on its own; a revocation cuts every stream and closes the tunnel, whose reopening
/// the gateway then refuses at the handshake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_share_one_tunnel_and_a_revocation_cuts_every_stream() {
    let w = World::new(19);
    let target = Backend::start(w.target_ip(1), false);
    let (pe, ce) = (Events::default(), Events::default());
    let provider = dataplane(&w.provider_key, &pe);
    let mut cfg = test_config(&w.consumer_key);
    cfg.multiplex = true;
    let consumer = underpass_dataplane::Dataplane::new(cfg, ce.sink());
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

    // Five flows at once, then a sixth after one of them closed.
    let mut clients = Vec::new();
    for i in 0..5u8 {
        let mut c = connect_from(LOCAL, w.eni_addr()).await;
        assert_eq!(
            round_trip(&mut c, &[b'a' + i; 3]).await.unwrap(),
            [b'a' + i; 3]
        );
        clients.push(c);
    }
    drop(clients.remove(0));
    let mut c = connect_from(LOCAL, w.eni_addr()).await;
    assert_eq!(round_trip(&mut c, b"sixth").await.unwrap(), b"sixth");
    clients.push(c);
    let closed = pe
        .wait_for("the closed flow's gateway event", |e| {
            e.action == FlowAction::Accept
        })
        .await;
    assert_eq!(closed.reason, FlowReason::Closed);
    eventually("five live gateway flows", || {
        (provider.live_flows() == 5).then_some(())
    })
    .await;
    assert_eq!(target.accepted(), 6, "one target connection per flow");
    // The kernel's view: one TCP connection to the gateway carries all of them.
    assert_eq!(established_to(w.gateway_addr()), 1);

    // The provider learns of the revocation: every stream is cut, each as a flow of its own.
    let mut state = w.provider_state(2, gw);
    state.trust.revoked_serials = vec![w.endpoint_serial.to_string()];
    let report = provider.apply(&state).await.unwrap();
    assert_eq!(report.flows_cut, 5);
    for c in &mut clients {
        let mut buf = [0u8; 8];
        let read = tokio::time::timeout(Duration::from_secs(2), c.read(&mut buf))
            .await
            .expect("a live stream was not cut within 2 s");
        assert!(matches!(read, Ok(0) | Err(_)), "got {read:?}");
    }
    let gateway_flows = eventually("six gateway flow events", || {
        let ended: Vec<_> = pe
            .all()
            .into_iter()
            .filter(|e| e.action == FlowAction::Accept)
            .collect();
        (ended.len() == 6).then_some(ended)
    })
    .await;
    // Each was a stream: its record names the client's port, not a tunnel socket of its own.
    for e in &gateway_flows {
        assert_eq!(Some(e.src.port()), e.client.map(|c| c.port()), "{e:?}");
    }
    let revoked = gateway_flows
        .iter()
        .filter(|e| e.reason == FlowReason::Revoked)
        .count();
    assert_eq!(revoked, 5);

    // The gateway closes the tunnel; the consumer's new one is refused at the handshake.
    assert!(refused(LOCAL, w.eni_addr()).await);
    pe.wait_for("the reopened tunnel refused", |e| {
        e.reason == FlowReason::Tls
    })
    .await;
    assert_eq!(target.accepted(), 6, "nothing new reached the target");
    consumer.shutdown().await;
    provider.shutdown().await;
}

/// Established TCP connections whose local end is `addr` (IPv4), from /proc/net/tcp.
fn established_to(addr: std::net::SocketAddr) -> usize {
    let std::net::SocketAddr::V4(v4) = addr else {
        panic!("IPv4 only")
    };
    // /proc/net/tcp writes the address as the hex of its in-memory (network order) u32.
    let local = format!(
        "{:08X}:{:04X}",
        u32::from_ne_bytes(v4.ip().octets()),
        v4.port()
    );
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1] == local && f[3] == "01"
        })
        .count()
}

/// A client-first client's bytes travel with the preamble: they reach the target only once the
/// gateway admits the flow, before or after the verdict, and are counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_sent_at_once_wait_for_admission() {
    let w = World::new(24);
    let target = Backend::start(w.target_ip(1), false);
    let (pe, ce) = (Events::default(), Events::default());
    let provider = dataplane(&w.provider_key, &pe);
    let consumer = dataplane(&w.consumer_key, &ce);
    let group = w.target_group(&[1], false);
    // Not admitted yet: a client that writes at once is reset, and the target sees nothing.
    provider
        .apply(&w.provider_state(1, w.gateway_config(vec![], group.clone())))
        .await
        .unwrap();
    let ep = w.endpoint_config(ConnState::Available, "127.0.0.1/32");
    consumer
        .apply(&w.consumer_state(1, vec![ep]))
        .await
        .unwrap();
    let s = tokio::net::TcpSocket::new_v4().unwrap();
    s.bind(std::net::SocketAddr::new(LOCAL.into(), 0)).unwrap();
    // The refusal can be quick enough to reset the connection before connect() returns.
    if let Ok(mut c) = s.connect(w.eni_addr()).await {
        let _ = c.write_all(b"too soon").await;
        let mut buf = [0u8; 8];
        let read = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
            .await
            .expect("no answer");
        assert!(matches!(read, Ok(0) | Err(_)), "got {read:?}");
    }
    ce.wait_for("REJECT", |e| e.action == FlowAction::Reject)
        .await;
    assert_eq!(target.accepted(), 0);

    // Admitted: a request written and half-closed at once comes back whole.
    provider
        .apply(&w.provider_state(2, w.gateway_config(vec![w.endpoint], group)))
        .await
        .unwrap();
    let mut c = connect_from(LOCAL, w.eni_addr()).await;
    c.write_all(b"ping").await.unwrap();
    c.shutdown().await.unwrap();
    let mut back = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut back))
        .await
        .expect("no echo")
        .unwrap();
    assert_eq!(back, b"ping");
    let ev = ce
        .wait_for("ACCEPT", |e| e.action == FlowAction::Accept)
        .await;
    assert_eq!((ev.bytes_in, ev.bytes_out), (4, 4));
    assert_eq!(target.accepted(), 1);
    consumer.shutdown().await;
    provider.shutdown().await;
}
