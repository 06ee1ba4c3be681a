//! The agent's flow-log writer on a real directory: flow events in, gzip objects in AWS's layout
//! out; a place that cannot be written keeps the batches in the spool until it can, and a full
//! spool drops the oldest batch and says so with SKIPDATA.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use underpass_agent::{FlowLogSettings, FlowLogWriter};
use underpass_dataplane::{tcp_flags, FlowAction, FlowEvent, FlowReason, FlowSide, FlowSink};
use underpass_domain::{AgentId, EndpointId, EniId, FlowLogId, SubnetId, VpcId};
use underpass_flowlogs::{decode_text, Action, Field, FlowRecord, LogStatus};
use underpass_proto::sync::{AgentInfo, AgentState, FlowLogConfig, FlowLogInterface, TrustBundle};

const WAIT: Duration = Duration::from_secs(10);

fn eni() -> EniId {
    EniId::from_random(0xe1)
}

fn state(dir: &str, traffic: &str, format: &str) -> AgentState {
    AgentState {
        revision: 1,
        agent: AgentInfo {
            id: AgentId::from_random(1),
            account: "222222222222".into(),
            vpc: VpcId::from_random(2),
            zone: "us-east-1a".into(),
        },
        trust: TrustBundle {
            ca_pems: vec![],
            revoked_serials: vec![],
        },
        endpoints: vec![],
        gateways: vec![],
        dns: None,
        flow_logs: vec![FlowLogConfig {
            flow_log_id: FlowLogId::from_random(0xf1),
            account: "222222222222".into(),
            region: "us-east-1".into(),
            traffic_type: traffic.into(),
            max_aggregation_interval: 600,
            log_format: format.into(),
            destination_type: "file".into(),
            destination: dir.into(),
            file_format: "plain-text".into(),
            hive_compatible_partitions: false,
            per_hour_partition: false,
            interfaces: vec![FlowLogInterface {
                eni_id: eni(),
                account: "222222222222".into(),
                vpc_id: VpcId::from_random(2),
                subnet_id: SubnetId::from_random(3),
                zone: "us-east-1a".into(),
            }],
        }],
    }
}

fn event(port: u16, action: FlowAction) -> FlowEvent {
    let now = SystemTime::now();
    let mono = Instant::now();
    FlowEvent {
        flow_id: u64::from(port),
        side: FlowSide::Endpoint,
        interface_id: eni(),
        endpoint_id: Some(EndpointId::from_random(4)),
        src: SocketAddr::new([127, 0, 0, 55].into(), port),
        dst: "127.20.1.4:8080".parse().unwrap(),
        client: None,
        target: None,
        protocol: 6,
        bytes_in: 32,
        bytes_out: 180,
        packets_in: None,
        packets_out: None,
        start: now,
        end: now,
        start_instant: mono,
        end_instant: mono,
        tcp_flags_in: tcp_flags::SYN | tcp_flags::FIN,
        tcp_flags_out: tcp_flags::SYN_ACK | tcp_flags::FIN,
        action,
        reason: FlowReason::Closed,
    }
}

