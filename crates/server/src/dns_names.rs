//! The DNS names the API reports and the agents serve, from stored records and settings.

use underpass_domain::dns::{
    regional_endpoint_name, service_base_name, zonal_endpoint_name, ENDPOINT_TOKEN_LEN,
};
use underpass_store::records::{Endpoint, Service};

use crate::config::ServerConfig;

/// An endpoint's regional name: the stored one, or for endpoints created before DNS, one
/// whose random part is the end of the endpoint's id (stable across calls).
pub(crate) fn regional(cfg: &ServerConfig, e: &Endpoint) -> String {
    match &e.dns_name {
        Some(n) => n.clone(),
        None => {
            let hex = e.id.hex();
            let token = &hex[hex.len().saturating_sub(ENDPOINT_TOKEN_LEN)..];
            regional_endpoint_name(&e.id, token, &e.service, &e.region, &cfg.dns_domain)
        }
    }
}

/// The regional name and one zonal name per zone the endpoint has an ENI in.
pub(crate) fn endpoint_names(cfg: &ServerConfig, e: &Endpoint) -> Vec<(String, Option<String>)> {
    let regional = regional(cfg, e);
    let mut zones: Vec<&str> = e.enis.iter().map(|n| n.zone.as_str()).collect();
    zones.sort_unstable();
    zones.dedup();
    let mut out = vec![(regional.clone(), None)];
    out.extend(
        zones
            .into_iter()
            .map(|z| (zonal_endpoint_name(&regional, z), Some(z.to_owned()))),
    );
    out
}

/// A service's base endpoint name (`BaseEndpointDnsNames`).
pub(crate) fn base(cfg: &ServerConfig, s: &Service) -> String {
    service_base_name(&s.id, &s.region, &cfg.dns_domain)
}

/// The hosted zone id reported with endpoint names: one per region, stable (FNV-1a of the
/// zone's apex, in the shape of Route 53's ids).
pub(crate) fn hosted_zone_id(cfg: &ServerConfig, region: &str) -> String {
    let apex = underpass_domain::dns::endpoint_zone(region, &cfg.dns_domain);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in apex.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("Z{:013X}", h >> 12)
}
