//! Security-group and network-ACL rules, and their evaluation for one inbound flow.
//!
//! Security groups are allow-lists: a flow is admitted if any rule of any group on the interface
//! matches. Network ACLs are ordered: the lowest-numbered matching rule decides, and a flow that
//! matches nothing is denied. Both are pure; the agent calls them for every flow into an ENI.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::account::truncated;
use crate::ids::SecurityGroupId;

/// A transport protocol as security-group rules name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Protocol {
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// ICMP (1).
    Icmp,
    /// Every protocol (`-1`).
    All,
}

impl Protocol {
    /// Parses EC2's spellings: `tcp`/`6`, `udp`/`17`, `icmp`/`1`, `-1`/`all`.
    pub fn parse(s: &str) -> Result<Self, FirewallError> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" | "6" => Ok(Self::Tcp),
            "udp" | "17" => Ok(Self::Udp),
            "icmp" | "1" => Ok(Self::Icmp),
            "-1" | "all" => Ok(Self::All),
            _ => Err(FirewallError::Protocol(truncated(s))),
        }
    }

    /// EC2's spelling (`tcp`, `udp`, `icmp`, `-1`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Icmp => "icmp",
            Self::All => "-1",
        }
    }

    /// The IANA protocol number (`-1` for all), as flow logs print it.
    pub fn number(self) -> i16 {
        match self {
            Self::Tcp => 6,
            Self::Udp => 17,
            Self::Icmp => 1,
            Self::All => -1,
        }
    }

    fn has_ports(self) -> bool {
        matches!(self, Self::Tcp | Self::Udp)
    }
}

/// A refused rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FirewallError {
    /// An unknown protocol name or number.
    #[error("Invalid value '{0}' for IP protocol. Unknown protocol.")]
    Protocol(String),
    /// A port outside 0..=65535, or from > to.
    #[error("Invalid port range: from {from} to {to}; ports must be 0-65535 with from <= to.")]
    PortRange {
        /// The rule's from-port.
        from: i32,
        /// The rule's to-port.
        to: i32,
    },
    /// A CIDR that does not parse or has host bits set.
    #[error("Value ({0}) for parameter cidrIp is invalid. This is not a valid CIDR block.")]
    Cidr(String),
    /// A network-ACL rule number outside 1..=32766.
    #[error("Rule number {0} is out of range: it must be between 1 and 32766.")]
    RuleNumber(i32),
}

impl FirewallError {
    /// The EC2 error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Protocol(_) | Self::PortRange { .. } | Self::Cidr(_) | Self::RuleNumber(_) => {
                "InvalidParameterValue"
            }
        }
    }
}

/// Parses a source CIDR (IPv4 or IPv6) whose host bits are zero.
pub fn parse_source_cidr(s: &str) -> Result<IpNet, FirewallError> {
    let net: IpNet = s.parse().map_err(|_| FirewallError::Cidr(truncated(s)))?;
    if net.network() != net.addr() {
        return Err(FirewallError::Cidr(truncated(s)));
    }
    Ok(net)
}

/// A checked port range; for protocols without ports it is all ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct PortRange {
    /// First port, inclusive.
    pub from: u16,
    /// Last port, inclusive.
    pub to: u16,
}

impl PortRange {
    /// Every port.
    pub const ALL: PortRange = PortRange {
        from: 0,
        to: u16::MAX,
    };

    /// Checks EC2's rules: for TCP and UDP both ports in 0..=65535 and from <= to; for other
    /// protocols the ports are ignored (EC2 takes -1).
    pub fn new(protocol: Protocol, from: i32, to: i32) -> Result<Self, FirewallError> {
        if !protocol.has_ports() {
            return Ok(Self::ALL);
        }
        match (u16::try_from(from), u16::try_from(to)) {
            (Ok(f), Ok(t)) if f <= t => Ok(Self { from: f, to: t }),
            _ => Err(FirewallError::PortRange { from, to }),
        }
    }

    fn contains(&self, port: u16) -> bool {
        (self.from..=self.to).contains(&port)
    }
}

