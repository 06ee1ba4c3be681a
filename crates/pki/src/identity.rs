//! SPIFFE-style identities carried as the one URI SAN of every leaf certificate.

use std::fmt;
use std::str::FromStr;

use underpass_domain::{AccountId, AgentId, EndpointId, ServiceId, VpcId};

use crate::error::{truncated, PkiError};

/// The trust domain used when none is configured.
pub const DEFAULT_TRUST_DOMAIN: &str = "underpass.internal";

/// Longest SPIFFE id accepted by the parser (far above any id we issue).
pub const MAX_SPIFFE_ID_LEN: usize = 512;

const SCHEME: &str = "spiffe://";

fn invalid(input: &str, reason: &'static str) -> PkiError {
    PkiError::InvalidIdentity {
        input: truncated(input),
        reason,
    }
}

/// The trust domain of an install: the host part of every SPIFFE id (`underpass.internal`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrustDomain(String);

impl TrustDomain {
    /// The trust domain as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for TrustDomain {
    fn default() -> Self {
        Self(DEFAULT_TRUST_DOMAIN.to_owned())
    }
}

impl FromStr for TrustDomain {
    type Err = PkiError;
    /// 1 to 255 characters of `a-z 0-9 . - _`, as the SPIFFE spec allows.
    fn from_str(s: &str) -> Result<Self, PkiError> {
        if s.is_empty() || s.len() > 255 {
            return Err(invalid(s, "a trust domain has 1 to 255 characters"));
        }
        let ok = s
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_'));
        if !ok {
            return Err(invalid(
                s,
                "a trust domain uses only a-z, 0-9, '.', '-' and '_'",
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustDomain({})", self.0)
    }
}

/// A zone name such as `us-east-1a` or a zone id such as `use1-az1`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ZoneName(String);

impl ZoneName {
    /// The zone as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ZoneName {
    type Err = PkiError;
    /// 1 to 32 characters of `a-z 0-9 -`, not starting or ending with `-`.
    fn from_str(s: &str) -> Result<Self, PkiError> {
        let ok = (1..=32).contains(&s.len())
            && s.bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
            && !s.starts_with('-')
            && !s.ends_with('-');
        if !ok {
            return Err(invalid(
                s,
                "a zone is 1 to 32 characters of a-z, 0-9 and '-', not starting or ending with '-'",
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for ZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ZoneName({})", self.0)
    }
}

/// Who a certificate speaks for; printed and parsed as a `spiffe://` URI.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum SpiffeId {
    /// An agent: `spiffe://<td>/account/<acct>/vpc/<vpc-id>/zone/<zone>/agent/<agent-id>`.
    Agent {
        /// The install's trust domain.
        trust_domain: TrustDomain,
        /// The account that registered the VPC.
        account: AccountId,
        /// The VPC the agent runs in.
        vpc: VpcId,
        /// The agent's zone.
        zone: ZoneName,
        /// The agent.
        agent: AgentId,
    },
    /// An interface endpoint, presented by the consumer's agent on a tunnel:
    /// `spiffe://<td>/account/<acct>/endpoint/<vpce-id>`.
    Endpoint {
        /// The install's trust domain.
        trust_domain: TrustDomain,
        /// The consumer account that owns the endpoint.
        account: AccountId,
        /// The endpoint.
        endpoint: EndpointId,
    },
    /// An endpoint service, presented by the provider's gateway:
    /// `spiffe://<td>/account/<acct>/service/<vpce-svc-id>`.
    Service {
        /// The install's trust domain.
        trust_domain: TrustDomain,
        /// The provider account that owns the service.
        account: AccountId,
        /// The endpoint service.
        service: ServiceId,
    },
    /// The control plane: `spiffe://<td>/server`.
    Server {
        /// The install's trust domain.
        trust_domain: TrustDomain,
    },
}

impl SpiffeId {
    /// The trust domain the id belongs to.
    pub fn trust_domain(&self) -> &TrustDomain {
        match self {
            Self::Agent { trust_domain, .. }
            | Self::Endpoint { trust_domain, .. }
            | Self::Service { trust_domain, .. }
            | Self::Server { trust_domain } => trust_domain,
        }
    }

    /// A short word for the kind of identity ("agent", "endpoint", "service", "server").
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Agent { .. } => "agent",
            Self::Endpoint { .. } => "endpoint",
            Self::Service { .. } => "service",
            Self::Server { .. } => "server",
        }
    }

    /// Whether a certificate for this identity may also carry DNS and IP names.
    pub fn allows_host_names(&self) -> bool {
        matches!(self, Self::Service { .. } | Self::Server { .. })
    }

    /// The certificate's subject common name: the bare resource id (informational only).
    pub(crate) fn common_name(&self) -> String {
        match self {
            Self::Agent { agent, .. } => agent.to_string(),
            Self::Endpoint { endpoint, .. } => endpoint.to_string(),
            Self::Service { service, .. } => service.to_string(),
            Self::Server { .. } => "underpass-server".to_owned(),
        }
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/", self.trust_domain())?;
        match self {
            Self::Agent {
                account,
                vpc,
                zone,
                agent,
                ..
            } => write!(f, "account/{account}/vpc/{vpc}/zone/{zone}/agent/{agent}"),
            Self::Endpoint {
                account, endpoint, ..
            } => write!(f, "account/{account}/endpoint/{endpoint}"),
            Self::Service {
                account, service, ..
            } => write!(f, "account/{account}/service/{service}"),
            Self::Server { .. } => f.write_str("server"),
        }
    }
}

impl fmt::Debug for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpiffeId({self})")
    }
}

impl FromStr for SpiffeId {
    type Err = PkiError;
    fn from_str(s: &str) -> Result<Self, PkiError> {
        if s.len() > MAX_SPIFFE_ID_LEN {
            return Err(invalid(s, "longer than any SPIFFE id we issue"));
        }
        let rest = s
            .strip_prefix(SCHEME)
            .ok_or_else(|| invalid(s, "expected the scheme spiffe://"))?;
        let (td, path) = rest
            .split_once('/')
            .ok_or_else(|| invalid(s, "expected a path after the trust domain"))?;
        let trust_domain: TrustDomain = td.parse()?;
        let segments: Vec<&str> = path.split('/').collect();
        let err = |reason| invalid(s, reason);
        let account = |a: &str| {
            a.parse::<AccountId>()
                .map_err(|_| err("the account must be 12 digits"))
        };
        match segments.as_slice() {
            ["server"] => Ok(Self::Server { trust_domain }),
            ["account", a, "endpoint", e] => Ok(Self::Endpoint {
                trust_domain,
                account: account(a)?,
                endpoint: e.parse().map_err(|_| err("invalid endpoint id"))?,
            }),
            ["account", a, "service", v] => Ok(Self::Service {
                trust_domain,
                account: account(a)?,
                service: v.parse().map_err(|_| err("invalid service id"))?,
            }),
            ["account", a, "vpc", v, "zone", z, "agent", g] => Ok(Self::Agent {
                trust_domain,
                account: account(a)?,
                vpc: v.parse().map_err(|_| err("invalid VPC id"))?,
                zone: z.parse()?,
                agent: g.parse().map_err(|_| err("invalid agent id"))?,
            }),
            _ => Err(err(
                "expected /server, /account/<acct>/endpoint/<id>, /account/<acct>/service/<id> \
                 or /account/<acct>/vpc/<id>/zone/<zone>/agent/<id>",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGENT: &str = "spiffe://underpass.internal/account/123456789012/vpc/vpc-0123456789abcdef0/zone/us-east-1a/agent/agent-00000000000000001";

    #[test]
    fn every_kind_round_trips() {
        for s in [
            AGENT,
            "spiffe://underpass.internal/account/123456789012/endpoint/vpce-0123456789abcdef0",
            "spiffe://example.org/account/123456789012/service/vpce-svc-0123456789abcdef0",
            "spiffe://underpass.internal/server",
        ] {
            let id: SpiffeId = s.parse().unwrap();
            assert_eq!(id.to_string(), s);
        }
    }

    #[test]
    fn agent_fields_are_parsed() {
        let SpiffeId::Agent { zone, agent, .. } = AGENT.parse().unwrap() else {
            panic!("not an agent id");
        };
        assert_eq!(zone.as_str(), "us-east-1a");
        assert_eq!(agent.to_string(), "agent-00000000000000001");
    }

    #[test]
    fn malformed_ids_are_refused() {
        for s in [
            "",
            "spiffe://",
            "spiffe://underpass.internal",
            "spiffe://underpass.internal/",
            "spiffe://underpass.internal/server/",
            "spiffe://Underpass.internal/server",
            "https://underpass.internal/server",
            "spiffe://underpass.internal/account/12345678901/endpoint/vpce-0123456789abcdef0",
            "spiffe://underpass.internal/account/123456789012/endpoint/vpce-svc-0123456789abcdef0",
            "spiffe://underpass.internal/account/123456789012/service/vpce-0123456789abcdef0",
            "spiffe://underpass.internal/account/123456789012//endpoint/vpce-0123456789abcdef0",
            "spiffe://underpass.internal/account/123456789012/endpoint/vpce-0123456789abcdef0?x",
            "spiffe://underpass.internal/account/123456789012/vpc/vpc-0123456789abcdef0/zone/-a/agent/agent-00000000000000001",
        ] {
            assert!(s.parse::<SpiffeId>().is_err(), "{s:?} was accepted");
        }
        let long = format!("spiffe://{}/server", "a".repeat(600));
        assert!(long.parse::<SpiffeId>().is_err());
    }

    #[test]
    fn default_trust_domain() {
        assert_eq!(TrustDomain::default().as_str(), "underpass.internal");
        assert!("bad/domain".parse::<TrustDomain>().is_err());
    }
}
