//! Load balancers, target groups, listeners, endpoint services, endpoints and their history.

use std::collections::HashMap;

use crate::db;
use crate::db::Row;
use time::OffsetDateTime;
use underpass_domain::{ConnEvent, ConnState, EndpointId, ServiceId, VpcId};

use crate::cols::{not_found, parse_col};
use crate::network::enis_of;
use crate::open::bump_revision;
use crate::records::{
    Endpoint, Eni, HealthCheck, Listener, LoadBalancer, PrivateDns, Service, Target, TargetGroup,
};
use crate::{from_ms, to_ms, StoreError, Tx};

fn json_col<T: serde::de::DeserializeOwned>(row: &Row, col: &str) -> Result<T, StoreError> {
    serde_json::from_str(row.text(col)?).map_err(|_| StoreError::Corrupt(format!("column {col}")))
}

/// Inserts a load balancer (its node ENIs are inserted separately).
pub async fn insert_lb(
    tx: &mut Tx,
    lb: &LoadBalancer,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    db::query("INSERT INTO load_balancers (arn, account_id, region, name, vpc_id, cross_zone, state, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(&lb.arn)
        .bind(&lb.account)
        .bind(&lb.region)
        .bind(&lb.name)
        .bind(lb.vpc.to_string())
        .bind(lb.cross_zone)
        .bind(&lb.state)
        .bind(to_ms(now))
        .execute(tx)
        .map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict(format!("A load balancer with the same name '{}' exists", lb.name)),
            other => other,
        })?;
    bump_revision(tx).await?;
    Ok(())
}

async fn lb_row(tx: &mut Tx, row: &Row) -> Result<LoadBalancer, StoreError> {
    let arn: String = row.try_get("arn")?;
    Ok(LoadBalancer {
        nodes: enis_of(tx, &arn).await?,
        arn,
        account: row.try_get("account_id")?,
        region: row.try_get("region")?,
        name: row.try_get("name")?,
        vpc: parse_col(row, "vpc_id")?,
        cross_zone: row.try_get("cross_zone")?,
        state: row.try_get("state")?,
    })
}

/// The load balancer `arn`.
pub async fn get_lb(tx: &mut Tx, arn: &str) -> Result<LoadBalancer, StoreError> {
    let row = db::query("SELECT * FROM load_balancers WHERE arn = ?")
        .bind(arn)
        .fetch_optional(tx)?
        .ok_or_else(|| not_found("load balancer", arn))?;
    lb_row(tx, &row).await
}

/// The zones the load balancers `arns` have nodes in, sorted, each once (a load balancer that
/// does not exist has none).
pub async fn lb_zones(tx: &mut Tx, arns: &[String]) -> Result<Vec<String>, StoreError> {
    // One indexed lookup per load balancer (a service has one or a few), sorted and made
    // distinct here. `owner_id IN (SELECT value FROM json_each(?))` built a temporary B-tree
    // for the list on every call, and `DISTINCT` another: together more than the lookups
    // (perf, CreateVpcEndpoint: 10% of the action).
    let mut zones = std::collections::BTreeSet::new();
    for arn in arns {
        let rows = db::query(
            "SELECT zone FROM network_interfaces WHERE owner_id = ? AND kind = 'load_balancer'",
        )
        .bind(arn)
        .fetch_all(tx)?;
        for r in &rows {
            zones.insert(r.try_get::<String, _>("zone")?);
        }
    }
    Ok(zones.into_iter().collect())
}

/// Load balancers of an account (or all).
pub async fn list_lbs(tx: &mut Tx, account: Option<&str>) -> Result<Vec<LoadBalancer>, StoreError> {
    let rows = db::query("SELECT * FROM load_balancers WHERE (?1 IS NULL OR account_id = ?1) ORDER BY created_ms, arn")
        .bind(account)
        .fetch_all(tx)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(lb_row(tx, r).await?);
    }
    Ok(out)
}

/// Sets the cross-zone attribute.
pub async fn set_lb_cross_zone(tx: &mut Tx, arn: &str, on: bool) -> Result<(), StoreError> {
    let n = db::query("UPDATE load_balancers SET cross_zone = ? WHERE arn = ?")
        .bind(on)
        .bind(arn)
        .execute(tx)?
        .rows_affected();
    if n == 0 {
        return Err(not_found("load balancer", arn));
    }
    bump_revision(tx).await?;
    Ok(())
}

/// Deletes a load balancer; refuses while an endpoint service uses it.
pub async fn delete_lb(tx: &mut Tx, arn: &str) -> Result<(), StoreError> {
    let used: i64 = db::query_scalar(
        "SELECT COUNT(*) FROM endpoint_services s, json_each(s.load_balancer_arns) j WHERE j.value = ?",
    )
    .bind(arn)
    .fetch_one(tx)?;
    if used > 0 {
        return Err(StoreError::Conflict(format!(
            "Load balancer '{arn}' is in use by an endpoint service"
        )));
    }
    crate::network::delete_enis_of(tx, arn).await?;
    db::query("DELETE FROM load_balancers WHERE arn = ?")
        .bind(arn)
        .execute(tx)?;
    bump_revision(tx).await?;
    Ok(())
}

