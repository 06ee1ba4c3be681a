//! Answers per second on one core for endpoint names: bytes in, bytes out, no sockets. The same
//! zone (100 endpoints, each with a regional name and three zonal names) is answered by
//! Underpass's resolver ([`underpass_dns::handle`]) and by a stock hickory-server authority
//! (its `Catalog` over an `InMemoryZoneHandler`, called the way hickory's server calls it), in
//! the same run. Also: the 500-name response encoding of RELIABILITY item 83.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hickory_net::runtime::TokioTime;
use hickory_net::xfer::Protocol;
use hickory_net::NetError;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, Record, RecordType};
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use underpass_dns::authority::catalog_with;
use underpass_dns::{handle, Handled, Transport, ZoneSet};
use underpass_proto::sync::{DnsConfig, DnsRecord};

const APEX: &str = "us-east-1.vpce.underpass.internal";
const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

/// (name, addresses) of 100 endpoints: regional names answer three addresses, zonal one.
fn records() -> Vec<(String, Vec<Ipv4Addr>)> {
    let mut out = Vec::new();
    for i in 0..100u32 {
        let id = format!("vpce-{i:017x}");
        let svc = format!("vpce-svc-{:017x}", i % 7);
        let regional = format!("{id}-abcd{i:04}.{svc}.{APEX}");
        let addrs: Vec<Ipv4Addr> = (0..3u8)
            .map(|z| {
                Ipv4Addr::new(
                    10,
                    z + 1,
                    u8::try_from(i / 250).unwrap(),
                    u8::try_from(i % 250).unwrap() + 4,
                )
            })
            .collect();
        for (z, zone) in ZONES.iter().enumerate() {
            let (first, rest) = regional.split_once('.').unwrap();
            out.push((format!("{first}-{zone}.{rest}"), vec![addrs[z]]));
        }
        out.push((regional, addrs));
    }
    out
}

fn query_packets(names: &[String]) -> Vec<Vec<u8>> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut m = Message::new(u16::try_from(i).unwrap(), MessageType::Query, OpCode::Query);
            m.metadata.recursion_desired = true;
            m.add_query(Query::query(
                Name::from_ascii(format!("{n}.")).unwrap(),
                RecordType::A,
            ));
            let mut e = Edns::new();
            e.set_max_payload(1232);
            m.set_edns(e);
            m.to_vec().unwrap()
        })
        .collect()
}

/// Captures hickory's encoded response, as its UDP response handle would send it.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

#[async_trait::async_trait]
impl ResponseHandler for Capture {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let mut out = self.0.lock().unwrap();
        out.clear();
        let mut encoder = BinEncoder::new(&mut out);
        encoder.set_max_size(1232);
        Ok(response.destructive_emit(&mut encoder)?)
    }
}

fn answers(c: &mut Criterion) {
    let recs = records();
    let names: Vec<String> = recs.iter().map(|(n, _)| n.clone()).collect();
    let packets = query_packets(&names);
    let cfg = DnsConfig {
        resolver: Ipv4Addr::new(10, 0, 0, 2),
        vpc_cidrs: vec!["10.0.0.0/8".parse().unwrap()],
        zones: vec![APEX.into()],
        records: recs
            .iter()
            .map(|(name, addrs)| DnsRecord {
                name: name.clone(),
                addrs: addrs.clone(),
            })
            .collect(),
        upstreams: vec![],
        serial: 1,
    };
    let (zones, rejected) = ZoneSet::build(&cfg);
    assert!(rejected.is_empty());
    let client = IpAddr::V4(Ipv4Addr::new(10, 1, 0, 9));
    let flat: Vec<(String, Ipv4Addr)> = recs
        .iter()
        .flat_map(|(n, a)| a.iter().map(move |ip| (n.clone(), *ip)))
        .collect();
    let catalog = catalog_with(APEX, &flat).unwrap();
    let src: SocketAddr = "10.1.0.9:5353".parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();

    // Both answer every name the same way before anything is timed.
    let capture = Capture::default();
    for p in &packets {
        let Handled::Reply(ours) = handle(&zones, p, client, Transport::Udp) else {
            panic!("no reply");
        };
        let req = Request::from_bytes(p.clone(), src, Protocol::Udp).unwrap();
        rt.block_on(catalog.handle_request::<_, TokioTime>(&req, capture.clone()));
        let theirs = Message::from_vec(&capture.0.lock().unwrap()).unwrap();
        let ours = Message::from_vec(&ours).unwrap();
        let mut a: Vec<String> = ours.answers.iter().map(|r| r.data.to_string()).collect();
        let mut b: Vec<String> = theirs.answers.iter().map(|r| r.data.to_string()).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }

    let mut g = c.benchmark_group("endpoint_name_answers");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(5));
    let mut i = 0usize;
    g.bench_function("underpass", |b| {
        b.iter(|| {
            i = (i + 1) % packets.len();
            black_box(handle(
                &zones,
                black_box(&packets[i]),
                client,
                Transport::Udp,
            ))
        })
    });
    let mut i = 0usize;
    g.bench_function("hickory_catalog", |b| {
        b.iter(|| {
            i = (i + 1) % packets.len();
            let req = Request::from_bytes(packets[i].clone(), src, Protocol::Udp).unwrap();
            black_box(rt.block_on(catalog.handle_request::<_, TokioTime>(&req, capture.clone())))
        })
    });
    g.finish();

    // RELIABILITY item 83: a 500-name answer encodes in linear time (the compression fix of
    // hickory-proto 0.26.1); compare 250 and 500 names.
    let mut g = c.benchmark_group("encode_many_names");
    for n in [250usize, 500] {
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        for (name, addrs) in recs.iter().cycle().take(n) {
            m.add_answer(Record::from_rdata(
                Name::from_ascii(format!("{name}.")).unwrap(),
                60,
                hickory_proto::rr::RData::A(hickory_proto::rr::rdata::A(addrs[0])),
            ));
        }
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("{n}_names"), |b| {
            b.iter(|| black_box(m.to_vec().unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, answers);
criterion_main!(benches);
