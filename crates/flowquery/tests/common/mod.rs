//! Fixtures: real flow-log objects written the way the agent writes them (`encode_text` at
//! `object_key`), Parquet objects (`encode_parquet`), and a moto S3
//! server.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use underpass_flowlogs::{
    encode_parquet, encode_text, object_key, Action, Batch, Destination, DestinationOptions,
    FileFormat, FlowLogFormat, FlowRecord, LogStatus,
};

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";
/// 2026-11-25T00:00:00Z.
pub const DAY_25: u64 = 1_795_564_800;
/// 2026-11-24T00:00:00Z.
pub const DAY_24: u64 = DAY_25 - 86_400;

/// An ACCEPT/REJECT record of the default fields.
pub fn rec(
    src: &str,
    dst: &str,
    sport: u16,
    dport: u16,
    proto: u8,
    bytes: u64,
    action: Action,
) -> FlowRecord {
    FlowRecord {
        version: Some(2),
        account_id: Some(ACCOUNT.into()),
        interface_id: Some("eni-0123456789abcdef0".into()),
        srcaddr: Some(src.parse::<IpAddr>().unwrap()),
        dstaddr: Some(dst.parse::<IpAddr>().unwrap()),
        srcport: Some(sport),
        dstport: Some(dport),
        protocol: Some(proto),
        packets: Some(bytes / 100 + 1),
        bytes: Some(bytes),
        start: Some(DAY_25 + 36_000),
        end: Some(DAY_25 + 36_060),
        action: Some(action),
        log_status: Some(LogStatus::Ok),
        ..FlowRecord::default()
    }
}

/// A NODATA record.
pub fn nodata(start: u64) -> FlowRecord {
    FlowRecord::status_only(
        2,
        ACCOUNT,
        "eni-0123456789abcdef0",
        start,
        start + 60,
        LogStatus::NoData,
    )
}

/// A batch of flow log `id` for the window starting at `start`.
pub fn batch(id: &str, format: &str, start: u64, records: Vec<FlowRecord>) -> Batch {
    Batch {
        flow_log_id: id.into(),
        account_id: ACCOUNT.into(),
        region: REGION.into(),
        destination: Destination::File { dir: "flow".into() },
        options: DestinationOptions::default(),
        format: FlowLogFormat::parse(format).unwrap(),
        start,
        end: start + 60,
        records,
    }
}

/// Writes `bytes` at `key` under `dir`; returns the key.
pub fn put(dir: &Path, key: &str, bytes: &[u8]) -> String {
    let path = dir.join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    key.to_owned()
}

/// Writes `batch` as a text object at its key; returns the key.
pub fn write_text(dir: &Path, batch: &Batch) -> String {
    put(dir, &object_key(batch, "writer"), &encode_text(batch))
}

/// Writes `batch` as a Parquet object (the flowlogs Parquet writer) at its key.
pub fn write_parquet(dir: &Path, batch: &Batch) -> String {
    let mut batch = batch.clone();
    batch.options.file_format = FileFormat::Parquet;
    put(
        dir,
        &object_key(&batch, "writer"),
        &encode_parquet(&batch).unwrap(),
    )
}

/// A moto S3 server on a free loopback port, killed (by PID) on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// moto's S3-compatible server: `moto_server` on PATH (scripts/test installs it), or `$MOTO_SERVER`.
pub fn moto_bin() -> std::ffi::OsString {
    std::env::var_os("MOTO_SERVER").unwrap_or_else(|| "moto_server".into())
}

/// Starts moto_server on 127.0.0.1 and waits (bounded) until it accepts connections.
pub fn start_moto() -> Moto {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(moto_bin())
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto_server did not start on {addr}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    moto
}

/// Creates `bucket` (moto takes an unsigned `PUT /bucket`).
pub fn create_bucket(endpoint: &str, bucket: &str) {
    use std::io::{Read, Write};
    let host = endpoint.trim_start_matches("http://");
    let mut s = TcpStream::connect(host).unwrap();
    write!(
        s,
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
