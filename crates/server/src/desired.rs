//! The desired state of one agent, computed from the store: what it binds, what it admits, and
//! the certificates it presents (issued for the key it enrolled with, reused until renewal).

use time::OffsetDateTime;
use underpass_domain::{ConnState, EndpointId, VpcId};
use underpass_pki::{LeafSpec, SpiffeId};
use underpass_proto::sync::{
    AgentInfo, AgentState, DnsConfig, DnsRecord, EndpointConfig, GatewayAddr, GatewayConfig,
    HealthCheckConfig, IssuedIdentity, ListenerConfig, TargetConfig, TargetGroupConfig,
    TrustBundle,
};
use underpass_store::agents::{self, AgentRow, IssuedRow};
use underpass_store::services::{self, EndpointFilter};
use underpass_store::{network, Tx};

use crate::api::ApiError;
use crate::state::AppState;

/// NLB's idle timeout for TCP flows.
const IDLE_TIMEOUT_SECS: u32 = 350;

fn spiffe(state: &AppState, path: &str) -> Result<SpiffeId, ApiError> {
    format!("spiffe://{}/{path}", state.cfg.trust_domain)
        .parse()
        .map_err(ApiError::internal)
}

/// The certificate of `identity` for `agent`'s key: the stored one until its renewal time,
/// else a new one.
async fn identity_cert(
    state: &AppState,
    tx: &mut Tx,
    agent: &AgentRow,
    identity: &SpiffeId,
    now: OffsetDateTime,
) -> Result<IssuedIdentity, ApiError> {
    let id_text = identity.to_string();
    if let Some(row) = agents::latest_issued(tx, &agent.agent_id, &id_text).await? {
        if now < underpass_pki::renew_at(row.not_before, row.not_after) {
            return Ok(IssuedIdentity {
                spiffe_id: id_text,
                cert_pem: row.cert_pem,
            });
        }
    }
    let spec = LeafSpec::new(identity.clone()).with_lifetime(state.cfg.cert_lifetime);
    let cert = state
        .ca
        .issue_from_csr(&agent.csr_der, &spec, now)
        .map_err(ApiError::internal)?;
    agents::insert_issued(
        tx,
        &IssuedRow {
            serial: cert.serial.to_string(),
            agent_id: agent.agent_id.clone(),
            identity: id_text.clone(),
            cert_pem: cert.cert_pem.clone(),
            not_before: cert.not_before,
            not_after: cert.not_after,
        },
    )
    .await?;
    Ok(IssuedIdentity {
        spiffe_id: id_text,
        cert_pem: cert.cert_pem,
    })
}

