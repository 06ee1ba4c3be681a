//! Route tables of VPCs and their associations with subnets, and what a VPC's routing
//! defaults (main route table, default network ACL) need when the VPC goes. The ACLs
//! themselves are in `acls.rs`.
//!
//! Every VPC has a main route table and a default ACL (made with the VPC, gone with it).
//! Route-table changes do not bump the revision: no agent reads them.

use crate::db;
use crate::db::Row;
use ipnet::IpNet;
use time::OffsetDateTime;
use underpass_domain::{EniId, RouteTableAssociationId, RouteTableId, SubnetId, VpcId};

use crate::cols::{not_found, parse_col};
use crate::{to_ms, StoreError, Tx};

/// Where a route sends traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteTarget {
    /// Inside the VPC (the route for the VPC's own block).
    Local,
    /// A network interface of the VPC.
    Interface(EniId),
}

/// One route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The destination block (IPv4 or IPv6).
    pub destination: IpNet,
    /// The target.
    pub target: RouteTarget,
    /// `CreateRouteTable` (the local route) or `CreateRoute`.
    pub origin: String,
}

/// A route table's association: the main one, or with a subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTableAssociation {
    /// `rtbassoc-…`.
    pub id: RouteTableAssociationId,
    /// The route table.
    pub route_table: RouteTableId,
    /// The subnet; `None` for the main association.
    pub subnet: Option<SubnetId>,
}

/// A route table with its routes and associations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTable {
    /// `rtb-…`.
    pub id: RouteTableId,
    /// Its VPC.
    pub vpc: VpcId,
    /// Owner account.
    pub account: String,
    /// Its region.
    pub region: String,
    /// The VPC's main route table.
    pub main: bool,
    /// Routes, by destination.
    pub routes: Vec<Route>,
    /// Associations.
    pub associations: Vec<RouteTableAssociation>,
}

/// Inserts a route table with its local route (and, for a main table, the main association).
pub async fn insert_route_table(
    tx: &mut Tx,
    rt: &RouteTable,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    db::query("INSERT INTO route_tables (route_table_id, vpc_id, account_id, region, main, created_ms) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(rt.id.to_string())
        .bind(rt.vpc.to_string())
        .bind(&rt.account)
        .bind(&rt.region)
        .bind(rt.main)
        .bind(to_ms(now))
        .execute(tx)?;
    for r in &rt.routes {
        add_route(tx, &rt.id, r).await?;
    }
    for a in &rt.associations {
        insert_rt_association(tx, a).await?;
    }
    Ok(())
}

async fn insert_rt_association(tx: &mut Tx, a: &RouteTableAssociation) -> Result<(), StoreError> {
    db::query("INSERT INTO route_table_associations (association_id, route_table_id, subnet_id, main) VALUES (?, ?, ?, ?)")
        .bind(a.id.to_string())
        .bind(a.route_table.to_string())
        .bind(a.subnet.map(|s| s.to_string()))
        .bind(a.subnet.is_none())
        .execute(tx)
        .map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict(format!(
                "the subnet {} is already associated with a route table",
                a.subnet.map(|s| s.to_string()).unwrap_or_default()
            )),
            other => other,
        })?;
    Ok(())
}