/// Inserts a target group (without targets).
pub async fn insert_tg(
    tx: &mut Tx,
    tg: &TargetGroup,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let h = &tg.health;
    db::query(
        "INSERT INTO target_groups (arn, account_id, region, name, vpc_id, protocol, port, hc_protocol, hc_port, hc_path, hc_interval_secs, \
         hc_timeout_secs, healthy_threshold, unhealthy_threshold, proxy_protocol_v2, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&tg.arn)
    .bind(&tg.account)
    .bind(&tg.region)
    .bind(&tg.name)
    .bind(tg.vpc.to_string())
    .bind(&tg.protocol)
    .bind(i64::from(tg.port))
    .bind(&h.protocol)
    .bind(&h.port)
    .bind(&h.path)
    .bind(i64::from(h.interval_secs))
    .bind(i64::from(h.timeout_secs))
    .bind(i64::from(h.healthy_threshold))
    .bind(i64::from(h.unhealthy_threshold))
    .bind(tg.proxy_protocol_v2)
    .bind(to_ms(now))
    .execute(tx)
    .map_err(|e| match e {
        StoreError::Conflict(_) => StoreError::Conflict(format!("A target group with the same name '{}' exists", tg.name)),
        other => other,
    })?;
    bump_revision(tx).await?;
    Ok(())
}

fn u32_col(row: &Row, col: &str) -> Result<u32, StoreError> {
    let v: i64 = row.try_get(col)?;
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("column {col}")))
}

async fn tg_row(tx: &mut Tx, row: &Row) -> Result<TargetGroup, StoreError> {
    let arn: String = row.try_get("arn")?;
    let trows = db::query("SELECT * FROM targets WHERE target_group_arn = ? ORDER BY ip, port")
        .bind(&arn)
        .fetch_all(tx)?;
    let mut targets = Vec::with_capacity(trows.len());
    for t in &trows {
        targets.push(Target {
            ip: parse_col(t, "ip")?,
            port: u16::try_from(u32_col(t, "port")?)
                .map_err(|_| StoreError::Corrupt("port".into()))?,
            zone: t.try_get("zone")?,
        });
    }
    Ok(TargetGroup {
        arn,
        account: row.try_get("account_id")?,
        region: row.try_get("region")?,
        name: row.try_get("name")?,
        vpc: parse_col(row, "vpc_id")?,
        protocol: row.try_get("protocol")?,
        port: u16::try_from(u32_col(row, "port")?)
            .map_err(|_| StoreError::Corrupt("port".into()))?,
        health: HealthCheck {
            protocol: row.try_get("hc_protocol")?,
            port: row.try_get("hc_port")?,
            path: row.try_get("hc_path")?,
            interval_secs: u32_col(row, "hc_interval_secs")?,
            timeout_secs: u32_col(row, "hc_timeout_secs")?,
            healthy_threshold: u32_col(row, "healthy_threshold")?,
            unhealthy_threshold: u32_col(row, "unhealthy_threshold")?,
        },
        proxy_protocol_v2: row.try_get("proxy_protocol_v2")?,
        targets,
    })
}

/// The target group `arn` with its targets.
pub async fn get_tg(tx: &mut Tx, arn: &str) -> Result<TargetGroup, StoreError> {
    let row = db::query("SELECT * FROM target_groups WHERE arn = ?")
        .bind(arn)
        .fetch_optional(tx)?
        .ok_or_else(|| not_found("target group", arn))?;
    tg_row(tx, &row).await
}

/// Target groups of an account (or all).
pub async fn list_tgs(tx: &mut Tx, account: Option<&str>) -> Result<Vec<TargetGroup>, StoreError> {
    let rows = db::query("SELECT * FROM target_groups WHERE (?1 IS NULL OR account_id = ?1) ORDER BY created_ms, arn")
        .bind(account)
        .fetch_all(tx)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(tg_row(tx, r).await?);
    }
    Ok(out)
}

/// Updates health-check settings and the PROXY v2 switch.
pub async fn update_tg(tx: &mut Tx, tg: &TargetGroup) -> Result<(), StoreError> {
    let h = &tg.health;
    db::query(
        "UPDATE target_groups SET hc_protocol = ?, hc_port = ?, hc_path = ?, hc_interval_secs = ?, hc_timeout_secs = ?, \
         healthy_threshold = ?, unhealthy_threshold = ?, proxy_protocol_v2 = ? WHERE arn = ?",
    )
    .bind(&h.protocol)
    .bind(&h.port)
    .bind(&h.path)
    .bind(i64::from(h.interval_secs))
    .bind(i64::from(h.timeout_secs))
    .bind(i64::from(h.healthy_threshold))
    .bind(i64::from(h.unhealthy_threshold))
    .bind(tg.proxy_protocol_v2)
    .bind(&tg.arn)
    .execute(tx)?;
    bump_revision(tx).await?;
    Ok(())
}

