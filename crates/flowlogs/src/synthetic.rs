//! Synthetic flow records, as an agent with 50 interfaces and a few thousand clients writes
//! them: ingress and egress pairs of TCP flows to port 443 (1% UDP), 2% REJECTs, one NODATA
//! record per thousand, with the VPC fields of the custom formats filled in. The same seed gives
//! the same records. For `underpass flowlogs generate` and the benchmarks.

use std::net::{IpAddr, Ipv4Addr};

use crate::record::{Action, FlowRecord, LogStatus};

/// The account of every synthetic record.
pub const SYNTHETIC_ACCOUNT: &str = "123456789012";

/// A deterministic generator of realistic records (xorshift: fast, not cryptographic).
#[derive(Debug, Clone)]
pub struct Synthetic {
    state: u64,
    version: u8,
}

impl Synthetic {
    /// A generator of records of format `version` (2 for the default format, 5 for one with
    /// the VPC fields); `seed` 0 is as good as any other.
    pub fn new(seed: u64, version: u8) -> Self {
        Self {
            state: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            version,
        }
    }

    fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    /// Record number `i` of the aggregation window starting at `window` (Unix seconds; the
    /// window is 600 s long).
    pub fn record(&mut self, i: u64, window: u64) -> FlowRecord {
        let r = self.next();
        let eni = format!("eni-0{:016x}", r % 50);
        if i % 1000 == 999 {
            return FlowRecord::status_only(
                self.version,
                SYNTHETIC_ACCOUNT,
                &eni,
                window,
                window + 600,
                LogStatus::NoData,
            );
        }
        let low = |bits: u64| u32::try_from(bits & 0xffff).unwrap_or(0);
        let client = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | low(r >> 16)));
        let server = IpAddr::V4(Ipv4Addr::new(
            172,
            31,
            u8::try_from(r % 50).unwrap_or(0),
            10,
        ));
        let port = 1024 + u16::try_from((r >> 32) % 60_000).unwrap_or(0);
        let reject = r % 50 == 0;
        let egress = i % 2 == 1 && !reject;
        let (src, dst, sport, dport) = if egress {
            (server, client, 443, port)
        } else {
            (client, server, port, 443)
        };
        let start = window + (r >> 8) % 540;
        FlowRecord {
            version: Some(self.version),
            account_id: Some(SYNTHETIC_ACCOUNT.into()),
            interface_id: Some(eni),
            srcaddr: Some(src),
            dstaddr: Some(dst),
            srcport: Some(sport),
            dstport: Some(dport),
            protocol: Some(if r % 97 == 0 { 17 } else { 6 }),
            packets: Some(1 + (r >> 40) % 5000),
            bytes: Some(40 + (r >> 20) % 10_000_000),
            start: Some(start),
            end: Some(start + (r >> 50) % 60),
            action: Some(if reject {
                Action::Reject
            } else {
                Action::Accept
            }),
            log_status: Some(LogStatus::Ok),
            vpc_id: Some("vpc-0123456789abcdef0".into()),
            subnet_id: Some(format!("subnet-0{:016x}", r % 6)),
            tcp_flags: Some(if reject { 2 } else { 19 }),
            traffic_type: Some("IPv4".into()),
            pkt_srcaddr: Some(src),
            pkt_dstaddr: Some(dst),
            region: Some("us-east-1".into()),
            az_id: Some(format!("use1-az{}", r % 6 + 1)),
            flow_direction: Some(if egress { "egress" } else { "ingress" }.into()),
            ..FlowRecord::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_records_and_the_promised_mix() {
        let (mut a, mut b) = (Synthetic::new(7, 5), Synthetic::new(7, 5));
        let xs: Vec<FlowRecord> = (0..10_000).map(|i| a.record(i, 1_800_000_000)).collect();
        let ys: Vec<FlowRecord> = (0..10_000).map(|i| b.record(i, 1_800_000_000)).collect();
        assert_eq!(xs, ys);
        let nodata = xs
            .iter()
            .filter(|r| r.log_status == Some(LogStatus::NoData))
            .count();
        assert_eq!(nodata, 10);
        let rejects = xs
            .iter()
            .filter(|r| r.action == Some(Action::Reject))
            .count();
        assert!(
            (100..=350).contains(&rejects),
            "{rejects} REJECTs of 10,000"
        );
        assert!(xs
            .iter()
            .all(|r| r.start.unwrap_or(1_800_000_000) >= 1_800_000_000
                && r.end.unwrap_or(0) <= 1_800_000_600));
    }
}
