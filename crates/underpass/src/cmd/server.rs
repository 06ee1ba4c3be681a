//! `underpass server`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use underpass_server::config::RegionConfig;
use underpass_server::ServerConfig;

/// Settings of `underpass server`.
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  underpass server --data-dir /var/lib/underpass --listen 127.0.0.1:4510\n\n\
On first start the data dir gets a master key (0600), a certificate authority, and admin-credentials.json \
with the administrator's access key. Set UNDERPASS_MASTER_KEY (base64 of 32 bytes) to keep the master key out of the data dir."
)]
pub(crate) struct ServerArgs {
    /// Where state, keys and the CA live.
    #[arg(long, env = "UNDERPASS_DATA_DIR", default_value = "./underpass-data")]
    data_dir: PathBuf,
    /// The API listener (JSON, SigV4-signed).
    #[arg(long, env = "UNDERPASS_LISTEN", default_value = "127.0.0.1:4510")]
    listen: SocketAddr,
    /// The mTLS listener agents sync from.
    #[arg(long, env = "UNDERPASS_AGENT_LISTEN", default_value = "127.0.0.1:4511")]
    agent_listen: SocketAddr,
    /// The region(s) served, comma-separated; the first is the primary. Requests act in the
    /// region their signature names (`aws --region`), and each region has its own resources,
    /// as AWS's regional endpoints do. AWS's names work (us-east-1, eu-west-1, …), or your own.
    #[arg(
        long = "region",
        env = "UNDERPASS_REGION",
        value_delimiter = ',',
        default_value = "us-east-1"
    )]
    regions: Vec<String>,
    /// Zone names, comma-separated, each the name of a served region and a suffix
    /// (us-east-1a, eu-west-1b, …). A region none is given for gets zones a, b and c.
    #[arg(long, env = "UNDERPASS_ZONES", value_delimiter = ',')]
    zones: Vec<String>,
    /// The port gateway nodes accept tunnels on.
    #[arg(long, env = "UNDERPASS_TUNNEL_PORT", default_value_t = 4790)]
    tunnel_port: u16,
    /// Lifetime of certificates issued to agents, in seconds (renewed at two thirds).
    #[arg(long, env = "UNDERPASS_CERT_LIFETIME_SECS", default_value_t = 86_400, value_parser = clap::value_parser!(u32).range(60..=31_536_000))]
    cert_lifetime_secs: u32,
    /// The administrator's account id (12 digits), chosen on first start.
    #[arg(long, env = "UNDERPASS_ACCOUNT_ID", default_value = underpass_server::bootstrap::ADMIN_ACCOUNT)]
    account_id: String,
    /// Once the API accepts requests, print one JSON line (api_url, account_id, access_key_id,
    /// secret_access_key, region) for automation instead of the "api listening" line.
    #[arg(long)]
    json: bool,
    /// Base domain of endpoint DNS names (`vpce-….vpce-svc-….<region>.vpce.<domain>`).
    #[arg(long, env = "UNDERPASS_DNS_DOMAIN", default_value = underpass_domain::dns::DEFAULT_DOMAIN)]
    dns_domain: String,
    /// Resolver(s) asked for private-DNS TXT verification records (default: the host's).
    #[arg(
        long = "dns-verification-resolver",
        env = "UNDERPASS_DNS_VERIFICATION_RESOLVER",
        value_delimiter = ','
    )]
    dns_verification_resolver: Vec<SocketAddr>,
    /// Where the agents' VPC resolvers forward other names (default: each agent host's).
    #[arg(
        long = "dns-upstream",
        env = "UNDERPASS_DNS_UPSTREAMS",
        value_delimiter = ','
    )]
    dns_upstreams: Vec<SocketAddr>,
    /// API calls per second one access key may make, sustained (bursts of twice that pass);
    /// more are refused with RequestLimitExceeded, as AWS throttles.
    #[arg(long, env = "UNDERPASS_RATE_PER_KEY", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    rate_per_key: u32,
    /// Do not give new accounts a default VPC (EC2 gives each account one per region:
    /// 172.31.0.0/16 with a default subnet per zone). Accounts made before keep theirs.
    #[arg(long, env = "UNDERPASS_NO_DEFAULT_VPC")]
    no_default_vpc: bool,
}

impl ServerArgs {
    pub(crate) fn config(&self) -> anyhow::Result<ServerConfig> {
        let mut cfg = ServerConfig::with_data_dir(self.data_dir.clone());
        cfg.listen = self.listen;
        cfg.agent_listen = self.agent_listen;
        cfg.regions = regions_config(&self.regions, &self.zones)?;
        cfg.tunnel_port = self.tunnel_port;
        cfg.cert_lifetime = time::Duration::seconds(i64::from(self.cert_lifetime_secs));
        cfg.admin_account = self.account_id.clone();
        cfg.dns_domain = self.dns_domain.clone();
        cfg.dns_verification_resolver = self.dns_verification_resolver.clone();
        cfg.dns_upstreams = self.dns_upstreams.clone();
        cfg.default_vpc = !self.no_default_vpc;
        cfg.rate_per_key = self.rate_per_key;
        cfg.check()
            .map_err(|e| anyhow::anyhow!("--region/--zones: {e}"))?;
        Ok(cfg)
    }
}

