//! Aggregator, layout and sink tests: windows, clock jumps, SKIPDATA, filtering, the AWS object
//! layout, and gzip text that round-trips through `FlowRecord::parse`.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::aggregate::tcp_flags::{FIN, RST, SYN, SYN_ACK};
use crate::*;

const T0: u64 = 1_700_000_000; // 2023-11-14T22:13:20Z

fn wall(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn iface(id: &str) -> InterfaceInfo {
    InterfaceInfo {
        interface_id: id.into(),
        account_id: "222222222222".into(),
        vpc_id: Some("vpc-0000000000000000a".into()),
        subnet_id: Some("subnet-0000000000000000b".into()),
        az_id: Some("us-east-1a".into()),
    }
}

fn spec(id: &str, traffic: TrafficType, interval: u64, ifaces: &[&str]) -> FlowLogSpec {
    FlowLogSpec {
        id: id.into(),
        account_id: "222222222222".into(),
        region: "us-east-1".into(),
        format: FlowLogFormat::parse(
            "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${vpc-id} ${subnet-id} ${tcp-flags} ${pkt-srcaddr} ${region} ${az-id} ${flow-direction}",
        )
        .unwrap(),
        traffic,
        interval: Duration::from_secs(interval),
        destination: Destination::File { dir: "dev".into() },
        options: DestinationOptions::default(),
        interfaces: ifaces.iter().map(|i| iface(i)).collect(),
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn obs(
    iface: &str,
    action: Action,
    client_port: u16,
    first: Instant,
    last: Instant,
) -> Observation {
    Observation {
        interface_id: iface.into(),
        action,
        local: addr("127.20.1.4:8080"),
        peer: SocketAddr::new([127, 0, 0, 55].into(), client_port),
        original_src: None,
        protocol: 6,
        first,
        last,
        bytes_in: 32,
        bytes_out: 180,
        packets_in: None,
        packets_out: None,
        flags_in: SYN | FIN,
        flags_out: SYN_ACK | FIN,
    }
}

fn drain(a: &mut Aggregator) -> Vec<Batch> {
    std::iter::from_fn(|| a.poll_output()).collect()
}

#[test]
fn one_window_two_directions_and_nodata() {
    let t = Instant::now();
    let mut a = Aggregator::new();
    a.set_flow_logs(
        t,
        wall(T0),
        vec![spec("fl-1", TrafficType::All, 60, &["eni-a", "eni-b"])],
    );
    assert_eq!(a.poll_timeout(), Some(t + Duration::from_secs(60)));
    let o = obs(
        "eni-a",
        Action::Accept,
        40000,
        t + Duration::from_secs(10),
        t + Duration::from_secs(12),
    );
    a.handle_flow(&o);
    // Not due yet.
    a.handle_timeout(t + Duration::from_secs(59), wall(T0 + 59));
    assert!(a.poll_output().is_none());
    a.handle_timeout(t + Duration::from_secs(60), wall(T0 + 60));
    let batches = drain(&mut a);
    assert_eq!(batches.len(), 1);
    let b = &batches[0];
    assert_eq!((b.start, b.end), (T0, T0 + 60));
    assert_eq!(b.records.len(), 3, "{:#?}", b.records);
    let (ing, eg, nodata) = (&b.records[0], &b.records[1], &b.records[2]);
    assert_eq!(ing.flow_direction.as_deref(), Some("ingress"));
    assert_eq!(ing.srcaddr, Some("127.0.0.55".parse().unwrap()));
    assert_eq!(ing.srcport, Some(40000));
    assert_eq!(ing.dstport, Some(8080));
    assert_eq!(ing.bytes, Some(32));
    assert_eq!(ing.tcp_flags, Some(SYN | FIN));
    assert_eq!((ing.start, ing.end), (Some(T0 + 10), Some(T0 + 12)));
    assert_eq!(eg.flow_direction.as_deref(), Some("egress"));
    assert_eq!(eg.srcaddr, Some("127.20.1.4".parse().unwrap()));
    assert_eq!(eg.dstport, Some(40000));
    assert_eq!(eg.bytes, Some(180));
    assert_eq!(eg.tcp_flags, Some(SYN_ACK | FIN));
    assert_eq!(nodata.interface_id.as_deref(), Some("eni-b"));
    assert_eq!(nodata.log_status, Some(LogStatus::NoData));
    assert_eq!((nodata.start, nodata.end), (Some(T0), Some(T0 + 60)));
    // The next window starts where this one ended; an idle window is all NODATA.
    a.handle_timeout(t + Duration::from_secs(120), wall(T0 + 120));
    let b = drain(&mut a);
    assert_eq!((b[0].start, b[0].end), (T0 + 60, T0 + 120));
    assert!(b[0]
        .records
        .iter()
        .all(|r| r.log_status == Some(LogStatus::NoData)));
}

#[test]
fn observations_of_one_flow_merge_and_flows_stay_in_their_window() {
    let t = Instant::now();
    let mut a = Aggregator::new();
    a.set_flow_logs(
        t,
        wall(T0),
        vec![spec("fl-1", TrafficType::All, 60, &["eni-a"])],
    );
    // A long flow: seen in window 1, then again (its rest) in window 2.
    a.handle_flow(&obs(
        "eni-a",
        Action::Accept,
        1,
        t,
        t + Duration::from_secs(50),
    ));
    a.handle_flow(&obs(
        "eni-a",
        Action::Accept,
        1,
        t + Duration::from_secs(51),
        t + Duration::from_secs(55),
    ));
    a.handle_timeout(t + Duration::from_secs(60), wall(T0 + 60));
    let first = drain(&mut a);
    assert_eq!(first[0].records.len(), 2);
    assert_eq!(first[0].records[0].bytes, Some(64));
    assert_eq!(first[0].records[0].end, Some(T0 + 55));
    // Its last part started before window 2 opened: clamped to the window's start.
    a.handle_flow(&obs(
        "eni-a",
        Action::Accept,
        1,
        t + Duration::from_secs(30),
        t + Duration::from_secs(70),
    ));
    a.handle_timeout(t + Duration::from_secs(120), wall(T0 + 120));
    let second = drain(&mut a);
    let r = &second[0].records[0];
    assert_eq!((r.start, r.end), (Some(T0 + 60), Some(T0 + 70)));
    assert_eq!(r.bytes, Some(32));
}

#[test]
fn traffic_type_filters_and_rejects_have_no_egress_record() {
    let t = Instant::now();
    let mut a = Aggregator::new();
    a.set_flow_logs(
        t,
        wall(T0),
        vec![
            spec("fl-accept", TrafficType::Accept, 60, &["eni-a"]),
            spec("fl-reject", TrafficType::Reject, 60, &["eni-a"]),
            spec("fl-all", TrafficType::All, 60, &["eni-a"]),
            spec("fl-other", TrafficType::All, 60, &["eni-z"]),
        ],
    );
    a.handle_flow(&obs("eni-a", Action::Accept, 1, t, t));
    let mut rej = obs("eni-a", Action::Reject, 2, t, t);
    rej.flags_in = SYN;
    rej.bytes_in = 0;
    a.handle_flow(&rej);
    a.flush(t + Duration::from_secs(5), wall(T0 + 5));
    let by_id = |id: &str, batches: &[Batch]| -> Vec<(Action, String)> {
        batches
            .iter()
            .find(|b| b.flow_log_id == id)
            .unwrap()
            .records
            .iter()
            .map(|r| {
                (
                    r.action.unwrap_or(Action::Accept),
                    r.value(Field::LogStatus),
                )
            })
            .collect()
    };
    let batches = drain(&mut a);
    assert_eq!(
        by_id("fl-accept", &batches),
        vec![(Action::Accept, "OK".into()), (Action::Accept, "OK".into())]
    );
    assert_eq!(
        by_id("fl-reject", &batches),
        vec![(Action::Reject, "OK".into())]
    );
    assert_eq!(by_id("fl-all", &batches).len(), 3);
    let other = batches
        .iter()
        .find(|b| b.flow_log_id == "fl-other")
        .unwrap();
    assert_eq!(other.records.len(), 1);
    assert_eq!(other.records[0].log_status, Some(LogStatus::NoData));
    let reject = &batches
        .iter()
        .find(|b| b.flow_log_id == "fl-reject")
        .unwrap()
        .records[0];
    assert_eq!(reject.tcp_flags, Some(SYN));
    assert_eq!(reject.flow_direction.as_deref(), Some("ingress"));
    // A flush closes windows early; the labels still advance.
    assert_eq!(
        (batches[0].start, batches[0].end),
        (T0, T0 + 5),
        "{batches:?}"
    );
}

#[test]
fn wall_clock_jumps_never_move_labels_backwards_nor_lose_records() {
    let t = Instant::now();
    let mut a = Aggregator::new();
    a.set_flow_logs(
        t,
        wall(T0),
        vec![spec("fl-1", TrafficType::All, 60, &["eni-a"])],
    );
    let hour = 3600;
    // Wall clock per window: normal, back 1 h, back 1 h still, forward 1 h (recovered), +1 h.
    let walls = [
        T0 + 60,
        T0 + 120 - hour,
        T0 + 180 - hour,
        T0 + 240,
        T0 + 300 + hour,
        T0 + 360 + hour,
    ];
    let mut labels = vec![T0];
    let mut records = 0;
    for (k, w) in walls.iter().enumerate() {
        let base = t + Duration::from_secs(60 * k as u64);
        // One flow in the middle of each window (monotonic time).
        a.handle_flow(&obs(
            "eni-a",
            Action::Accept,
            1000 + k as u16,
            base + Duration::from_secs(20),
            base + Duration::from_secs(40),
        ));
        a.handle_timeout(base + Duration::from_secs(60), wall(*w));
        let b = drain(&mut a);
        assert_eq!(b.len(), 1, "one batch per window");
        let b = &b[0];
        assert!(b.end > b.start, "window {k}: {} .. {}", b.start, b.end);
        assert_eq!(b.start, *labels.last().unwrap(), "windows are contiguous");
        labels.push(b.end);
        for r in &b.records {
            let (s, e) = (r.start.unwrap(), r.end.unwrap());
            assert!(s <= e, "negative duration in window {k}: {r:?}");
            assert!(
                b.start <= s && e <= b.end,
                "record outside its window: {r:?}"
            );
            let client_port = match r.flow_direction.as_deref() {
                Some("ingress") => r.srcport,
                _ => r.dstport,
            };
            assert_eq!(client_port, Some(1000 + k as u16));
        }
        records += b.records.len();
    }
    assert!(labels.windows(2).all(|w| w[0] < w[1]), "{labels:?}");
    // No lost or duplicated records: two per flow, one flow per window.
    assert_eq!(records, 2 * walls.len());
    // After the backward jump, labels crawl one second per window; after the forward jumps
    // they follow the wall clock again.
    assert_eq!(labels[2], T0 + 61);
    assert_eq!(labels[3], T0 + 62);
    assert_eq!(labels[4], T0 + 240);
    assert_eq!(labels[6], T0 + 360 + hour);
}

#[test]
fn drops_and_bounds_give_skipdata() {
    let t = Instant::now();
    let mut a = Aggregator::new().with_max_records(2);
    a.set_flow_logs(
        t,
        wall(T0),
        vec![spec("fl-1", TrafficType::All, 60, &["eni-a", "eni-b"])],
    );
    // Upstream queue drops: every interface gets SKIPDATA in this window only.
    a.handle_lost(3);
    a.handle_timeout(t + Duration::from_secs(60), wall(T0 + 60));
    let b = drain(&mut a);
    assert_eq!(b[0].records.len(), 2);
    assert!(b[0]
        .records
        .iter()
        .all(|r| r.log_status == Some(LogStatus::SkipData)));
    // The per-window bound: two records fit (one flow), the next flow is skipped.
    let t1 = t + Duration::from_secs(60);
    a.handle_flow(&obs("eni-a", Action::Accept, 1, t1, t1));
    a.handle_flow(&obs("eni-a", Action::Accept, 2, t1, t1));
    a.handle_timeout(t + Duration::from_secs(120), wall(T0 + 120));
    let b = drain(&mut a).remove(0);
    let statuses: Vec<String> = b
        .records
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.value(Field::InterfaceId),
                r.value(Field::LogStatus)
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec!["eni-a OK", "eni-a OK", "eni-a SKIPDATA", "eni-b NODATA"]
    );
    assert_eq!(a.stats().skipped, 3 + 2);
    // A batch the writer had to drop: SKIPDATA for its window comes with the next batch.
    a.handle_lost_batch(&b);
    a.handle_timeout(t + Duration::from_secs(180), wall(T0 + 180));
    let next = drain(&mut a).remove(0);
    // Both interfaces had records in the lost batch (eni-b its NODATA), then this window's NODATA.
    assert_eq!(next.records.len(), 4, "{:?}", next.records);
    for (skip, iface) in next.records[..2].iter().zip(["eni-a", "eni-b"]) {
        assert_eq!(skip.log_status, Some(LogStatus::SkipData));
        assert_eq!(skip.interface_id.as_deref(), Some(iface));
        assert_eq!((skip.start, skip.end), (Some(T0 + 60), Some(T0 + 120)));
    }
}

#[test]
fn removed_flow_logs_flush_their_last_window() {
    let t = Instant::now();
    let mut a = Aggregator::new();
    a.set_flow_logs(
        t,
        wall(T0),
        vec![
            spec("fl-1", TrafficType::All, 600, &["eni-a"]),
            spec("fl-2", TrafficType::All, 60, &["eni-a"]),
        ],
    );
    assert_eq!(a.poll_timeout(), Some(t + Duration::from_secs(60)));
    a.handle_flow(&obs("eni-a", Action::Accept, 1, t, t));
    a.set_flow_logs(
        t + Duration::from_secs(5),
        wall(T0 + 5),
        vec![spec("fl-2", TrafficType::All, 60, &["eni-a"])],
    );
    let b = drain(&mut a);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].flow_log_id, "fl-1");
    assert_eq!(a.flow_log_ids(), vec!["fl-2".to_owned()]);
    a.set_flow_logs(t, wall(T0 + 6), vec![]);
    assert_eq!(drain(&mut a)[0].flow_log_id, "fl-2");
    assert_eq!(a.poll_timeout(), None);
}

