//! The provider gateway through the real binaries: PROXY protocol v2 reaches the target with the
//! client's real source and the endpoint id (TLV 0xEA), and a target that goes down turns
//! unhealthy in DescribeTargetHealth and comes back when it returns.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{eventually, free_port, http_get, spawn, start_server, sub};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use underpass_cli::walkthrough::{creds, set_up, BACKEND, SERVICE_PORT};
use underpass_cli::Client;
use underpass_proto::proxy_v2::parse_proxy_v2;
use underpass_proto::ParseError;

/// A target that reports, in its HTTP body, the PROXY v2 header it received (if any).
async fn pp_backend() -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(BACKEND)
        .await
        .expect("bind the backend");
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut n = 0;
                // Read until the end of the HTTP request headers (bounded), which come after the
                // PROXY header if there is one. The PROXY v2 signature itself begins with
                // "\r\n\r\n": looking for the end of the HTTP headers from the first byte would
                // answer after the PROXY header alone and close with the request unread, which
                // makes the kernel reset the connection instead of closing it.
                let http_start = |b: &[u8]| match parse_proxy_v2(b) {
                    Ok((_, used)) => Some(used),
                    Err(ParseError::Incomplete { .. }) => None,
                    Err(_) => Some(0),
                };
                loop {
                    let done = http_start(&buf[..n])
                        .is_some_and(|at| buf[at..n].windows(4).any(|w| w == b"\r\n\r\n"));
                    if done || n == buf.len() {
                        break;
                    }
                    match s.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => n += k,
                    }
                }
                let body = match parse_proxy_v2(&buf[..n]) {
                    Ok((h, _)) => format!(
                        "pp src={} vpce={}\n",
                        h.addresses
                            .source()
                            .map(|a| a.ip().to_string())
                            .unwrap_or_default(),
                        h.vpce_id().map(|v| v.to_string()).unwrap_or_default()
                    ),
                    Err(_) => "plain\n".to_owned(),
                };
                let resp = format!(
                    "HTTP/1.0 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    })
}

async fn health(c: &Client, tg: &str) -> String {
    let v = c
        .call("DescribeTargetHealth", &json!({"TargetGroupArn": tg}))
        .await
        .unwrap();
    v["TargetHealthDescriptions"][0]["TargetHealth"]["State"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_protocol_and_target_health() {
    let dir = tempfile::tempdir().unwrap();
    let data = sub(dir.path(), "server");
    let tunnel = free_port().to_string();
    // Short-lived certificates: the agents renew theirs on every sync, so this test also runs
    // the renewal path under traffic.
    let server = start_server(
        &data,
        &["--tunnel-port", &tunnel, "--cert-lifetime-secs", "120"],
    );
    let url = server.url.clone();
    let admin = server.admin();
    let state = set_up(&admin).await.unwrap();
    let provider = admin.with_credentials(creds(&state.provider_key));
    let tg = provider
        .call("DescribeTargetGroups", &json!({}))
        .await
        .unwrap()["TargetGroups"][0]["TargetGroupArn"]
        .as_str()
        .unwrap()
        .to_owned();
    provider
        .call("ModifyTargetGroupAttributes", &json!({"TargetGroupArn": tg, "Attributes": [{"Key": "proxy_protocol_v2.enabled", "Value": "true"}]}))
        .await
        .unwrap();
    let mut backend = pp_backend().await;
    let _p = spawn(
        &[
            "agent",
            "--server",
            &url,
            "--data-dir",
            &sub(dir.path(), "p"),
            "--join-token",
            &state.provider_token,
        ],
        &[],
    );
    let _c = spawn(
        &[
            "agent",
            "--server",
            &url,
            "--data-dir",
            &sub(dir.path(), "c"),
            "--join-token",
            &state.consumer_token,
        ],
        // The consumer on one thread (set by the environment), the provider on one per core.
        &[("UNDERPASS_WORKER_THREADS", "1")],
    );
    let endpoint: SocketAddr = format!("{}:{SERVICE_PORT}", state.endpoint_ip)
        .parse()
        .unwrap();

    // PROXY v2 first, with the real client source and this endpoint's id.
    let client_ip = "127.0.0.77".parse().unwrap();
    let mut body = String::new();
    assert!(
        eventually(Duration::from_secs(30), async || {
            match http_get(endpoint, Some(client_ip)).await {
                Ok((s, b)) if s.contains("200") => {
                    body = b;
                    true
                }
                _ => false,
            }
        })
        .await,
        "the endpoint never carried traffic"
    );
    assert_eq!(
        body.trim(),
        format!("pp src=127.0.0.77 vpce={}", state.endpoint_id)
    );

    // Health as the provider's agent reports it.
    assert!(
        eventually(Duration::from_secs(30), async || health(&provider, &tg)
            .await
            == "healthy")
        .await,
        "target never healthy"
    );
    backend.abort();
    let _ = (&mut backend).await;
    assert!(
        eventually(Duration::from_secs(40), async || health(&provider, &tg)
            .await
            == "unhealthy")
        .await,
        "dead target never unhealthy"
    );
    assert!(!matches!(http_get(endpoint, Some(client_ip)).await, Ok((s, _)) if s.contains("200")));
    let _backend = pp_backend().await;
    assert!(
        eventually(Duration::from_secs(40), async || health(&provider, &tg)
            .await
            == "healthy")
        .await,
        "target never came back"
    );
    let (status, _) = http_get(endpoint, Some(client_ip)).await.unwrap();
    assert!(status.contains("200"), "{status}");

    // The agents renewed their certificates (the enrollment record now holds a newer one than
    // the server first issued) and kept syncing with them.
    let enrolled: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}/enrollment.json", sub(dir.path(), "c"))).unwrap(),
    )
    .unwrap();
    let on_disk = std::fs::read_to_string(format!("{}/agent.crt", sub(dir.path(), "c"))).unwrap();
    assert_eq!(enrolled["CertPem"].as_str().unwrap(), on_disk);
    let agents = admin
        .with_credentials(creds(&state.consumer_key))
        .call("DescribeAgents", &json!({}))
        .await
        .unwrap();
    let seen = agents["Agents"][0]["LastSeen"].as_str().unwrap_or("");
    assert!(
        !seen.is_empty(),
        "the consumer agent never synced: {agents}"
    );
}
