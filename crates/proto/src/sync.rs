//! The agent's desired state, as the control plane sends it and the agent caches it.
//!
//! An agent runs in one VPC and zone. Its state lists the endpoint ENIs it binds (consumer side)
//! and the load-balancer nodes it runs (provider side), with everything needed to serve them
//! while the control plane is down: rules, targets, certificates, and the trust bundle. The
//! revision grows with every change; an agent applies a state only if its revision is newer.

use std::net::{Ipv4Addr, SocketAddr};

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use underpass_domain::firewall::{AclEntry, IngressRule};
use underpass_domain::{
    AgentId, ConnState, EndpointId, EniId, FlowLogId, ServiceId, SubnetId, VpcId,
};

/// Everything one agent must do, at one revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentState {
    /// Grows with every change in the control plane.
    pub revision: i64,
    /// Who the agent is.
    pub agent: AgentInfo,
    /// CA certificates to trust and serials to refuse.
    pub trust: TrustBundle,
    /// Endpoint ENIs to bind in this VPC and zone.
    pub endpoints: Vec<EndpointConfig>,
    /// Load-balancer nodes to run in this VPC and zone.
    pub gateways: Vec<GatewayConfig>,
    /// The VPC's resolver: its address, the names it answers, where it forwards the rest.
    /// Absent in states cached before DNS existed.
    #[serde(default)]
    pub dns: Option<DnsConfig>,
    /// The flow logs that cover this agent's ENIs (each with the covered ENIs only). Absent in
    /// states cached before flow logs existed.
    #[serde(default)]
    pub flow_logs: Vec<FlowLogConfig>,
}

/// One flow log, as an agent applies it to the ENIs it owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowLogConfig {
    /// `fl-…`.
    pub flow_log_id: FlowLogId,
    /// The flow log's owner.
    pub account: String,
    /// The region (the `region` field, and the object keys).
    pub region: String,
    /// `ACCEPT`, `REJECT` or `ALL`.
    pub traffic_type: String,
    /// 60 or 600.
    pub max_aggregation_interval: u32,
    /// The format string (`${version} ${account-id} …`).
    pub log_format: String,
    /// `file` or `s3`.
    pub destination_type: String,
    /// A directory under the agent's flow-log root (`file`), or an S3 bucket ARN (`s3`).
    pub destination: String,
    /// `plain-text` (gzip) or `parquet` (EC2's `DestinationOptions.FileFormat`).
    #[serde(default = "plain_text")]
    pub file_format: String,
    /// Hive-compatible S3 prefixes (`aws-account-id=…/…/year=…/month=…/day=…`).
    #[serde(default)]
    pub hive_compatible_partitions: bool,
    /// An `hour` level below the day in the prefixes.
    #[serde(default)]
    pub per_hour_partition: bool,
    /// The agent's ENIs it covers.
    pub interfaces: Vec<FlowLogInterface>,
}

fn plain_text() -> String {
    "plain-text".to_owned()
}

/// An ENI a flow log covers, with what its records carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowLogInterface {
    /// The ENI.
    pub eni_id: EniId,
    /// The ENI's owner (the `account-id` field).
    pub account: String,
    /// Its VPC.
    pub vpc_id: VpcId,
    /// Its subnet.
    pub subnet_id: SubnetId,
    /// Its zone.
    pub zone: String,
}

/// What the VPC's resolver serves (every agent of the VPC gets the same records).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsConfig {
    /// The resolver's address: the VPC block's base plus two, as in AWS.
    pub resolver: Ipv4Addr,
    /// The VPC's blocks: clients inside them may use the resolver (and its recursion).
    pub vpc_cidrs: Vec<Ipv4Net>,
    /// Zones the resolver answers for itself (never forwarded), lowercase, no trailing dot.
    pub zones: Vec<String>,
    /// Names with their A records; each lies inside one of `zones`.
    pub records: Vec<DnsRecord>,
    /// Resolvers other names are forwarded to; empty = the host's own.
    pub upstreams: Vec<SocketAddr>,
    /// SOA serial of the zones (the control plane's revision, truncated).
    pub serial: u32,
}

/// One name and its addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecord {
    /// Lowercase, no trailing dot.
    pub name: String,
    /// A records.
    pub addrs: Vec<Ipv4Addr>,
}

/// The agent's place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInfo {
    /// `agent-…`.
    pub id: AgentId,
    /// Its account.
    pub account: String,
    /// Its VPC.
    pub vpc: VpcId,
    /// Its zone.
    pub zone: String,
}