async fn route_table_row(tx: &mut Tx, row: &Row) -> Result<RouteTable, StoreError> {
    let id: RouteTableId = parse_col(row, "route_table_id")?;
    let routes = db::query(
        "SELECT destination, target_kind, target_id, origin FROM routes WHERE route_table_id = ? ORDER BY destination",
    )
    .bind(id.to_string())
    .fetch_all(tx)?
    .iter()
    .map(|r| {
        let kind: String = r.try_get("target_kind")?;
        let target = match kind.as_str() {
            "local" => RouteTarget::Local,
            _ => RouteTarget::Interface(parse_col(r, "target_id")?),
        };
        Ok(Route {
            destination: parse_col(r, "destination")?,
            target,
            origin: r.try_get("origin")?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    let associations = db::query(
        "SELECT association_id, subnet_id FROM route_table_associations WHERE route_table_id = ? ORDER BY main DESC, association_id",
    )
    .bind(id.to_string())
    .fetch_all(tx)?
    .iter()
    .map(|r| {
        let subnet: Option<String> = r.try_get("subnet_id")?;
        Ok(RouteTableAssociation {
            id: parse_col(r, "association_id")?,
            route_table: id,
            subnet: subnet
                .map(|s| s.parse())
                .transpose()
                .map_err(|_| StoreError::Corrupt("association subnet".into()))?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(RouteTable {
        id,
        vpc: parse_col(row, "vpc_id")?,
        account: row.try_get("account_id")?,
        region: row.try_get("region")?,
        main: row.try_get("main")?,
        routes,
        associations,
    })
}

/// The route table `id`.
pub async fn get_route_table(tx: &mut Tx, id: &RouteTableId) -> Result<RouteTable, StoreError> {
    let row = db::query("SELECT * FROM route_tables WHERE route_table_id = ?")
        .bind(id.to_string())
        .fetch_optional(tx)?
        .ok_or_else(|| not_found("route table", id))?;
    route_table_row(tx, &row).await
}

/// Route tables of an account and/or a VPC.
pub async fn list_route_tables(
    tx: &mut Tx,
    account: Option<&str>,
    vpc: Option<&VpcId>,
) -> Result<Vec<RouteTable>, StoreError> {
    let rows = db::query(
        "SELECT * FROM route_tables WHERE (?1 IS NULL OR account_id = ?1) AND (?2 IS NULL OR vpc_id = ?2) ORDER BY route_table_id",
    )
    .bind(account)
    .bind(vpc.map(ToString::to_string))
    .fetch_all(tx)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(route_table_row(tx, r).await?);
    }
    Ok(out)
}

/// Deletes a route table, its routes and associations.
pub async fn delete_route_table(tx: &mut Tx, id: &RouteTableId) -> Result<(), StoreError> {
    let n = db::query("DELETE FROM route_tables WHERE route_table_id = ?")
        .bind(id.to_string())
        .execute(tx)?
        .rows_affected();
    if n == 0 {
        return Err(not_found("route table", id));
    }
    Ok(())
}

/// Adds a route; a route for the same destination is a conflict.
pub async fn add_route(tx: &mut Tx, rt: &RouteTableId, r: &Route) -> Result<(), StoreError> {
    let (kind, target) = match &r.target {
        RouteTarget::Local => ("local", "local".to_owned()),
        RouteTarget::Interface(eni) => ("eni", eni.to_string()),
    };
    db::query("INSERT INTO routes (route_table_id, destination, target_kind, target_id, origin) VALUES (?, ?, ?, ?, ?)")
        .bind(rt.to_string())
        .bind(r.destination.to_string())
        .bind(kind)
        .bind(target)
        .bind(&r.origin)
        .execute(tx)
        .map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict(format!(
                "The route identified by {} already exists.",
                r.destination
            )),
            other => other,
        })?;
    Ok(())
}

/// Deletes the route for `destination`; returns whether there was one.
pub async fn delete_route(
    tx: &mut Tx,
    rt: &RouteTableId,
    destination: &IpNet,
) -> Result<bool, StoreError> {
    let n = db::query("DELETE FROM routes WHERE route_table_id = ? AND destination = ?")
        .bind(rt.to_string())
        .bind(destination.to_string())
        .execute(tx)?
        .rows_affected();
    Ok(n > 0)
}

/// Associates a subnet with a route table.
pub async fn associate_route_table(
    tx: &mut Tx,
    a: &RouteTableAssociation,
) -> Result<(), StoreError> {
    insert_rt_association(tx, a).await
}

/// The association `id`, if it exists.
pub async fn get_rt_association(
    tx: &mut Tx,
    id: &RouteTableAssociationId,
) -> Result<Option<(RouteTableAssociation, String)>, StoreError> {
    let row = db::query(
        "SELECT a.association_id, a.route_table_id, a.subnet_id, r.account_id FROM route_table_associations a \
         JOIN route_tables r ON r.route_table_id = a.route_table_id WHERE a.association_id = ?",
    )
    .bind(id.to_string())
    .fetch_optional(tx)?;
    let Some(r) = row else { return Ok(None) };
    let subnet: Option<String> = r.try_get("subnet_id")?;
    Ok(Some((
        RouteTableAssociation {
            id: parse_col(&r, "association_id")?,
            route_table: parse_col(&r, "route_table_id")?,
            subnet: subnet
                .map(|s| s.parse())
                .transpose()
                .map_err(|_| StoreError::Corrupt("association subnet".into()))?,
        },
        r.try_get("account_id")?,
    )))
}

/// Removes a (subnet) association.
pub async fn disassociate_route_table(
    tx: &mut Tx,
    id: &RouteTableAssociationId,
) -> Result<(), StoreError> {
    db::query("DELETE FROM route_table_associations WHERE association_id = ? AND main = 0")
        .bind(id.to_string())
        .execute(tx)?;
    Ok(())
}

/// How many route tables other than the main one, and ACLs other than the default one, the
/// VPC still has (they must go before the VPC can).
pub async fn vpc_routing_dependents(tx: &mut Tx, vpc: &VpcId) -> Result<i64, StoreError> {
    db::query_scalar(
        "SELECT (SELECT COUNT(*) FROM route_tables WHERE vpc_id = ?1 AND main = 0) \
         + (SELECT COUNT(*) FROM network_acls WHERE vpc_id = ?1 AND is_default = 0)",
    )
    .bind(vpc.to_string())
    .fetch_one(tx)
}

/// Deletes the VPC's main route table and default ACL (with the VPC). Returns their ids, whose
/// tags go too.
pub async fn delete_vpc_defaults(tx: &mut Tx, vpc: &VpcId) -> Result<Vec<String>, StoreError> {
    let mut ids: Vec<String> =
        db::query_scalar("SELECT route_table_id FROM route_tables WHERE vpc_id = ?")
            .bind(vpc.to_string())
            .fetch_all(tx)?;
    ids.extend(
        db::query_scalar::<String>("SELECT network_acl_id FROM network_acls WHERE vpc_id = ?")
            .bind(vpc.to_string())
            .fetch_all(tx)?,
    );
    db::query("DELETE FROM network_acl_associations WHERE network_acl_id IN (SELECT network_acl_id FROM network_acls WHERE vpc_id = ?)")
        .bind(vpc.to_string())
        .execute(tx)?;
    db::query("DELETE FROM network_acls WHERE vpc_id = ?")
        .bind(vpc.to_string())
        .execute(tx)?;
    db::query("DELETE FROM route_tables WHERE vpc_id = ?")
        .bind(vpc.to_string())
        .execute(tx)?;
    Ok(ids)
}
