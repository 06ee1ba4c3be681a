//! `underpass dev`: the seed-003 walkthrough, already set up, on loopback.
//!
//! Two "loopback VPCs" (127.10.0.0/16 for the provider, 127.20.0.0/16 for the consumer: on
//! Linux every 127/8 address is bindable without setup), a control plane, one agent per VPC, a
//! demo HTTP backend in the provider VPC behind a load balancer, an endpoint service that
//! requires acceptance, and an accepted interface endpoint in the consumer VPC. Everything goes
//! through the real API with SigV4-signed calls; a second start reuses the data dir.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use serde_json::{json, Value};
use underpass_cli::Client;
use underpass_server::ServerConfig;
use zeroize::Zeroizing;

/// Settings of `underpass dev`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  underpass dev                     # prints what to curl and how to use the CLI\n  \
underpass dev --data-dir /tmp/up --json   # one JSON line on stdout once everything is ready"
)]
pub(crate) struct DevArgs {
    /// Where everything lives (reused on the next start).
    #[arg(long, env = "UNDERPASS_DEV_DIR", default_value = "./underpass-dev")]
    data_dir: PathBuf,
    /// Print one JSON object on stdout when ready, instead of the walkthrough text.
    #[arg(long)]
    json: bool,
    /// The API listener (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The port gateway nodes accept tunnels on.
    #[arg(long, default_value_t = 47900)]
    tunnel_port: u16,
}

use underpass_cli::walkthrough::{
    creds, set_up, str_at, DevState, BACKEND, CONSUMER, PROVIDER, REGION, SERVICE_PORT,
};

/// The demo backend: a small HTTP service in the provider's VPC.
async fn start_backend() -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(BACKEND)
        .await
        .with_context(|| format!("binding the demo backend on {BACKEND}"))?;
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(|| async {
            "hello from the provider's service, through a private endpoint\n"
        }),
    );
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "demo backend stopped");
        }
    }))
}

