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
    /// The port of the VPCs' resolvers (each on its VPC's base + 2 address).
    #[arg(long, default_value_t = 5353)]
    dns_port: u16,
    /// Where the VPCs' resolvers forward names that are not theirs (repeatable). Default: the
    /// provider's `provider.local` zone this process serves, so dev mode stays on loopback;
    /// give your own resolver (e.g. `--dns-upstream 192.0.2.53:53`) to resolve other names.
    #[arg(long = "dns-upstream", value_delimiter = ',')]
    dns_upstreams: Vec<SocketAddr>,
    /// Replaces the flow logs' 60-second aggregation interval (tests use a short one; SIGUSR1
    /// flushes at any time).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=3600))]
    flow_log_interval_secs: Option<u64>,
}

/// The flow-log format dev mode uses: the version 2 fields and the custom ones that tell
/// where a record was taken (VPC, subnet, zone, direction, the original client).
pub(crate) const DEV_FLOW_LOG_FORMAT: &str = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${vpc-id} ${subnet-id} ${tcp-flags} ${type} ${pkt-srcaddr} ${pkt-dstaddr} ${region} ${az-id} ${flow-direction}";

/// The `file` destination of dev mode's flow logs, under `<data-dir>/flow-logs`.
const DEV_FLOW_LOG_DESTINATION: &str = "dev";

/// Turns flow logs on for `vpc` (ALL traffic, 60 s, the dev format, the `file` destination),
/// unless the VPC already has a file flow log (a reused data dir).
async fn ensure_flow_log(c: &Client, vpc: &str) -> anyhow::Result<()> {
    let existing = c
        .call(
            "DescribeFlowLogs",
            &json!({"Filter": [{"Name": "resource-id", "Values": [vpc]},
                               {"Name": "log-destination-type", "Values": ["file"]}]}),
        )
        .await
        .context("DescribeFlowLogs")?;
    if existing["FlowLogs"]
        .as_array()
        .is_some_and(|a| !a.is_empty())
    {
        return Ok(());
    }
    let r = c
        .call(
            "CreateFlowLogs",
            &json!({"ResourceType": "VPC", "ResourceIds": [vpc], "TrafficType": "ALL",
                    "LogDestinationType": "file", "LogDestination": DEV_FLOW_LOG_DESTINATION,
                    "MaxAggregationInterval": 60, "LogFormat": DEV_FLOW_LOG_FORMAT}),
        )
        .await
        .context("CreateFlowLogs")?;
    if let Some(u) = r["Unsuccessful"].as_array().and_then(|u| u.first()) {
        return Err(anyhow!("CreateFlowLogs for {vpc} failed: {u}"));
    }
    Ok(())
}

use underpass_cli::walkthrough::{
    creds, set_up_with_private_dns, str_at, DevState, TxtPublisher, BACKEND, CONSUMER,
    CONSUMER_CIDR, PROVIDER, PROVIDER_CIDR, PROVIDER_ZONE, REGION, SERVICE_PORT,
};
use underpass_dns::StaticAuthority;

/// The provider's public DNS in dev mode: TXT records go to the authoritative server.
struct Publisher<'a>(&'a StaticAuthority);

impl TxtPublisher for Publisher<'_> {
    fn publish<'a>(
        &'a self,
        name: &'a str,
        value: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move { self.0.add_txt(name, value).await.map_err(|e| e.to_string()) })
    }
}

/// The resolver address of a loopback VPC block, with the dev DNS port.
fn resolver_of(cidr: &str, port: u16) -> anyhow::Result<SocketAddr> {
    let block = underpass_domain::net::parse_cidr(cidr)?;
    Ok(SocketAddr::new(
        underpass_domain::net::resolver_address(&block).into(),
        port,
    ))
}

