//! `underpass agent`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use underpass_agent::{
    AgentConfig, DataplaneApplier, DnsHostConfig, FlowLogSettings, FlowLogWriter, RunningAgent,
};
use underpass_dataplane::{Dataplane, DataplaneConfig};
use zeroize::Zeroizing;

/// Settings of `underpass agent`.
#[derive(clap::Args)]
#[command(
    after_help = "Example (first start enrolls; later starts reuse the data dir):\n  \
underpass admin create-agent-join-token --vpc-id vpc-… --availability-zone us-east-1a\n  \
UNDERPASS_JOIN_TOKEN=upjt1.… underpass agent --server http://127.0.0.1:4510 --data-dir /var/lib/underpass-agent"
)]
pub(crate) struct AgentArgs {
    /// The control plane's API URL.
    #[arg(
        long,
        env = "UNDERPASS_SERVER",
        default_value = "http://127.0.0.1:4510"
    )]
    server: String,
    /// Where the key, certificates and state cache live.
    #[arg(
        long,
        env = "UNDERPASS_AGENT_DATA_DIR",
        default_value = "./underpass-agent"
    )]
    data_dir: PathBuf,
    /// One-time join token (first start only).
    #[arg(long, env = "UNDERPASS_JOIN_TOKEN", hide_env_values = true)]
    join_token: Option<String>,
    /// The port of the VPC's resolver on its address (the VPC block's base + 2). Port 53 needs
    /// privileges; choose another where the agent has none.
    #[arg(long, env = "UNDERPASS_DNS_PORT", default_value_t = 53)]
    dns_port: u16,
    /// Resolvers the VPC's resolver forwards other names to (repeatable; default: the control
    /// plane's setting, else this host's /etc/resolv.conf).
    #[arg(
        long = "dns-upstream",
        env = "UNDERPASS_DNS_UPSTREAM",
        value_delimiter = ','
    )]
    dns_upstreams: Vec<std::net::SocketAddr>,
    /// The flow-log root: flow logs with the `file` destination `NAME` write under
    /// `<flow-log-dir>/NAME/AWSLogs/…` (default: `<data-dir>/flow-logs`). SIGUSR1 flushes now.
    #[arg(long, env = "UNDERPASS_FLOW_LOG_DIR")]
    flow_log_dir: Option<PathBuf>,
    /// Replaces every flow log's aggregation interval (for tests; EC2 allows 60 or 600).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=3600))]
    flow_log_interval_secs: Option<u64>,
    /// The S3-compatible store that flow logs with an `s3` destination
    /// (`arn:aws:s3:::BUCKET[/PREFIX]`) write to, e.g. `http://127.0.0.1:9000` for a local MinIO
    /// (requests are then path-style: URL/BUCKET/KEY). Unset: AWS S3 itself. Credentials come
    /// from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for temporary ones, AWS_SESSION_TOKEN;
    /// without them `s3` flow logs are not written (their batches are spooled, then dropped
    /// with SKIPDATA).
    #[arg(long, env = "UNDERPASS_FLOW_LOGS_S3_ENDPOINT", value_name = "URL")]
    flow_logs_s3_endpoint: Option<String>,
    /// The region requests to S3 are signed for (the bucket's region on AWS; most
    /// S3-compatible stores accept us-east-1).
    #[arg(
        long,
        env = "AWS_REGION",
        default_value = "us-east-1",
        value_name = "REGION"
    )]
    flow_logs_s3_region: String,
    /// Accepts a plain `http://` S3 endpoint on a non-loopback host (requests are signed but not
    /// encrypted; loopback endpoints are always accepted).
    #[arg(long, env = "UNDERPASS_FLOW_LOGS_S3_ALLOW_HTTP")]
    flow_logs_s3_allow_http: bool,
    /// How this agent's endpoints carry flows to gateways. Gateways accept both.
    #[arg(
        long,
        env = "UNDERPASS_TUNNELS",
        value_enum,
        default_value_t = Tunnels::Multiplexed
    )]
    tunnels: Tunnels,
}

