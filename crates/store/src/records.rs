//! Plain records read from and written to the store.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use time::OffsetDateTime;
use underpass_domain::dns::PrivateDnsState;
use underpass_domain::firewall::{IngressRule, PortRange, Protocol, Source};
use underpass_domain::{
    ConnState, EndpointId, EniId, SecurityGroupId, SecurityGroupRuleId, ServiceId, SubnetId, VpcId,
};

/// A registered network.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Vpc {
    /// `vpc-…`.
    pub id: VpcId,
    /// Owner account.
    pub account: String,
    /// Its region.
    pub region: String,
    /// Its IPv4 block.
    pub cidr: Ipv4Net,
    /// `enableDnsSupport`.
    pub dns_support: bool,
    /// `enableDnsHostnames`.
    pub dns_hostnames: bool,
    /// The account's default VPC (`IsDefault`).
    pub is_default: bool,
}

/// A subnet of a VPC in one zone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Subnet {
    /// `subnet-…`.
    pub id: SubnetId,
    /// Its VPC.
    pub vpc: VpcId,
    /// Owner account.
    pub account: String,
    /// Its region.
    pub region: String,
    /// Availability zone name.
    pub zone: String,
    /// Its IPv4 block.
    pub cidr: Ipv4Net,
    /// `ModifySubnetAttribute`'s settings.
    pub attributes: SubnetAttributes,
    /// A default subnet of its zone, in the default VPC (`DefaultForAz`).
    pub default_for_az: bool,
}

/// A subnet's launch-time settings, kept and shown as EC2 does (Underpass launches nothing).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SubnetAttributes {
    /// `MapPublicIpOnLaunch`.
    pub map_public_ip_on_launch: bool,
    /// `AssignIpv6AddressOnCreation`.
    pub assign_ipv6_address_on_creation: bool,
    /// `EnableDns64`.
    pub enable_dns64: bool,
    /// `PrivateDnsHostnameTypeOnLaunch`: `ip-name` or `resource-name`.
    pub private_dns_hostname_type: String,
    /// `EnableResourceNameDnsARecordOnLaunch`.
    pub resource_name_dns_a_record: bool,
}

impl Default for SubnetAttributes {
    /// EC2's defaults for a new subnet (all off, `ip-name` hostnames).
    fn default() -> Self {
        Self {
            map_public_ip_on_launch: false,
            assign_ipv6_address_on_creation: false,
            enable_dns64: false,
            private_dns_hostname_type: "ip-name".into(),
            resource_name_dns_a_record: false,
        }
    }
}

/// One inbound rule of a security group, as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SgRule {
    /// `sgr-…`.
    pub id: SecurityGroupRuleId,
    /// The checked rule.
    pub rule: IngressRule,
    /// Free text.
    pub description: String,
}

/// Which way a security-group rule faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Into the group's interfaces.
    Ingress,
    /// Out of them.
    Egress,
}

/// Who a security group belongs to and what it is called, without its rules: what a check of
/// a group named in a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupName {
    /// `sg-…`.
    pub id: SecurityGroupId,
    /// Its VPC.
    pub vpc: VpcId,
    /// Owner account.
    pub account: String,
    /// Its region.
    pub region: String,
    /// Unique within the VPC.
    pub name: String,
}

/// A security group with its rules.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SecurityGroup {
    /// `sg-…`.
    pub id: SecurityGroupId,
    /// Its VPC.
    pub vpc: VpcId,
    /// Owner account.
    pub account: String,
    /// Its region.
    pub region: String,
    /// Unique within the VPC.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Inbound rules (what agents enforce).
    pub rules: Vec<SgRule>,
    /// Outbound rules: stored and shown as EC2 does. Nothing in Underpass opens connections
    /// from an ENI and replies are stateful, so they never decide a flow.
    pub egress_rules: Vec<SgRule>,
}

impl SecurityGroup {
    /// The rules in evaluation form.
    pub fn ingress(&self) -> Vec<IngressRule> {
        self.rules.iter().map(|r| r.rule.clone()).collect()
    }
}

/// Stores a rule as (protocol, from, to, cidr, source group).
pub(crate) fn rule_columns(
    rule: &IngressRule,
) -> (String, i64, i64, Option<String>, Option<String>) {
    let (cidr, group) = match &rule.source {
        Source::Cidr(c) => (Some(c.to_string()), None),
        Source::Group(g) => (None, Some(g.to_string())),
    };
    (
        rule.protocol.as_str().to_owned(),
        i64::from(rule.ports.from),
        i64::from(rule.ports.to),
        cidr,
        group,
    )
}

/// Rebuilds a rule from its columns.
pub(crate) fn rule_from_columns(
    protocol: &str,
    from: i64,
    to: i64,
    cidr: Option<String>,
    group: Option<String>,
) -> Option<IngressRule> {
    let protocol = Protocol::parse(protocol).ok()?;
    let ports =
        PortRange::new(protocol, i32::try_from(from).ok()?, i32::try_from(to).ok()?).ok()?;
    let source = match (cidr, group) {
        (Some(c), None) => Source::Cidr(c.parse().ok()?),
        (None, Some(g)) => Source::Group(g.parse().ok()?),
        _ => return None,
    };
    Some(IngressRule {
        protocol,
        ports,
        source,
    })
}

