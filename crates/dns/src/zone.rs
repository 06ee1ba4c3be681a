//! The names one VPC's resolver answers for itself: its zones (an apex and an SOA each) and
//! their A records. Built once per desired state and swapped whole; lookups never allocate.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{Name, RData, Record};
use ipnet::Ipv4Net;
use underpass_proto::sync::DnsConfig;

/// TTL of every record the resolver owns, and of its negative answers (RFC 2308).
pub const TTL: u32 = 60;

/// One zone: names under `apex` are answered here and never forwarded.
#[derive(Debug, Clone)]
pub struct Zone {
    apex: Name,
    soa: Record,
}

impl Zone {
    /// The zone's apex.
    pub fn apex(&self) -> &Name {
        &self.apex
    }

    /// The SOA record that goes into negative answers.
    pub fn soa(&self) -> &Record {
        &self.soa
    }
}

/// What the zone holds for a name.
#[derive(Debug)]
pub enum Found<'a> {
    /// The name's A records.
    Records(&'a [Record]),
    /// The name exists (the apex, or an ancestor of a record) but holds no A records.
    NoData,
    /// The name does not exist in the zone.
    NxDomain,
}

/// Every zone and record of one VPC's resolver, who may use it, and where the rest goes.
#[derive(Debug, Clone, Default)]
pub struct ZoneSet {
    /// Deepest apex first, so the longest match wins.
    zones: Vec<Zone>,
    records: HashMap<Name, Vec<Record>>,
    /// Names that exist only because names below them do (RFC 8020: not NXDOMAIN).
    empty_non_terminals: HashSet<Name>,
    allowed: Vec<Ipv4Net>,
    upstreams: Vec<SocketAddr>,
}

/// Why an entry of a [`DnsConfig`] was left out of the zones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    /// Not a plain lowercase hostname (letters, digits, hyphens and dots).
    #[error("{0:?} is not a plain hostname")]
    BadName(String),
    /// A record outside every zone of the set.
    #[error("{0:?} lies outside the resolver's zones")]
    OutOfZone(String),
}

/// A name the zone may hold: only what a hostname may contain (RELIABILITY item 86, a second
/// line behind the API's checks: nothing injected ever becomes a record).
fn hostname(s: &str) -> Result<Name, ZoneError> {
    let plain = !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if !plain {
        return Err(ZoneError::BadName(s.chars().take(64).collect()));
    }
    let mut name = Name::from_ascii(s).map_err(|_| ZoneError::BadName(s.to_owned()))?;
    name.set_fqdn(true);
    Ok(name)
}

fn soa_record(apex: &Name, serial: u32) -> Record {
    let rname = Name::from_ascii("hostmaster")
        .and_then(|h| h.append_domain(apex))
        .unwrap_or_else(|_| apex.clone());
    // Refresh, retry and expire mean nothing without secondaries; the minimum is the
    // negative-caching TTL (RFC 2308 section 4).
    let soa = SOA::new(apex.clone(), rname, serial, 3600, 600, 86_400, TTL);
    Record::from_rdata(apex.clone(), TTL, RData::SOA(soa))
}

impl ZoneSet {
    /// Builds the zone set of `cfg`. Entries that are not plain hostnames, or records outside
    /// every zone, are left out and returned, so a bad entry can never become a record.
    pub fn build(cfg: &DnsConfig) -> (Self, Vec<ZoneError>) {
        let mut rejected = Vec::new();
        let mut zones: Vec<Zone> = Vec::new();
        for apex in &cfg.zones {
            match hostname(apex) {
                Ok(apex) if !zones.iter().any(|z| z.apex == apex) => zones.push(Zone {
                    soa: soa_record(&apex, cfg.serial),
                    apex,
                }),
                Ok(_) => {}
                Err(e) => rejected.push(e),
            }
        }
        zones.sort_by_key(|z| std::cmp::Reverse(z.apex.num_labels()));
        let mut records: HashMap<Name, Vec<Record>> = HashMap::new();
        let mut empty_non_terminals = HashSet::new();
        for r in &cfg.records {
            let name = match hostname(&r.name) {
                Ok(n) => n,
                Err(e) => {
                    rejected.push(e);
                    continue;
                }
            };
            let Some(zone) = zones.iter().find(|z| z.apex.zone_of(&name)) else {
                rejected.push(ZoneError::OutOfZone(r.name.clone()));
                continue;
            };
            let mut ancestor = name.base_name();
            while zone.apex.zone_of(&ancestor) && ancestor != zone.apex {
                empty_non_terminals.insert(ancestor.clone());
                ancestor = ancestor.base_name();
            }
            let set = records.entry(name.clone()).or_default();
            for ip in &r.addrs {
                let rec = Record::from_rdata(name.clone(), TTL, RData::A(A(*ip)));
                if !set.contains(&rec) {
                    set.push(rec);
                }
            }
        }
        records.retain(|_, v| !v.is_empty());
        for name in records.keys() {
            empty_non_terminals.remove(name);
        }
        let mut allowed = cfg.vpc_cidrs.clone();
        // Loopback VPCs (dev mode) are reached from 127.0.0.1: any loopback client is inside.
        if cfg.vpc_cidrs.iter().any(|c| c.network().is_loopback()) {
            allowed.push(Ipv4Net::new(Ipv4Addr::new(127, 0, 0, 0), 8).unwrap_or_default());
        }
        let set = Self {
            zones,
            records,
            empty_non_terminals,
            allowed,
            upstreams: cfg.upstreams.clone(),
        };
        (set, rejected)
    }

    /// The deepest zone `name` lies in, if any.
    pub fn zone_of(&self, name: &Name) -> Option<&Zone> {
        self.zones.iter().find(|z| z.apex.zone_of(name))
    }

    /// What `zone` holds for `name` (which lies inside it).
    pub fn find(&self, zone: &Zone, name: &Name) -> Found<'_> {
        if let Some(rs) = self.records.get(name) {
            // A deeper zone may own the name; `zone_of` already chose the deepest one.
            return Found::Records(rs);
        }
        if *name == zone.apex || self.empty_non_terminals.contains(name) {
            Found::NoData
        } else {
            Found::NxDomain
        }
    }

    /// Whether `client` may use this resolver: an address inside the VPC (any loopback address
    /// for a loopback VPC).
    pub fn allows(&self, client: IpAddr) -> bool {
        match client {
            IpAddr::V4(ip) => self.allowed.iter().any(|n| n.contains(&ip)),
            IpAddr::V6(ip) => ip
                .to_ipv4_mapped()
                .is_some_and(|v4| self.allowed.iter().any(|n| n.contains(&v4))),
        }
    }

    /// Where names outside the zones are forwarded.
    pub fn upstreams(&self) -> &[SocketAddr] {
        &self.upstreams
    }

    /// The zones' apexes, deepest first.
    pub fn apexes(&self) -> impl Iterator<Item = &Name> {
        self.zones.iter().map(|z| &z.apex)
    }

    /// Every name with its addresses, sorted: a zone dump for tests and operators.
    pub fn dump(&self) -> Vec<(String, Vec<Ipv4Addr>)> {
        let mut out: Vec<(String, Vec<Ipv4Addr>)> = self
            .records
            .iter()
            .map(|(n, rs)| {
                let addrs = rs
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::A(a) => Some(a.0),
                        _ => None,
                    })
                    .collect();
                (n.to_ascii().trim_end_matches('.').to_owned(), addrs)
            })
            .collect();
        out.sort();
        out
    }
}