/// How a consumer agent carries flows to a gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Tunnels {
    /// Each flow is a stream of one long-lived mTLS tunnel per (endpoint, gateway): no
    /// handshake per flow, little memory per idle flow.
    Multiplexed,
    /// Each flow has an mTLS tunnel of its own, taken from a small pool of pre-opened ones.
    PerFlow,
}

/// A running agent and its flow-log writer.
pub(crate) struct Agent {
    pub(crate) running: RunningAgent,
    pub(crate) flow_logs: FlowLogWriter,
}

impl Agent {
    /// Stops syncing, then writes the open flow-log windows.
    pub(crate) async fn stop(self) {
        self.running.stop().await;
        let writer = self.flow_logs;
        let _ = tokio::task::spawn_blocking(move || writer.shutdown()).await;
    }
}

/// Flow-log settings: `root`, and an interval override in seconds.
pub(crate) fn flow_log_settings(root: PathBuf, interval_secs: Option<u64>) -> FlowLogSettings {
    let mut s = FlowLogSettings::new(root);
    s.interval_override = interval_secs.map(Duration::from_secs);
    s
}

/// Starts an agent hosting a data plane, the VPC's resolver and the flow-log writer.
pub(crate) async fn start(
    server: String,
    data_dir: PathBuf,
    join_token: Option<Zeroizing<String>>,
    dns: DnsHostConfig,
    flow_logs: FlowLogSettings,
    tunnels: Tunnels,
) -> anyhow::Result<Agent> {
    let root = flow_logs.root.clone();
    let writer = FlowLogWriter::start(flow_logs)
        .with_context(|| format!("starting the flow-log writer for {}", root.display()))?;
    let cfg = AgentConfig {
        server_url: server,
        data_dir,
        join_token,
    };
    let w = writer.clone();
    let running = underpass_agent::run(cfg, move |_, key| {
        let mut dp_cfg = DataplaneConfig::new(key);
        dp_cfg.multiplex = tunnels == Tunnels::Multiplexed;
        let dp = Dataplane::new(dp_cfg, w.sink());
        Arc::new(DataplaneApplier::new(dp).with_dns(dns).with_flow_logs(w))
    })
    .await;
    let running = match running {
        Ok(r) => r,
        Err(e) => {
            let _ = tokio::task::spawn_blocking(move || writer.shutdown()).await;
            return Err(e).context("starting the agent");
        }
    };
    Ok(Agent {
        running,
        flow_logs: writer,
    })
}

/// Flushes the writers' open windows on every SIGUSR1, until the task is aborted.
pub(crate) fn flush_on_sigusr1(writers: Vec<FlowLogWriter>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let kind = tokio::signal::unix::SignalKind::user_defined1();
        let Ok(mut sig) = tokio::signal::unix::signal(kind) else {
            tracing::warn!("cannot listen for SIGUSR1: flow logs flush on their interval only");
            return;
        };
        while sig.recv().await.is_some() {
            tracing::info!("SIGUSR1: flushing flow logs");
            for w in &writers {
                w.request_flush();
            }
        }
    })
}

pub(crate) async fn run(args: AgentArgs) -> anyhow::Result<u8> {
    let root = args
        .flow_log_dir
        .clone()
        .unwrap_or_else(|| args.data_dir.join("flow-logs"));
    let mut flow_logs = flow_log_settings(root, args.flow_log_interval_secs);
    flow_logs.s3 = FlowLogSettings::s3_from(
        args.flow_logs_s3_endpoint.as_deref(),
        &args.flow_logs_s3_region,
        args.flow_logs_s3_allow_http,
        |k| std::env::var(k).ok(),
    )
    .context("flow-log S3 settings")?;
    let agent = start(
        args.server,
        args.data_dir,
        args.join_token.map(Zeroizing::new),
        DnsHostConfig {
            port: args.dns_port,
            upstreams: args.dns_upstreams,
        },
        flow_logs,
        args.tunnels,
    )
    .await?;
    let e = &agent.running.enrollment;
    let stop = crate::cmd::server::shutdown_signal();
    println!(
        "agent {} running in {} zone {}",
        e.agent_id, e.vpc_id, e.zone
    );
    let flusher = flush_on_sigusr1(vec![agent.flow_logs.clone()]);
    stop.await;
    flusher.abort();
    agent.stop().await;
    Ok(0)
}
