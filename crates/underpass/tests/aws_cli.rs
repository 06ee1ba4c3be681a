//! The real AWS CLI against the real binary: `scripts/aws-walkthrough-003.sh` (seed 003 with
//! `aws ec2 …` and `aws elbv2 …`, two agents, curl → 200 through the endpoint),
//! `scripts/aws-walkthrough-004.sh` (seed 004: IAM role, S3 gateway endpoint, flow logs to an
//! S3 bucket on moto_server, the seed's REJECT query), the `underpass server --json` line
//! automation reads, and the server's flags for existing tooling (throttle, default VPCs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{spawn, start_server, sub};
use serde_json::{json, Value};

fn require(cmd: &str, args: &[&str]) {
    let ok = Command::new(cmd)
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "this test needs `{cmd}`: `python3 -m pip install boto3 awscli` (scripts/test does), and curl"
    );
}

/// Runs `scripts/<name>` against the test binary in a fresh work dir; returns its stdout once
/// it ended well with `<last>` as its last line.
fn walkthrough(name: &str, last: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts")
        .join(name);
    let out = Command::new("bash")
        .arg(&script)
        .env("UNDERPASS", env!("CARGO_BIN_EXE_underpass"))
        .env("WORK", dir.path())
        .output()
        .expect("run the walkthrough script");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.trim_end().ends_with(last),
        "{name} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}

#[test]
fn seed_003_with_the_aws_cli() {
    require("aws", &["--version"]);
    require("curl", &["--version"]);
    let stdout = walkthrough("aws-walkthrough-003.sh", "walkthrough 003: ok");
    assert!(
        stdout.contains("-> 200 (hello from the provider)"),
        "{stdout}"
    );
}

#[test]
fn seed_004_with_the_aws_cli() {
    require("aws", &["--version"]);
    require("curl", &["--version"]);
    require("moto_server", &["--help"]);
    let stdout = walkthrough("aws-walkthrough-004.sh", "walkthrough 004: ok");
    assert!(
        stdout.contains("from 127.0.0.9: refused (REJECT)"),
        "{stdout}"
    );
    assert!(stdout.contains("127.0.0.9  127.74.1.4  9000"), "{stdout}");
}

fn json_line(data: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "server",
        "--json",
        "--data-dir",
        data,
        "--listen",
        "127.0.0.1:0",
        "--agent-listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    let mut server = spawn(&args, &[]);
    let line = server.line(Duration::from_secs(30));
    let v: Value = serde_json::from_str(&line).expect("one JSON line");
    // It accepts requests once it has printed the line.
    let url = v["api_url"].as_str().unwrap().to_owned();
    let addr = url.trim_start_matches("http://");
    std::net::TcpStream::connect(addr).expect("the API accepts connections");
    assert!(server.terminate().is_some_and(|s| s.success()));
    v
}

#[test]
fn server_json_line_is_stable_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = sub(dir.path(), "server");
    let first = json_line(&data, &["--account-id", "123456789012"]);
    assert_eq!(first["account_id"], "123456789012");
    assert_eq!(first["region"], "us-east-1");
    assert!(first["access_key_id"].as_str().unwrap().starts_with("AKIA"));
    assert_eq!(first["secret_access_key"].as_str().unwrap().len(), 40);
    let second = json_line(&data, &["--account-id", "123456789012"]);
    for k in ["account_id", "access_key_id", "secret_access_key", "region"] {
        assert_eq!(first[k], second[k], "{k} changed on restart");
    }
    // Another administrator account on the same data dir is refused, not silently added.
    let (code, _, stderr) = common::cli(
        &[
            "server",
            "--json",
            "--data-dir",
            &data,
            "--listen",
            "127.0.0.1:0",
            "--agent-listen",
            "127.0.0.1:0",
            "--account-id",
            "210987654321",
        ],
        &[],
    );
    assert_ne!(code, 0);
    assert!(stderr.contains("123456789012"), "{stderr}");
}

#[tokio::test]
async fn server_flags_set_the_per_key_throttle_and_turn_default_vpcs_off() {
    let dir = tempfile::tempdir().unwrap();
    let data = sub(dir.path(), "server");
    let server = start_server(&data, &["--rate-per-key", "2", "--no-default-vpc"]);
    let admin = server.admin();
    let vpcs = admin.call("DescribeVpcs", &json!({})).await.unwrap();
    assert_eq!(vpcs["Vpcs"], json!([]), "no default VPC: {vpcs}");
    // 2 calls/s sustained, bursts of 4: ten calls in a row cannot all pass.
    let mut throttled = 0;
    for _ in 0..10 {
        if let Err(e) = admin.call("DescribeVpcs", &json!({})).await {
            assert_eq!(e.code(), Some("RequestLimitExceeded"), "{e}");
            throttled += 1;
        }
    }
    assert!(throttled >= 5, "only {throttled} of 10 throttled");
}
