//! The per-connection hot path of the data plane (issue 6), without sockets: what each new
//! flow costs in the agents' own code before bytes move.
//!
//! - `preamble`: the consumer encodes the tunnel preamble, the gateway parses it.
//! - `stream_open`: the whole sans-IO exchange of one flow: the consumer's connector sends the
//!   preamble, the gateway's acceptor asks for the decision and admits, the connector parses the
//!   verdict (what a stream open is on an already-handshaken tunnel).
//! - `proxy_v2`: the gateway's PROXY v2 header with the endpoint-id TLV, encoded and parsed.
//! - `security_groups`, `network_acl`: the consumer's checks of a new flow against three groups
//!   of ten rules (the admitting rule last) and a twenty-entry ACL.
//!
//! `cargo bench -p underpass-proto --bench hot_path`. Figures are for comparison between
//! versions on one machine; the peers' equivalent is inside their C code, so the ratios that
//! matter are `bench/run`'s.
#![allow(missing_docs)] // criterion_group! generates an undocumented `pub fn benches`
#![allow(clippy::unwrap_used, clippy::expect_used)] // fixed inputs; a failure is a bench bug

use std::hint::black_box;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use underpass_domain::firewall::{
    evaluate_acl, evaluate_groups, AclEntry, Flow, IngressRule, PortRange, Protocol, RuleAction,
    Source,
};
use underpass_domain::{EndpointId, SecurityGroupId};
use underpass_proto::proxy_v2::{parse_proxy_v2, ProxyHeader};
use underpass_proto::tunnel::{
    accept, connect, parse_preamble, Preamble, TunnelAccept, TunnelConnect,
};

fn preamble() -> Preamble {
    Preamble {
        endpoint: EndpointId::from_bits(0x1234_5678_9abc),
        service_port: 443,
        client: "10.1.2.3:51234".parse().expect("address"),
        eni: "10.1.0.4:443".parse().expect("address"),
        flow_id: 42,
    }
}

/// One flow's tunnel exchange, start to admission; returns the connector's leftover length.
fn stream_open(p: &Preamble) -> usize {
    let now = Instant::now();
    let deadline = now + Duration::from_secs(5);
    let mut client = TunnelConnect::new(p, deadline);
    let mut gateway = TunnelAccept::new(p.endpoint, deadline);
    while let Some(out) = client.poll_output() {
        if let connect::Output::Send(bytes) = out {
            gateway.handle(now, accept::Input::Bytes(&bytes));
        }
    }
    let mut to_client = Vec::new();
    while let Some(out) = gateway.poll_output() {
        match out {
            accept::Output::Check(_) => gateway.handle(now, accept::Input::Decision(Ok(()))),
            accept::Output::Send(bytes) => to_client.extend_from_slice(&bytes),
            accept::Output::Admit { .. } | accept::Output::Close(_) => {}
        }
    }
    client.handle(now, connect::Input::Bytes(&to_client));
    let mut established = 0;
    while let Some(out) = client.poll_output() {
        if let connect::Output::Established { leftover } = out {
            established = leftover.len() + 1;
        }
    }
    established
}

fn groups() -> Vec<Vec<IngressRule>> {
    (0..3u8)
        .map(|g| {
            (0..10u8)
                .map(|r| IngressRule {
                    protocol: Protocol::Tcp,
                    ports: PortRange::new(Protocol::Tcp, 8000 + i32::from(r), 8000 + i32::from(r))
                        .expect("ports"),
                    source: if g == 2 && r == 9 {
                        Source::Cidr("10.1.0.0/16".parse().expect("cidr"))
                    } else {
                        Source::Group(SecurityGroupId::from_bits(
                            u128::from(g) * 100 + u128::from(r),
                        ))
                    },
                })
                .collect()
        })
        .collect()
}

fn acl() -> Vec<AclEntry> {
    (1..=20u16)
        .map(|n| AclEntry {
            number: n * 10,
            protocol: Protocol::Tcp,
            ports: PortRange::ALL,
            cidr: if n == 20 {
                "10.0.0.0/8".parse().expect("cidr")
            } else {
                format!("192.168.{n}.0/24").parse().expect("cidr")
            },
            action: RuleAction::Allow,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let p = preamble();
    assert!(stream_open(&p) > 0, "the exchange must admit");
    c.bench_function("preamble", |b| {
        b.iter(|| {
            let bytes = black_box(&p).encode();
            parse_preamble(black_box(&bytes)).expect("parses")
        })
    });
    c.bench_function("stream_open", |b| b.iter(|| stream_open(black_box(&p))));
    let src: SocketAddr = "10.1.2.3:51234".parse().expect("address");
    let dst: SocketAddr = "10.1.0.4:443".parse().expect("address");
    let header = ProxyHeader::tcp(src, dst).with_vpce_id(p.endpoint);
    c.bench_function("proxy_v2", |b| {
        b.iter(|| {
            let bytes = black_box(&header).encode().expect("encodes");
            parse_proxy_v2(black_box(&bytes)).expect("parses")
        })
    });
    let groups = groups();
    let refs: Vec<&[IngressRule]> = groups.iter().map(Vec::as_slice).collect();
    let client: IpAddr = "10.1.2.3".parse().expect("address");
    let flow = Flow {
        protocol: Protocol::Tcp,
        src: client,
        dst_port: 8009,
        src_groups: &[],
    };
    assert!(
        evaluate_groups(&refs, &flow).is_some(),
        "the last rule admits"
    );
    c.bench_function("security_groups", |b| {
        b.iter(|| evaluate_groups(black_box(&refs), black_box(&flow)).is_some())
    });
    let entries = acl();
    assert_eq!(evaluate_acl(&entries, &flow).0, RuleAction::Allow);
    c.bench_function("network_acl", |b| {
        b.iter(|| evaluate_acl(black_box(&entries), black_box(&flow)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