/// The regions with their zones: each zone goes to the longest region name it starts with (so
/// `us-east-1` does not take `us-east-10a`); a region with none listed gets a, b and c. A zone
/// of no served region is refused.
fn regions_config(regions: &[String], zones: &[String]) -> anyhow::Result<Vec<RegionConfig>> {
    let mut out: Vec<RegionConfig> = regions
        .iter()
        .map(|r| RegionConfig {
            name: r.trim().to_owned(),
            zones: Vec::new(),
        })
        .collect();
    for zone in zones.iter().map(|z| z.trim()) {
        let owner = out
            .iter_mut()
            .filter(|r| zone.starts_with(r.name.as_str()) && zone.len() > r.name.len())
            .max_by_key(|r| r.name.len())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "--zones: {zone} is in none of the served regions ({})",
                    regions.join(", ")
                )
            })?;
        owner.zones.push(zone.to_owned());
    }
    for r in &mut out {
        if r.zones.is_empty() {
            *r = RegionConfig::with_default_zones(&r.name);
        }
    }
    Ok(out)
}

/// The `--json` line: where the API is and the bootstrap administrator's key, read from
/// `admin-credentials.json` (so the same on every start with the same data dir).
fn ready_line(
    cfg: &ServerConfig,
    server: &underpass_server::RunningServer,
) -> anyhow::Result<String> {
    let path = cfg
        .data_dir
        .join(underpass_server::bootstrap::ADMIN_CREDENTIALS_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "--json reports the administrator's key from {}, which cannot be read",
            path.display()
        )
    })?;
    let creds: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let field = |name: &str| {
        creds[name]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("{} has no {name}", path.display()))
    };
    Ok(serde_json::json!({
        "api_url": format!("http://{}", server.api_addr),
        "agent_addr": server.agent_addr.to_string(),
        "account_id": field("account_id")?,
        "access_key_id": field("access_key_id")?,
        "secret_access_key": field("secret_access_key")?,
        "region": cfg.primary_region(),
        "regions": cfg.regions.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
    })
    .to_string())
}

/// Waits for Ctrl-C or SIGTERM. The handlers are installed when this is called, not when the
/// future is first polled: call it before announcing readiness, or a signal sent right after
/// the announcement could still find the default action (and kill the process uncleanly).
pub(crate) fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    async move {
        tokio::select! {
            () = next(term.as_mut()) => {}
            () = next(int.as_mut()) => {}
        }
    }
}

/// The next delivery of `s`; never, when the handler could not be installed.
async fn next(s: Option<&mut tokio::signal::unix::Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

pub(crate) async fn run(args: ServerArgs) -> anyhow::Result<u8> {
    let cfg = args.config()?;
    let server = underpass_server::start(cfg.clone())
        .await
        .context("starting the control plane")?;
    let stop = shutdown_signal();
    if args.json {
        match ready_line(&cfg, &server) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                server.stop().await;
                return Err(e);
            }
        }
    } else {
        // Tests and scripts read this line to learn the bound addresses.
        println!(
            "api listening on {} agents on {}",
            server.api_addr, server.agent_addr
        );
    }
    stop.await;
    tracing::info!("shutting down");
    server.stop().await;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn zones_go_to_their_region_and_the_rest_get_a_b_c() {
        let got = regions_config(
            &names(&["us-east-1", "us-east-10", "eu-west-1"]),
            &names(&["us-east-10a", "us-east-1b", "us-east-1d"]),
        )
        .expect("valid");
        assert_eq!(got[0].zones, names(&["us-east-1b", "us-east-1d"]));
        // The longest region name wins: us-east-10a is not us-east-1's zone "0a".
        assert_eq!(got[1].zones, names(&["us-east-10a"]));
        assert_eq!(
            got[2].zones,
            names(&["eu-west-1a", "eu-west-1b", "eu-west-1c"])
        );
    }

    #[test]
    fn a_zone_of_no_served_region_is_refused() {
        let err = regions_config(&names(&["us-east-1"]), &names(&["eu-west-1a"]))
            .expect_err("eu-west-1 is not served");
        assert!(err.to_string().contains("eu-west-1a"), "{err}");
        let err = regions_config(&names(&["us-east-1"]), &names(&["us-east-1"]))
            .expect_err("a zone is more than its region's name");
        assert!(
            err.to_string().contains("none of the served regions"),
            "{err}"
        );
    }
}
