//! One flow record: typed fields, printed and parsed in any format.

use std::net::IpAddr;

use crate::field::Field;
use crate::format::FlowLogFormat;

/// ACCEPT or REJECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The flow was admitted.
    Accept,
    /// The flow was refused (security group, network ACL, policy, authentication).
    Reject,
}

/// Whether the record carries data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogStatus {
    /// Data was logged normally.
    Ok,
    /// No traffic in the window.
    NoData,
    /// Records were skipped in the window (the writer fell behind, the disk was full, …).
    SkipData,
}

/// A record that did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The number of space-separated values differs from the format's field count.
    #[error("expected {expected} fields, found {found}")]
    FieldCount {
        /// Fields in the format.
        expected: usize,
        /// Values in the line.
        found: usize,
    },
    /// A value does not fit its field.
    #[error("field {field}: {value:?} is not valid")]
    Value {
        /// The field.
        field: &'static str,
        /// The refused value (at most 64 characters).
        value: String,
    },
}

/// One flow record. `None` prints as `-`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlowRecord {
    /// `version`.
    pub version: Option<u8>,
    /// `account-id`.
    pub account_id: Option<String>,
    /// `interface-id`.
    pub interface_id: Option<String>,
    /// `srcaddr`.
    pub srcaddr: Option<IpAddr>,
    /// `dstaddr`.
    pub dstaddr: Option<IpAddr>,
    /// `srcport`.
    pub srcport: Option<u16>,
    /// `dstport`.
    pub dstport: Option<u16>,
    /// `protocol`.
    pub protocol: Option<u8>,
    /// `packets`.
    pub packets: Option<u64>,
    /// `bytes`.
    pub bytes: Option<u64>,
    /// `start`, Unix seconds.
    pub start: Option<u64>,
    /// `end`, Unix seconds.
    pub end: Option<u64>,
    /// `action`.
    pub action: Option<Action>,
    /// `log-status`.
    pub log_status: Option<LogStatus>,
    /// `vpc-id`.
    pub vpc_id: Option<String>,
    /// `subnet-id`.
    pub subnet_id: Option<String>,
    /// `instance-id`.
    pub instance_id: Option<String>,
    /// `tcp-flags`.
    pub tcp_flags: Option<u16>,
    /// `type`: IPv4, IPv6 or EFA.
    pub traffic_type: Option<String>,
    /// `pkt-srcaddr`.
    pub pkt_srcaddr: Option<IpAddr>,
    /// `pkt-dstaddr`.
    pub pkt_dstaddr: Option<IpAddr>,
    /// `region`.
    pub region: Option<String>,
    /// `az-id`.
    pub az_id: Option<String>,
    /// `sublocation-type`.
    pub sublocation_type: Option<String>,
    /// `sublocation-id`.
    pub sublocation_id: Option<String>,
    /// `pkt-src-aws-service`.
    pub pkt_src_aws_service: Option<String>,
    /// `pkt-dst-aws-service`.
    pub pkt_dst_aws_service: Option<String>,
    /// `flow-direction`: ingress or egress.
    pub flow_direction: Option<String>,
    /// `traffic-path`.
    pub traffic_path: Option<u8>,
    /// `reject-reason`.
    pub reject_reason: Option<String>,
}

/// A text value made safe for a space-separated, one-line format: anything but printable
/// ASCII other than space becomes `?`, and an empty value prints as `-` (RELIABILITY item 96).
fn text(s: &str) -> String {
    if s.is_empty() {
        return "-".into();
    }
    s.chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_owned(), ToString::to_string)
}

fn opt_text(v: &Option<String>) -> String {
    v.as_deref().map_or_else(|| "-".to_owned(), text)
}

