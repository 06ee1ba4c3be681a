//! Gateway endpoints: a VPC's route to a regional service (S3, DynamoDB) through the
//! service's prefix list, in the route tables the endpoint names.
//!
//! They have no connection, no ENI and no agent work: changes do not bump the revision.

use crate::db;
use crate::db::Row;
use time::OffsetDateTime;
use underpass_domain::{EndpointId, RouteTableId, VpcId};

use crate::cols::{not_found, parse_col};
use crate::{from_ms, to_ms, StoreError, Tx};

/// One gateway endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayEndpoint {
    /// `vpce-…`.
    pub id: EndpointId,
    /// The owner.
    pub account: String,
    /// Its region.
    pub region: String,
    /// Its VPC.
    pub vpc: VpcId,
    /// The service, `com.<prefix>.<region>.s3` say.
    pub service_name: String,
    /// The endpoint policy; `None` is full access.
    pub policy: Option<String>,
    /// Route tables holding its route, sorted.
    pub route_tables: Vec<RouteTableId>,
    /// When it was made.
    pub created: OffsetDateTime,
}

async fn read(tx: &mut Tx, r: &Row) -> Result<GatewayEndpoint, StoreError> {
    let id: EndpointId = parse_col(r, "endpoint_id")?;
    let route_tables = db::query(
        "SELECT route_table_id FROM gateway_endpoint_routes WHERE endpoint_id = ? ORDER BY route_table_id",
    )
    .bind(id.to_string())
    .fetch_all(tx)?
    .iter()
    .map(|r| parse_col(r, "route_table_id"))
    .collect::<Result<Vec<_>, _>>()?;
    Ok(GatewayEndpoint {
        id,
        account: r.try_get("account_id")?,
        region: r.try_get("region")?,
        vpc: parse_col(r, "vpc_id")?,
        service_name: r.try_get("service_name")?,
        policy: r.try_get("policy")?,
        route_tables,
        created: from_ms(r.try_get("created_ms")?),
    })
}

/// Inserts a gateway endpoint with its route tables.
pub async fn insert(tx: &mut Tx, g: &GatewayEndpoint) -> Result<(), StoreError> {
    db::query(
        "INSERT INTO gateway_endpoints (endpoint_id, account_id, region, vpc_id, service_name, policy, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(g.id.to_string())
    .bind(&g.account)
    .bind(&g.region)
    .bind(g.vpc.to_string())
    .bind(&g.service_name)
    .bind(&g.policy)
    .bind(to_ms(g.created))
    .execute(tx)?;
    set_route_tables(tx, &g.id, &g.route_tables).await
}

/// The gateway endpoint `id`.
pub async fn get(tx: &mut Tx, id: &EndpointId) -> Result<GatewayEndpoint, StoreError> {
    let r = db::query("SELECT * FROM gateway_endpoints WHERE endpoint_id = ?")
        .bind(id.to_string())
        .fetch_optional(tx)?
        .ok_or_else(|| not_found("gateway endpoint", id))?;
    read(tx, &r).await
}

/// The gateway endpoints of `account` (all when `None`), by id.
pub async fn list(tx: &mut Tx, account: Option<&str>) -> Result<Vec<GatewayEndpoint>, StoreError> {
    let rows = db::query(
        "SELECT * FROM gateway_endpoints WHERE (?1 IS NULL OR account_id = ?1) ORDER BY endpoint_id",
    )
    .bind(account)
    .fetch_all(tx)?;
    read_all(tx, &rows).await
}

async fn read_all(tx: &mut Tx, rows: &[Row]) -> Result<Vec<GatewayEndpoint>, StoreError> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(read(tx, r).await?);
    }
    Ok(out)
}

/// At most `limit` gateway endpoints of `account` in `region` with ids after `after` (from the first when
/// `None`), by id: one page of a keyset paging.
pub async fn page(
    tx: &mut Tx,
    account: &str,
    region: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<GatewayEndpoint>, StoreError> {
    let rows = db::query(
        "SELECT * FROM gateway_endpoints WHERE account_id = ?1 AND endpoint_id > COALESCE(?2, '') \
         AND region = ?4 ORDER BY endpoint_id LIMIT ?3",
    )
    .bind(account)
    .bind(after)
    .bind(limit)
    .bind(region)
    .fetch_all(tx)?;
    read_all(tx, &rows).await
}

/// Replaces the route tables of `id`.
pub async fn set_route_tables(
    tx: &mut Tx,
    id: &EndpointId,
    route_tables: &[RouteTableId],
) -> Result<(), StoreError> {
    db::query("DELETE FROM gateway_endpoint_routes WHERE endpoint_id = ?")
        .bind(id.to_string())
        .execute(tx)?;
    for rt in route_tables {
        db::query(
            "INSERT INTO gateway_endpoint_routes (endpoint_id, route_table_id) VALUES (?, ?)",
        )
        .bind(id.to_string())
        .bind(rt.to_string())
        .execute(tx)?;
    }
    Ok(())
}

/// Sets (or with `None` resets to full access) the policy of `id`.
pub async fn set_policy(
    tx: &mut Tx,
    id: &EndpointId,
    policy: Option<&str>,
) -> Result<(), StoreError> {
    db::query("UPDATE gateway_endpoints SET policy = ? WHERE endpoint_id = ?")
        .bind(policy)
        .bind(id.to_string())
        .execute(tx)?;
    Ok(())
}

/// Deletes `id` and its routes.
pub async fn delete(tx: &mut Tx, id: &EndpointId) -> Result<(), StoreError> {
    let n = db::query("DELETE FROM gateway_endpoints WHERE endpoint_id = ?")
        .bind(id.to_string())
        .execute(tx)?
        .rows_affected();
    if n == 0 {
        return Err(not_found("gateway endpoint", id));
    }
    Ok(())
}

/// The gateway endpoints routed from route table `rt`: `(endpoint, service name)`.
pub async fn in_route_table(
    tx: &mut Tx,
    rt: &RouteTableId,
) -> Result<Vec<(EndpointId, String)>, StoreError> {
    db::query(
        "SELECT g.endpoint_id, g.service_name FROM gateway_endpoint_routes r \
         JOIN gateway_endpoints g ON g.endpoint_id = r.endpoint_id \
         WHERE r.route_table_id = ? ORDER BY g.endpoint_id",
    )
    .bind(rt.to_string())
    .fetch_all(tx)?
    .iter()
    .map(|r| Ok((parse_col(r, "endpoint_id")?, r.try_get("service_name")?)))
    .collect()
}

/// How many gateway endpoints `vpc` has (a VPC with any cannot be deleted).
pub async fn count_in_vpc(tx: &mut Tx, vpc: &VpcId) -> Result<i64, StoreError> {
    db::query_scalar("SELECT COUNT(*) FROM gateway_endpoints WHERE vpc_id = ?")
        .bind(vpc.to_string())
        .fetch_one(tx)
}
