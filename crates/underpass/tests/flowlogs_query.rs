//! `underpass flowlogs query` through the built binary: JSON and CSV output over real objects
//! in a directory and in an S3 bucket (moto), and the exit codes: 0 ok, 2 bad SQL or a refused
//! statement, 1 other errors, each with a one-line error on stderr.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use underpass_flowlogs::{
    encode_text, object_key, Action, Batch, Destination, DestinationOptions, FlowLogFormat,
    FlowRecord, LogStatus,
};

/// 2026-11-25T10:00:00Z.
const T: u64 = 1_795_564_800 + 36_000;

fn rec(src: &str, dport: u16, proto: u8, bytes: u64, action: Action) -> FlowRecord {
    FlowRecord {
        version: Some(2),
        account_id: Some("123456789012".into()),
        interface_id: Some("eni-0123456789abcdef0".into()),
        srcaddr: Some(src.parse().unwrap()),
        dstaddr: Some("10.0.1.1".parse().unwrap()),
        srcport: Some(40000),
        dstport: Some(dport),
        protocol: Some(proto),
        packets: Some(1),
        bytes: Some(bytes),
        start: Some(T),
        end: Some(T + 60),
        action: Some(action),
        log_status: Some(LogStatus::Ok),
        ..FlowRecord::default()
    }
}

/// Two text objects (two days) of one flow log; returns (key, body) pairs.
fn objects() -> Vec<(String, Vec<u8>)> {
    [
        (
            T,
            vec![
                rec("10.0.0.1", 22, 6, 1000, Action::Accept),
                rec("10.0.0.2", 3389, 6, 200, Action::Reject),
            ],
        ),
        (
            T - 86_400,
            vec![
                rec("10.0.0.3", 53, 17, 300, Action::Reject),
                rec("10.0.0.2", 23, 6, 100, Action::Reject),
            ],
        ),
    ]
    .into_iter()
    .map(|(start, records)| {
        let batch = Batch {
            flow_log_id: "fl-0123456789abcdef0".into(),
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
            destination: Destination::File { dir: "flow".into() },
            options: DestinationOptions::default(),
            format: FlowLogFormat::default_v2(),
            start,
            end: start + 60,
            records,
        };
        (object_key(&batch, "agent-1"), encode_text(&batch))
    })
    .collect()
}

