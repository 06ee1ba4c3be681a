//! Server settings.

use std::net::SocketAddr;
use std::path::PathBuf;

/// How the control plane runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where the state, keys and CA live.
    pub data_dir: PathBuf,
    /// The API listener.
    pub listen: SocketAddr,
    /// The region name.
    pub region: String,
    /// Zones of the region, e.g. `us-east-1a`.
    pub zones: Vec<String>,
    /// The `<prefix>` of service names `com.<prefix>.vpce.<region>.vpce-svc-…`.
    pub service_name_prefix: String,
    /// The mTLS listener agents sync their desired state from.
    pub agent_listen: SocketAddr,
    /// The port every gateway node listens on for tunnels (on its node address).
    pub tunnel_port: u16,
    /// The SPIFFE trust domain of certificates.
    pub trust_domain: String,
    /// Lifetime of certificates issued to agents.
    pub cert_lifetime: time::Duration,
    /// API calls per second allowed to one access key (sustained); bursts of twice that pass.
    pub rate_per_key: u32,
    /// The account of the install's administrator, created on first start (12 digits).
    pub admin_account: String,
    /// Base domain of endpoint DNS names: `vpce-….vpce-svc-….<region>.vpce.<dns_domain>`.
    pub dns_domain: String,
    /// Resolvers the TXT verification of private DNS names asks (empty: the host's
    /// `/etc/resolv.conf`).
    pub dns_verification_resolver: Vec<SocketAddr>,
    /// How long one verification waits for an answer, all resolvers together.
    pub dns_verification_timeout: std::time::Duration,
    /// Where the agents' VPC resolvers forward names that are not theirs (empty: each agent's
    /// host resolvers).
    pub dns_upstreams: Vec<SocketAddr>,
    /// Whether each new account gets a default VPC with a default subnet per zone, as in EC2.
    pub default_vpc: bool,
}

impl ServerConfig {
    /// Defaults for `data_dir`: loopback API and agent listeners on free ports, region
    /// `us-east-1` with three zones, tunnels on port 4790, endpoint names under
    /// `underpass.internal`, TXT verification through the host's resolvers (3 s), a default VPC
    /// for each new account.
    pub fn with_data_dir(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            region: "us-east-1".into(),
            zones: ["a", "b", "c"]
                .iter()
                .map(|z| format!("us-east-1{z}"))
                .collect(),
            service_name_prefix: "underpass".into(),
            agent_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tunnel_port: 4790,
            trust_domain: "underpass.internal".into(),
            cert_lifetime: time::Duration::hours(24),
            rate_per_key: 200,
            admin_account: crate::bootstrap::ADMIN_ACCOUNT.into(),
            dns_domain: underpass_domain::dns::DEFAULT_DOMAIN.into(),
            dns_verification_resolver: Vec::new(),
            dns_verification_timeout: std::time::Duration::from_secs(3),
            dns_upstreams: Vec::new(),
            default_vpc: true,
        }
    }
}