impl FlowRecord {
    /// The value of `field` as AWS prints it.
    pub fn value(&self, field: Field) -> String {
        match field {
            Field::Version => opt(&self.version),
            Field::AccountId => opt_text(&self.account_id),
            Field::InterfaceId => opt_text(&self.interface_id),
            Field::SrcAddr => opt(&self.srcaddr),
            Field::DstAddr => opt(&self.dstaddr),
            Field::SrcPort => opt(&self.srcport),
            Field::DstPort => opt(&self.dstport),
            Field::Protocol => opt(&self.protocol),
            Field::Packets => opt(&self.packets),
            Field::Bytes => opt(&self.bytes),
            Field::Start => opt(&self.start),
            Field::End => opt(&self.end),
            Field::Action => match self.action {
                Some(Action::Accept) => "ACCEPT".into(),
                Some(Action::Reject) => "REJECT".into(),
                None => "-".into(),
            },
            Field::LogStatus => match self.log_status {
                Some(LogStatus::Ok) => "OK".into(),
                Some(LogStatus::NoData) => "NODATA".into(),
                Some(LogStatus::SkipData) => "SKIPDATA".into(),
                None => "-".into(),
            },
            Field::VpcId => opt_text(&self.vpc_id),
            Field::SubnetId => opt_text(&self.subnet_id),
            Field::InstanceId => opt_text(&self.instance_id),
            Field::TcpFlags => opt(&self.tcp_flags),
            Field::Type => opt_text(&self.traffic_type),
            Field::PktSrcAddr => opt(&self.pkt_srcaddr),
            Field::PktDstAddr => opt(&self.pkt_dstaddr),
            Field::Region => opt_text(&self.region),
            Field::AzId => opt_text(&self.az_id),
            Field::SublocationType => opt_text(&self.sublocation_type),
            Field::SublocationId => opt_text(&self.sublocation_id),
            Field::PktSrcAwsService => opt_text(&self.pkt_src_aws_service),
            Field::PktDstAwsService => opt_text(&self.pkt_dst_aws_service),
            Field::FlowDirection => opt_text(&self.flow_direction),
            Field::TrafficPath => opt(&self.traffic_path),
            Field::RejectReason => opt_text(&self.reject_reason),
        }
    }

