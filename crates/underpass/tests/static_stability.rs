//! Static stability through the real binaries: a server process, two agent processes, a backend.
//! With the control plane killed, existing endpoints keep carrying new connections, and an agent
//! restarted while the control plane is down serves from its cached state.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{eventually, free_port, http_backend, http_get, spawn, start_server, sub};
use underpass_cli::walkthrough::{set_up, BACKEND, SERVICE_PORT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_survives_the_control_plane() {
    let dir = tempfile::tempdir().unwrap();
    let data = sub(dir.path(), "server");
    let tunnel = free_port().to_string();
    let server = start_server(&data, &["--tunnel-port", &tunnel]);
    let (url, mut server) = (server.url.clone(), server);
    let admin = server.admin();
    let state = set_up(&admin).await.unwrap();
    let _backend = http_backend(BACKEND).await;
    let provider_dir = sub(dir.path(), "provider");
    let consumer_dir = sub(dir.path(), "consumer");
    let _provider = spawn(
        &[
            "agent",
            "--server",
            &url,
            "--data-dir",
            &provider_dir,
            "--join-token",
            &state.provider_token,
        ],
        &[],
    );
    let mut consumer = spawn(
        &[
            "agent",
            "--server",
            &url,
            "--data-dir",
            &consumer_dir,
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

    // Control plane gone: every new connection to the existing endpoint still works.
    server.process.kill9();
    let mut ok = 0;
    for _ in 0..50 {
        if matches!(http_get(endpoint, None).await, Ok((s, _)) if s.contains("200")) {
            ok += 1;
        }
    }
    assert_eq!(
        ok, 50,
        "only {ok}/50 connections succeeded with the control plane down"
    );

    // An agent restarted while the control plane is down serves from its cache (no join token now).
    consumer.kill9();
    let _consumer = spawn(
        &["agent", "--server", &url, "--data-dir", &consumer_dir],
        &[],
    );
    assert!(
        eventually(
            Duration::from_secs(20),
            async || matches!(http_get(endpoint, None).await, Ok((s, _)) if s.contains("200"))
        )
        .await,
        "a restarted agent did not serve its cached state"
    );

    // The control plane comes back; nothing breaks.
    let _server = start_server(&data, &["--tunnel-port", &tunnel]);
    let (status, _) = http_get(endpoint, None).await.unwrap();
    assert!(status.contains("200"), "{status}");
}
