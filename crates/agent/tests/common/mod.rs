//! Helpers shared by the flow-log writer's tests: an agent state with one flow log, and flow
//! events as the data plane reports them.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use underpass_dataplane::{tcp_flags, FlowAction, FlowEvent, FlowReason, FlowSide};
use underpass_domain::{AgentId, EndpointId, EniId, FlowLogId, SubnetId, VpcId};
use underpass_proto::sync::{AgentInfo, AgentState, FlowLogConfig, FlowLogInterface, TrustBundle};

/// The one interface the flow logs cover.
pub(crate) fn eni() -> EniId {
    EniId::from_bits(0xe1)
}

/// A state with one flow log to the directory `dir` (gzip text).
#[allow(dead_code)] // not every test file uses every helper
pub(crate) fn state(dir: &str, traffic: &str, format: &str) -> AgentState {
    state_with(("file", dir), traffic, format, ("plain-text", false, false))
}

/// A state with one flow log to `destination` (type, value), written with `options`
/// (file format, Hive-compatible, per hour).
pub(crate) fn state_with(
    destination: (&str, &str),
    traffic: &str,
    format: &str,
    options: (&str, bool, bool),
) -> AgentState {
    AgentState {
        revision: 1,
        agent: AgentInfo {
            id: AgentId::from_bits(1),
            account: "222222222222".into(),
            vpc: VpcId::from_bits(2),
            zone: "us-east-1a".into(),
        },
        trust: TrustBundle {
            ca_pems: vec![],
            revoked_serials: vec![],
        },
        endpoints: vec![],
        gateways: vec![],
        dns: None,
        flow_logs: vec![FlowLogConfig {
            flow_log_id: FlowLogId::from_bits(0xf1),
            account: "222222222222".into(),
            region: "us-east-1".into(),
            traffic_type: traffic.into(),
            max_aggregation_interval: 600,
            log_format: format.into(),
            destination_type: destination.0.into(),
            destination: destination.1.into(),
            file_format: options.0.into(),
            hive_compatible_partitions: options.1,
            per_hour_partition: options.2,
            interfaces: vec![FlowLogInterface {
                eni_id: eni(),
                account: "222222222222".into(),
                vpc_id: VpcId::from_bits(2),
                subnet_id: SubnetId::from_bits(3),
                zone: "us-east-1a".into(),
            }],
        }],
    }
}

/// A closed TCP flow from 127.0.0.55:`port` to the endpoint.
#[allow(dead_code)]
pub(crate) fn event(port: u16, action: FlowAction) -> FlowEvent {
    event_from(
        SocketAddr::new([127, 0, 0, 55].into(), port),
        u64::from(port),
        action,
    )
}

/// A closed TCP flow from `src` to the endpoint (32 bytes in, 180 out), flow number `flow_id`.
pub(crate) fn event_from(src: SocketAddr, flow_id: u64, action: FlowAction) -> FlowEvent {
    let now = SystemTime::now();
    let mono = Instant::now();
    FlowEvent {
        flow_id,
        side: FlowSide::Endpoint,
        interface_id: eni(),
        endpoint_id: Some(EndpointId::from_bits(4)),
        src,
        dst: "127.20.1.4:8080".parse().unwrap(),
        client: None,
        target: None,
        protocol: 6,
        bytes_in: 32,
        bytes_out: 180,
        packets_in: None,
        packets_out: None,
        start: now,
        end: now,
        start_instant: mono,
        end_instant: mono,
        tcp_flags_in: tcp_flags::SYN | tcp_flags::FIN,
        tcp_flags_out: tcp_flags::SYN_ACK | tcp_flags::FIN,
        action,
        reason: FlowReason::Closed,
    }
}