    /// The record as one line in `format` (no trailing newline).
    pub fn to_line(&self, format: &FlowLogFormat) -> String {
        format
            .fields()
            .iter()
            .map(|f| self.value(*f))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Parses one line written in `format`.
    pub fn parse(line: &str, format: &FlowLogFormat) -> Result<Self, ParseError> {
        let values: Vec<&str> = line.split(' ').collect();
        if values.len() != format.fields().len() {
            return Err(ParseError::FieldCount {
                expected: format.fields().len(),
                found: values.len(),
            });
        }
        let mut r = Self::default();
        for (field, v) in format.fields().iter().zip(values) {
            r.set(*field, v)?;
        }
        Ok(r)
    }

    fn set(&mut self, field: Field, v: &str) -> Result<(), ParseError> {
        let bad = || ParseError::Value {
            field: field.name(),
            value: v.chars().take(64).collect(),
        };
        fn num<T: std::str::FromStr>(
            v: &str,
            bad: impl Fn() -> ParseError,
        ) -> Result<Option<T>, ParseError> {
            if v == "-" {
                return Ok(None);
            }
            v.parse().map(Some).map_err(|_| bad())
        }
        let s = |v: &str| -> Result<Option<String>, ParseError> {
            match v {
                "-" => Ok(None),
                v if v.chars().all(|c| c.is_ascii_graphic()) => Ok(Some(v.to_owned())),
                _ => Err(bad()),
            }
        };
        match field {
            Field::Version => self.version = num(v, bad)?,
            Field::AccountId => self.account_id = s(v)?,
            Field::InterfaceId => self.interface_id = s(v)?,
            Field::SrcAddr => self.srcaddr = num(v, bad)?,
            Field::DstAddr => self.dstaddr = num(v, bad)?,
            Field::SrcPort => self.srcport = num(v, bad)?,
            Field::DstPort => self.dstport = num(v, bad)?,
            Field::Protocol => self.protocol = num(v, bad)?,
            Field::Packets => self.packets = num(v, bad)?,
            Field::Bytes => self.bytes = num(v, bad)?,
            Field::Start => self.start = num(v, bad)?,
            Field::End => self.end = num(v, bad)?,
            Field::Action => {
                self.action = match v {
                    "ACCEPT" => Some(Action::Accept),
                    "REJECT" => Some(Action::Reject),
                    "-" => None,
                    _ => return Err(bad()),
                }
            }
            Field::LogStatus => {
                self.log_status = match v {
                    "OK" => Some(LogStatus::Ok),
                    "NODATA" => Some(LogStatus::NoData),
                    "SKIPDATA" => Some(LogStatus::SkipData),
                    "-" => None,
                    _ => return Err(bad()),
                }
            }
            Field::VpcId => self.vpc_id = s(v)?,
            Field::SubnetId => self.subnet_id = s(v)?,
            Field::InstanceId => self.instance_id = s(v)?,
            Field::TcpFlags => self.tcp_flags = num(v, bad)?,
            Field::Type => self.traffic_type = s(v)?,
            Field::PktSrcAddr => self.pkt_srcaddr = num(v, bad)?,
            Field::PktDstAddr => self.pkt_dstaddr = num(v, bad)?,
            Field::Region => self.region = s(v)?,
            Field::AzId => self.az_id = s(v)?,
            Field::SublocationType => self.sublocation_type = s(v)?,
            Field::SublocationId => self.sublocation_id = s(v)?,
            Field::PktSrcAwsService => self.pkt_src_aws_service = s(v)?,
            Field::PktDstAwsService => self.pkt_dst_aws_service = s(v)?,
            Field::FlowDirection => self.flow_direction = s(v)?,
            Field::TrafficPath => self.traffic_path = num(v, bad)?,
            Field::RejectReason => self.reject_reason = s(v)?,
        }
        Ok(())
    }

    /// A `NODATA` or `SKIPDATA` record for an interface and window, as AWS writes them.
    pub fn status_only(
        version: u8,
        account: &str,
        interface: &str,
        start: u64,
        end: u64,
        status: LogStatus,
    ) -> Self {
        Self {
            version: Some(version),
            account_id: Some(account.to_owned()),
            interface_id: Some(interface.to_owned()),
            start: Some(start),
            end: Some(end),
            log_status: Some(status),
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::DEFAULT_FORMAT;

    /// Records from AWS's VPC Flow Logs documentation ("Flow log record examples").
    const AWS_EXAMPLES: [&str; 5] = [
        "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
        "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK",
        "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
        "2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA",
        "2 123456789010 eni-1235b8ca123456789 2001:db8:1234:a100:8d6e:3477:df66:f105 2001:db8:1234:a102:3304:8879:34cf:4071 34892 22 6 54 8855 1477913708 1477913820 ACCEPT OK",
    ];

    #[test]
    fn aws_examples_round_trip_exactly() {
        let f = FlowLogFormat::parse(DEFAULT_FORMAT).unwrap();
        for line in AWS_EXAMPLES {
            let r = FlowRecord::parse(line, &f).unwrap();
            assert_eq!(r.to_line(&f), line);
        }
        let r = FlowRecord::parse(AWS_EXAMPLES[1], &f).unwrap();
        assert_eq!(r.action, Some(Action::Reject));
        assert_eq!(r.dstport, Some(3389));
        assert_eq!(r.protocol, Some(6));
        let nodata = FlowRecord::parse(AWS_EXAMPLES[2], &f).unwrap();
        assert_eq!(
            nodata,
            FlowRecord::status_only(
                2,
                "123456789010",
                "eni-1235b8ca123456789",
                1431280876,
                1431280934,
                LogStatus::NoData
            )
        );
    }

    #[test]
    fn custom_formats_round_trip() {
        // AWS's documented custom-format example (version 3 fields with tcp-flags).
        let f = FlowLogFormat::parse("${version} ${vpc-id} ${subnet-id} ${instance-id} ${interface-id} ${account-id} ${type} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${pkt-srcaddr} ${pkt-dstaddr} ${protocol} ${bytes} ${packets} ${start} ${end} ${action} ${tcp-flags} ${log-status}").unwrap();
        let line = "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789 123456789012 IPv4 52.213.180.42 10.0.0.62 43416 5001 52.213.180.42 10.0.0.62 6 568 8 1566848875 1566848933 ACCEPT 2 OK";
        let r = FlowRecord::parse(line, &f).unwrap();
        assert_eq!(r.tcp_flags, Some(2));
        assert_eq!(r.to_line(&f), line);
        assert_eq!(f.version(), 3);
    }

    #[test]
    fn bad_lines_and_injection() {
        let f = FlowLogFormat::default_v2();
        assert_eq!(
            FlowRecord::parse("2 1", &f),
            Err(ParseError::FieldCount {
                expected: 14,
                found: 2
            })
        );
        let bad_port = AWS_EXAMPLES[0].replace(" 20641 ", " 70000 ");
        assert!(matches!(
            FlowRecord::parse(&bad_port, &f),
            Err(ParseError::Value {
                field: "srcport",
                ..
            })
        ));
        let bad_action = AWS_EXAMPLES[0].replace("ACCEPT", "accept");
        assert!(FlowRecord::parse(&bad_action, &f).is_err());
        // A value with spaces or a newline can never split a record (RELIABILITY item 96).
        let r = FlowRecord {
            interface_id: Some("eni-1\nx y".into()),
            version: Some(2),
            ..FlowRecord::default()
        };
        let line = r.to_line(&f);
        assert_eq!(line.lines().count(), 1);
        assert_eq!(line.split(' ').count(), 14);
        assert!(line.contains("eni-1?x?y"));
    }
}
