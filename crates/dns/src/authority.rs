//! A small authoritative server for one zone, on hickory-server's own catalog and in-memory
//! zone handler: the "public DNS" of a provider's domain in `underpass dev` (where the TXT
//! record proving a private DNS name is published), the upstream of tests, and the stock
//! authority the benchmark compares ours with.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::rdata::{A, NS, SOA, TXT};
use hickory_proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use hickory_server::Server;

/// Why the authority could not start or take a record.
#[derive(Debug, thiserror::Error)]
pub enum AuthorityError {
    /// A socket could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not a domain name.
    #[error("{0:?} is not a domain name")]
    Name(String),
    /// The zone refused the record (outside the zone).
    #[error("the zone does not take {0}")]
    Refused(String),
}

fn fqdn(s: &str) -> Result<Name, AuthorityError> {
    let mut n = Name::from_ascii(s).map_err(|_| AuthorityError::Name(s.to_owned()))?;
    n.set_fqdn(true);
    Ok(n)
}

/// A zone with its SOA and NS records, ready for records and a catalog.
fn new_zone(origin: &Name) -> Result<InMemoryZoneHandler, AuthorityError> {
    let mut zone = InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
    let ns = fqdn("ns")?
        .append_domain(origin)
        .map_err(|_| AuthorityError::Name(origin.to_string()))?;
    let admin = fqdn("hostmaster")?
        .append_domain(origin)
        .map_err(|_| AuthorityError::Name(origin.to_string()))?;
    let soa = SOA::new(ns.clone(), admin, 1, 3600, 600, 86_400, 60);
    let ok = zone.upsert_mut(Record::from_rdata(origin.clone(), 60, RData::SOA(soa)), 1)
        && zone.upsert_mut(Record::from_rdata(origin.clone(), 60, RData::NS(NS(ns))), 1);
    if !ok {
        return Err(AuthorityError::Refused(origin.to_string()));
    }
    Ok(zone)
}

/// A catalog serving one zone with `a_records` (name → address), as a stock hickory server
/// would: for benchmarks that call it without sockets.
pub fn catalog_with(
    origin: &str,
    a_records: &[(String, Ipv4Addr)],
) -> Result<Catalog, AuthorityError> {
    let origin = fqdn(origin)?;
    let mut zone = new_zone(&origin)?;
    for (name, ip) in a_records {
        let rec = Record::from_rdata(fqdn(name)?, 60, RData::A(A(*ip)));
        if !zone.upsert_mut(rec, 1) {
            return Err(AuthorityError::Refused(name.clone()));
        }
    }
    let mut catalog = Catalog::new();
    catalog.upsert(LowerName::from(&origin), vec![Arc::new(zone)]);
    Ok(catalog)
}

/// A running authoritative server for one zone.
pub struct StaticAuthority {
    addr: SocketAddr,
    origin: Name,
    zone: Arc<InMemoryZoneHandler>,
    serial: AtomicU32,
    server: Server<Catalog>,
}

impl StaticAuthority {
    /// Serves an empty `origin` zone (SOA and NS only) on `listen` over UDP and TCP.
    pub async fn start(listen: SocketAddr, origin: &str) -> Result<Self, AuthorityError> {
        let origin = fqdn(origin)?;
        let zone = Arc::new(new_zone(&origin)?);
        let mut catalog = Catalog::new();
        catalog.upsert(
            LowerName::from(&origin),
            vec![zone.clone() as Arc<dyn ZoneHandler>],
        );
        let bind = |source| AuthorityError::Bind {
            addr: listen,
            source,
        };
        let (udp, tcp) = crate::server::bind_pair(listen).await.map_err(bind)?;
        let addr = udp.local_addr().map_err(bind)?;
        let mut server = Server::new(catalog);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 64 * 1024);
        Ok(Self {
            addr,
            origin,
            zone,
            serial: AtomicU32::new(1),
            server,
        })
    }

    /// Where it listens (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    async fn add(&self, name: &str, data: RData) -> Result<(), AuthorityError> {
        let name = fqdn(name)?;
        if !self.origin.zone_of(&name) {
            return Err(AuthorityError::Refused(name.to_string()));
        }
        let serial = self.serial.fetch_add(1, Ordering::Relaxed) + 1;
        if self
            .zone
            .upsert(Record::from_rdata(name.clone(), 60, data), serial)
            .await
        {
            Ok(())
        } else {
            Err(AuthorityError::Refused(name.to_string()))
        }
    }

    /// Adds a TXT record (one string).
    pub async fn add_txt(&self, name: &str, value: &str) -> Result<(), AuthorityError> {
        self.add(name, RData::TXT(TXT::new(vec![value.to_owned()])))
            .await
    }

    /// Adds an A record.
    pub async fn add_a(&self, name: &str, ip: Ipv4Addr) -> Result<(), AuthorityError> {
        self.add(name, RData::A(A(ip))).await
    }

    /// Stops serving.
    pub async fn stop(mut self) {
        let _ = self.server.shutdown_gracefully().await;
    }
}
