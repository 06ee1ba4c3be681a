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
    /// The regions served, the first the primary (the default of requests that name none, such
    /// as the agents'); at least one.
    pub regions: Vec<RegionConfig>,
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
            regions: vec![RegionConfig::with_default_zones("us-east-1")],
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

/// One region a server serves, and its zones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionConfig {
    /// The region's name, e.g. `eu-west-1`.
    pub name: String,
    /// Its zones, e.g. `eu-west-1a`.
    pub zones: Vec<String>,
}

impl RegionConfig {
    /// The region with zones `a`, `b` and `c`, as most AWS regions have.
    pub fn with_default_zones(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            zones: ["a", "b", "c"]
                .iter()
                .map(|z| format!("{name}{z}"))
                .collect(),
        }
    }
}

impl ServerConfig {
    /// The primary region: the first configured.
    pub fn primary_region(&self) -> &str {
        self.regions
            .first()
            .map_or("us-east-1", |r| r.name.as_str())
    }

    /// The settings of region `name`, if served.
    pub fn region(&self, name: &str) -> Option<&RegionConfig> {
        self.regions.iter().find(|r| r.name == name)
    }

    /// The zones of region `name` (none when it is not served).
    pub fn zones(&self, name: &str) -> &[String] {
        self.region(name).map_or(&[], |r| r.zones.as_slice())
    }

    /// Checks the regions: at least one, each named as AWS names regions (lower-case letters,
    /// digits and `-`, 1 to 32 characters), none twice, each with 1 to 16 zones whose names
    /// are the region's name and a suffix of lower-case letters and digits, no zone twice.
    pub fn check(&self) -> Result<(), String> {
        if self.regions.is_empty() {
            return Err("at least one region must be served".into());
        }
        let mut zones_seen = std::collections::HashSet::new();
        for (i, r) in self.regions.iter().enumerate() {
            let name_ok = (1..=32).contains(&r.name.len())
                && r.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !r.name.starts_with('-')
                && !r.name.ends_with('-');
            if !name_ok {
                return Err(format!(
                    "region name {:?}: use lower-case letters, digits and '-' (like us-east-1)",
                    r.name
                ));
            }
            if self.regions[..i].iter().any(|o| o.name == r.name) {
                return Err(format!("region {} is listed twice", r.name));
            }
            if r.zones.is_empty() || r.zones.len() > 16 {
                return Err(format!(
                    "region {} has {} zones; give it 1 to 16",
                    r.name,
                    r.zones.len()
                ));
            }
            for z in &r.zones {
                let suffix_ok = z.strip_prefix(r.name.as_str()).is_some_and(|s| {
                    !s.is_empty()
                        && s.len() <= 8
                        && s.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                });
                if !suffix_ok {
                    return Err(format!(
                        "zone {z:?} of region {}: a zone is the region's name and a letter \
                         (like {}a)",
                        r.name, r.name
                    ));
                }
                if !zones_seen.insert(z.as_str()) {
                    return Err(format!("zone {z} is listed twice"));
                }
            }
        }
        Ok(())
    }

    /// The region a zone belongs to.
    pub fn region_of_zone(&self, zone: &str) -> Option<&str> {
        self.regions
            .iter()
            .find(|r| r.zones.iter().any(|z| z == zone))
            .map(|r| r.name.as_str())
    }
}