/// Computes `agent`'s state now.
pub(crate) async fn agent_state(
    state: &AppState,
    agent: &AgentRow,
    now: OffsetDateTime,
) -> Result<AgentState, ApiError> {
    let vpc: VpcId = agent.vpc.parse()?;
    // A write transaction: certificates may be issued and recorded.
    let mut tx = state.store.begin().await?;
    // Checked inside the write transaction, so a revocation cannot slip in between: a long-poll
    // that was waiting when its agent was revoked must not mint fresh identities for it.
    match agents::get_agent(&mut tx, &agent.agent_id).await? {
        Some(row) if !row.revoked => {}
        _ => {
            return Err(ApiError::client(
                "AgentRevoked",
                "this agent's certificate has been revoked",
            )
            .with_status(axum::http::StatusCode::FORBIDDEN))
        }
    }
    let revision = agents::revision_in(&mut tx).await?;
    let tunnel_port = state.cfg.tunnel_port;

    let mut endpoints = Vec::new();
    let filter = EndpointFilter {
        vpc: Some(vpc),
        ..EndpointFilter::default()
    };
    for ep in services::list_endpoints(&mut tx, &filter).await? {
        if matches!(ep.state, ConnState::Deleting | ConnState::Deleted) {
            continue;
        }
        let Some(eni) = ep.enis.iter().find(|e| e.zone == agent.zone) else {
            continue;
        };
        let service = services::get_service(&mut tx, &ep.service).await?;
        let mut ports = Vec::new();
        let mut gateways = Vec::new();
        for lb_arn in &service.load_balancers {
            let lb = services::get_lb(&mut tx, lb_arn).await?;
            for l in services::list_listeners(&mut tx, Some(lb_arn)).await? {
                ports.push(l.port);
            }
            for node in &lb.nodes {
                gateways.push(GatewayAddr {
                    zone: node.zone.clone(),
                    addr: (node.ip, tunnel_port).into(),
                });
            }
        }
        ports.sort_unstable();
        ports.dedup();
        // Same zone first, as AWS routes zonal traffic.
        gateways.sort_by_key(|g| (g.zone != agent.zone, g.addr));
        let mut ingress = Vec::new();
        for sg in &ep.security_groups {
            ingress.extend(network::get_group(&mut tx, sg).await?.ingress());
        }
        // The inbound entries of the ENI subnet's network ACL, ending with the `*` rule that
        // denies the rest; a subnet without an ACL (made before ACLs) gets none: allow all.
        let acl = match underpass_store::acls::acl_of_subnet(&mut tx, &eni.subnet).await? {
            Some(acl) => {
                let mut entries = acl.inbound();
                entries.extend(crate::actions::acl_star_entries());
                entries
            }
            None => Vec::new(),
        };
        let identity = spiffe(state, &format!("account/{}/endpoint/{}", ep.account, ep.id))?;
        let gateway_identity = spiffe(
            state,
            &format!("account/{}/service/{}", service.account, service.id),
        )?;
        endpoints.push(EndpointConfig {
            endpoint_id: ep.id,
            service_id: service.id,
            state: ep.state,
            eni_id: eni.id,
            ip: eni.ip,
            ports,
            ingress,
            acl,
            gateways,
            gateway_identity: gateway_identity.to_string(),
            identity: identity_cert(state, &mut tx, agent, &identity, now).await?,
        });
    }

    let mut gateways = Vec::new();
    let all_services = services::list_services(&mut tx).await?;
    for lb in services::list_lbs(&mut tx, Some(&agent.account)).await? {
        if lb.vpc != vpc {
            continue;
        }
        let Some(node) = lb.nodes.iter().find(|n| n.zone == agent.zone) else {
            continue;
        };
        // A load balancer admits tunnels only for the service it fronts.
        let Some(service) = all_services
            .iter()
            .find(|s| s.load_balancers.contains(&lb.arn))
        else {
            continue;
        };
        let mut listeners = Vec::new();
        for l in services::list_listeners(&mut tx, Some(&lb.arn)).await? {
            let tg = services::get_tg(&mut tx, &l.target_group).await?;
            listeners.push(ListenerConfig {
                port: l.port,
                target_group: TargetGroupConfig {
                    arn: tg.arn.clone(),
                    targets: tg
                        .targets
                        .iter()
                        .map(|t| TargetConfig {
                            addr: (t.ip, t.port).into(),
                            zone: t.zone.clone(),
                        })
                        .collect(),
                    health: HealthCheckConfig {
                        protocol: tg.health.protocol.clone(),
                        port: tg.health.port.parse().ok(),
                        path: tg.health.path.clone(),
                        interval_secs: tg.health.interval_secs,
                        timeout_secs: tg.health.timeout_secs,
                        healthy_threshold: tg.health.healthy_threshold,
                        unhealthy_threshold: tg.health.unhealthy_threshold,
                    },
                    proxy_protocol_v2: tg.proxy_protocol_v2,
                },
            });
        }
        let admitted: Vec<EndpointId> = services::list_endpoints(
            &mut tx,
            &EndpointFilter {
                service: Some(service.id),
                ..EndpointFilter::default()
            },
        )
        .await?
        .into_iter()
        .filter(|e| e.state.carries_traffic())
        .map(|e| e.id)
        .collect();
        let identity = spiffe(
            state,
            &format!("account/{}/service/{}", service.account, service.id),
        )?;
        gateways.push(GatewayConfig {
            load_balancer_arn: lb.arn.clone(),
            service_id: Some(service.id),
            eni_id: node.id,
            ip: node.ip,
            tunnel_port,
            cross_zone: lb.cross_zone,
            listeners,
            admitted,
            identity: identity_cert(state, &mut tx, agent, &identity, now).await?,
            idle_timeout_secs: IDLE_TIMEOUT_SECS,
        });
    }

    let dns = dns_config(state, &mut tx, &vpc, revision).await?;
    let enis: Vec<_> = endpoints
        .iter()
        .map(|e| e.eni_id)
        .chain(gateways.iter().map(|g| g.eni_id))
        .collect();
    let region = network::get_vpc(&mut tx, &vpc).await?.region;
    let flow_logs = crate::flow_log_state::for_agent(&mut tx, &region, &enis).await?;
    let revoked_serials = agents::revoked_serials(&mut tx).await?;
    tx.commit().await?;
    Ok(AgentState {
        revision,
        agent: AgentInfo {
            id: agent.agent_id.parse()?,
            account: agent.account.clone(),
            vpc,
            zone: agent.zone.clone(),
        },
        trust: TrustBundle {
            ca_pems: vec![state.ca.cert_pem().to_owned()],
            revoked_serials,
        },
        endpoints,
        gateways,
        dns,
        flow_logs,
    })
}

