//! The fields of a flow record, with the version that introduced each and its name in format
//! strings (`${name}`) and in column headers (AWS prints the names with dashes).

use std::fmt;
use std::str::FromStr;

/// One flow-log field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// `version`: the format version of the record.
    Version,
    /// `account-id`: the owner of the interface.
    AccountId,
    /// `interface-id`: the ENI.
    InterfaceId,
    /// `srcaddr`: source address (of the flow as the interface sees it).
    SrcAddr,
    /// `dstaddr`: destination address.
    DstAddr,
    /// `srcport`: source port.
    SrcPort,
    /// `dstport`: destination port.
    DstPort,
    /// `protocol`: IANA protocol number.
    Protocol,
    /// `packets`: packets in the window.
    Packets,
    /// `bytes`: bytes in the window.
    Bytes,
    /// `start`: first packet of the window, Unix seconds.
    Start,
    /// `end`: last packet of the window, Unix seconds.
    End,
    /// `action`: ACCEPT or REJECT.
    Action,
    /// `log-status`: OK, NODATA or SKIPDATA.
    LogStatus,
    /// `vpc-id` (v3).
    VpcId,
    /// `subnet-id` (v3).
    SubnetId,
    /// `instance-id` (v3).
    InstanceId,
    /// `tcp-flags` (v3): the OR of the TCP flags seen (FIN 1, SYN 2, RST 4, SYN-ACK 18).
    TcpFlags,
    /// `type` (v3): IPv4, IPv6 or EFA.
    Type,
    /// `pkt-srcaddr` (v3): the packet-level source.
    PktSrcAddr,
    /// `pkt-dstaddr` (v3): the packet-level destination.
    PktDstAddr,
    /// `region` (v4).
    Region,
    /// `az-id` (v4).
    AzId,
    /// `sublocation-type` (v4).
    SublocationType,
    /// `sublocation-id` (v4).
    SublocationId,
    /// `pkt-src-aws-service` (v5).
    PktSrcAwsService,
    /// `pkt-dst-aws-service` (v5).
    PktDstAwsService,
    /// `flow-direction` (v5): ingress or egress.
    FlowDirection,
    /// `traffic-path` (v5).
    TrafficPath,
    /// `reject-reason` (v8).
    RejectReason,
}

impl Field {
    /// Every field, in AWS's documentation order.
    pub const ALL: [Field; 30] = [
        Self::Version,
        Self::AccountId,
        Self::InterfaceId,
        Self::SrcAddr,
        Self::DstAddr,
        Self::SrcPort,
        Self::DstPort,
        Self::Protocol,
        Self::Packets,
        Self::Bytes,
        Self::Start,
        Self::End,
        Self::Action,
        Self::LogStatus,
        Self::VpcId,
        Self::SubnetId,
        Self::InstanceId,
        Self::TcpFlags,
        Self::Type,
        Self::PktSrcAddr,
        Self::PktDstAddr,
        Self::Region,
        Self::AzId,
        Self::SublocationType,
        Self::SublocationId,
        Self::PktSrcAwsService,
        Self::PktDstAwsService,
        Self::FlowDirection,
        Self::TrafficPath,
        Self::RejectReason,
    ];

    /// The name in format strings and headers.
    pub fn name(self) -> &'static str {
        match self {
            Self::Version => "version",
            Self::AccountId => "account-id",
            Self::InterfaceId => "interface-id",
            Self::SrcAddr => "srcaddr",
            Self::DstAddr => "dstaddr",
            Self::SrcPort => "srcport",
            Self::DstPort => "dstport",
            Self::Protocol => "protocol",
            Self::Packets => "packets",
            Self::Bytes => "bytes",
            Self::Start => "start",
            Self::End => "end",
            Self::Action => "action",
            Self::LogStatus => "log-status",
            Self::VpcId => "vpc-id",
            Self::SubnetId => "subnet-id",
            Self::InstanceId => "instance-id",
            Self::TcpFlags => "tcp-flags",
            Self::Type => "type",
            Self::PktSrcAddr => "pkt-srcaddr",
            Self::PktDstAddr => "pkt-dstaddr",
            Self::Region => "region",
            Self::AzId => "az-id",
            Self::SublocationType => "sublocation-type",
            Self::SublocationId => "sublocation-id",
            Self::PktSrcAwsService => "pkt-src-aws-service",
            Self::PktDstAwsService => "pkt-dst-aws-service",
            Self::FlowDirection => "flow-direction",
            Self::TrafficPath => "traffic-path",
            Self::RejectReason => "reject-reason",
        }
    }

    /// The format version that introduced the field.
    pub fn version(self) -> u8 {
        match self {
            Self::Version
            | Self::AccountId
            | Self::InterfaceId
            | Self::SrcAddr
            | Self::DstAddr
            | Self::SrcPort
            | Self::DstPort
            | Self::Protocol
            | Self::Packets
            | Self::Bytes
            | Self::Start
            | Self::End
            | Self::Action
            | Self::LogStatus => 2,
            Self::VpcId
            | Self::SubnetId
            | Self::InstanceId
            | Self::TcpFlags
            | Self::Type
            | Self::PktSrcAddr
            | Self::PktDstAddr => 3,
            Self::Region | Self::AzId | Self::SublocationType | Self::SublocationId => 4,
            Self::PktSrcAwsService
            | Self::PktDstAwsService
            | Self::FlowDirection
            | Self::TrafficPath => 5,
            Self::RejectReason => 8,
        }
    }

    /// The column name AWS's Athena integration uses (dashes become underscores).
    pub fn column(self) -> String {
        self.name().replace('-', "_")
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Field {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|f| f.name() == s).ok_or(())
    }
}