/// Registers targets (already registered ones are left as they are).
pub async fn register_targets(tx: &mut Tx, tg: &str, targets: &[Target]) -> Result<(), StoreError> {
    for t in targets {
        db::query(
            "INSERT OR IGNORE INTO targets (target_group_arn, ip, port, zone) VALUES (?, ?, ?, ?)",
        )
        .bind(tg)
        .bind(t.ip.to_string())
        .bind(i64::from(t.port))
        .bind(&t.zone)
        .execute(tx)?;
    }
    bump_revision(tx).await?;
    Ok(())
}

/// Deregisters targets (unknown ones are ignored, as ELBv2 does).
pub async fn deregister_targets(
    tx: &mut Tx,
    tg: &str,
    targets: &[Target],
) -> Result<(), StoreError> {
    for t in targets {
        db::query("DELETE FROM targets WHERE target_group_arn = ? AND ip = ? AND port = ?")
            .bind(tg)
            .bind(t.ip.to_string())
            .bind(i64::from(t.port))
            .execute(tx)?;
    }
    bump_revision(tx).await?;
    Ok(())
}

/// Deletes a target group; refuses while a listener uses it.
pub async fn delete_tg(tx: &mut Tx, arn: &str) -> Result<(), StoreError> {
    let used: i64 = db::query_scalar("SELECT COUNT(*) FROM listeners WHERE target_group_arn = ?")
        .bind(arn)
        .fetch_one(tx)?;
    if used > 0 {
        return Err(StoreError::Conflict(format!(
            "Target group '{arn}' is currently in use by a listener or a rule"
        )));
    }
    db::query("DELETE FROM target_groups WHERE arn = ?")
        .bind(arn)
        .execute(tx)?;
    bump_revision(tx).await?;
    Ok(())
}

fn listener_row(row: &Row) -> Result<Listener, StoreError> {
    Ok(Listener {
        arn: row.try_get("arn")?,
        load_balancer: row.try_get("load_balancer_arn")?,
        protocol: row.try_get("protocol")?,
        port: u16::try_from(row.try_get::<i64, _>("port")?)
            .map_err(|_| StoreError::Corrupt("port".into()))?,
        target_group: row.try_get("target_group_arn")?,
    })
}

/// Inserts a listener.
pub async fn insert_listener(tx: &mut Tx, l: &Listener) -> Result<(), StoreError> {
    db::query("INSERT INTO listeners (arn, load_balancer_arn, protocol, port, target_group_arn) VALUES (?, ?, ?, ?, ?)")
        .bind(&l.arn)
        .bind(&l.load_balancer)
        .bind(&l.protocol)
        .bind(i64::from(l.port))
        .bind(&l.target_group)
        .execute(tx)
        .map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict(format!("A listener already exists on port {}", l.port)),
            other => other,
        })?;
    bump_revision(tx).await?;
    Ok(())
}

/// Listeners of a load balancer (or all).
pub async fn list_listeners(tx: &mut Tx, lb: Option<&str>) -> Result<Vec<Listener>, StoreError> {
    let rows = db::query(
        "SELECT * FROM listeners WHERE (?1 IS NULL OR load_balancer_arn = ?1) ORDER BY port",
    )
    .bind(lb)
    .fetch_all(tx)?;
    rows.iter().map(listener_row).collect()
}

/// Deletes a listener.
pub async fn delete_listener(tx: &mut Tx, arn: &str) -> Result<(), StoreError> {
    let n = db::query("DELETE FROM listeners WHERE arn = ?")
        .bind(arn)
        .execute(tx)?
        .rows_affected();
    if n == 0 {
        return Err(not_found("listener", arn));
    }
    bump_revision(tx).await?;
    Ok(())
}