/// Waits until `name` resolves to `want` through `server` (bounded).
async fn wait_for_dns(server: SocketAddr, name: &str, want: &str) -> anyhow::Result<()> {
    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::{Name, RData, RecordType};
    let mut qname = Name::from_ascii(name)?;
    qname.set_fqdn(true);
    let question = Query::query(qname, RecordType::A);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut last = String::from("no answer");
    while tokio::time::Instant::now() < deadline {
        match underpass_dns::client::exchange(server, &question, Duration::from_secs(2)).await {
            Ok(bytes) => match Message::from_vec(&bytes) {
                Ok(m) => {
                    let found: Vec<String> = m
                        .answers
                        .iter()
                        .filter_map(|r| match &r.data {
                            RData::A(a) => Some(a.0.to_string()),
                            _ => None,
                        })
                        .collect();
                    if found.iter().any(|a| a == want) {
                        return Ok(());
                    }
                    last = format!("{} {found:?}", m.metadata.response_code);
                }
                Err(e) => last = e.to_string(),
            },
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(anyhow!(
        "{name} did not resolve to {want} through {server} within 30 s (last: {last})"
    ))
}

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
    // The provider's public DNS zone, where the TXT record proving the private DNS name lives.
    let authority = StaticAuthority::start(SocketAddr::from(([127, 0, 0, 1], 0)), PROVIDER_ZONE)
        .await
        .context("starting the provider's DNS zone")?;
    let mut cfg = ServerConfig::with_data_dir(dir.join("server"));
    cfg.listen = args.listen;
    cfg.tunnel_port = args.tunnel_port;
    cfg.dns_verification_resolver = vec![authority.addr()];
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
        let s: DevState = serde_json::from_str(&std::fs::read_to_string(&state_path)?)
            .context("reading dev-state.json")?;
        if !s.txt_record.0.is_empty() {
            // The provider's DNS lives in this process: publish the record again.
            authority
                .add_txt(&s.txt_record.0, &s.txt_record.1)
                .await
                .context("publishing the TXT record")?;
        }
        s
    } else {
        let s = set_up_with_private_dns(&admin, &Publisher(&authority))
            .await
            .with_context(|| {
                // The walkthrough is not idempotent (accounts exist after a half-way stop): say
                // how to start afresh instead of failing the same way on every start.
                format!(
                    "setting up the walkthrough (if an earlier start stopped half-way, remove {} and start again)",
                    dir.display()
                )
            })?;
        write_state(&state_path, &s)?;
        s
    };

    // Flow logs on both VPCs, written by both agents under <data-dir>/flow-logs.
    let provider_api = admin.with_credentials(creds(&state.provider_key));
    ensure_flow_log(&provider_api, &state.provider_vpc).await?;
    ensure_flow_log(
        &admin.with_credentials(creds(&state.consumer_key)),
        &state.consumer_vpc,
    )
    .await?;
    let flow_log_dir = dir.join("flow-logs");
    std::fs::create_dir_all(&flow_log_dir)
        .with_context(|| format!("creating {}", flow_log_dir.display()))?;
    let flow_logs =
        || super::agent::flow_log_settings(flow_log_dir.clone(), args.flow_log_interval_secs);

    let backend = start_backend().await?;
    let dns = underpass_agent::DnsHostConfig {
        port: args.dns_port,
        upstreams: if args.dns_upstreams.is_empty() {
            vec![authority.addr()]
        } else {
            args.dns_upstreams.clone()
        },
    };
    let provider = super::agent::start(
        api_url.clone(),
        dir.join("agents").join("provider"),
        Some(Zeroizing::new(state.provider_token.clone())),
        dns.clone(),
        flow_logs(),
        super::agent::Tunnels::Multiplexed,
    )
    .await?;
    let consumer = super::agent::start(
        api_url.clone(),
        dir.join("agents").join("consumer"),
        Some(Zeroizing::new(state.consumer_token.clone())),
        dns,
        flow_logs(),
        super::agent::Tunnels::Multiplexed,
    )
    .await?;
    let flusher = super::agent::flush_on_sigusr1(vec![
        provider.flow_logs.clone(),
        consumer.flow_logs.clone(),
    ]);
    let dns_server = resolver_of(CONSUMER_CIDR, args.dns_port)?;
    let provider_dns = resolver_of(PROVIDER_CIDR, args.dns_port)?;
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
        Some("available") => {
            wait_for_endpoint(endpoint).await?;
            if !state.private_dns_name.is_empty() {
                wait_for_dns(dns_server, &state.private_dns_name, &state.endpoint_ip).await?;
            }
        }
        other => eprintln!(
            "note: endpoint {} is {}; it carries no traffic (remove {} to start afresh)",
            state.endpoint_id,
            other.unwrap_or("gone"),
            dir.display()
        ),
    }

    let stop = crate::cmd::server::shutdown_signal();
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
            "dns_server": dns_server.to_string(),
            "provider_dns_server": provider_dns.to_string(),
            "endpoint_dns_name": state.endpoint_dns_name,
            "private_dns_name": state.private_dns_name,
            "provider_zone_server": authority.addr().to_string(),
            "flow_log_dir": flow_log_dir.display().to_string(),
        });
        println!("{out}");
    } else {
        print_walkthrough(&api_url, &state, endpoint, dns_server, &flow_log_dir);
    }
    stop.await;
    tracing::info!("stopping");
    flusher.abort();
    consumer.stop().await;
    provider.stop().await;
    backend.abort();
    server.stop().await;
    authority.stop().await;
    Ok(0)
}

