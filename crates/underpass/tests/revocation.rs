//! Revoking an agent through the API: the provider's gateway refuses the revoked consumer's
//! tunnels within seconds (its live flows are cut, new ones refused), while the control plane
//! refuses the agent's own sync handshakes (RELIABILITY item 49, end to end).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{eventually, free_port, http_backend, http_get, spawn, start_server, sub};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use underpass_cli::walkthrough::{creds, set_up, BACKEND, SERVICE_PORT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_agent_loses_its_tunnels() {
    let dir = tempfile::tempdir().unwrap();
    let tunnel = free_port().to_string();
    let server = start_server(&sub(dir.path(), "server"), &["--tunnel-port", &tunnel]);
    let admin = server.admin();
    let state = set_up(&admin).await.unwrap();
    let _backend = http_backend(BACKEND).await;
    // Both agents on one thread each, as bench/run runs them: revocation must cut flows there
    // too.
    let _p = spawn(
        &[
            "--worker-threads",
            "1",
            "agent",
            "--server",
            &server.url,
            "--data-dir",
            &sub(dir.path(), "p"),
            "--join-token",
            &state.provider_token,
        ],
        &[],
    );
    let _c = spawn(
        &[
            "--worker-threads",
            "1",
            "agent",
            "--server",
            &server.url,
            "--data-dir",
            &sub(dir.path(), "c"),
            "--join-token",
            &state.consumer_token,
        ],
        &[],
    );
    let endpoint: SocketAddr = format!("{}:{SERVICE_PORT}", state.endpoint_ip)
        .parse()
        .unwrap();
    assert!(
        eventually(
            Duration::from_secs(30),
            async || matches!(http_get(endpoint, None).await, Ok((s, _)) if s.contains("200"))
        )
        .await,
        "the endpoint never carried traffic"
    );

    // A live flow before the revocation.
    let mut live = tokio::net::TcpStream::connect(endpoint).await.unwrap();
    live.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(live.read(&mut buf).await.unwrap() > 0);

    let consumer = admin.with_credentials(creds(&state.consumer_key));
    let agents = consumer.call("DescribeAgents", &json!({})).await.unwrap();
    let agent_id = agents["Agents"][0]["AgentId"].as_str().unwrap().to_owned();
    // Another account cannot revoke it (and learns nothing).
    let provider = admin.with_credentials(creds(&state.provider_key));
    let err = provider
        .call("RevokeAgent", &json!({"AgentId": agent_id}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidAgentId.NotFound"));
    let r = consumer
        .call("RevokeAgent", &json!({"AgentId": agent_id}))
        .await
        .unwrap();
    assert!(r["RevokedCertificates"].as_u64().unwrap() >= 2, "{r}");

    // The live flow is cut and new flows are refused by the provider's gateway.
    let cut = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if live
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .is_err()
            {
                return;
            }
            match live.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    })
    .await;
    assert!(cut.is_ok(), "the revoked agent's live flow was not cut");
    assert!(
        eventually(
            Duration::from_secs(10),
            async || !matches!(http_get(endpoint, None).await, Ok((s, _)) if s.contains("200"))
        )
        .await,
        "the revoked agent still carried new flows"
    );
    let after = consumer.call("DescribeAgents", &json!({})).await.unwrap();
    assert_eq!(after["Agents"][0]["Revoked"], true);
}
