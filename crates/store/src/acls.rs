//! Network ACLs of VPCs: entries, and the association of every subnet with one ACL. Changes
//! bump the revision: agents enforce the inbound entries of each endpoint subnet's ACL.

use crate::db;
use crate::db::Row;
use ipnet::IpNet;
use time::OffsetDateTime;
use underpass_domain::firewall::{PortRange, Protocol, RuleAction};
use underpass_domain::{NetworkAclAssociationId, NetworkAclId, SubnetId, VpcId};

use crate::cols::{not_found, parse_col};
use crate::open::bump_revision;
use crate::{to_ms, StoreError, Tx};

/// A network-ACL entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclEntryRow {
    /// 1..=32766.
    pub number: u16,
    /// Outbound (`true`) or inbound.
    pub egress: bool,
    /// The protocol.
    pub protocol: Protocol,
    /// Allow or deny.
    pub action: RuleAction,
    /// The block (IPv4 or IPv6).
    pub cidr: IpNet,
    /// The ports (TCP and UDP; all ports otherwise).
    pub ports: PortRange,
    /// ICMP type and code (ICMP only; -1 is any).
    pub icmp: Option<(i32, i32)>,
}

/// An ACL's association with a subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclAssociation {
    /// `aclassoc-…`.
    pub id: NetworkAclAssociationId,
    /// The ACL.
    pub acl: NetworkAclId,
    /// The subnet.
    pub subnet: SubnetId,
}

/// A network ACL with its entries and associations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkAcl {
    /// `acl-…`.
    pub id: NetworkAclId,
    /// Its VPC.
    pub vpc: VpcId,
    /// Owner account.
    pub account: String,
    /// Its region.
    pub region: String,
    /// The VPC's default ACL.
    pub is_default: bool,
    /// Entries, inbound first, by rule number.
    pub entries: Vec<AclEntryRow>,
    /// Subnet associations.
    pub associations: Vec<AclAssociation>,
}

impl NetworkAcl {
    /// The inbound entries in evaluation form.
    pub fn inbound(&self) -> Vec<underpass_domain::firewall::AclEntry> {
        self.entries
            .iter()
            .filter(|e| !e.egress)
            .map(|e| underpass_domain::firewall::AclEntry {
                number: e.number,
                protocol: e.protocol,
                ports: e.ports,
                cidr: e.cidr,
                action: e.action,
            })
            .collect()
    }
}