/// Waits until an HTTP GET through the endpoint answers 200 (bounded).
async fn wait_for_endpoint(addr: SocketAddr) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        let attempt = async {
            let mut s = tokio::net::TcpStream::connect(addr).await?;
            s.write_all(b"GET / HTTP/1.0\r\nHost: demo\r\n\r\n").await?;
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).await?;
            Ok::<_, std::io::Error>(String::from_utf8_lossy(&buf).into_owned())
        };
        match tokio::time::timeout(Duration::from_secs(3), attempt).await {
            Ok(Ok(resp))
                if resp.starts_with("HTTP/1.0 200") || resp.starts_with("HTTP/1.1 200") =>
            {
                return Ok(())
            }
            Ok(Ok(resp)) => last = resp.lines().next().unwrap_or("").to_owned(),
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = "timed out".into(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(anyhow!(
        "the endpoint {addr} did not answer 200 within 30 s (last: {last})"
    ))
}

fn write_state(path: &Path, s: &DevState) -> anyhow::Result<()> {
    // Secrets inside: written like a private key (0600 from the first byte, atomically).
    underpass_pki::fs::write_private_key(path, &serde_json::to_string_pretty(s)?)?;
    Ok(())
}

pub(crate) async fn run(args: DevArgs) -> anyhow::Result<u8> {
    let dir = &args.data_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut cfg = ServerConfig::with_data_dir(dir.join("server"));
    cfg.listen = args.listen;
    cfg.tunnel_port = args.tunnel_port;
    let server = underpass_server::start(cfg)
        .await
        .context("starting the control plane")?;
    let api_url = format!("http://{}", server.api_addr);
    let admin_json: Value = serde_json::from_str(&std::fs::read_to_string(
        dir.join("server")
            .join(underpass_server::bootstrap::ADMIN_CREDENTIALS_FILE),
    )?)?;
    let admin = Client::new(
        &api_url,
        REGION,
        creds(&(
            str_at(&admin_json, "/access_key_id")?,
            str_at(&admin_json, "/secret_access_key")?,
        )),
    )?;

    let state_path = dir.join("dev-state.json");
    let state: DevState = if state_path.exists() {
        serde_json::from_str(&std::fs::read_to_string(&state_path)?)
            .context("reading dev-state.json")?
    } else {
        let s = set_up(&admin).await.context("setting up the walkthrough")?;
        write_state(&state_path, &s)?;
        s
    };

    let backend = start_backend().await?;
    let provider = super::agent::start(
        api_url.clone(),
        dir.join("agents").join("provider"),
        Some(Zeroizing::new(state.provider_token.clone())),
    )
    .await?;
    let consumer = super::agent::start(
        api_url.clone(),
        dir.join("agents").join("consumer"),
        Some(Zeroizing::new(state.consumer_token.clone())),
    )
    .await?;
    let endpoint: SocketAddr = format!("{}:{SERVICE_PORT}", state.endpoint_ip).parse()?;
    // A reused install may have had its endpoint rejected or deleted meanwhile: say so rather
    // than wait for traffic that will never flow.
    let consumer_api = admin.with_credentials(creds(&state.consumer_key));
    let described = consumer_api
        .call(
            "DescribeVpcEndpoints",
            &json!({"VpcEndpointIds": [state.endpoint_id]}),
        )
        .await;
    let ep_state = described.ok().and_then(|v| {
        v.pointer("/VpcEndpoints/0/State")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    match ep_state.as_deref() {
        Some("available") => wait_for_endpoint(endpoint).await?,
        other => eprintln!(
            "note: endpoint {} is {}; it carries no traffic (remove {} to start afresh)",
            state.endpoint_id,
            other.unwrap_or("gone"),
            dir.display()
        ),
    }

    if args.json {
        let out = json!({
            "api_url": api_url,
            "region": REGION,
            "access_key_id": state.provider_key.0,
            "secret_access_key": state.provider_key.1,
            "consumer_access_key_id": state.consumer_key.0,
            "consumer_secret_access_key": state.consumer_key.1,
            "service_name": state.service_name,
            "service_id": state.service_id,
            "endpoint_id": state.endpoint_id,
            "endpoint_address": endpoint.to_string(),
            "backend_address": BACKEND,
            "provider_vpc_id": state.provider_vpc,
            "consumer_vpc_id": state.consumer_vpc,
        });
        println!("{out}");
    } else {
        print_walkthrough(&api_url, &state, endpoint);
    }
    crate::cmd::server::shutdown_signal().await;
    tracing::info!("stopping");
    consumer.stop().await;
    provider.stop().await;
    backend.abort();
    server.stop().await;
    Ok(0)
}

fn print_walkthrough(api_url: &str, s: &DevState, endpoint: SocketAddr) {
    println!(
        "Underpass dev is running.\n\n\
Provider account {PROVIDER} publishes {name} ({sid}) from VPC {pvpc};\n\
consumer account {CONSUMER} reaches it through endpoint {eid} in VPC {cvpc}.\n\n\
Try the endpoint (the consumer's private address for the service):\n  curl http://{endpoint}/\n\n\
Use the CLI as the consumer:\n  export UNDERPASS_ENDPOINT_URL={api_url} AWS_REGION={REGION}\n  \
export AWS_ACCESS_KEY_ID={ck} AWS_SECRET_ACCESS_KEY={cs}\n  underpass ec2 describe-vpc-endpoints\n\n\
As the provider (AWS_ACCESS_KEY_ID={pk} AWS_SECRET_ACCESS_KEY={ps}):\n  \
underpass ec2 describe-vpc-endpoint-connections\n  underpass ec2 reject-vpc-endpoint-connections --service-id {sid} --vpc-endpoint-ids {eid}\n\n\
State lives in the data dir; the next start reuses it. Ctrl-C stops.",
        name = s.service_name,
        sid = s.service_id,
        pvpc = s.provider_vpc,
        eid = s.endpoint_id,
        cvpc = s.consumer_vpc,
        ck = s.consumer_key.0,
        cs = s.consumer_key.1,
        pk = s.provider_key.0,
        ps = s.provider_key.1,
    );
}