/// Every object under `dir`, decoded, with its path relative to `dir`.
fn objects(dir: &Path) -> Vec<(String, Vec<FlowRecord>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p: PathBuf = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                let (_, records) = decode_text(&std::fs::read(&p).unwrap())
                    .unwrap_or_else(|e| panic!("{rel}: {e}"));
                out.push((rel, records));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn events_become_objects_in_the_aws_layout() {
    let root = tempfile::tempdir().unwrap();
    let writer = FlowLogWriter::start(FlowLogSettings::new(root.path().into())).unwrap();
    writer.apply(&state(
        "dev",
        "ACCEPT",
        "${version} ${interface-id} ${srcaddr} ${srcport} ${dstport} ${bytes} ${action} ${log-status} ${tcp-flags} ${flow-direction} ${subnet-id} ${az-id}",
    ));
    let sink = writer.sink();
    sink.record(event(40000, FlowAction::Accept));
    sink.record(event(40001, FlowAction::Reject)); // filtered out: ACCEPT only
    assert!(writer.flush(WAIT));
    let objs = objects(root.path());
    assert_eq!(objs.len(), 1, "{objs:?}");
    let (key, records) = &objs[0];
    let fl = FlowLogId::from_random(0xf1);
    assert!(
        key.starts_with("dev/AWSLogs/222222222222/vpcflowlogs/us-east-1/")
            && key.contains(&format!("222222222222_vpcflowlogs_us-east-1_{fl}_"))
            && key.ends_with(".log.gz"),
        "{key}"
    );
    assert_eq!(records.len(), 2, "{records:?}");
    let ingress = &records[0];
    assert_eq!(ingress.interface_id, Some(eni().to_string()));
    assert_eq!(ingress.srcaddr, Some("127.0.0.55".parse().unwrap()));
    assert_eq!(ingress.srcport, Some(40000));
    assert_eq!(ingress.dstport, Some(8080));
    assert_eq!(ingress.bytes, Some(32));
    assert_eq!(ingress.action, Some(Action::Accept));
    assert_eq!(ingress.tcp_flags, Some(tcp_flags::SYN | tcp_flags::FIN));
    assert_eq!(ingress.flow_direction.as_deref(), Some("ingress"));
    assert_eq!(
        ingress.subnet_id,
        Some(SubnetId::from_random(3).to_string())
    );
    assert_eq!(ingress.az_id.as_deref(), Some("us-east-1a"));
    assert_eq!(records[1].bytes, Some(180));
    assert_eq!(records[1].value(Field::FlowDirection), "egress");
    assert_eq!(writer.stats().objects, 1);

    // An idle window is one NODATA record; a removed flow log writes its last window.
    assert!(writer.flush(WAIT));
    let objs = objects(root.path());
    assert_eq!(objs.len(), 2);
    assert!(objs
        .iter()
        .any(|(_, r)| r.len() == 1 && r[0].log_status == Some(LogStatus::NoData)));
    writer.shutdown();
}

#[test]
fn an_unwritable_destination_spools_then_resumes_and_a_full_spool_says_skipdata() {
    let root = tempfile::tempdir().unwrap();
    // A file where the destination directory should be: every write fails (as a full disk).
    let blocked = root.path().join("blocked");
    std::fs::write(&blocked, b"").unwrap();
    let mut settings = FlowLogSettings::new(root.path().into());
    settings.spool_records = 5;
    let writer = FlowLogWriter::start(settings).unwrap();
    writer.apply(&state("blocked", "ALL", underpass_flowlogs::DEFAULT_FORMAT));
    let sink = writer.sink();
    // Two records per accepted flow: 2 + 4 = 6 records in two windows > 5: the first goes.
    sink.record(event(1, FlowAction::Accept));
    assert!(writer.flush(WAIT));
    sink.record(event(2, FlowAction::Accept));
    sink.record(event(3, FlowAction::Accept));
    assert!(writer.flush(WAIT));
    let st = writer.stats();
    assert_eq!(st.objects, 0);
    assert!(st.write_errors >= 2, "{st:?}");
    assert_eq!(st.dropped_batches, 1, "{st:?}");
    assert!(st.last_error.is_some());

    // Space returns: the spooled batch and the next one (with its SKIPDATA) are written.
    std::fs::remove_file(&blocked).unwrap();
    sink.record(event(4, FlowAction::Reject));
    assert!(writer.flush(WAIT));
    let objs = objects(&root.path().join("blocked"));
    let records: Vec<&FlowRecord> = objs.iter().flat_map(|(_, r)| r).collect();
    let ports: Vec<u16> = records.iter().filter_map(|r| r.srcport).collect();
    assert!(
        ports.contains(&2) && ports.contains(&3) && ports.contains(&4),
        "{ports:?}"
    );
    assert!(!ports.contains(&1), "the dropped batch is not there");
    assert!(
        records
            .iter()
            .any(|r| r.log_status == Some(LogStatus::SkipData)),
        "{records:?}"
    );
    assert_eq!(writer.stats().objects, 2);
    writer.shutdown();
}

#[test]
fn a_destination_that_escapes_the_root_is_never_written() {
    let root = tempfile::tempdir().unwrap();
    let inner = root.path().join("root");
    std::fs::create_dir(&inner).unwrap();
    let writer = FlowLogWriter::start(FlowLogSettings::new(inner.clone())).unwrap();
    for bad in ["../escape", "/tmp/escape", "a/../../escape"] {
        writer.apply(&state(bad, "ALL", underpass_flowlogs::DEFAULT_FORMAT));
        writer.sink().record(event(9, FlowAction::Accept));
        assert!(writer.flush(WAIT));
    }
    assert!(objects(root.path()).is_empty());
    assert_eq!(writer.stats().objects, 0);
    writer.shutdown();
}