/// Inserts an ACL with its entries (associations are made separately).
pub async fn insert_acl(
    tx: &mut Tx,
    acl: &NetworkAcl,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    db::query("INSERT INTO network_acls (network_acl_id, vpc_id, account_id, region, is_default, created_ms) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(acl.id.to_string())
        .bind(acl.vpc.to_string())
        .bind(&acl.account)
        .bind(&acl.region)
        .bind(acl.is_default)
        .bind(to_ms(now))
        .execute(tx)?;
    for e in &acl.entries {
        add_acl_entry(tx, &acl.id, e).await?;
    }
    bump_revision(tx).await?;
    Ok(())
}

fn entry_row(r: &Row) -> Result<AclEntryRow, StoreError> {
    let corrupt = || StoreError::Corrupt("network ACL entry".into());
    let number: i64 = r.try_get("rule_number")?;
    let protocol = Protocol::parse(&r.try_get::<String, _>("protocol")?).map_err(|_| corrupt())?;
    let action = match r.try_get::<String, _>("rule_action")?.as_str() {
        "allow" => RuleAction::Allow,
        _ => RuleAction::Deny,
    };
    let from: Option<i64> = r.try_get("from_port")?;
    let to: Option<i64> = r.try_get("to_port")?;
    let ports = match (from, to) {
        (Some(f), Some(t)) => PortRange::new(
            protocol,
            i32::try_from(f).map_err(|_| corrupt())?,
            i32::try_from(t).map_err(|_| corrupt())?,
        )
        .map_err(|_| corrupt())?,
        _ => PortRange::ALL,
    };
    let icmp_type: Option<i64> = r.try_get("icmp_type")?;
    let icmp_code: Option<i64> = r.try_get("icmp_code")?;
    Ok(AclEntryRow {
        number: u16::try_from(number).map_err(|_| corrupt())?,
        egress: r.try_get("egress")?,
        protocol,
        action,
        cidr: parse_col(r, "cidr")?,
        ports,
        icmp: match (icmp_type, icmp_code) {
            (Some(t), Some(c)) => Some((
                i32::try_from(t).map_err(|_| corrupt())?,
                i32::try_from(c).map_err(|_| corrupt())?,
            )),
            _ => None,
        },
    })
}

async fn acl_row(tx: &mut Tx, row: &Row) -> Result<NetworkAcl, StoreError> {
    let id: NetworkAclId = parse_col(row, "network_acl_id")?;
    let entries = db::query(
        "SELECT * FROM network_acl_entries WHERE network_acl_id = ? ORDER BY egress, rule_number",
    )
    .bind(id.to_string())
    .fetch_all(tx)?
    .iter()
    .map(entry_row)
    .collect::<Result<Vec<_>, StoreError>>()?;
    let associations = db::query(
        "SELECT association_id, subnet_id FROM network_acl_associations WHERE network_acl_id = ? ORDER BY association_id",
    )
    .bind(id.to_string())
    .fetch_all(tx)?
    .iter()
    .map(|r| {
        Ok(AclAssociation {
            id: parse_col(r, "association_id")?,
            acl: id,
            subnet: parse_col(r, "subnet_id")?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(NetworkAcl {
        id,
        vpc: parse_col(row, "vpc_id")?,
        account: row.try_get("account_id")?,
        region: row.try_get("region")?,
        is_default: row.try_get("is_default")?,
        entries,
        associations,
    })
}

/// The ACL `id`.
pub async fn get_acl(tx: &mut Tx, id: &NetworkAclId) -> Result<NetworkAcl, StoreError> {
    let row = db::query("SELECT * FROM network_acls WHERE network_acl_id = ?")
        .bind(id.to_string())
        .fetch_optional(tx)?
        .ok_or_else(|| not_found("network acl", id))?;
    acl_row(tx, &row).await
}

/// ACLs of an account and/or a VPC.
pub async fn list_acls(
    tx: &mut Tx,
    account: Option<&str>,
    vpc: Option<&VpcId>,
) -> Result<Vec<NetworkAcl>, StoreError> {
    let rows = db::query(
        "SELECT * FROM network_acls WHERE (?1 IS NULL OR account_id = ?1) AND (?2 IS NULL OR vpc_id = ?2) ORDER BY network_acl_id",
    )
    .bind(account)
    .bind(vpc.map(ToString::to_string))
    .fetch_all(tx)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(acl_row(tx, r).await?);
    }
    Ok(out)
}

/// The ACL a subnet is associated with, if any (subnets of VPCs without ACLs have none).
pub async fn acl_of_subnet(
    tx: &mut Tx,
    subnet: &SubnetId,
) -> Result<Option<NetworkAcl>, StoreError> {
    let id: Option<String> =
        db::query_scalar("SELECT network_acl_id FROM network_acl_associations WHERE subnet_id = ?")
            .bind(subnet.to_string())
            .fetch_optional(tx)?;
    match id {
        Some(id) => {
            let id: NetworkAclId = id
                .parse()
                .map_err(|_| StoreError::Corrupt("association acl".into()))?;
            Ok(Some(get_acl(tx, &id).await?))
        }
        None => Ok(None),
    }
}

/// Deletes an ACL and its entries; refuses (conflict) while subnets are associated with it.
pub async fn delete_acl(tx: &mut Tx, id: &NetworkAclId) -> Result<(), StoreError> {
    let used: i64 =
        db::query_scalar("SELECT COUNT(*) FROM network_acl_associations WHERE network_acl_id = ?")
            .bind(id.to_string())
            .fetch_one(tx)?;
    if used > 0 {
        return Err(StoreError::Conflict(format!(
            "The networkAcl '{id}' has dependencies and cannot be deleted."
        )));
    }
    let n = db::query("DELETE FROM network_acls WHERE network_acl_id = ?")
        .bind(id.to_string())
        .execute(tx)?
        .rows_affected();
    if n == 0 {
        return Err(not_found("network acl", id));
    }
    bump_revision(tx).await?;
    Ok(())
}

/// Adds an entry; an entry with the same number and direction is a conflict.
pub async fn add_acl_entry(
    tx: &mut Tx,
    acl: &NetworkAclId,
    e: &AclEntryRow,
) -> Result<(), StoreError> {
    let has_ports = matches!(e.protocol, Protocol::Tcp | Protocol::Udp);
    db::query(
        "INSERT INTO network_acl_entries (network_acl_id, rule_number, egress, protocol, rule_action, cidr, from_port, to_port, icmp_type, icmp_code) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(acl.to_string())
    .bind(i64::from(e.number))
    .bind(e.egress)
    .bind(e.protocol.as_str())
    .bind(match e.action {
        RuleAction::Allow => "allow",
        RuleAction::Deny => "deny",
    })
    .bind(e.cidr.to_string())
    .bind(has_ports.then_some(i64::from(e.ports.from)))
    .bind(has_ports.then_some(i64::from(e.ports.to)))
    .bind(e.icmp.map(|(t, _)| i64::from(t)))
    .bind(e.icmp.map(|(_, c)| i64::from(c)))
    .execute(tx)
    .map_err(|err| match err {
        StoreError::Conflict(_) => StoreError::Conflict(format!(
            "The network acl entry identified by {} already exists.",
            e.number
        )),
        other => other,
    })?;
    bump_revision(tx).await?;
    Ok(())
}

/// Deletes an entry; returns whether there was one.
pub async fn delete_acl_entry(
    tx: &mut Tx,
    acl: &NetworkAclId,
    number: u16,
    egress: bool,
) -> Result<bool, StoreError> {
    let n = db::query(
        "DELETE FROM network_acl_entries WHERE network_acl_id = ? AND rule_number = ? AND egress = ?",
    )
    .bind(acl.to_string())
    .bind(i64::from(number))
    .bind(egress)
    .execute(tx)?
    .rows_affected();
    if n > 0 {
        bump_revision(tx).await?;
    }
    Ok(n > 0)
}

/// Associates a subnet with an ACL (a subnet has exactly one: the caller removes the old one).
pub async fn associate_acl(tx: &mut Tx, a: &AclAssociation) -> Result<(), StoreError> {
    db::query("INSERT INTO network_acl_associations (association_id, network_acl_id, subnet_id) VALUES (?, ?, ?)")
        .bind(a.id.to_string())
        .bind(a.acl.to_string())
        .bind(a.subnet.to_string())
        .execute(tx)?;
    bump_revision(tx).await?;
    Ok(())
}

/// The ACL association `id`, if it exists.
pub async fn get_acl_association(
    tx: &mut Tx,
    id: &NetworkAclAssociationId,
) -> Result<Option<AclAssociation>, StoreError> {
    let row = db::query(
        "SELECT association_id, network_acl_id, subnet_id FROM network_acl_associations WHERE association_id = ?",
    )
    .bind(id.to_string())
    .fetch_optional(tx)?;
    row.map(|r| {
        Ok(AclAssociation {
            id: parse_col(&r, "association_id")?,
            acl: parse_col(&r, "network_acl_id")?,
            subnet: parse_col(&r, "subnet_id")?,
        })
    })
    .transpose()
}

/// Removes an ACL association.
pub async fn remove_acl_association(
    tx: &mut Tx,
    id: &NetworkAclAssociationId,
) -> Result<(), StoreError> {
    db::query("DELETE FROM network_acl_associations WHERE association_id = ?")
        .bind(id.to_string())
        .execute(tx)?;
    bump_revision(tx).await?;
    Ok(())
}

/// The VPC's default ACL, if it has one.
pub async fn default_acl(tx: &mut Tx, vpc: &VpcId) -> Result<Option<NetworkAclId>, StoreError> {
    let id: Option<String> = db::query_scalar(
        "SELECT network_acl_id FROM network_acls WHERE vpc_id = ? AND is_default = 1",
    )
    .bind(vpc.to_string())
    .fetch_optional(tx)?;
    id.map(|s| {
        s.parse()
            .map_err(|_| StoreError::Corrupt("network acl id".into()))
    })
    .transpose()
}