/// What to trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustBundle {
    /// CA certificates (PEM); two during a CA rotation.
    pub ca_pems: Vec<String>,
    /// Revoked certificate serials (32 hex digits each).
    pub revoked_serials: Vec<String>,
}

/// A certificate the control plane issued for the agent's own key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedIdentity {
    /// The SPIFFE id it names.
    pub spiffe_id: String,
    /// The certificate (PEM), issued for the key the agent enrolled with.
    pub cert_pem: String,
}

/// One endpoint ENI (consumer side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointConfig {
    /// `vpce-…`.
    pub endpoint_id: EndpointId,
    /// The service it reaches.
    pub service_id: ServiceId,
    /// The connection state; only `available` carries traffic.
    pub state: ConnState,
    /// The ENI.
    pub eni_id: EniId,
    /// The ENI's address, bound by the agent.
    pub ip: Ipv4Addr,
    /// The service's listener ports, each served on the ENI.
    pub ports: Vec<u16>,
    /// Inbound rules of the ENI's security groups (union).
    pub ingress: Vec<IngressRule>,
    /// Inbound entries of the subnet's network ACL; empty = allow all (the default ACL).
    pub acl: Vec<AclEntry>,
    /// Where the service's gateway nodes listen for tunnels, same zone first.
    pub gateways: Vec<GatewayAddr>,
    /// The SPIFFE id the gateway must present.
    pub gateway_identity: String,
    /// The endpoint identity the agent presents on tunnels.
    pub identity: IssuedIdentity,
}

/// A gateway node's tunnel address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayAddr {
    /// The node's zone.
    pub zone: String,
    /// Its tunnel listener.
    pub addr: SocketAddr,
}

/// One load-balancer node (provider side): the gateway that admits tunnels for a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayConfig {
    /// The load balancer's ARN.
    pub load_balancer_arn: String,
    /// The service it fronts, if any (a load balancer without one admits nothing).
    pub service_id: Option<ServiceId>,
    /// The node ENI.
    pub eni_id: EniId,
    /// The node's address; the tunnel listener binds `ip:tunnel_port`.
    pub ip: Ipv4Addr,
    /// The mTLS tunnel port.
    pub tunnel_port: u16,
    /// Cross-zone load balancing: off means same-zone targets only.
    pub cross_zone: bool,
    /// Listeners: service port → target group.
    pub listeners: Vec<ListenerConfig>,
    /// Endpoints whose connection is `available`: the only ones admitted.
    pub admitted: Vec<EndpointId>,
    /// The service identity the gateway presents.
    pub identity: IssuedIdentity,
    /// Seconds an idle flow lives (NLB: 350).
    pub idle_timeout_secs: u32,
}

/// A listener of a gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerConfig {
    /// The port consumers connect to.
    pub port: u16,
    /// The target group behind it.
    pub target_group: TargetGroupConfig,
}

/// A target group as the gateway needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetGroupConfig {
    /// Its ARN.
    pub arn: String,
    /// Registered targets.
    pub targets: Vec<TargetConfig>,
    /// Health checks.
    pub health: HealthCheckConfig,
    /// Send PROXY v2 (with the endpoint-id TLV) to targets.
    pub proxy_protocol_v2: bool,
}

/// One target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetConfig {
    /// Address and port.
    pub addr: SocketAddr,
    /// The target's zone, if known (unknown = every zone).
    pub zone: Option<String>,
}

/// Health-check settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheckConfig {
    /// `TCP` or `HTTP`.
    pub protocol: String,
    /// The port to probe; `None` = the traffic port.
    pub port: Option<u16>,
    /// The path for HTTP checks.
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

/// What an agent reports back: target health as its gateways see it, and how its flow logs'
/// deliveries go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    /// One entry per (target group, target).
    pub targets: Vec<TargetHealth>,
    /// One entry per flow log the agent wrote (or tried to write) to.
    #[serde(default)]
    pub flow_logs: Vec<FlowLogDelivery>,
}

/// How the last delivery of one flow log's records went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowLogDelivery {
    /// `fl-…`.
    pub flow_log_id: String,
    /// `None` when the last write succeeded; else EC2's `DeliverLogsErrorMessage` for it
    /// (`Access error`, `Rate limited` or `Unknown error`).
    pub error: Option<String>,
}

/// One target's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetHealth {
    /// The target group.
    pub target_group_arn: String,
    /// The target.
    pub addr: SocketAddr,
    /// `initial`, `healthy` or `unhealthy`.
    pub state: String,
    /// Why, when not healthy (ELBv2 reason codes such as `Target.FailedHealthChecks`).
    pub reason: Option<String>,
}
