//! `underpass agent`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use underpass_agent::{AgentConfig, DataplaneApplier, DnsHostConfig, RunningAgent};
use underpass_dataplane::{Dataplane, DataplaneConfig, FlowEvent, FlowSink};
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
}

/// Flow events as structured log lines, until flow logs have their own sink.
pub(crate) struct LogFlows;

impl FlowSink for LogFlows {
    fn record(&self, ev: FlowEvent) {
        tracing::info!(target: "underpass::flow", flow = ?ev, "flow");
    }
}

/// Starts an agent hosting a data plane and the VPC's resolver.
pub(crate) async fn start(
    server: String,
    data_dir: PathBuf,
    join_token: Option<Zeroizing<String>>,
    dns: DnsHostConfig,
) -> anyhow::Result<RunningAgent> {
    let cfg = AgentConfig {
        server_url: server,
        data_dir,
        join_token,
    };
    let agent = underpass_agent::run(cfg, |_, key| {
        let dp = Dataplane::new(DataplaneConfig::new(key), LogFlows);
        Arc::new(DataplaneApplier::new(dp).with_dns(dns))
    })
    .await
    .context("starting the agent")?;
    Ok(agent)
}

pub(crate) async fn run(args: AgentArgs) -> anyhow::Result<u8> {
    let agent = start(
        args.server,
        args.data_dir,
        args.join_token.map(Zeroizing::new),
        DnsHostConfig {
            port: args.dns_port,
            upstreams: args.dns_upstreams,
        },
    )
    .await?;
    println!(
        "agent {} running in {} zone {}",
        agent.enrollment.agent_id, agent.enrollment.vpc_id, agent.enrollment.zone
    );
    crate::cmd::server::shutdown_signal().await;
    agent.stop().await;
    Ok(0)
}