fn sample_batch() -> Batch {
    let t = Instant::now();
    let mut a = Aggregator::new();
    a.set_flow_logs(
        t,
        wall(T0),
        vec![spec(
            "fl-0123456789abcdef0",
            TrafficType::All,
            60,
            &["eni-a"],
        )],
    );
    let mut o = obs(
        "eni-a",
        Action::Accept,
        40000,
        t,
        t + Duration::from_secs(1),
    );
    o.packets_in = Some(5);
    o.original_src = Some("127.0.0.77".parse().unwrap());
    a.handle_flow(&o);
    let mut r = obs("eni-a", Action::Reject, 40001, t, t);
    r.flags_in = RST;
    a.handle_flow(&r);
    a.flush(t + Duration::from_secs(2), wall(T0 + 2));
    a.poll_output().unwrap()
}

#[test]
fn object_keys_follow_the_aws_layout_and_are_deterministic() {
    let b = sample_batch();
    let key = object_key(&b, "agent-1");
    let prefix = "AWSLogs/222222222222/vpcflowlogs/us-east-1/2023/11/14/222222222222_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20231114T2213Z_";
    assert!(key.starts_with(prefix), "{key}");
    assert!(key.ends_with(".log.gz"), "{key}");
    let hash = &key[prefix.len()..key.len() - ".log.gz".len()];
    assert_eq!(hash.len(), 8);
    assert!(hash.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        key,
        object_key(&b, "agent-1"),
        "retries land on the same key"
    );
    assert_ne!(key, object_key(&b, "agent-2"), "agents never collide");
}

