//! Parquet encoding of one batch of 1,000,000 realistic records, on one core: the default
//! version 2 format, and a version 5 custom format with the VPC fields. The target is over
//! 1 million records per second. Run: `cargo bench -p underpass-flowlogs --bench parquet`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use underpass_flowlogs::{
    encode_parquet, Batch, Destination, DestinationOptions, FileFormat, FlowLogFormat, FlowRecord,
    Synthetic,
};

const RECORDS: usize = 1_000_000;

/// Records as an agent with 50 interfaces and a few thousand clients produces them (the
/// library's synthetic generator: ingress and egress pairs, some REJECTs, a few NODATA records).
fn records() -> Vec<FlowRecord> {
    let mut g = Synthetic::new(1, 5);
    (0..RECORDS as u64)
        .map(|i| g.record(i, 1_700_000_000))
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
