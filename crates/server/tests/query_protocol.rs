//! The AWS Query protocol through real clients: the boto3/botocore suite
//! (`tests/query/boto3_suite.py`) and raw, hand-signed HTTP requests for the bad-input items
//! of RELIABILITY section A (`tests/query/raw_requests.py`), each against a server this test
//! starts on loopback. python3 with boto3 is required (`scripts/test` installs it); without it
//! these tests fail rather than skip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::env;
use serde_json::{json, Value};

/// Root keys of a new account: (access key id, secret).
async fn account_keys(env: &common::Env, id: &str) -> (String, String) {
    let r = env
        .admin
        .call("CreateAccount", &json!({"AccountId": id, "Name": "acct"}))
        .await
        .unwrap();
    let k: &Value = &r["AccessKey"];
    (
        k["AccessKeyId"].as_str().unwrap().to_owned(),
        k["SecretAccessKey"].as_str().unwrap().to_owned(),
    )
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("query")
        .join(name)
}

fn require_boto3() {
    let ok = Command::new("python3")
        .args(["-c", "import boto3, botocore"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "these tests need python3 with boto3: run `python3 -m pip install boto3 awscli` (scripts/test does)"
    );
}

/// Runs a Python script with `vars` in its environment; fails the test with its output.
async fn run_python(name: &str, vars: Vec<(&'static str, String)>) {
    require_boto3();
    let path = script(name);
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(&path)
            .envs(vars)
            .env_remove("AWS_PROFILE")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .output()
            .expect("run python3")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "{name} failed:\n{stdout}\n{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_drives_the_walkthrough_and_parses_our_errors() {
    // Two regions: the suite works in us-east-1 and checks eu-west-1 is apart.
    let env = common::env_with(|cfg| {
        cfg.regions
            .push(underpass_server::config::RegionConfig::with_default_zones(
                "eu-west-1",
            ))
    })
    .await;
    let provider = account_keys(&env, "333333333333").await;
    let consumer = account_keys(&env, "444444444444").await;
    run_python(
        "boto3_suite.py",
        vec![
            ("UP_ENDPOINT", format!("http://{}", env.server.api_addr)),
            ("UP_PROVIDER_KEY", provider.0),
            ("UP_PROVIDER_SECRET", provider.1),
            ("UP_CONSUMER_KEY", consumer.0),
            ("UP_CONSUMER_SECRET", consumer.1),
            ("UP_PROVIDER_ACCOUNT", "333333333333".into()),
            ("UP_CONSUMER_ACCOUNT", "444444444444".into()),
        ],
    )
    .await;
    env.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_built_requests_get_and_bad_input() {
    let env = env().await;
    let provider = account_keys(&env, "333333333333").await;
    run_python(
        "raw_requests.py",
        vec![
            ("UP_ENDPOINT", format!("http://{}", env.server.api_addr)),
            ("UP_PROVIDER_KEY", provider.0),
            ("UP_PROVIDER_SECRET", provider.1),
        ],
    )
    .await;
    env.server.stop().await;
}