#[test]
fn gzip_text_round_trips_through_parse() {
    let b = sample_batch();
    let bytes = encode_text(&b);
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip magic");
    let (format, records) = decode_text(&bytes).unwrap();
    assert_eq!(format, b.format);
    // Only the fields of the format survive; they compare equal field by field.
    for (got, want) in records.iter().zip(&b.records) {
        assert_eq!(got.to_line(&format), want.to_line(&b.format));
    }
    assert_eq!(records.len(), b.records.len());
    assert_eq!(records[0].pkt_srcaddr, Some("127.0.0.77".parse().unwrap()));
    assert_eq!(records[0].packets, Some(5));
    assert!(decode_text(b"not gzip").is_err());
}

#[test]
fn hostile_values_stay_on_one_line() {
    let mut b = sample_batch();
    for r in &mut b.records {
        r.vpc_id = Some("vpc-1\nINJECTED 2 3".into());
        r.subnet_id = Some("subnet x\r\ny".into());
        r.az_id = Some(String::new());
    }
    let bytes = encode_text(&b);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text)
        .unwrap();
    assert_eq!(text.lines().count(), 1 + b.records.len(), "{text}");
    let (format, records) = decode_text(&bytes).unwrap();
    assert_eq!(records.len(), b.records.len());
    assert_eq!(records[0].vpc_id.as_deref(), Some("vpc-1?INJECTED?2?3"));
    assert_eq!(format.fields().len(), b.format.fields().len());
}