/// The VPC's resolver: every endpoint of the VPC that is not gone (all zones: the regional
/// name answers every zone's address), and the verified private DNS names of the endpoints
/// that are `available` with private DNS on. A VPC with DNS support off gets no resolver.
async fn dns_config(
    state: &AppState,
    tx: &mut Tx,
    vpc: &VpcId,
    revision: i64,
) -> Result<Option<DnsConfig>, ApiError> {
    let cfg = &state.cfg;
    let v = network::get_vpc(tx, vpc).await?;
    if !v.dns_support {
        return Ok(None);
    }
    let mut zones = vec![underpass_domain::dns::endpoint_zone(
        &v.region,
        &cfg.dns_domain,
    )];
    let mut records = Vec::new();
    let filter = EndpointFilter {
        vpc: Some(*vpc),
        ..EndpointFilter::default()
    };
    for ep in services::list_endpoints(tx, &filter).await? {
        if !matches!(
            ep.state,
            ConnState::PendingAcceptance | ConnState::Pending | ConnState::Available
        ) {
            continue;
        }
        let all: Vec<_> = ep.enis.iter().map(|n| n.ip).collect();
        for (name, zone) in crate::dns_names::endpoint_names(cfg, &ep) {
            let addrs = match zone {
                None => all.clone(),
                Some(z) => ep
                    .enis
                    .iter()
                    .filter(|n| n.zone == z)
                    .map(|n| n.ip)
                    .collect(),
            };
            records.push(DnsRecord { name, addrs });
        }
        if ep.private_dns_enabled && ep.state == ConnState::Available && v.dns_hostnames {
            let service = services::get_service(tx, &ep.service).await?;
            if let Some(name) = crate::actions::verified_private_dns_name(&service) {
                if !zones.iter().any(|z| z == name) {
                    zones.push(name.to_owned());
                }
                records.push(DnsRecord {
                    name: name.to_owned(),
                    addrs: all,
                });
            }
        }
    }
    Ok(Some(DnsConfig {
        resolver: underpass_domain::net::resolver_address(&v.cidr),
        vpc_cidrs: std::iter::once(v.cidr)
            .chain(
                underpass_store::network::cidr_blocks(tx, &v.id)
                    .await?
                    .into_iter()
                    .map(|b| b.cidr),
            )
            .collect(),
        zones,
        records,
        upstreams: cfg.dns_upstreams.clone(),
        // The SOA serial: the revision, wrapping as RFC 1982 serials do.
        serial: u32::try_from(revision.rem_euclid(1 << 32)).unwrap_or(0),
    }))
}