/// Where a security-group rule admits traffic from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Source {
    /// An address block.
    Cidr(IpNet),
    /// Any interface that belongs to this group.
    Group(SecurityGroupId),
}

/// One inbound security-group rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct IngressRule {
    /// The protocol.
    pub protocol: Protocol,
    /// The destination ports.
    pub ports: PortRange,
    /// The allowed source.
    pub source: Source,
}

/// An inbound flow, as the agent sees it at accept time.
#[derive(Debug, Clone, Copy)]
pub struct Flow<'a> {
    /// The protocol (never `All`).
    pub protocol: Protocol,
    /// The client's address.
    pub src: IpAddr,
    /// The destination port on the ENI.
    pub dst_port: u16,
    /// The security groups of the client's own interface, when it is one of ours.
    pub src_groups: &'a [SecurityGroupId],
}

impl IngressRule {
    /// Whether this rule admits `flow`.
    pub fn admits(&self, flow: &Flow<'_>) -> bool {
        let proto_ok = self.protocol == Protocol::All || self.protocol == flow.protocol;
        let port_ok = !flow.protocol.has_ports() || self.ports.contains(flow.dst_port);
        let src_ok = match &self.source {
            Source::Cidr(net) => net.contains(&unmap(flow.src)),
            Source::Group(g) => flow.src_groups.contains(g),
        };
        proto_ok && port_ok && src_ok
    }
}

/// An IPv4-mapped IPv6 address compares as its IPv4 form.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Evaluates the security groups of an interface: the first rule that admits the flow, or
/// `None` (denied). Groups are allow-only, so order does not change the outcome.
pub fn evaluate_groups<'r>(
    groups: &[&'r [IngressRule]],
    flow: &Flow<'_>,
) -> Option<&'r IngressRule> {
    groups
        .iter()
        .flat_map(|g| g.iter())
        .find(|r| r.admits(flow))
}

/// Allow or deny, for network-ACL rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RuleAction {
    /// Let the flow through.
    Allow,
    /// Drop the flow.
    Deny,
}

/// One network-ACL entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct AclEntry {
    /// 1..=32766; lower numbers are evaluated first.
    pub number: u16,
    /// The protocol.
    pub protocol: Protocol,
    /// The ports.
    pub ports: PortRange,
    /// The source block.
    pub cidr: IpNet,
    /// What a match does.
    pub action: RuleAction,
}

impl AclEntry {
    /// Checks the rule number's range (1..=32766).
    pub fn check_number(n: i32) -> Result<u16, FirewallError> {
        u16::try_from(n)
            .ok()
            .filter(|n| (1..=32766).contains(n))
            .ok_or(FirewallError::RuleNumber(n))
    }
}