#[test]
fn file_sink_writes_atomically_under_its_root_only() {
    let dir = tempfile::tempdir().unwrap();
    let b = sample_batch();
    let sink = FileSink::new(dir.path(), &b.destination).unwrap();
    let key = object_key(&b, "agent-1");
    sink.put(&key, &encode_text(&b)).unwrap();
    let path = dir.path().join("dev").join(&key);
    let (_, records) = decode_text(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(records.len(), b.records.len());
    // Putting the same key again replaces the object; no temporary file is left behind.
    sink.put(&key, &encode_text(&b)).unwrap();
    let names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    for bad in ["../x.log.gz", "/etc/x", "a/./b", "a/.hidden", "", "a//b"] {
        assert!(
            matches!(sink.put(bad, b"x"), Err(SinkError::BadPath(_))),
            "{bad:?}"
        );
    }
    for bad in ["../up", "/tmp", "a/../../b"] {
        let d = Destination::File { dir: bad.into() };
        assert!(matches!(
            FileSink::new(dir.path(), &d),
            Err(SinkError::BadPath(_))
        ));
    }
    let s3 = Destination::S3 {
        bucket: "b".into(),
        prefix: String::new(),
    };
    assert!(matches!(
        FileSink::new(dir.path(), &s3),
        Err(SinkError::Unsupported(_))
    ));
    // An unwritable place fails cleanly (a file where the directory should be).
    std::fs::write(dir.path().join("blocked"), b"").unwrap();
    let blocked = FileSink::new(
        dir.path(),
        &Destination::File {
            dir: "blocked".into(),
        },
    )
    .unwrap();
    assert!(matches!(blocked.put(&key, b"x"), Err(SinkError::Io { .. })));
}