/// What a network interface is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum EniKind {
    /// An interface endpoint's address in one subnet.
    Endpoint,
    /// A load balancer's node in one zone.
    LoadBalancer,
}

impl EniKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Endpoint => "endpoint",
            Self::LoadBalancer => "load_balancer",
        }
    }
}

/// An address an agent binds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Eni {
    /// `eni-…`.
    pub id: EniId,
    /// Owner account.
    pub account: String,
    /// Its region.
    pub region: String,
    /// Its VPC.
    pub vpc: VpcId,
    /// Its subnet.
    pub subnet: SubnetId,
    /// Its zone.
    pub zone: String,
    /// Its private address.
    pub ip: Ipv4Addr,
    /// Endpoint or load-balancer node.
    pub kind: EniKind,
    /// The endpoint id or load-balancer ARN that owns it.
    pub owner: String,
}

/// A network load balancer (the provider gateway).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoadBalancer {
    /// Its ARN.
    pub arn: String,
    /// Owner account.
    pub account: String,
    /// Its region.
    pub region: String,
    /// Unique per account.
    pub name: String,
    /// Its VPC.
    pub vpc: VpcId,
    /// Cross-zone load balancing.
    pub cross_zone: bool,
    /// `provisioning`, `active`, …
    pub state: String,
    /// One node per subnet (zone).
    pub nodes: Vec<Eni>,
}

/// Health-check settings of a target group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HealthCheck {
    /// `TCP` or `HTTP`.
    pub protocol: String,
    /// `traffic-port` or a port number.
    pub port: String,
    /// Path for HTTP checks.
    pub path: String,
    /// Seconds between checks.
    pub interval_secs: u32,
    /// Seconds before a check fails.
    pub timeout_secs: u32,
    /// Consecutive successes to become healthy.
    pub healthy_threshold: u32,
    /// Consecutive failures to become unhealthy.
    pub unhealthy_threshold: u32,
}

/// A target group with its registered targets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TargetGroup {
    /// Its ARN.
    pub arn: String,
    /// Owner account.
    pub account: String,
    /// Its region.
    pub region: String,
    /// Unique per account.
    pub name: String,
    /// Its VPC.
    pub vpc: VpcId,
    /// `TCP`.
    pub protocol: String,
    /// Default target port.
    pub port: u16,
    /// Health checks.
    pub health: HealthCheck,
    /// Send a PROXY v2 header to targets.
    pub proxy_protocol_v2: bool,
    /// Registered targets.
    pub targets: Vec<Target>,
}

/// A registered IP target.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Target {
    /// Address.
    pub ip: Ipv4Addr,
    /// Port.
    pub port: u16,
    /// The zone of the target, when known.
    pub zone: Option<String>,
}

/// A listener of a load balancer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Listener {
    /// Its ARN.
    pub arn: String,
    /// The load balancer.
    pub load_balancer: String,
    /// `TCP`.
    pub protocol: String,
    /// Listening port.
    pub port: u16,
    /// The default action's target group.
    pub target_group: String,
}

/// An endpoint service.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Service {
    /// `vpce-svc-…`.
    pub id: ServiceId,
    /// `com.<prefix>.vpce.<region>.vpce-svc-…`.
    pub name: String,
    /// The provider's account.
    pub account: String,
    /// Its region.
    pub region: String,
    /// Connections wait in pendingAcceptance.
    pub acceptance_required: bool,
    /// The load balancers behind it.
    pub load_balancers: Vec<String>,
    /// `Available`, …
    pub state: String,
    /// Allowed principals (ARNs or `*`).
    pub allowed_principals: Vec<String>,
    /// The private DNS name and its verification, if one is set.
    pub private_dns: Option<PrivateDns>,
}

/// A service's private DNS name and the TXT record that proves control of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PrivateDns {
    /// The name (checked, lowercase).
    pub name: String,
    /// pendingVerification, verified or failed.
    pub state: PrivateDnsState,
    /// The TXT record's name: `_<random>.<name>`.
    pub txt_name: String,
    /// The TXT record's value: `vpce:<random>`.
    pub txt_value: String,
}

/// An interface endpoint (and its connection state).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Endpoint {
    /// `vpce-…`.
    pub id: EndpointId,
    /// The consumer's account.
    pub account: String,
    /// Its region.
    pub region: String,
    /// The consumer's VPC.
    pub vpc: VpcId,
    /// The service.
    pub service: ServiceId,
    /// `Interface`.
    pub endpoint_type: String,
    /// Connection state.
    pub state: ConnState,
    /// Endpoint policy document, if set.
    pub policy: Option<String>,
    /// Security groups on its ENIs.
    pub security_groups: Vec<SecurityGroupId>,
    /// One ENI per subnet.
    pub enis: Vec<Eni>,
    /// Consumers in the VPC resolve the service's verified private DNS name to this endpoint.
    pub private_dns_enabled: bool,
    /// The regional DNS name, fixed at creation (`None` for endpoints older than DNS).
    pub dns_name: Option<String>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}
