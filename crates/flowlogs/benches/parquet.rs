//! Parquet encoding of one batch of 1,000,000 realistic records, on one core: the default
//! version 2 format, and a version 5 custom format with the VPC fields. The target is over
//! 1 million records per second. Run: `cargo bench -p underpass-flowlogs --bench parquet`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use underpass_flowlogs::{
    encode_parquet, Action, Batch, Destination, DestinationOptions, FileFormat, FlowLogFormat,
    FlowRecord, LogStatus,
};

const RECORDS: usize = 1_000_000;

/// Records as an agent with 50 interfaces and a few thousand clients produces them: ingress
/// and egress pairs, some REJECTs, a few NODATA records.
fn records() -> Vec<FlowRecord> {
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    (0..RECORDS)
        .map(|i| {
            let r = next();
            let eni = format!("eni-0{:016x}", r % 50);
            let start = 1_700_000_000 + (r >> 8) % 600;
            if i % 1000 == 999 {
                return FlowRecord::status_only(
                    5,
                    "123456789012",
                    &eni,
                    1_700_000_000,
                    1_700_000_600,
                    LogStatus::NoData,
                );
            }
            let client = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | ((r >> 16) as u32 & 0xffff)));
            let server = IpAddr::V4(Ipv4Addr::new(172, 31, (r % 50) as u8, 10));
            let port = 1024 + ((r >> 32) % 60_000) as u16;
            let reject = r % 50 == 0;
            let egress = i % 2 == 1 && !reject;
            let (src, dst, sport, dport) = if egress {
                (server, client, 443, port)
            } else {
                (client, server, port, 443)
            };
            FlowRecord {
                version: Some(5),
                account_id: Some("123456789012".into()),
                interface_id: Some(eni),
                srcaddr: Some(src),
                dstaddr: Some(dst),
                srcport: Some(sport),
                dstport: Some(dport),
                protocol: Some(6),
                packets: Some(1 + (r >> 40) % 5000),
                bytes: Some(40 + (r >> 20) % 10_000_000),
                start: Some(start),
                end: Some(start + (r >> 50) % 60),
                action: Some(if reject {
                    Action::Reject
                } else {
                    Action::Accept
                }),
                log_status: Some(LogStatus::Ok),
                vpc_id: Some("vpc-0123456789abcdef0".into()),
                subnet_id: Some(format!("subnet-0{:016x}", r % 6)),
                instance_id: None,
                tcp_flags: Some(if reject { 2 } else { 19 }),
                traffic_type: Some("IPv4".into()),
                pkt_srcaddr: Some(src),
                pkt_dstaddr: Some(dst),
                region: Some("us-east-1".into()),
                az_id: Some(format!("use1-az{}", r % 6 + 1)),
                flow_direction: Some(if egress { "egress" } else { "ingress" }.into()),
                ..FlowRecord::default()
            }
        })
        .collect()
}

fn batch(format: &str, records: Vec<FlowRecord>) -> Batch {
    Batch {
        flow_log_id: "fl-0123456789abcdef0".into(),
        account_id: "123456789012".into(),
        region: "us-east-1".into(),
        destination: Destination::File { dir: "dev".into() },
        options: DestinationOptions {
            file_format: FileFormat::Parquet,
            ..DestinationOptions::default()
        },
        format: FlowLogFormat::parse(format).unwrap(),
        start: 1_700_000_000,
        end: 1_700_000_600,
        records,
    }
}

fn encode(c: &mut Criterion) {
    let records = records();
    let v2 = batch(underpass_flowlogs::DEFAULT_FORMAT, records.clone());
    let v5 = batch("${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${vpc-id} ${subnet-id} ${tcp-flags} ${type} ${pkt-srcaddr} ${pkt-dstaddr} ${region} ${az-id} ${flow-direction}", records);
    let mut g = c.benchmark_group("parquet");
    g.sample_size(10);
    g.throughput(Throughput::Elements(RECORDS as u64));
    for (name, b) in [("encode_1m_v2", &v2), ("encode_1m_v5_23_fields", &v5)] {
        let size = encode_parquet(b).unwrap().len();
        eprintln!("{name}: {size} bytes");
        g.bench_function(name, |bench| bench.iter(|| encode_parquet(b).unwrap()));
    }
    g.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