fn write_objects(dir: &Path) {
    for (key, body) in objects() {
        let path = dir.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
}

fn underpass(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_underpass"));
    cmd.arg("flowlogs")
        .arg("query")
        .args(args)
        .env_remove("UNDERPASS_FLOW_LOGS_S3_ENDPOINT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null()).output().expect("run underpass")
}

fn json_rows(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The error line of a failed run, checked to be one line.
fn error_line(out: &Output, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(out.stdout.is_empty());
    let line = stderr.trim_end().to_owned();
    assert!(
        !line.contains('\n') && line.starts_with("error: "),
        "{line}"
    );
    line
}

const SEED: &str = "SELECT srcaddr, dstaddr, srcport, dstport, protocol, action FROM vpc_flow_logs WHERE action = 'REJECT' AND protocol = 6 ORDER BY dstport";

#[test]
fn queries_a_directory_with_json_and_csv_output() {
    let dir = tempfile::tempdir().unwrap();
    write_objects(dir.path());
    let d = dir.path().to_str().unwrap();
    let out = underpass(&[SEED, "--destination", d, "--output", "json"], &[]);
    assert_eq!(
        json_rows(&out),
        json!([
            {"srcaddr": "10.0.0.2", "dstaddr": "10.0.1.1", "srcport": 40000, "dstport": 23, "protocol": 6, "action": "REJECT"},
            {"srcaddr": "10.0.0.2", "dstaddr": "10.0.1.1", "srcport": 40000, "dstport": 3389, "protocol": 6, "action": "REJECT"},
        ])
    );
    let day = underpass(
        &[
            SEED,
            "--destination",
            d,
            "--output",
            "json",
            "--account",
            "123456789012",
        ],
        &[],
    );
    assert_eq!(json_rows(&day).as_array().unwrap().len(), 2);
    let pruned = underpass(
        &["SELECT date, SUM(bytes) AS total FROM vpc_flow_logs WHERE date = DATE '2026-11-25' GROUP BY date", "--destination", d, "--output", "json"],
        &[],
    );
    assert_eq!(
        json_rows(&pruned),
        json!([{"date": "2026-11-25", "total": 1200}])
    );
    let csv = underpass(
        &["SELECT srcaddr, SUM(bytes) AS total FROM vpc_flow_logs GROUP BY srcaddr ORDER BY total DESC, srcaddr LIMIT 10", "--destination", d, "--output", "csv"],
        &[],
    );
    assert_eq!(csv.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(csv.stdout).unwrap(),
        "srcaddr,total\n10.0.0.1,1000\n10.0.0.2,300\n10.0.0.3,300\n"
    );
    let none = underpass(
        &[
            SEED,
            "--destination",
            d,
            "--output",
            "json",
            "--flow-log-id",
            "fl-other",
        ],
        &[],
    );
    assert_eq!(json_rows(&none), json!([]));
}

#[test]
fn exit_codes_and_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_objects(dir.path());
    let d = dir.path().to_str().unwrap();
    for refused in [
        "DROP TABLE vpc_flow_logs",
        "SELECT 1; SELECT 2",
        "COPY (SELECT 1) TO '/tmp/x'",
        "SET datafusion.execution.batch_size = 1",
    ] {
        let line = error_line(&underpass(&[refused, "--destination", d], &[]), 2);
        assert!(line.starts_with("error: refused: "), "{line}");
    }
    let line = error_line(
        &underpass(&["SELECT nope FROM vpc_flow_logs", "--destination", d], &[]),
        2,
    );
    assert!(
        line.starts_with("error: bad SQL: ") && line.contains("nope"),
        "{line}"
    );
    let line = error_line(
        &underpass(
            &["SELECT 1", "--destination", "/nonexistent/flow-logs"],
            &[],
        ),
        1,
    );
    assert!(line.contains("not a directory"), "{line}");
    let cross = "WITH a AS (SELECT value FROM generate_series(1, 1000000)) SELECT count(*) FROM a CROSS JOIN a AS b";
    let line = error_line(
        &underpass(&[cross, "--destination", d, "--timeout", "1s"], &[]),
        1,
    );
    assert_eq!(line, "error: query cancelled at the time limit of 1s");
    // A corrupt object: the query that reads it fails (1), naming it.
    let bad = dir.path().join("AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/20/123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261120T1000Z_00000000.log.gz");
    std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
    std::fs::write(&bad, b"garbage").unwrap();
    let line = error_line(
        &underpass(
            &["SELECT count(*) FROM vpc_flow_logs", "--destination", d],
            &[],
        ),
        1,
    );
    assert!(
        line.contains("2026/11/20") && line.contains("gzip"),
        "{line}"
    );
    let ok = underpass(
        &[
            "SELECT count(*) AS n FROM vpc_flow_logs WHERE date >= DATE '2026-11-24'",
            "--destination",
            d,
            "--output",
            "json",
        ],
        &[],
    );
    assert_eq!(json_rows(&ok), json!([{"n": 4}]));
}

/// moto_server on a free loopback port, killed (by PID) on drop.
struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_an_s3_bucket_on_moto() {
    use object_store::aws::AmazonS3Builder;
    use object_store::{path::Path as ObjPath, ObjectStoreExt, PutPayload};
    use std::io::{Read, Write};

    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _moto = Moto(
        Command::new(std::env::var_os("MOTO_SERVER").unwrap_or_else(|| "moto_server".into()))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server"),
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let endpoint = format!("http://{addr}");
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "PUT /flows HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let store = AmazonS3Builder::new()
        .with_endpoint(&endpoint)
        .with_allow_http(true)
        .with_bucket_name("flows")
        .with_region("us-east-1")
        .with_access_key_id("testing")
        .with_secret_access_key("testing")
        .build()
        .unwrap();
    for (key, body) in objects() {
        store
            .put(
                &ObjPath::from(format!("team/{key}")),
                PutPayload::from(body),
            )
            .await
            .unwrap();
    }
    let env = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("UNDERPASS_FLOW_LOGS_S3_ENDPOINT", endpoint.as_str()),
    ];
    // The CLI runs while this runtime idles: moto is another process.
    let out = underpass(
        &[SEED, "--destination", "s3://flows/team", "--output", "json"],
        &env,
    );
    assert_eq!(json_rows(&out).as_array().unwrap().len(), 2);
    let flag = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ];
    let out = underpass(
        &[
            "SELECT count(*) AS n FROM vpc_flow_logs",
            "--destination",
            "s3://flows/team/",
            "--s3-endpoint",
            &endpoint,
            "--output",
            "json",
        ],
        &flag,
    );
    assert_eq!(json_rows(&out), json!([{"n": 4}]));
}

#[test]
fn generated_records_are_what_the_query_counts() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("gen");
    let out = out_dir.to_str().unwrap();
    let gen = Command::new(env!("CARGO_BIN_EXE_underpass"))
        .args([
            "flowlogs",
            "generate",
            "--out",
            out,
            "--records",
            "5000",
            "--per-object",
            "1000",
            "--days",
            "2",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run underpass");
    assert!(gen.status.success(), "{gen:?}");
    let summary: Value = serde_json::from_slice(&gen.stdout).unwrap();
    assert_eq!(summary["records"], 5000);
    assert_eq!(summary["objects"], 5);
    assert!(summary["write_records_per_second"].as_f64().unwrap() > 0.0);
    let q = |sql: &str| {
        let o = underpass(&[sql, "--destination", out, "--output", "json"], &[]);
        json_rows(&o)
    };
    assert_eq!(q("SELECT COUNT(*) AS n FROM vpc_flow_logs")[0]["n"], 5000);
    // Two days, the last one 2026-11-25; NODATA records (one per thousand) carry no action.
    let days = q("SELECT CAST(date AS VARCHAR) AS d, COUNT(*) AS n FROM vpc_flow_logs GROUP BY date ORDER BY d");
    let days = days.as_array().unwrap();
    assert_eq!(days.len(), 2, "{days:?}");
    assert_eq!(days[1]["d"], "2026-11-25");
    assert_eq!(
        q("SELECT COUNT(*) AS n FROM vpc_flow_logs WHERE action IS NULL")[0]["n"],
        5
    );
}