/// Inserts an endpoint service.
pub async fn insert_service(
    tx: &mut Tx,
    s: &Service,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    db::query(
        "INSERT INTO endpoint_services (service_id, service_name, account_id, region, acceptance_required, load_balancer_arns, state, created_ms, \
         private_dns_name, private_dns_state, private_dns_txt_name, private_dns_txt_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(s.id.to_string())
    .bind(&s.name)
    .bind(&s.account)
    .bind(&s.region)
    .bind(s.acceptance_required)
    .bind(serde_json::to_string(&s.load_balancers).map_err(|e| StoreError::Corrupt(e.to_string()))?)
    .bind(&s.state)
    .bind(to_ms(now))
    .bind(s.private_dns.as_ref().map(|p| p.name.clone()))
    .bind(s.private_dns.as_ref().map(|p| p.state.as_str()))
    .bind(s.private_dns.as_ref().map(|p| p.txt_name.clone()))
    .bind(s.private_dns.as_ref().map(|p| p.txt_value.clone()))
    .execute(tx)?;
    for p in &s.allowed_principals {
        db::query("INSERT INTO service_permissions (service_id, principal) VALUES (?, ?)")
            .bind(s.id.to_string())
            .bind(p)
            .execute(tx)?;
    }
    bump_revision(tx).await?;
    Ok(())
}

async fn service_row(tx: &mut Tx, row: &Row) -> Result<Service, StoreError> {
    let id: ServiceId = parse_col(row, "service_id")?;
    let allowed_principals = db::query_scalar(
        "SELECT principal FROM service_permissions WHERE service_id = ? ORDER BY principal",
    )
    .bind(id.to_string())
    .fetch_all(tx)?;
    Ok(Service {
        id,
        name: row.try_get("service_name")?,
        account: row.try_get("account_id")?,
        region: row.try_get("region")?,
        acceptance_required: row.try_get("acceptance_required")?,
        load_balancers: json_col(row, "load_balancer_arns")?,
        state: row.try_get("state")?,
        allowed_principals,
        private_dns: private_dns_cols(row)?,
    })
}

fn private_dns_cols(row: &Row) -> Result<Option<PrivateDns>, StoreError> {
    let name: Option<String> = row.try_get("private_dns_name")?;
    let Some(name) = name else { return Ok(None) };
    let state: Option<String> = row.try_get("private_dns_state")?;
    let txt_name: Option<String> = row.try_get("private_dns_txt_name")?;
    let txt_value: Option<String> = row.try_get("private_dns_txt_value")?;
    match (state, txt_name, txt_value) {
        (Some(state), Some(txt_name), Some(txt_value)) => Ok(Some(PrivateDns {
            name,
            state: state.parse().map_err(StoreError::Corrupt)?,
            txt_name,
            txt_value,
        })),
        _ => Err(StoreError::Corrupt(format!(
            "private DNS name {name:?} without its verification record"
        ))),
    }
}

/// The service `id`.
pub async fn get_service(tx: &mut Tx, id: &ServiceId) -> Result<Service, StoreError> {
    let row = db::query("SELECT * FROM endpoint_services WHERE service_id = ?")
        .bind(id.to_string())
        .fetch_optional(tx)?
        .ok_or_else(|| not_found("endpoint service", id))?;
    service_row(tx, &row).await
}

/// The service named `name`.
pub async fn find_service_by_name(tx: &mut Tx, name: &str) -> Result<Service, StoreError> {
    let row = db::query("SELECT * FROM endpoint_services WHERE service_name = ?")
        .bind(name)
        .fetch_optional(tx)?
        .ok_or_else(|| not_found("endpoint service", name))?;
    service_row(tx, &row).await
}

/// Every service (callers filter by visibility).
pub async fn list_services(tx: &mut Tx) -> Result<Vec<Service>, StoreError> {
    let rows = db::query("SELECT * FROM endpoint_services ORDER BY created_ms, service_id")
        .fetch_all(tx)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(service_row(tx, r).await?);
    }
    Ok(out)
}

/// Updates acceptance, load balancers and the private DNS name with its verification.
pub async fn update_service(tx: &mut Tx, s: &Service) -> Result<(), StoreError> {
    db::query(
        "UPDATE endpoint_services SET acceptance_required = ?, load_balancer_arns = ?, private_dns_name = ?, private_dns_state = ?, \
         private_dns_txt_name = ?, private_dns_txt_value = ? WHERE service_id = ?",
    )
        .bind(s.acceptance_required)
        .bind(serde_json::to_string(&s.load_balancers).map_err(|e| StoreError::Corrupt(e.to_string()))?)
        .bind(s.private_dns.as_ref().map(|p| p.name.clone()))
        .bind(s.private_dns.as_ref().map(|p| p.state.as_str()))
        .bind(s.private_dns.as_ref().map(|p| p.txt_name.clone()))
        .bind(s.private_dns.as_ref().map(|p| p.txt_value.clone()))
        .bind(s.id.to_string())
        .execute(tx)?;
    bump_revision(tx).await?;
    Ok(())
}

/// The services (id, account) whose private DNS name `name` is verified: the first verified
/// owner keeps the name (RELIABILITY item 85).
pub async fn verified_private_dns_owners(
    tx: &mut Tx,
    name: &str,
) -> Result<Vec<(ServiceId, String)>, StoreError> {
    let rows = db::query(
        "SELECT service_id, account_id FROM endpoint_services WHERE private_dns_name = ? AND private_dns_state = 'verified' ORDER BY service_id",
    )
    .bind(name)
    .fetch_all(tx)?;
    rows.iter()
        .map(|r| Ok((parse_col(r, "service_id")?, r.try_get("account_id")?)))
        .collect()
}