fn print_walkthrough(
    api_url: &str,
    s: &DevState,
    endpoint: SocketAddr,
    dns: SocketAddr,
    flow_log_dir: &Path,
) {
    println!(
        "Underpass dev is running.\n\n\
Provider account {PROVIDER} publishes {name} ({sid}) from VPC {pvpc};\n\
consumer account {CONSUMER} reaches it through endpoint {eid} in VPC {cvpc}.\n\n\
Try the endpoint (the consumer's private address for the service):\n  curl http://{endpoint}/\n\n\
Resolve it through the consumer VPC's resolver ({dns}):\n  \
dig @{dns_ip} -p {dns_port} {private} +short\n  dig @{dns_ip} -p {dns_port} {regional} +short\n  \
curl --resolve {private}:{port}:$(dig @{dns_ip} -p {dns_port} {private} +short | head -1) http://{private}:{port}/\n\n\
Use the CLI as the consumer:\n  export UNDERPASS_ENDPOINT_URL={api_url} AWS_REGION={REGION}\n  \
export AWS_ACCESS_KEY_ID={ck} AWS_SECRET_ACCESS_KEY={cs}\n  underpass ec2 describe-vpc-endpoints\n\n\
As the provider (AWS_ACCESS_KEY_ID={pk} AWS_SECRET_ACCESS_KEY={ps}):\n  \
underpass ec2 describe-vpc-endpoint-connections\n  underpass ec2 reject-vpc-endpoint-connections --service-id {sid} --vpc-endpoint-ids {eid}\n\n\
Flow logs of both VPCs (60 s windows, gzip text in AWS's S3 layout; `kill -USR1 {pid}` flushes now):\n  \
find {flows} -name '*.log.gz' | xargs zcat\n  \
underpass flowlogs query \"SELECT srcaddr, dstaddr, dstport, action FROM vpc_flow_logs WHERE action = 'REJECT' AND protocol = 6\" --destination {flows}/dev\n  \
underpass flowlogs query \"SELECT srcaddr, SUM(bytes) AS total FROM vpc_flow_logs GROUP BY srcaddr ORDER BY total DESC LIMIT 10\" --destination {flows}/dev\n\n\
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
        dns_ip = dns.ip(),
        dns_port = dns.port(),
        private = s.private_dns_name,
        regional = s.endpoint_dns_name,
        port = endpoint.port(),
        pid = std::process::id(),
        flows = flow_log_dir.display(),
    );
}
