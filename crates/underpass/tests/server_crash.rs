//! `kill -9` of the server during a burst of API writes: after a restart every acknowledged
//! change is there, and the database passes its integrity check (RELIABILITY item 37, in
//! miniature: one kill per run).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{start_server, sub};
use serde_json::json;
use underpass_auth::credentials::SecretAccessKey;
use underpass_cli::Credentials;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_writes_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = sub(dir.path(), "server");
    let mut server = start_server(&data, &[]);
    let admin = server.admin();
    let key = admin
        .call(
            "CreateAccount",
            &json!({"AccountId": "111111111111", "Name": "p"}),
        )
        .await
        .unwrap();
    let root = admin.with_credentials(Credentials {
        access_key_id: key["AccessKey"]["AccessKeyId"].as_str().unwrap().into(),
        secret_access_key: SecretAccessKey::new(
            key["AccessKey"]["SecretAccessKey"].as_str().unwrap(),
        ),
        session_token: None,
    });

    // Eight writers create VPCs until the server dies; each records what was acknowledged.
    let mut writers = Vec::new();
    for w in 0..8u32 {
        let c = root.clone();
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..500u32 {
                let cidr = format!("10.{}.{}.0/24", w, i % 250);
                match c.call("CreateVpc", &json!({"CidrBlock": cidr})).await {
                    Ok(v) => acked.push(v["Vpc"]["VpcId"].as_str().unwrap().to_owned()),
                    Err(_) => break,
                }
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.process.kill9();
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(
            tokio::time::timeout(Duration::from_secs(60), w)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    assert!(
        !acked.is_empty(),
        "no write was acknowledged before the kill"
    );

    // Restart on the same data dir (opening runs quick_check; a corrupt file refuses to start).
    let server = start_server(&data, &[]);
    let root = root.with_endpoint(&server.url).unwrap();
    let mut listed = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut params = json!({"MaxResults": 1000});
        if let Some(t) = &token {
            params["NextToken"] = json!(t);
        }
        let page = root.call("DescribeVpcs", &params).await.unwrap();
        listed.extend(
            page["Vpcs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["VpcId"].as_str().unwrap().to_owned()),
        );
        match page["NextToken"].as_str() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    for id in &acked {
        assert!(
            listed.contains(id),
            "acknowledged {id} lost after kill -9 ({} acked, {} listed)",
            acked.len(),
            listed.len()
        );
    }
    // Unacknowledged writes are whole or absent: at most one in flight per writer.
    assert!(
        listed.len() <= acked.len() + 8,
        "{} listed vs {} acked",
        listed.len(),
        acked.len()
    );
}