/// Adds and removes allowed principals.
pub async fn modify_permissions(
    tx: &mut Tx,
    id: &ServiceId,
    add: &[String],
    remove: &[String],
) -> Result<(), StoreError> {
    for p in add {
        db::query(
            "INSERT OR IGNORE INTO service_permissions (service_id, principal) VALUES (?, ?)",
        )
        .bind(id.to_string())
        .bind(p)
        .execute(tx)?;
    }
    for p in remove {
        db::query("DELETE FROM service_permissions WHERE service_id = ? AND principal = ?")
            .bind(id.to_string())
            .bind(p)
            .execute(tx)?;
    }
    bump_revision(tx).await?;
    Ok(())
}

/// Deletes a service; refuses while endpoints other than rejected/deleted/failed/expired use it.
pub async fn delete_service(tx: &mut Tx, id: &ServiceId) -> Result<(), StoreError> {
    let live: i64 = db::query_scalar(
        "SELECT COUNT(*) FROM endpoints WHERE service_id = ? AND state IN ('pendingAcceptance', 'pending', 'available')",
    )
    .bind(id.to_string())
    .fetch_one(tx)?;
    if live > 0 {
        return Err(StoreError::Conflict(format!(
            "Service {id} has existing VPC endpoint connections in pendingAcceptance, pending or available state"
        )));
    }
    db::query("DELETE FROM endpoints WHERE service_id = ? AND state IN ('deleted', 'rejected', 'failed', 'expired')")
        .bind(id.to_string())
        .execute(tx)?;
    db::query("DELETE FROM endpoint_services WHERE service_id = ?")
        .bind(id.to_string())
        .execute(tx)?;
    bump_revision(tx).await?;
    Ok(())
}

/// Inserts an endpoint and records its creation in the history.
pub async fn insert_endpoint(
    tx: &mut Tx,
    e: &Endpoint,
    actor: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    insert_endpoint_then(tx, e, None, actor, now)
        .await?
        .map_err(|x| StoreError::Corrupt(x.to_string()))?;
    Ok(())
}

