//! The resolver over real sockets on loopback: hickory's own client over UDP and TCP, raw
//! packets for the malformed cases, a hickory authoritative server as the upstream, and the
//! TXT verification against it.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use hickory_net::client::{Client, ClientHandle};
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::tcp::TcpClientStream;
use hickory_net::udp::UdpClientStream;
use hickory_proto::op::{Message, MessageType, OpCode, Query as Question, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use underpass_dns::{check_txt, DnsServer, DnsServerConfig, StaticAuthority, TxtCheck, ZoneSet};
use underpass_proto::sync::{DnsConfig, DnsRecord};

const APEX: &str = "us-east-1.vpce.underpass.internal";
const REGIONAL: &str =
    "vpce-0123456789abcdef0-abcdefgh.vpce-svc-0fedcba9876543210.us-east-1.vpce.underpass.internal";
const ZONAL_A: &str = "vpce-0123456789abcdef0-abcdefgh-us-east-1a.vpce-svc-0fedcba9876543210.us-east-1.vpce.underpass.internal";
const PRIVATE: &str = "web.service.provider.local";

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn name(s: &str) -> Name {
    Name::from_ascii(format!("{s}.")).unwrap()
}

fn consumer_config(upstream: SocketAddr) -> DnsConfig {
    DnsConfig {
        resolver: ip("127.20.0.2"),
        vpc_cidrs: vec!["127.20.0.0/16".parse().unwrap()],
        zones: vec![APEX.into(), PRIVATE.into()],
        records: vec![
            DnsRecord {
                name: REGIONAL.into(),
                addrs: vec![ip("127.20.1.4"), ip("127.20.2.4")],
            },
            DnsRecord {
                name: ZONAL_A.into(),
                addrs: vec![ip("127.20.1.4")],
            },
            DnsRecord {
                name: PRIVATE.into(),
                addrs: vec![ip("127.20.1.4"), ip("127.20.2.4")],
            },
            DnsRecord {
                name: format!("big.{APEX}"),
                addrs: (0..150u8).map(|i| Ipv4Addr::new(127, 20, 3, i)).collect(),
            },
        ],
        upstreams: vec![upstream],
        serial: 1,
    }
}

fn zones(cfg: &DnsConfig) -> ZoneSet {
    let (z, rejected) = ZoneSet::build(cfg);
    assert!(rejected.is_empty(), "{rejected:?}");
    z
}

/// The provider's public DNS: `provider.local` with a web address and a TXT record.
async fn upstream() -> StaticAuthority {
    let auth = StaticAuthority::start("127.0.0.1:0".parse().unwrap(), "provider.local")
        .await
        .unwrap();
    auth.add_a("www.provider.local", ip("192.0.2.10"))
        .await
        .unwrap();
    auth.add_txt("_abc.web.service.provider.local", "vpce:right")
        .await
        .unwrap();
    auth
}

async fn resolver(cfg: &DnsConfig) -> DnsServer {
    let mut sc = DnsServerConfig::new("127.0.0.1:0".parse().unwrap());
    sc.tcp_idle = Duration::from_millis(400);
    sc.tcp_per_source = 4;
    DnsServer::start(sc, zones(cfg)).await.unwrap()
}

async fn udp_client(addr: SocketAddr) -> Client<TokioRuntimeProvider> {
    let conn = UdpClientStream::builder(addr, TokioRuntimeProvider::default()).build();
    let (client, bg) = Client::<TokioRuntimeProvider>::from_sender(conn);
    tokio::spawn(bg);
    client
}

async fn tcp_client(addr: SocketAddr) -> Client<TokioRuntimeProvider> {
    let (future, sender) = TcpClientStream::new(addr, None, None, TokioRuntimeProvider::new());
    let (client, bg) = Client::<TokioRuntimeProvider>::new(future.await.unwrap(), sender);
    tokio::spawn(bg);
    client
}

fn a_records(m: &Message) -> Vec<Ipv4Addr> {
    let mut v: Vec<Ipv4Addr> = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

async fn ask(c: &mut Client<TokioRuntimeProvider>, n: &str, t: RecordType) -> Message {
    let r = tokio::time::timeout(Duration::from_secs(5), c.query(name(n), DNSClass::IN, t))
        .await
        .expect("answer in time")
        .expect("a reply");
    Message::clone(&r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_over_udp_and_tcp_and_forwards_the_rest() {
    let up = upstream().await;
    let cfg = consumer_config(up.addr());
    let server = resolver(&cfg).await;
    let addr = server.local_addr();
    for mut c in [udp_client(addr).await, tcp_client(addr).await] {
        let m = ask(&mut c, REGIONAL, RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.metadata.authoritative);
        assert_eq!(a_records(&m), vec![ip("127.20.1.4"), ip("127.20.2.4")]);
        assert!(m.answers.iter().all(|r| r.ttl == 60));
        let m = ask(&mut c, ZONAL_A, RecordType::A).await;
        assert_eq!(a_records(&m), vec![ip("127.20.1.4")]);
        let m = ask(&mut c, PRIVATE, RecordType::A).await;
        assert_eq!(a_records(&m), vec![ip("127.20.1.4"), ip("127.20.2.4")]);
        let m = ask(&mut c, REGIONAL, RecordType::AAAA).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty());
        assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
        let m = ask(&mut c, &format!("nope.{APEX}"), RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
        // An unknown type on one of our names: NODATA.
        let m = ask(&mut c, REGIONAL, RecordType::Unknown(65_280)).await;
        assert_eq!(
            (m.metadata.response_code, m.answers.len()),
            (ResponseCode::NoError, 0)
        );
        // Forwarded to the provider's authoritative server.
        let m = ask(&mut c, "www.provider.local", RecordType::A).await;
        assert_eq!(a_records(&m), vec![ip("192.0.2.10")]);
        assert!(!m.metadata.authoritative && m.metadata.recursion_available);
        let m = ask(&mut c, "nothing.provider.local", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        let m = ask(&mut c, "www.provider.local", RecordType::ANY).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NotImp);
    }
    server.stop().await;
    up.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_of_one_vpc_never_resolve_in_another() {
    let up = upstream().await;
    let consumer = resolver(&consumer_config(up.addr())).await;
    // Another VPC: its own endpoint, no private DNS name.
    let other_cfg = DnsConfig {
        resolver: ip("127.30.0.2"),
        vpc_cidrs: vec!["127.30.0.0/16".parse().unwrap()],
        zones: vec![APEX.into()],
        records: vec![DnsRecord {
            name: format!("vpce-0aaaaaaaaaaaaaaaa-zzzzzzzz.vpce-svc-0fedcba9876543210.{APEX}"),
            addrs: vec![ip("127.30.1.4")],
        }],
        upstreams: vec![up.addr()],
        serial: 1,
    };
    let other = resolver(&other_cfg).await;
    let mut c = udp_client(other.local_addr()).await;
    // The consumer's endpoint name is answered NXDOMAIN, locally (our zone, never forwarded).
    let m = ask(&mut c, REGIONAL, RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.metadata.authoritative);
    // The consumer's private name goes to public DNS, which has no address for it (only the
    // TXT record below it: NODATA).
    let m = ask(&mut c, PRIVATE, RecordType::A).await;
    assert!(!m.metadata.authoritative);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(a_records(&m).is_empty());
    // And the other way round.
    let mut c = udp_client(consumer.local_addr()).await;
    let m = ask(
        &mut c,
        &format!("vpce-0aaaaaaaaaaaaaaaa-zzzzzzzz.vpce-svc-0fedcba9876543210.{APEX}"),
        RecordType::A,
    )
    .await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    // A resolver refuses clients outside its VPC (here: 127.0.0.1 is outside 10.9.0.0/16).
    let mut outside = consumer_config(up.addr());
    outside.vpc_cidrs = vec!["10.9.0.0/16".parse().unwrap()];
    let strict = resolver(&outside).await;
    let mut c = udp_client(strict.local_addr()).await;
    for n in [REGIONAL, "www.provider.local"] {
        let m = ask(&mut c, n, RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::Refused, "{n}");
        assert!(m.answers.is_empty() && !m.metadata.recursion_available);
    }
    for s in [consumer, other, strict] {
        s.stop().await;
    }
    up.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_is_visible_to_the_next_query() {
    let up = upstream().await;
    let mut cfg = consumer_config(up.addr());
    let server = resolver(&cfg).await;
    let mut c = udp_client(server.local_addr()).await;
    assert_eq!(
        a_records(&ask(&mut c, PRIVATE, RecordType::A).await).len(),
        2
    );
    // The endpoint is rejected: its private name leaves the zone.
    cfg.records.retain(|r| r.name != PRIVATE);
    cfg.zones.retain(|z| z != PRIVATE);
    server.swap(zones(&cfg));
    // The very next query sees the swap.
    let m = ask(&mut c, PRIVATE, RecordType::A).await;
    assert!(a_records(&m).is_empty());
    assert!(!m.metadata.authoritative, "now forwarded to public DNS");
    // A new endpoint appears.
    cfg.records.push(DnsRecord {
        name: format!("new.{APEX}"),
        addrs: vec![ip("127.20.1.9")],
    });
    server.swap(zones(&cfg));
    let m = ask(&mut c, &format!("new.{APEX}"), RecordType::A).await;
    assert_eq!(a_records(&m), vec![ip("127.20.1.9")]);
    server.stop().await;
    up.stop().await;
}

fn raw_query(id: u16, n: &str, t: RecordType, edns: bool) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Question::query(name(n), t));
    if edns {
        let mut e = hickory_proto::op::Edns::new();
        e.set_max_payload(65_535);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

async fn udp_exchange(addr: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    s.connect(addr).await.unwrap();
    s.send(packet).await.unwrap();
    let mut buf = vec![0u8; 65_535];
    match tokio::time::timeout(Duration::from_millis(300), s.recv(&mut buf)).await {
        Ok(Ok(n)) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_answers_truncate_over_udp_and_come_whole_over_tcp() {
    let up = upstream().await;
    let server = resolver(&consumer_config(up.addr())).await;
    let addr = server.local_addr();
    let big = format!("big.{APEX}");
    // Measured amplification per query type (RELIABILITY item 80).
    for (t, edns) in [
        (RecordType::A, true),
        (RecordType::A, false),
        (RecordType::ANY, true),
        (RecordType::TXT, true),
        (RecordType::DNSKEY, true),
    ] {
        let q = raw_query(9, &big, t, edns);
        let r = udp_exchange(addr, &q).await.expect("a reply");
        let m = Message::from_vec(&r).unwrap();
        let limit = if edns { 1232 } else { 512 };
        assert!(r.len() <= limit, "{t} {} bytes", r.len());
        if matches!(t, RecordType::A | RecordType::ANY) {
            assert!(m.metadata.truncation, "{t}: 150 records must not fit");
        }
        let factor = r.len() as f64 / q.len() as f64;
        println!(
            "amplification {t} (EDNS {edns}): {} / {} bytes = {factor:.1}",
            r.len(),
            q.len()
        );
        assert!(factor < 25.0);
    }
    let mut c = tcp_client(addr).await;
    let m = ask(&mut c, &big, RecordType::A).await;
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 150);
    server.stop().await;
    up.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_never_stops_the_server() {
    let up = upstream().await;
    let server = resolver(&consumer_config(up.addr())).await;
    let addr = server.local_addr();
    let good = raw_query(1, REGIONAL, RecordType::A, true);
    let mut bad: Vec<Vec<u8>> = vec![
        vec![],
        vec![0; 5],
        vec![0xff; 12],
        vec![0xff; 600],
        good[..20].to_vec(),
    ];
    let mut qd = good[..12].to_vec();
    qd[4] = 0xff;
    qd[5] = 0xff;
    bad.push(qd);
    let mut looped = good[..12].to_vec();
    looped[11] = 0;
    looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    bad.push(looped);
    let mut trailing = good.clone();
    trailing.extend_from_slice(&[0; 40]);
    bad.push(trailing);
    // Deterministic pseudo-random garbage.
    let mut x: u32 = 0x1234_5678;
    for len in [13usize, 40, 100, 512, 1400] {
        let mut p = Vec::with_capacity(len);
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            p.push(u8::try_from(x & 0xff).unwrap());
        }
        p[2] &= 0x7f;
        bad.push(p);
    }
    for p in &bad {
        if let Some(r) = udp_exchange(addr, p).await {
            let code = r[3] & 0x0f;
            assert!(
                matches!(code, 1 | 4 | 5 | 2),
                "unexpected rcode {code} for {p:?}"
            );
        }
        // The same bytes over TCP, with their length.
        let mut s = TcpStream::connect(addr).await.unwrap();
        let mut framed = u16::try_from(p.len()).unwrap().to_be_bytes().to_vec();
        framed.extend_from_slice(p);
        s.write_all(&framed).await.unwrap();
        let mut buf = [0u8; 512];
        let _ = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await;
    }
    // A length prefix cut in half, and one that promises more than arrives.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&[0x00]).await.unwrap();
    drop(s);
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&[0x01, 0x00, 1, 2, 3]).await.unwrap();
    let mut buf = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "a lying length prefix must end in a close after the idle timeout: {closed:?}"
    );
    // Still serving.
    let r = udp_exchange(addr, &good).await.expect("still answers");
    assert_eq!(a_records(&Message::from_vec(&r).unwrap()).len(), 2);
    server.stop().await;
    up.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_connections_are_limited_idle_closed_and_pipelined() {
    let up = upstream().await;
    let server = resolver(&consumer_config(up.addr())).await;
    let addr = server.local_addr();
    // Four per source (the test's setting): the fifth is closed at once.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut fifth = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 16];
    let r = tokio::time::timeout(Duration::from_millis(300), fifth.read(&mut buf)).await;
    assert!(
        matches!(r, Ok(Ok(0)) | Ok(Err(_))),
        "fifth connection: {r:?}"
    );
    // Idle connections are closed after the idle timeout (400 ms here), freeing the slots.
    for s in &mut held {
        let r = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await;
        assert!(
            matches!(r, Ok(Ok(0)) | Ok(Err(_))),
            "idle connection: {r:?}"
        );
    }
    drop(held);
    tokio::time::sleep(Duration::from_millis(50)).await;
    // 1,000 pipelined queries on one connection: every one answered, in order.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut all = Vec::new();
    for id in 0..1000u16 {
        let q = raw_query(id, ZONAL_A, RecordType::A, false);
        all.extend_from_slice(&u16::try_from(q.len()).unwrap().to_be_bytes());
        all.extend_from_slice(&q);
    }
    let (mut rd, mut wr) = s.split();
    let reader = async {
        let mut ids = Vec::new();
        for _ in 0..1000 {
            let mut len = [0u8; 2];
            rd.read_exact(&mut len).await.unwrap();
            let mut m = vec![0u8; usize::from(u16::from_be_bytes(len))];
            rd.read_exact(&mut m).await.unwrap();
            ids.push(u16::from_be_bytes([m[0], m[1]]));
        }
        ids
    };
    let (ids, _) = tokio::time::timeout(Duration::from_secs(20), async {
        tokio::join!(reader, wr.write_all(&all))
    })
    .await
    .expect("all pipelined answers in time");
    assert_eq!(ids, (0..1000u16).collect::<Vec<_>>());
    server.stop().await;
    up.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_upstream_answers_are_ignored() {
    // A fake upstream that sends forgeries (wrong id, wrong question) before the real answer.
    let fake = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let fake_addr = fake.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((n, src)) = fake.recv_from(&mut buf).await else {
                return;
            };
            let q = Message::from_vec(&buf[..n]).unwrap();
            let question = q.queries[0].clone();
            let mut forged = Message::response(q.metadata.id.wrapping_add(1), OpCode::Query);
            forged.add_query(question.clone());
            forged.add_answer(hickory_proto::rr::Record::from_rdata(
                question.name().clone(),
                300,
                RData::A(hickory_proto::rr::rdata::A(ip("6.6.6.6"))),
            ));
            let _ = fake.send_to(&forged.to_vec().unwrap(), src).await;
            let mut other = Message::response(q.metadata.id, OpCode::Query);
            other.add_query(Question::query(name("bank.example"), RecordType::A));
            other.add_answer(hickory_proto::rr::Record::from_rdata(
                name("bank.example"),
                300,
                RData::A(hickory_proto::rr::rdata::A(ip("6.6.6.7"))),
            ));
            let _ = fake.send_to(&other.to_vec().unwrap(), src).await;
            let mut real = Message::response(q.metadata.id, OpCode::Query);
            real.add_query(question.clone());
            real.add_answer(hickory_proto::rr::Record::from_rdata(
                question.name().clone(),
                300,
                RData::A(hickory_proto::rr::rdata::A(ip("192.0.2.1"))),
            ));
            let _ = fake.send_to(&real.to_vec().unwrap(), src).await;
        }
    });
    let server = resolver(&consumer_config(fake_addr)).await;
    let mut c = udp_client(server.local_addr()).await;
    let m = ask(&mut c, "www.example.com", RecordType::A).await;
    assert_eq!(a_records(&m), vec![ip("192.0.2.1")]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txt_verification_success_wrong_value_missing_and_timeout() {
    let up = upstream().await;
    let wait = Duration::from_secs(2);
    let name = "_abc.web.service.provider.local";
    assert_eq!(
        check_txt(&[up.addr()], name, "vpce:right", wait).await,
        TxtCheck::Verified
    );
    assert_eq!(
        check_txt(&[up.addr()], name, "vpce:other", wait).await,
        TxtCheck::WrongValue(vec!["vpce:right".into()])
    );
    assert!(matches!(
        check_txt(
            &[up.addr()],
            "_zzz.web.service.provider.local",
            "vpce:right",
            wait
        )
        .await,
        TxtCheck::Missing(_)
    ));
    // A resolver that never answers: no answer within the wait, and the wait is honoured.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let r = check_txt(
        &[silent.local_addr().unwrap()],
        name,
        "vpce:right",
        Duration::from_millis(500),
    )
    .await;
    assert!(matches!(r, TxtCheck::NoAnswer(_)), "{r:?}");
    // The silent one first, then the real one: the real one still decides within the wait.
    let r = check_txt(
        &[silent.local_addr().unwrap(), up.addr()],
        name,
        "vpce:right",
        Duration::from_secs(3),
    )
    .await;
    assert_eq!(r, TxtCheck::Verified);
    up.stop().await;
}
