//! The agent's flow-log writer on real stores: flow events in, gzip text or Parquet objects in
//! AWS's layouts out, on a directory, a full tmpfs and a real S3-compatible server (moto); a
//! place that cannot be written keeps the batches in the spool until it can, and a full spool
//! drops the oldest batch and says so with SKIPDATA.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{eni, event, state, state_with};
use underpass_agent::{FlowLogSettings, FlowLogWriter};
use underpass_dataplane::{tcp_flags, FlowAction, FlowSink};
use underpass_domain::{FlowLogId, SubnetId};
use underpass_flowlogs::{decode_parquet, decode_text, Action, Field, FlowRecord, LogStatus};
use underpass_proto::sync::FlowLogDelivery;

const WAIT: Duration = Duration::from_secs(10);

/// Reads an object of either format (by its name).
fn decode_object(name: &str, bytes: &[u8]) -> Vec<FlowRecord> {
    if name.ends_with(".log.parquet") {
        decode_parquet(bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
    } else {
        assert!(name.ends_with(".log.gz"), "{name}");
        decode_text(bytes)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .1
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
                let records = decode_object(&rel, &std::fs::read(&p).unwrap());
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
    let fl = FlowLogId::from_bits(0xf1);
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
    assert_eq!(ingress.subnet_id, Some(SubnetId::from_bits(3).to_string()));
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
    // What the health report tells the control plane (DescribeFlowLogs: FAILED).
    let fl = FlowLogId::from_bits(0xf1).to_string();
    assert_eq!(
        writer.delivery(),
        vec![FlowLogDelivery {
            flow_log_id: fl.clone(),
            error: Some("Unknown error".into())
        }]
    );

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
    assert_eq!(
        writer.delivery(),
        vec![FlowLogDelivery {
            flow_log_id: fl,
            error: None
        }],
        "delivered again"
    );
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

#[test]
fn parquet_and_hive_options_write_parquet_objects_in_the_hive_layout() {
    let root = tempfile::tempdir().unwrap();
    let writer = FlowLogWriter::start(FlowLogSettings::new(root.path().into())).unwrap();
    let format = "${version} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${packets} ${bytes} ${action} ${log-status} ${flow-direction}";
    writer.apply(&state_with(
        ("file", "pq"),
        "ALL",
        format,
        ("parquet", true, true),
    ));
    let sink = writer.sink();
    sink.record(event(40000, FlowAction::Accept));
    sink.record(event(40001, FlowAction::Reject));
    assert!(writer.flush(WAIT));
    let objs = objects(&root.path().join("pq"));
    assert_eq!(objs.len(), 1, "{objs:?}");
    let (key, records) = &objs[0];
    let fl = FlowLogId::from_bits(0xf1);
    assert!(
        key.starts_with("AWSLogs/aws-account-id=222222222222/aws-service=vpcflowlogs/aws-region=us-east-1/year=")
            && key.contains("/hour=")
            && key.contains(&format!("222222222222_vpcflowlogs_us-east-1_{fl}_"))
            && key.ends_with(".log.parquet"),
        "{key}"
    );
    // Accepted: ingress and egress; rejected: ingress only. Packets unknown: NULL.
    assert_eq!(records.len(), 3, "{records:?}");
    assert_eq!(records[0].srcport, Some(40000));
    assert_eq!(records[0].bytes, Some(32));
    assert_eq!(records[0].packets, None);
    assert_eq!(records[0].flow_direction.as_deref(), Some("ingress"));
    assert_eq!(records[1].bytes, Some(180));
    assert_eq!(records[2].action, Some(Action::Reject));
    assert!(
        records.iter().all(|r| r.vpc_id.is_none()),
        "only the format's fields"
    );
    writer.shutdown();
}

#[test]
fn a_flow_log_with_a_bad_file_format_is_skipped() {
    let root = tempfile::tempdir().unwrap();
    let writer = FlowLogWriter::start(FlowLogSettings::new(root.path().into())).unwrap();
    writer.apply(&state_with(
        ("file", "dev"),
        "ALL",
        underpass_flowlogs::DEFAULT_FORMAT,
        ("orc", false, false),
    ));
    writer.sink().record(event(7, FlowAction::Accept));
    assert!(writer.flush(WAIT));
    assert!(objects(root.path()).is_empty());
    assert_eq!(writer.stats().objects, 0);
    // The same flow log with a good format is written.
    writer.apply(&state_with(
        ("file", "dev"),
        "ALL",
        underpass_flowlogs::DEFAULT_FORMAT,
        ("plain-text", false, false),
    ));
    writer.sink().record(event(8, FlowAction::Accept));
    assert!(writer.flush(WAIT));
    assert_eq!(objects(root.path()).len(), 1);
    writer.shutdown();
}

#[test]
fn an_s3_destination_without_s3_settings_says_so() {
    let root = tempfile::tempdir().unwrap();
    let writer = FlowLogWriter::start(FlowLogSettings::new(root.path().into())).unwrap();
    writer.apply(&state_with(
        ("s3", "arn:aws:s3:::flow-bucket/team"),
        "ALL",
        underpass_flowlogs::DEFAULT_FORMAT,
        ("plain-text", false, false),
    ));
    writer.sink().record(event(5, FlowAction::Accept));
    assert!(writer.flush(WAIT));
    let st = writer.stats();
    assert_eq!(st.objects, 0);
    let err = st.last_error.unwrap();
    assert!(
        err.contains("arn:aws:s3:::flow-bucket/team") && err.contains("no S3 settings"),
        "{err}"
    );
    let delivery = writer.delivery();
    assert_eq!(delivery.len(), 1);
    assert_eq!(delivery[0].error.as_deref(), Some("Access error"));
    writer.shutdown();
}

/// A tmpfs mounted on a fresh directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(
            st.success(),
            "mounting a tmpfs needs root (the tests run as root on dev machines and CI)"
        );
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the file system under `dir` with one file (until ENOSPC); returns its path.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = [0u8; 4096];
    loop {
        if let Err(e) = f.write_all(&chunk).and_then(|()| f.sync_all()) {
            assert_eq!(e.raw_os_error(), Some(28), "ENOSPC expected: {e}");
            break;
        }
    }
    // Fill the last partial page too.
    while f.write_all(&[0u8]).and_then(|()| f.sync_all()).is_ok() {}
    path
}

#[test]
fn a_full_disk_spools_then_drops_with_skipdata_and_resumes_when_space_returns() {
    let fs = Tmpfs::mount("64k");
    let mut settings = FlowLogSettings::new(fs.path().into());
    settings.spool_records = 5;
    let writer = FlowLogWriter::start(settings).unwrap();
    writer.apply(&state("dev", "ALL", underpass_flowlogs::DEFAULT_FORMAT));
    // The destination directory exists; then the disk fills up.
    let sink = writer.sink();
    sink.record(event(100, FlowAction::Accept));
    assert!(writer.flush(WAIT));
    assert_eq!(writer.stats().objects, 1);
    let filler = fill(fs.path());

    // 2 records, then 4 more: over the spool's 5, the first batch is dropped.
    sink.record(event(1, FlowAction::Accept));
    assert!(writer.flush(WAIT));
    sink.record(event(2, FlowAction::Accept));
    sink.record(event(3, FlowAction::Accept));
    assert!(writer.flush(WAIT));
    let st = writer.stats();
    assert_eq!(st.objects, 1, "{st:?}");
    assert_eq!(st.dropped_batches, 1, "{st:?}");
    let err = st.last_error.clone().unwrap();
    assert!(err.contains("No space left on device"), "{err}");
    // Nothing half-written is visible under a reader's name while the disk is full.
    assert_eq!(objects(&fs.path().join("dev")).len(), 1);

    // Space returns: the spool drains, and the next batch carries the SKIPDATA record.
    std::fs::remove_file(filler).unwrap();
    sink.record(event(4, FlowAction::Reject));
    assert!(writer.flush(WAIT));
    let objs = objects(&fs.path().join("dev"));
    let records: Vec<&FlowRecord> = objs.iter().flat_map(|(_, r)| r).collect();
    let mut ports: Vec<u16> = records.iter().filter_map(|r| r.srcport).collect();
    ports.sort_unstable();
    // Ports 100, 2 and 3 in both directions (the egress records carry the server's port
    // 8080), 4 rejected (ingress only); 1 was dropped.
    assert_eq!(ports, [2, 3, 4, 100, 8080, 8080, 8080], "{records:?}");
    assert!(
        records
            .iter()
            .any(|r| r.log_status == Some(LogStatus::SkipData)),
        "{records:?}"
    );
    assert_eq!(writer.stats().objects, 3);
    writer.shutdown();
}

// ---- A real S3-compatible server: moto_server on loopback ----

/// A moto_server process on 127.0.0.1:`port`, killed (by its PID) on drop.
struct Moto {
    child: Option<std::process::Child>,
    port: u16,
}

impl Moto {
    /// Starts moto on a free port.
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(port)
    }

    /// Starts moto on `port` and waits (bounded) until it answers.
    fn start_on(port: u16) -> Self {
        let bin = std::env::var_os("MOTO_SERVER").unwrap_or_else(|| "moto_server".into());
        let child = std::process::Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {bin:?} (pip install 'moto[server]'): {e}"));
        let mut moto = Self {
            child: Some(child),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while http(port, "GET", "/") != Some(200) {
            if let Some(st) = moto.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("moto_server exited: {st}");
            }
            assert!(Instant::now() < deadline, "moto_server did not answer");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket (moto takes an unsigned `PUT /bucket`).
    fn create_bucket(&self, name: &str) {
        assert_eq!(http(self.port, "PUT", &format!("/{name}")), Some(200));
    }

    /// Kills the server (SIGKILL to the PID this harness started) and reaps it.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn settings(&self) -> underpass_flowlogs::S3Settings {
        underpass_flowlogs::S3Settings {
            endpoint: Some(self.endpoint()),
            region: "us-east-1".into(),
            access_key_id: "testing".into(),
            secret_access_key: "testing-secret".to_owned().into(),
            session_token: None,
            allow_http: true,
        }
    }

    /// Every object in `bucket`: key and bytes (read with object_store's own client).
    fn objects(&self, bucket: &str) -> Vec<(String, Vec<u8>)> {
        use futures::TryStreamExt as _;
        use object_store::{ObjectStore as _, ObjectStoreExt as _};
        let s = self.settings();
        let store = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_bucket_name(bucket)
            .with_region(s.region)
            .with_access_key_id(s.access_key_id)
            .with_secret_access_key(s.secret_access_key.as_str())
            .build()
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let metas: Vec<_> = store.list(None).try_collect().await.unwrap();
            let mut out = Vec::new();
            for m in metas {
                let body = store.get(&m.location).await.unwrap().bytes().await.unwrap();
                out.push((m.location.to_string(), body.to_vec()));
            }
            out.sort();
            out
        })
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One plain HTTP/1.1 request without a body; the status code, if the server answered.
fn http(port: u16, method: &str, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn sample_batch(
    options: underpass_flowlogs::DestinationOptions,
    ports: &[u16],
) -> underpass_flowlogs::Batch {
    let format = underpass_flowlogs::FlowLogFormat::default_v2();
    let records = ports
        .iter()
        .map(|p| {
            FlowRecord::parse(
                &format!("2 222222222222 eni-1235b8ca123456789 10.0.0.9 10.0.1.4 {p} 443 6 3 180 1700000000 1700000030 ACCEPT OK"),
                &format,
            )
            .unwrap()
        })
        .collect();
    underpass_flowlogs::Batch {
        flow_log_id: FlowLogId::from_bits(0xf2).to_string(),
        account_id: "222222222222".into(),
        region: "us-east-1".into(),
        destination: underpass_flowlogs::Destination::S3 {
            bucket: "flow-bucket".into(),
            prefix: "team/a".into(),
        },
        options,
        format,
        start: 1_700_000_000,
        end: 1_700_000_060 + u64::from(ports[0]),
        records,
    }
}

#[test]
fn the_s3_sink_puts_objects_that_read_back_from_a_real_s3_server() {
    use underpass_flowlogs::{object_key, DestinationOptions, FileFormat, S3Sink, Sink, SinkError};
    let mut moto = Moto::start();
    moto.create_bucket("flow-bucket");
    let text = sample_batch(DestinationOptions::default(), &[1, 2]);
    let parquet = sample_batch(
        DestinationOptions {
            file_format: FileFormat::Parquet,
            hive_compatible_partitions: true,
            per_hour_partition: true,
        },
        &[3, 4, 5],
    );
    let sink = S3Sink::new(&text.destination, &moto.settings()).unwrap();
    assert!(!format!("{sink:?}").contains("testing-secret"));
    assert!(!format!("{:?}", moto.settings()).contains("testing-secret"));
    let text_key = object_key(&text, "agent-1");
    let parquet_key = object_key(&parquet, "agent-1");
    sink.put(&text_key, &underpass_flowlogs::encode_text(&text))
        .unwrap();
    let body = underpass_flowlogs::encode_parquet(&parquet).unwrap();
    sink.put(&parquet_key, &body).unwrap();
    // A retry of the same batch lands on the same key: still one object.
    sink.put(&parquet_key, &body).unwrap();

    let objs = moto.objects("flow-bucket");
    let keys: Vec<&str> = objs.iter().map(|(k, _)| k.as_str()).collect();
    let mut want = vec![
        format!("team/a/{text_key}"),
        format!("team/a/{parquet_key}"),
    ];
    want.sort();
    assert_eq!(keys, want);
    for (key, bytes) in &objs {
        let records = decode_object(key, bytes);
        let batch = if key.ends_with(".parquet") {
            &parquet
        } else {
            &text
        };
        assert_eq!(&records, &batch.records, "{key}");
    }
    assert!(parquet_key.contains("aws-account-id=222222222222/") && parquet_key.contains("/hour="));

    // A bucket that does not exist is an error, not a silent loss.
    let missing = S3Sink::new(
        &underpass_flowlogs::Destination::S3 {
            bucket: "no-such-bucket".into(),
            prefix: String::new(),
        },
        &moto.settings(),
    )
    .unwrap();
    assert!(matches!(
        missing.put(&text_key, b"x"),
        Err(SinkError::Store { .. })
    ));
    // Keys that could escape are refused before any request.
    assert!(matches!(sink.put("../x", b"x"), Err(SinkError::BadPath(_))));

    // The server is gone: the put returns an error (after bounded retries), it does not hang.
    moto.kill();
    let err = sink.put(&text_key, b"x").unwrap_err();
    assert!(
        matches!(err, SinkError::Store { .. } | SinkError::TimedOut { .. }),
        "{err}"
    );
}

#[test]
fn s3_down_then_back_delivers_every_record_exactly_once() {
    let mut moto = Moto::start();
    moto.create_bucket("flow-bucket");
    let root = tempfile::tempdir().unwrap();
    let mut settings = FlowLogSettings::new(root.path().into());
    settings.s3 = Some(moto.settings());
    let writer = FlowLogWriter::start(settings).unwrap();
    writer.apply(&state_with(
        ("s3", "arn:aws:s3:::flow-bucket/logs"),
        "ALL",
        underpass_flowlogs::DEFAULT_FORMAT,
        ("parquet", false, false),
    ));
    let sink = writer.sink();
    sink.record(event(1, FlowAction::Accept));
    assert!(writer.flush(WAIT));
    assert_eq!(writer.stats().objects, 1, "{:?}", writer.stats());
    let before = moto.objects("flow-bucket");
    assert_eq!(before.len(), 1);
    assert!(before[0]
        .0
        .starts_with("logs/AWSLogs/222222222222/vpcflowlogs/us-east-1/"));
    assert!(before[0].0.ends_with(".log.parquet"));

    // The store goes down: ten windows of records wait in the spool.
    let port = moto.port;
    moto.kill();
    for p in 10..20 {
        sink.record(event(p, FlowAction::Accept));
        assert!(writer.flush(WAIT), "a flush returns while S3 is down");
    }
    let st = writer.stats();
    assert_eq!(st.objects, 1, "{st:?}");
    assert!(st.write_errors >= 10, "{st:?}");
    assert_eq!(st.dropped_batches, 0, "{st:?}");

    // It comes back (empty, as moto restarts): the spool drains, each batch exactly once.
    let moto = Moto::start_on(port);
    moto.create_bucket("flow-bucket");
    assert!(writer.flush(WAIT));
    let objs = moto.objects("flow-bucket");
    let mut ingress = Vec::new();
    let mut egress = Vec::new();
    for (key, bytes) in &objs {
        for r in decode_object(key, bytes) {
            match (r.srcport, r.dstport) {
                (Some(8080), Some(p)) => egress.push(p),
                (Some(p), Some(8080)) => ingress.push(p),
                _ => assert_eq!(r.log_status, Some(LogStatus::NoData), "{r:?}"),
            }
        }
    }
    ingress.sort_unstable();
    egress.sort_unstable();
    let want: Vec<u16> = (10..20).collect();
    assert_eq!(ingress, want, "every spooled record once");
    assert_eq!(egress, want, "every spooled record once");
    // Ten spooled windows and the idle window of the last flush (NODATA).
    assert_eq!(
        objs.len(),
        11,
        "{:?}",
        objs.iter().map(|o| &o.0).collect::<Vec<_>>()
    );
    assert_eq!(writer.stats().objects, 12);
    writer.shutdown();
}

#[test]
fn s3_settings_come_from_the_flags_and_the_aws_environment() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    const CREDS: &[(&str, &str)] = &[
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        ),
        ("AWS_SESSION_TOKEN", "token-example"),
    ];
    // Nothing set: no S3.
    assert!(FlowLogSettings::s3_from(None, "us-east-1", false, env(&[]))
        .unwrap()
        .is_none());
    // AWS itself, with temporary credentials.
    let s = FlowLogSettings::s3_from(None, "eu-west-1", false, env(CREDS))
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            s.endpoint.as_deref(),
            s.region.as_str(),
            s.access_key_id.as_str()
        ),
        (None, "eu-west-1", "AKIDEXAMPLE")
    );
    assert_eq!(s.secret_access_key.as_str(), CREDS[1].1);
    assert_eq!(
        s.session_token.as_deref().map(String::as_str),
        Some("token-example")
    );
    assert!(!s.allow_http);
    let shown = format!("{s:?}");
    assert!(
        !shown.contains("wJalr") && !shown.contains("token-example"),
        "{shown}"
    );
    // A loopback store over plain HTTP is fine; another host needs the explicit flag.
    for ok in [
        "http://127.0.0.1:9000",
        "http://localhost:9000/",
        "http://[::1]:9000",
    ] {
        let s = FlowLogSettings::s3_from(Some(ok), "us-east-1", false, env(CREDS))
            .unwrap()
            .unwrap();
        assert!(s.allow_http, "{ok}");
        assert_eq!(s.endpoint.as_deref(), Some(ok));
    }
    let lan = "http://10.1.2.3:9000";
    assert!(FlowLogSettings::s3_from(Some(lan), "us-east-1", false, env(CREDS)).is_err());
    assert!(
        FlowLogSettings::s3_from(Some(lan), "us-east-1", true, env(CREDS))
            .unwrap()
            .unwrap()
            .allow_http
    );
    let tls = FlowLogSettings::s3_from(Some("https://s3.example"), "us-east-1", false, env(CREDS))
        .unwrap()
        .unwrap();
    assert!(!tls.allow_http);
    // Half the credentials, an endpoint without any, or a malformed endpoint: refused.
    for (endpoint, vars) in [
        (None, &[("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")][..]),
        (Some("http://127.0.0.1:9000"), &[][..]),
        (Some("ftp://127.0.0.1"), CREDS),
        (Some("https://"), CREDS),
    ] {
        let vars: &'static [(&'static str, &'static str)] = vars;
        assert!(
            FlowLogSettings::s3_from(endpoint, "us-east-1", false, env(vars)).is_err(),
            "{endpoint:?} {vars:?}"
        );
    }
}