/// As [`insert_endpoint`], then `then` applied to its state in the same writes (one row in its
/// final state, both steps in the history): what a create that is accepted at once records,
/// in three statements instead of seven. Returns the final state, or the illegal transition.
pub async fn insert_endpoint_then(
    tx: &mut Tx,
    e: &Endpoint,
    then: Option<ConnEvent>,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Result<ConnState, underpass_domain::IllegalTransition>, StoreError> {
    let created = if e.state == ConnState::PendingAcceptance {
        "CreateWithAcceptance"
    } else {
        "CreateAutoAccept"
    };
    let mut steps: Vec<(Option<ConnState>, ConnState, String)> =
        vec![(None, e.state, created.to_owned())];
    let mut state = e.state;
    if let Some(event) = then {
        let to = match state.apply(event) {
            Ok(to) => to,
            Err(x) => return Ok(Err(x)),
        };
        steps.push((Some(state), to, format!("{event:?}")));
        state = to;
    }
    db::query(
        "INSERT INTO endpoints (endpoint_id, account_id, region, vpc_id, service_id, endpoint_type, state, policy, security_groups, created_ms, updated_ms, \
         private_dns_enabled, dns_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(e.id.to_string())
    .bind(&e.account)
    .bind(&e.region)
    .bind(e.vpc.to_string())
    .bind(e.service.to_string())
    .bind(&e.endpoint_type)
    .bind(state.as_str())
    .bind(&e.policy)
    .bind(serde_json::to_string(&e.security_groups).map_err(|x| StoreError::Corrupt(x.to_string()))?)
    .bind(to_ms(now))
    .bind(to_ms(now))
    .bind(e.private_dns_enabled)
    .bind(&e.dns_name)
    .execute(tx)?;
    // One cached INSERT per step (one or two): a single statement over `json_each(…) ORDER BY
    // key` encoded and decoded JSON and sorted it, which cost more than the rows.
    for (from, to, event) in &steps {
        record_history(tx, &e.id, *from, *to, event, actor, now).await?;
    }
    bump_revision(tx).await?;
    Ok(Ok(state))
}

async fn endpoint_row(tx: &mut Tx, row: &Row) -> Result<Endpoint, StoreError> {
    let id: EndpointId = parse_col(row, "endpoint_id")?;
    let enis = enis_of(tx, &id.to_string()).await?;
    endpoint_from(row, enis)
}

fn endpoint_from(row: &Row, enis: Vec<Eni>) -> Result<Endpoint, StoreError> {
    let id: EndpointId = parse_col(row, "endpoint_id")?;
    Ok(Endpoint {
        enis,
        id,
        account: row.try_get("account_id")?,
        region: row.try_get("region")?,
        vpc: parse_col(row, "vpc_id")?,
        service: parse_col(row, "service_id")?,
        endpoint_type: row.try_get("endpoint_type")?,
        state: parse_col(row, "state")?,
        policy: row.try_get("policy")?,
        security_groups: json_col(row, "security_groups")?,
        private_dns_enabled: row.try_get("private_dns_enabled")?,
        dns_name: row.try_get("dns_name")?,
        created: from_ms(row.try_get("created_ms")?),
    })
}

/// The endpoint `id`.
pub async fn get_endpoint(tx: &mut Tx, id: &EndpointId) -> Result<Endpoint, StoreError> {
    let row = db::query("SELECT * FROM endpoints WHERE endpoint_id = ?")
        .bind(id.to_string())
        .fetch_optional(tx)?
        .ok_or_else(|| not_found("endpoint", id))?;
    endpoint_row(tx, &row).await
}

/// Which endpoints to list.
#[derive(Debug, Default, Clone)]
pub struct EndpointFilter {
    /// Owned by this account.
    pub account: Option<String>,
    /// To this service.
    pub service: Option<ServiceId>,
    /// In this VPC.
    pub vpc: Option<VpcId>,
}

/// Endpoints matching `f`.
pub async fn list_endpoints(tx: &mut Tx, f: &EndpointFilter) -> Result<Vec<Endpoint>, StoreError> {
    let rows = db::query(
        "SELECT * FROM endpoints WHERE (?1 IS NULL OR account_id = ?1) AND (?2 IS NULL OR service_id = ?2) AND (?3 IS NULL OR vpc_id = ?3) \
         ORDER BY created_ms, endpoint_id",
    )
    .bind(f.account.as_deref())
    .bind(f.service.map(|s| s.to_string()))
    .bind(f.vpc.map(|v| v.to_string()))
    .fetch_all(tx)?;
    // The listed endpoints' interfaces in one query, not one per endpoint.
    let eni_rows = db::query(
        "SELECT n.* FROM network_interfaces n JOIN endpoints e ON n.owner_id = e.endpoint_id \
         WHERE (?1 IS NULL OR e.account_id = ?1) AND (?2 IS NULL OR e.service_id = ?2) AND (?3 IS NULL OR e.vpc_id = ?3) \
         ORDER BY n.zone, n.eni_id",
    )
    .bind(f.account.as_deref())
    .bind(f.service.map(|s| s.to_string()))
    .bind(f.vpc.map(|v| v.to_string()))
    .fetch_all(tx)?;
    with_enis(&rows, &eni_rows)
}

/// Endpoint rows with their interfaces' rows, as endpoints.
fn with_enis(rows: &[Row], eni_rows: &[Row]) -> Result<Vec<Endpoint>, StoreError> {
    let mut enis: HashMap<String, Vec<Eni>> = HashMap::new();
    for r in eni_rows {
        let eni = crate::network::eni_row(r)?;
        enis.entry(eni.owner.clone()).or_default().push(eni);
    }
    rows.iter()
        .map(|r| {
            let id = r.text("endpoint_id")?;
            endpoint_from(r, enis.remove(id).unwrap_or_default())
        })
        .collect()
}

/// The statement of [`page_endpoint_versions`] (public so a test can check its plan): a range
/// of the `endpoints_listing` index (migration 0064), read from the index alone.
pub const ENDPOINT_PAGE_SQL: &str =
    "SELECT endpoint_id, version FROM endpoints WHERE account_id = ?1 AND region = ?3 \
     AND endpoint_id > COALESCE(?2, '') ORDER BY endpoint_id LIMIT ?4";

/// The ids and versions of at most `limit` interface endpoints of `account` in `region` with
/// ids after `after` (from the first when `None`), by id: one page of a keyset paging, so a page
/// reads only its own rows however many endpoints the account has (a range of the
/// `(account_id, region, endpoint_id, version)` index: ids are never empty, so `''` stands for
/// "from the first"). A version moves with every change to what the endpoint shows (migration
/// 0061), so a caller that kept an endpoint read at that version needs nothing more of it; the
/// others it reads with [`endpoints_by_ids`].
pub async fn page_endpoint_versions(
    tx: &mut Tx,
    account: &str,
    region: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<(EndpointId, i64)>, StoreError> {
    db::query(ENDPOINT_PAGE_SQL)
        .bind(account)
        .bind(after)
        .bind(region)
        .bind(limit)
        .fetch_map(tx, |r| {
            let id = r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
            let id = id
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("column endpoint_id: {id:?}")))?;
            Ok((id, r.get(1)?))
        })
}

/// The endpoints of `ids` that exist, with their interfaces, each with its version (see
/// [`page_endpoint_versions`]), in no particular order (a sort would cost a temporary B-tree).
pub async fn endpoints_by_ids(
    tx: &mut Tx,
    ids: &[String],
) -> Result<Vec<(Endpoint, i64)>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = serde_json::to_string(ids).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let rows =
        db::query("SELECT * FROM endpoints WHERE endpoint_id IN (SELECT value FROM json_each(?))")
            .bind(&list)
            .fetch_all(tx)?;
    // Their interfaces by the same ids (the owner index, one probe each).
    let eni_rows = db::query(
        "SELECT * FROM network_interfaces WHERE owner_id IN (SELECT value FROM json_each(?)) \
         ORDER BY zone, eni_id",
    )
    .bind(&list)
    .fetch_all(tx)?;
    let versions = rows
        .iter()
        .map(|r| r.try_get::<i64, _>("version"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(with_enis(&rows, &eni_rows)?
        .into_iter()
        .zip(versions)
        .collect())
}

/// Applies `event` to the endpoint's connection state, inside the transaction: the current
/// state is read and written under the write lock, so concurrent calls serialize and only legal
/// transitions are ever recorded.
pub async fn transition(
    tx: &mut Tx,
    id: &EndpointId,
    event: ConnEvent,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Result<ConnState, underpass_domain::IllegalTransition>, StoreError> {
    let cur: String = db::query_scalar("SELECT state FROM endpoints WHERE endpoint_id = ?")
        .bind(id.to_string())
        .fetch_optional(tx)?
        .ok_or_else(|| not_found("endpoint", id))?;
    let from: ConnState = cur.parse().map_err(StoreError::Corrupt)?;
    let to = match from.apply(event) {
        Ok(to) => to,
        Err(e) => return Ok(Err(e)),
    };
    db::query("UPDATE endpoints SET state = ?, updated_ms = ? WHERE endpoint_id = ?")
        .bind(to.as_str())
        .bind(to_ms(now))
        .bind(id.to_string())
        .execute(tx)?;
    record_history(tx, id, Some(from), to, &format!("{event:?}"), actor, now).await?;
    bump_revision(tx).await?;
    Ok(Ok(to))
}

async fn record_history(
    tx: &mut Tx,
    id: &EndpointId,
    from: Option<ConnState>,
    to: ConnState,
    event: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    db::query("INSERT INTO connection_history (endpoint_id, from_state, to_state, event, actor, at_ms) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(id.to_string())
        .bind(from.map(ConnState::as_str))
        .bind(to.as_str())
        .bind(event)
        .bind(actor)
        .bind(to_ms(now))
        .execute(tx)?;
    Ok(())
}

/// One recorded transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// State before (none at creation).
    pub from: Option<ConnState>,
    /// State after.
    pub to: ConnState,
    /// The event name.
    pub event: String,
    /// Who caused it.
    pub actor: String,
}

/// The history of one endpoint, oldest first.
pub async fn history(tx: &mut Tx, id: &EndpointId) -> Result<Vec<HistoryEntry>, StoreError> {
    let rows = db::query("SELECT * FROM connection_history WHERE endpoint_id = ? ORDER BY seq")
        .bind(id.to_string())
        .fetch_all(tx)?;
    rows.iter()
        .map(|r| {
            let from: Option<String> = r.try_get("from_state")?;
            Ok(HistoryEntry {
                from: from
                    .map(|f| f.parse().map_err(StoreError::Corrupt))
                    .transpose()?,
                to: parse_col(r, "to_state")?,
                event: r.try_get("event")?,
                actor: r.try_get("actor")?,
            })
        })
        .collect()
}

/// Whether deletion protection is on for the load balancer `arn`.
pub async fn lb_deletion_protection(tx: &mut Tx, arn: &str) -> Result<bool, StoreError> {
    db::query_scalar("SELECT deletion_protection FROM load_balancers WHERE arn = ?")
        .bind(arn)
        .fetch_optional(tx)?
        .ok_or_else(|| not_found("load balancer", arn))
}

/// Turns deletion protection on or off.
pub async fn set_lb_deletion_protection(
    tx: &mut Tx,
    arn: &str,
    on: bool,
) -> Result<(), StoreError> {
    let n = db::query("UPDATE load_balancers SET deletion_protection = ? WHERE arn = ?")
        .bind(on)
        .bind(arn)
        .execute(tx)?
        .rows_affected();
    if n == 0 {
        return Err(not_found("load balancer", arn));
    }
    Ok(())
}

/// The deregistration delay of the target group `arn`, in seconds.
pub async fn tg_deregistration_delay(tx: &mut Tx, arn: &str) -> Result<u32, StoreError> {
    let v: i64 =
        db::query_scalar("SELECT deregistration_delay_secs FROM target_groups WHERE arn = ?")
            .bind(arn)
            .fetch_optional(tx)?
            .ok_or_else(|| not_found("target group", arn))?;
    u32::try_from(v).map_err(|_| StoreError::Corrupt("deregistration_delay_secs".into()))
}

/// Sets the deregistration delay of a target group.
pub async fn set_tg_deregistration_delay(
    tx: &mut Tx,
    arn: &str,
    secs: u32,
) -> Result<(), StoreError> {
    let n = db::query("UPDATE target_groups SET deregistration_delay_secs = ? WHERE arn = ?")
        .bind(i64::from(secs))
        .bind(arn)
        .execute(tx)?
        .rows_affected();
    if n == 0 {
        return Err(not_found("target group", arn));
    }
    bump_revision(tx).await?;
    Ok(())
}

/// The load balancers whose listeners forward to the target group `arn`.
pub async fn lbs_of_tg(tx: &mut Tx, arn: &str) -> Result<Vec<String>, StoreError> {
    db::query_scalar(
        "SELECT DISTINCT load_balancer_arn FROM listeners WHERE target_group_arn = ? ORDER BY load_balancer_arn",
    )
    .bind(arn)
    .fetch_all(tx)
}

/// One agent's report on one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    /// The target's address.
    pub ip: String,
    /// The target's port.
    pub port: u16,
    /// The reporting agent.
    pub agent: String,
    /// `initial`, `healthy`, `unhealthy`, …
    pub state: String,
    /// ELBv2 reason code, when not healthy.
    pub reason: Option<String>,
    /// When the agent reported it.
    pub updated: OffsetDateTime,
}

/// What every agent last reported about the targets of a target group.
pub async fn target_health_reports(tx: &mut Tx, tg: &str) -> Result<Vec<HealthReport>, StoreError> {
    let rows = db::query(
        "SELECT ip, port, agent_id, state, reason, updated_ms FROM target_health WHERE target_group_arn = ? ORDER BY ip, port, agent_id",
    )
    .bind(tg)
    .fetch_all(tx)?;
    rows.iter()
        .map(|r| {
            Ok(HealthReport {
                ip: r.try_get("ip")?,
                port: u16::try_from(r.try_get::<i64, _>("port")?)
                    .map_err(|_| StoreError::Corrupt("target_health.port".into()))?,
                agent: r.try_get("agent_id")?,
                state: r.try_get("state")?,
                reason: r.try_get("reason")?,
                updated: from_ms(r.try_get("updated_ms")?),
            })
        })
        .collect()
}

/// Forgets the health reports on some targets of a group (all of them when `targets` is
/// `None`), so a target registered again starts from `initial`.
pub async fn clear_target_health(
    tx: &mut Tx,
    tg: &str,
    targets: Option<&[Target]>,
) -> Result<(), StoreError> {
    match targets {
        None => {
            db::query("DELETE FROM target_health WHERE target_group_arn = ?")
                .bind(tg)
                .execute(tx)?;
        }
        Some(ts) => {
            for t in ts {
                db::query(
                    "DELETE FROM target_health WHERE target_group_arn = ? AND ip = ? AND port = ?",
                )
                .bind(tg)
                .bind(t.ip.to_string())
                .bind(i64::from(t.port))
                .execute(tx)?;
            }
        }
    }
    Ok(())
}

/// Sets (or, with `None`, resets to the default full-access) an endpoint's policy.
pub async fn set_endpoint_policy(
    tx: &mut Tx,
    id: &EndpointId,
    policy: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let n = db::query("UPDATE endpoints SET policy = ?, updated_ms = ? WHERE endpoint_id = ?")
        .bind(policy)
        .bind(to_ms(now))
        .bind(id.to_string())
        .execute(tx)?
        .rows_affected();
    if n == 0 {
        return Err(not_found("endpoint", id));
    }
    bump_revision(tx).await?;
    Ok(())
}

/// Turns private DNS on or off for an endpoint.
pub async fn set_endpoint_private_dns(
    tx: &mut Tx,
    id: &EndpointId,
    on: bool,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let n = db::query(
        "UPDATE endpoints SET private_dns_enabled = ?, updated_ms = ? WHERE endpoint_id = ?",
    )
    .bind(on)
    .bind(to_ms(now))
    .bind(id.to_string())
    .execute(tx)?
    .rows_affected();
    if n == 0 {
        return Err(not_found("endpoint", id));
    }
    bump_revision(tx).await?;
    Ok(())
}

/// Replaces an endpoint's security groups.
pub async fn set_endpoint_security_groups(
    tx: &mut Tx,
    id: &EndpointId,
    groups: &[underpass_domain::SecurityGroupId],
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    let n =
        db::query("UPDATE endpoints SET security_groups = ?, updated_ms = ? WHERE endpoint_id = ?")
            .bind(serde_json::to_string(groups).map_err(|e| StoreError::Corrupt(e.to_string()))?)
            .bind(to_ms(now))
            .bind(id.to_string())
            .execute(tx)?
            .rows_affected();
    if n == 0 {
        return Err(not_found("endpoint", id));
    }
    bump_revision(tx).await?;
    Ok(())
}
