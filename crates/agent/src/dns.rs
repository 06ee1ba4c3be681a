//! The VPC's resolver, hosted by the agent: started on the VPC's resolver address when a state
//! first carries a DNS section, its zone set swapped on every later state (a change is served
//! from the next query on), stopped when the section goes away.

use std::net::{IpAddr, SocketAddr};

use underpass_dns::client::system_resolvers;
use underpass_dns::{DnsServer, DnsServerConfig, ZoneSet};
use underpass_proto::sync::DnsConfig;

/// How the agent serves DNS.
#[derive(Debug, Clone)]
pub struct DnsHostConfig {
    /// The port on the resolver address (53 in production; dev mode uses an unprivileged one).
    pub port: u16,
    /// Upstreams that replace the control plane's (empty: keep those; if those are empty too,
    /// the host's resolv.conf).
    pub upstreams: Vec<SocketAddr>,
}

/// The running resolver, if any.
pub struct DnsHost {
    cfg: DnsHostConfig,
    running: tokio::sync::Mutex<Option<DnsServer>>,
}

impl DnsHost {
    /// A host that serves nothing until a state with a DNS section arrives.
    pub fn new(cfg: DnsHostConfig) -> Self {
        Self {
            cfg,
            running: tokio::sync::Mutex::new(None),
        }
    }

    /// Serves `dns` (or stops serving when `None`). A resolver that cannot bind is logged and
    /// tried again with the next state; the data plane is never held up by DNS.
    pub async fn apply(&self, dns: Option<&DnsConfig>) {
        let mut running = self.running.lock().await;
        let Some(dns) = dns else {
            if let Some(old) = running.take() {
                old.stop().await;
            }
            return;
        };
        let mut dns = dns.clone();
        if !self.cfg.upstreams.is_empty() {
            dns.upstreams = self.cfg.upstreams.clone();
        }
        let (zones, rejected) = ZoneSet::build(&dns);
        for r in &rejected {
            tracing::warn!(error = %r, "DNS entry left out");
        }
        let addr = SocketAddr::new(IpAddr::V4(dns.resolver), self.cfg.port);
        if let Some(server) = running.as_ref() {
            if server.local_addr() == addr {
                server.swap(zones);
                return;
            }
        }
        if let Some(old) = running.take() {
            old.stop().await;
        }
        let mut sc = DnsServerConfig::new(addr);
        sc.fallback_upstreams = system_resolvers(&[addr]);
        match DnsServer::start(sc, zones).await {
            Ok(server) => *running = Some(server),
            Err(e) => tracing::warn!(
                %addr,
                error = %e,
                "the VPC resolver cannot listen here (choose another port with --dns-port)"
            ),
        }
    }

    /// Where the resolver listens, if it runs.
    pub async fn addr(&self) -> Option<SocketAddr> {
        self.running
            .lock()
            .await
            .as_ref()
            .map(DnsServer::local_addr)
    }

    /// Stops the resolver.
    pub async fn stop(&self) {
        if let Some(s) = self.running.lock().await.take() {
            s.stop().await;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::net::Ipv4Addr;
    use std::time::Duration;

    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::{Name, RData, RecordType};
    use underpass_dns::client::exchange;
    use underpass_proto::sync::{DnsConfig, DnsRecord};

    use super::{DnsHost, DnsHostConfig};

    fn cfg(resolver: Ipv4Addr, records: &[(&str, Ipv4Addr)]) -> DnsConfig {
        DnsConfig {
            resolver,
            vpc_cidrs: vec!["127.0.0.0/8".parse().unwrap()],
            zones: vec!["us-east-1.vpce.underpass.internal".into()],
            records: records
                .iter()
                .map(|(n, ip)| DnsRecord {
                    name: (*n).into(),
                    addrs: vec![*ip],
                })
                .collect(),
            upstreams: vec![],
            serial: 1,
        }
    }

    async fn a(server: std::net::SocketAddr, name: &str) -> Vec<Ipv4Addr> {
        let q = Query::query(Name::from_ascii(format!("{name}.")).unwrap(), RecordType::A);
        let Ok(bytes) = exchange(server, &q, Duration::from_secs(2)).await else {
            return vec![];
        };
        Message::from_vec(&bytes)
            .unwrap()
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_apply_is_served_from_the_next_query() {
        let name = "e1.us-east-1.vpce.underpass.internal";
        let resolver = Ipv4Addr::new(127, 77, 0, 2);
        // Port 0 is not a real setting; a fixed free port is found the usual way.
        let port = std::net::UdpSocket::bind("127.77.0.2:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let host = DnsHost::new(DnsHostConfig {
            port,
            upstreams: vec![],
        });
        host.apply(Some(&cfg(
            resolver,
            &[(name, Ipv4Addr::new(127, 77, 1, 4))],
        )))
        .await;
        let addr = host.addr().await.expect("serving");
        assert_eq!(addr, (resolver, port).into());
        assert_eq!(a(addr, name).await, vec![Ipv4Addr::new(127, 77, 1, 4)]);
        // A new state: visible to the very next query, well within a second.
        host.apply(Some(&cfg(
            resolver,
            &[(name, Ipv4Addr::new(127, 77, 1, 9))],
        )))
        .await;
        assert_eq!(a(addr, name).await, vec![Ipv4Addr::new(127, 77, 1, 9)]);
        assert_eq!(host.addr().await, Some(addr), "same socket, swapped zones");
        // No DNS section: the resolver stops.
        host.apply(None).await;
        assert_eq!(host.addr().await, None);
        assert!(a(addr, name).await.is_empty());
    }
}