/// Evaluates a network ACL: the lowest-numbered matching entry decides; none matching denies
/// (the `*` rule). Returns the action and the deciding entry's number (`None` for `*`).
pub fn evaluate_acl(entries: &[AclEntry], flow: &Flow<'_>) -> (RuleAction, Option<u16>) {
    let mut sorted: Vec<&AclEntry> = entries.iter().collect();
    sorted.sort_by_key(|e| e.number);
    sorted
        .into_iter()
        .find(|e| {
            (e.protocol == Protocol::All || e.protocol == flow.protocol)
                && (!flow.protocol.has_ports() || e.ports.contains(flow.dst_port))
                && e.cidr.contains(&unmap(flow.src))
        })
        .map_or((RuleAction::Deny, None), |e| (e.action, Some(e.number)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(from: i32, to: i32, cidr: &str) -> IngressRule {
        IngressRule {
            protocol: Protocol::Tcp,
            ports: PortRange::new(Protocol::Tcp, from, to).unwrap(),
            source: Source::Cidr(parse_source_cidr(cidr).unwrap()),
        }
    }

    fn flow(src: &str, port: u16) -> Flow<'static> {
        Flow {
            protocol: Protocol::Tcp,
            src: src.parse().unwrap(),
            dst_port: port,
            src_groups: &[],
        }
    }

    #[test]
    fn security_groups_allow_only_matching_flows() {
        let web = [tcp(80, 80, "10.0.0.0/16"), tcp(443, 443, "0.0.0.0/0")];
        assert!(evaluate_groups(&[&web], &flow("10.0.3.4", 80)).is_some());
        assert!(evaluate_groups(&[&web], &flow("10.1.3.4", 80)).is_none());
        assert!(evaluate_groups(&[&web], &flow("192.0.2.1", 443)).is_some());
        assert!(evaluate_groups(&[&web], &flow("10.0.3.4", 81)).is_none());
        // IPv4-mapped IPv6 matches the IPv4 rule.
        assert!(evaluate_groups(&[&web], &flow("::ffff:10.0.0.9", 80)).is_some());
        // UDP is not TCP.
        let udp = Flow {
            protocol: Protocol::Udp,
            ..flow("10.0.3.4", 80)
        };
        assert!(evaluate_groups(&[&web], &udp).is_none());
        // No groups, or empty groups: denied.
        assert!(evaluate_groups(&[], &flow("10.0.3.4", 80)).is_none());
        assert!(evaluate_groups(&[&[]], &flow("10.0.3.4", 80)).is_none());
        // Several groups: union.
        let ssh = [tcp(22, 22, "10.9.0.0/16")];
        assert!(evaluate_groups(&[&web, &ssh], &flow("10.9.1.1", 22)).is_some());
    }

    #[test]
    fn group_sources_and_all_protocols() {
        let g: SecurityGroupId = "sg-0123456789abcdef0".parse().unwrap();
        let rules = [IngressRule {
            protocol: Protocol::All,
            ports: PortRange::ALL,
            source: Source::Group(g),
        }];
        let member = Flow {
            src_groups: std::slice::from_ref(&g),
            ..flow("10.0.0.1", 5432)
        };
        assert!(evaluate_groups(&[&rules], &member).is_some());
        assert!(evaluate_groups(&[&rules], &flow("10.0.0.1", 5432)).is_none());
    }

    #[test]
    fn rule_validation() {
        assert_eq!(
            PortRange::new(Protocol::Tcp, 0, 65535).unwrap(),
            PortRange::ALL
        );
        for (f, t) in [(-1, 80), (80, 65536), (90, 80), (70000, 70000)] {
            let e = PortRange::new(Protocol::Tcp, f, t).unwrap_err();
            assert_eq!(e.code(), "InvalidParameterValue");
        }
        assert_eq!(
            PortRange::new(Protocol::All, -1, -1).unwrap(),
            PortRange::ALL
        );
        assert!(Protocol::parse("gre").is_err());
        assert_eq!(Protocol::parse("6").unwrap(), Protocol::Tcp);
        assert!(parse_source_cidr("10.0.0.1/8").is_err());
        assert!(parse_source_cidr("2001:db8::/32").is_ok());
        assert!(AclEntry::check_number(0).is_err());
        assert!(AclEntry::check_number(32767).is_err());
        assert_eq!(AclEntry::check_number(100).unwrap(), 100);
    }

    #[test]
    fn acl_lowest_number_wins_and_default_denies() {
        let entry = |number, action, cidr: &str| AclEntry {
            number,
            protocol: Protocol::Tcp,
            ports: PortRange::ALL,
            cidr: parse_source_cidr(cidr).unwrap(),
            action,
        };
        let acl = [
            entry(200, RuleAction::Allow, "0.0.0.0/0"),
            entry(100, RuleAction::Deny, "10.0.5.0/24"),
        ];
        assert_eq!(
            evaluate_acl(&acl, &flow("10.0.5.9", 80)),
            (RuleAction::Deny, Some(100))
        );
        assert_eq!(
            evaluate_acl(&acl, &flow("10.0.6.9", 80)),
            (RuleAction::Allow, Some(200))
        );
        assert_eq!(
            evaluate_acl(&[], &flow("10.0.6.9", 80)),
            (RuleAction::Deny, None)
        );
    }
}
