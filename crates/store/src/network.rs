//! VPCs, subnets, security groups and network interfaces.

use std::net::Ipv4Addr;

use crate::db;
use crate::db::Row;
use ipnet::Ipv4Net;
use time::OffsetDateTime;
use underpass_domain::{SecurityGroupId, SubnetId, VpcId};

use crate::cols::parse_col;
use crate::open::bump_revision;
use crate::records::{
    rule_columns, rule_from_columns, Direction, Eni, EniKind, GroupName, SecurityGroup, SgRule,
    Subnet, SubnetAttributes, Vpc,
};
use crate::{to_ms, StoreError, Tx};

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

fn vpc_row(row: &Row) -> Result<Vpc, StoreError> {
    Ok(Vpc {
        id: parse_col(row, "vpc_id")?,
        account: row.try_get("account_id")?,
        region: row.try_get("region")?,
        cidr: parse_col(row, "cidr")?,
        dns_support: row.try_get("enable_dns_support")?,
        dns_hostnames: row.try_get("enable_dns_hostnames")?,
        is_default: row.try_get("is_default")?,
    })
}

/// The account's default VPC in `region`, if it has one.
pub async fn default_vpc(
    tx: &mut Tx,
    account: &str,
    region: &str,
) -> Result<Option<Vpc>, StoreError> {
    db::query("SELECT * FROM vpcs WHERE account_id = ? AND region = ? AND is_default = 1")
        .bind(account)
        .bind(region)
        .fetch_optional(tx)?
        .as_ref()
        .map(vpc_row)
        .transpose()
}

/// Inserts a VPC.
pub async fn insert_vpc(tx: &mut Tx, vpc: &Vpc, now: OffsetDateTime) -> Result<(), StoreError> {
    db::query(
        "INSERT INTO vpcs (vpc_id, account_id, region, cidr, enable_dns_support, enable_dns_hostnames, is_default, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(vpc.id.to_string())
    .bind(&vpc.account)
    .bind(&vpc.region)
    .bind(vpc.cidr.to_string())
    .bind(vpc.dns_support)
    .bind(vpc.dns_hostnames)
    .bind(vpc.is_default)
    .bind(to_ms(now))
    .execute(tx)?;
    bump_revision(tx).await?;
    Ok(())
}

/// The VPC `id`.
pub async fn get_vpc(tx: &mut Tx, id: &VpcId) -> Result<Vpc, StoreError> {
    let row = db::query("SELECT * FROM vpcs WHERE vpc_id = ?")
        .bind(id.to_string())
        .fetch_optional(tx)?
        .ok_or_else(|| StoreError::NotFound {
            kind: "vpc",
            id: id.to_string(),
        })?;
    vpc_row(&row)
}

/// Every VPC, or those of `account`.
pub async fn list_vpcs(tx: &mut Tx, account: Option<&str>) -> Result<Vec<Vpc>, StoreError> {
    let rows = db::query(
        "SELECT * FROM vpcs WHERE (?1 IS NULL OR account_id = ?1) ORDER BY created_ms, vpc_id",
    )
    .bind(account)
    .fetch_all(tx)?;
    rows.iter().map(vpc_row).collect()
}

/// Sets the DNS attributes of a VPC.
pub async fn set_vpc_dns(
    tx: &mut Tx,
    id: &VpcId,
    support: Option<bool>,
    hostnames: Option<bool>,
) -> Result<(), StoreError> {
    let n = db::query(
        "UPDATE vpcs SET enable_dns_support = COALESCE(?, enable_dns_support), enable_dns_hostnames = COALESCE(?, enable_dns_hostnames) WHERE vpc_id = ?",
    )
    .bind(support)
    .bind(hostnames)
    .bind(id.to_string())
    .execute(tx)?
    .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound {
            kind: "vpc",
            id: id.to_string(),
        });
    }
    bump_revision(tx).await?;
    Ok(())
}

/// How many subnets, groups, endpoints, load balancers and target groups still use the VPC.
pub async fn vpc_dependents(tx: &mut Tx, id: &VpcId) -> Result<i64, StoreError> {
    let id = id.to_string();
    db::query_scalar(
        "SELECT (SELECT COUNT(*) FROM subnets WHERE vpc_id = ?1) + (SELECT COUNT(*) FROM security_groups WHERE vpc_id = ?1) \
         + (SELECT COUNT(*) FROM endpoints WHERE vpc_id = ?1 AND state <> 'deleted') + (SELECT COUNT(*) FROM load_balancers WHERE vpc_id = ?1) \
         + (SELECT COUNT(*) FROM target_groups WHERE vpc_id = ?1)",
    )
    .bind(id)
    .fetch_one(tx)
}

/// Deletes a VPC (the caller has checked it has no dependents).
pub async fn delete_vpc(tx: &mut Tx, id: &VpcId) -> Result<(), StoreError> {
    db::query("DELETE FROM vpcs WHERE vpc_id = ?")
        .bind(id.to_string())
        .execute(tx)?;
    bump_revision(tx).await?;
    Ok(())
}

fn subnet_row(row: &Row) -> Result<Subnet, StoreError> {
    Ok(Subnet {
        id: parse_col(row, "subnet_id")?,
        vpc: parse_col(row, "vpc_id")?,
        account: row.try_get("account_id")?,
        region: row.try_get("region")?,
        zone: row.try_get("zone")?,
        cidr: parse_col(row, "cidr")?,
        attributes: SubnetAttributes {
            map_public_ip_on_launch: row.try_get("map_public_ip_on_launch")?,
            assign_ipv6_address_on_creation: row.try_get("assign_ipv6_on_creation")?,
            enable_dns64: row.try_get("enable_dns64")?,
            private_dns_hostname_type: row.try_get("private_dns_hostname_type")?,
            resource_name_dns_a_record: row.try_get("resource_name_dns_a")?,
        },
        default_for_az: row.try_get("default_for_az")?,
    })
}

/// Replaces the attributes of subnet `id`.
pub async fn set_subnet_attributes(
    tx: &mut Tx,
    id: &SubnetId,
    a: &SubnetAttributes,
) -> Result<(), StoreError> {
    db::query(
        "UPDATE subnets SET map_public_ip_on_launch = ?, assign_ipv6_on_creation = ?, enable_dns64 = ?, \
         private_dns_hostname_type = ?, resource_name_dns_a = ? WHERE subnet_id = ?",
    )
    .bind(a.map_public_ip_on_launch)
    .bind(a.assign_ipv6_address_on_creation)
    .bind(a.enable_dns64)
    .bind(&a.private_dns_hostname_type)
    .bind(a.resource_name_dns_a_record)
    .bind(id.to_string())
    .execute(tx)?;
    Ok(())
}

/// Inserts a subnet.
pub async fn insert_subnet(tx: &mut Tx, s: &Subnet, now: OffsetDateTime) -> Result<(), StoreError> {
    db::query("INSERT INTO subnets (subnet_id, vpc_id, account_id, region, zone, cidr, default_for_az, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(s.id.to_string())
        .bind(s.vpc.to_string())
        .bind(&s.account)
        .bind(&s.region)
        .bind(&s.zone)
        .bind(s.cidr.to_string())
        .bind(s.default_for_az)
        .bind(to_ms(now))
        .execute(tx)?;
    set_subnet_attributes(tx, &s.id, &s.attributes).await?;
    bump_revision(tx).await?;
    Ok(())
}

/// The subnet `id`.
pub async fn get_subnet(tx: &mut Tx, id: &SubnetId) -> Result<Subnet, StoreError> {
    let row = db::query("SELECT * FROM subnets WHERE subnet_id = ?")
        .bind(id.to_string())
        .fetch_optional(tx)?
        .ok_or_else(|| StoreError::NotFound {
            kind: "subnet",
            id: id.to_string(),
        })?;
    subnet_row(&row)
}

/// Subnets of a VPC, or of an account.
pub async fn list_subnets(
    tx: &mut Tx,
    vpc: Option<&VpcId>,
    account: Option<&str>,
) -> Result<Vec<Subnet>, StoreError> {
    let rows = db::query(
        "SELECT * FROM subnets WHERE (?1 IS NULL OR vpc_id = ?1) AND (?2 IS NULL OR account_id = ?2) ORDER BY created_ms, subnet_id",
    )
    .bind(vpc.map(ToString::to_string))
    .bind(account)
    .fetch_all(tx)?;
    rows.iter().map(subnet_row).collect()
}

/// Deletes a subnet; refuses while interfaces use it.
pub async fn delete_subnet(tx: &mut Tx, id: &SubnetId) -> Result<(), StoreError> {
    let used: i64 = db::query_scalar("SELECT COUNT(*) FROM network_interfaces WHERE subnet_id = ?")
        .bind(id.to_string())
        .fetch_one(tx)?;
    if used > 0 {
        return Err(StoreError::Conflict(format!(
            "The subnet '{id}' has dependencies and cannot be deleted."
        )));
    }
    db::query("DELETE FROM subnets WHERE subnet_id = ?")
        .bind(id.to_string())
        .execute(tx)?;
    bump_revision(tx).await?;
    Ok(())
}

/// Inserts a security group (without rules).
pub async fn insert_group(
    tx: &mut Tx,
    g: &SecurityGroup,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    db::query("INSERT INTO security_groups (group_id, vpc_id, account_id, region, name, description, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(g.id.to_string())
        .bind(g.vpc.to_string())
        .bind(&g.account)
        .bind(&g.region)
        .bind(&g.name)
        .bind(&g.description)
        .bind(to_ms(now))
        .execute(tx)
        .map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict(format!(
                "The security group '{}' already exists for VPC '{}'",
                g.name, g.vpc
            )),
            other => other,
        })?;
    bump_revision(tx).await?;
    Ok(())
}

/// The `security_groups` row of `id`, the columns `sql` selects.
fn group_row(tx: &mut Tx, sql: &str, id: &SecurityGroupId) -> Result<Row, StoreError> {
    db::query(sql)
        .bind(id.to_string())
        .fetch_optional(tx)?
        .ok_or_else(|| StoreError::NotFound {
            kind: "security group",
            id: id.to_string(),
        })
}

/// The group `id`'s owner, VPC and name, without reading its rules.
pub async fn get_group_name(tx: &mut Tx, id: &SecurityGroupId) -> Result<GroupName, StoreError> {
    let row = group_row(
        tx,
        "SELECT group_id, vpc_id, account_id, region, name FROM security_groups WHERE group_id = ?",
        id,
    )?;
    Ok(GroupName {
        id: parse_col(&row, "group_id")?,
        vpc: parse_col(&row, "vpc_id")?,
        account: row.try_get("account_id")?,
        region: row.try_get("region")?,
        name: row.try_get("name")?,
    })
}

/// The group `id` with its rules.
pub async fn get_group(tx: &mut Tx, id: &SecurityGroupId) -> Result<SecurityGroup, StoreError> {
    let row = group_row(tx, "SELECT * FROM security_groups WHERE group_id = ?", id)?;
    let rows = db::query("SELECT * FROM security_group_rules WHERE group_id = ? ORDER BY rowid")
        .bind(id.to_string())
        .fetch_all(tx)?;
    let (mut rules, mut egress_rules) = (Vec::with_capacity(rows.len()), Vec::new());
    for r in &rows {
        let rule = rule_from_columns(
            &r.try_get::<String, _>("protocol")?,
            r.try_get("from_port")?,
            r.try_get("to_port")?,
            r.try_get("cidr")?,
            r.try_get("source_group")?,
        )
        .ok_or_else(|| corrupt("security group rule"))?;
        let out = if r.try_get::<bool, _>("egress")? {
            &mut egress_rules
        } else {
            &mut rules
        };
        out.push(SgRule {
            id: parse_col(r, "rule_id")?,
            rule,
            description: r.try_get("description")?,
        });
    }
    Ok(SecurityGroup {
        id: parse_col(&row, "group_id")?,
        vpc: parse_col(&row, "vpc_id")?,
        account: row.try_get("account_id")?,
        region: row.try_get("region")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        rules,
        egress_rules,
    })
}

/// The ids of groups of an account (or all), optionally in one VPC.
pub async fn list_group_ids(
    tx: &mut Tx,
    account: Option<&str>,
    vpc: Option<&VpcId>,
) -> Result<Vec<SecurityGroupId>, StoreError> {
    let ids: Vec<String> = db::query_scalar(
        "SELECT group_id FROM security_groups WHERE (?1 IS NULL OR account_id = ?1) AND (?2 IS NULL OR vpc_id = ?2) ORDER BY created_ms, group_id",
    )
    .bind(account)
    .bind(vpc.map(ToString::to_string))
    .fetch_all(tx)?;
    ids.iter()
        .map(|s| s.parse().map_err(|_| corrupt("group id")))
        .collect()
}

/// Adds rules facing `direction` to a group.
pub async fn add_rules(
    tx: &mut Tx,
    group: &SecurityGroupId,
    direction: Direction,
    rules: &[SgRule],
) -> Result<(), StoreError> {
    let egress = direction == Direction::Egress;
    for r in rules {
        let dup: i64 = {
            let (p, f, t, c, g) = rule_columns(&r.rule);
            db::query_scalar(
                "SELECT COUNT(*) FROM security_group_rules WHERE group_id = ? AND egress = ? AND protocol = ? AND from_port = ? AND to_port = ? AND cidr IS ? AND source_group IS ?",
            )
            .bind(group.to_string())
            .bind(egress)
            .bind(p)
            .bind(f)
            .bind(t)
            .bind(c)
            .bind(g)
            .fetch_one(tx)?
        };
        if dup > 0 {
            return Err(StoreError::Conflict(
                "the specified rule already exists".into(),
            ));
        }
        let (p, f, t, c, g) = rule_columns(&r.rule);
        db::query(
            "INSERT INTO security_group_rules (rule_id, group_id, egress, protocol, from_port, to_port, cidr, source_group, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(r.id.to_string())
        .bind(group.to_string())
        .bind(egress)
        .bind(p)
        .bind(f)
        .bind(t)
        .bind(c)
        .bind(g)
        .bind(&r.description)
        .execute(tx)?;
    }
    bump_revision(tx).await?;
    Ok(())
}

/// Removes rules facing `direction` by id; every id must be such a rule of the group.
pub async fn remove_rules(
    tx: &mut Tx,
    group: &SecurityGroupId,
    direction: Direction,
    ids: &[String],
) -> Result<(), StoreError> {
    for id in ids {
        let n = db::query(
            "DELETE FROM security_group_rules WHERE group_id = ? AND rule_id = ? AND egress = ?",
        )
        .bind(group.to_string())
        .bind(id)
        .bind(direction == Direction::Egress)
        .execute(tx)?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound {
                kind: "security group rule",
                id: id.clone(),
            });
        }
    }
    bump_revision(tx).await?;
    Ok(())
}

/// Deletes a group; refuses while an endpoint uses it or a rule names it.
pub async fn delete_group(tx: &mut Tx, id: &SecurityGroupId) -> Result<(), StoreError> {
    let sid = id.to_string();
    let used: i64 = db::query_scalar(
        "SELECT (SELECT COUNT(*) FROM endpoints e, json_each(e.security_groups) j WHERE j.value = ?1 AND e.state <> 'deleted') \
         + (SELECT COUNT(*) FROM security_group_rules WHERE source_group = ?1 AND group_id <> ?1)",
    )
    .bind(&sid)
    .fetch_one(tx)?;
    if used > 0 {
        return Err(StoreError::Conflict(format!(
            "resource {sid} has a dependent object"
        )));
    }
    db::query("DELETE FROM security_groups WHERE group_id = ?")
        .bind(&sid)
        .execute(tx)?;
    bump_revision(tx).await?;
    Ok(())
}

/// An interface from a `network_interfaces` row.
pub(crate) fn eni_row(row: &Row) -> Result<Eni, StoreError> {
    let kind = row.text("kind")?;
    Ok(Eni {
        id: parse_col(row, "eni_id")?,
        account: row.try_get("account_id")?,
        region: row.try_get("region")?,
        vpc: parse_col(row, "vpc_id")?,
        subnet: parse_col(row, "subnet_id")?,
        zone: row.try_get("zone")?,
        ip: parse_col(row, "ip")?,
        kind: if kind == "endpoint" {
            EniKind::Endpoint
        } else {
            EniKind::LoadBalancer
        },
        owner: row.try_get("owner_id")?,
    })
}

/// How many addresses of `subnet` interfaces hold.
pub async fn count_used_ips(tx: &mut Tx, subnet: &SubnetId) -> Result<usize, StoreError> {
    let n: i64 = db::query_scalar("SELECT COUNT(*) FROM network_interfaces WHERE subnet_id = ?")
        .bind(subnet.to_string())
        .fetch_one(tx)?;
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Inserts an interface.
pub async fn insert_eni(tx: &mut Tx, e: &Eni) -> Result<(), StoreError> {
    db::query(
        "INSERT INTO network_interfaces (eni_id, account_id, region, vpc_id, subnet_id, zone, ip, kind, owner_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(e.id.to_string())
    .bind(&e.account)
    .bind(&e.region)
    .bind(e.vpc.to_string())
    .bind(e.subnet.to_string())
    .bind(&e.zone)
    .bind(e.ip.to_string())
    .bind(e.kind.as_str())
    .bind(&e.owner)
    .execute(tx)?;
    Ok(())
}

/// Interfaces owned by an endpoint or load balancer.
pub async fn enis_of(tx: &mut Tx, owner: &str) -> Result<Vec<Eni>, StoreError> {
    let rows =
        db::query("SELECT * FROM network_interfaces WHERE owner_id = ? ORDER BY zone, eni_id")
            .bind(owner)
            .fetch_all(tx)?;
    rows.iter().map(eni_row).collect()
}

/// Interfaces of an account (or all), optionally by id.
pub async fn list_enis(tx: &mut Tx, account: Option<&str>) -> Result<Vec<Eni>, StoreError> {
    let rows = db::query(
        "SELECT * FROM network_interfaces WHERE (?1 IS NULL OR account_id = ?1) ORDER BY eni_id",
    )
    .bind(account)
    .fetch_all(tx)?;
    rows.iter().map(eni_row).collect()
}

/// Frees the interfaces of an owner (their addresses return to the subnet).
pub async fn delete_enis_of(tx: &mut Tx, owner: &str) -> Result<(), StoreError> {
    let freed =
        db::query("DELETE FROM network_interfaces WHERE owner_id = ? RETURNING subnet_id, ip")
            .bind(owner)
            .fetch_all(tx)?;
    // A freed address below a subnet's floor becomes its new floor.
    for r in &freed {
        let ip: Ipv4Addr = parse_col(r, "ip")?;
        db::query("UPDATE subnets SET ip_floor = min(ip_floor, ?) WHERE subnet_id = ?")
            .bind(i64::from(u32::from(ip)))
            .bind(r.try_get::<String, _>("subnet_id")?)
            .execute(tx)?;
    }
    Ok(())
}

/// The lowest free assignable address of `subnet` (of block `cidr`), or `None` when every
/// address is taken. The caller inserts the interface that takes it in the same transaction.
pub async fn lowest_free_ip(
    tx: &mut Tx,
    subnet: &SubnetId,
    cidr: &Ipv4Net,
) -> Result<Option<Ipv4Addr>, StoreError> {
    let range = underpass_domain::net::assignable(cidr);
    let subnet = subnet.to_string();
    let floor: Option<i64> = db::query_scalar("SELECT ip_floor FROM subnets WHERE subnet_id = ?")
        .bind(&subnet)
        .fetch_optional(tx)?
        .flatten();
    let mut at = floor
        .and_then(|f| u32::try_from(f).ok())
        .map_or(range.start, |f| f.clamp(range.start, range.end));
    while at < range.end {
        let taken: bool = db::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM network_interfaces WHERE subnet_id = ? AND ip = ?)",
        )
        .bind(&subnet)
        .bind(Ipv4Addr::from(at).to_string())
        .fetch_one(tx)?;
        if !taken {
            break;
        }
        at += 1;
    }
    // Every address below `at` is in use (and `at` is about to be).
    db::query("UPDATE subnets SET ip_floor = ? WHERE subnet_id = ?")
        .bind(i64::from(at))
        .bind(&subnet)
        .execute(tx)?;
    Ok((at < range.end).then(|| Ipv4Addr::from(at)))
}

/// A secondary IPv4 block of a VPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrBlock {
    /// `vpc-cidr-assoc-…`.
    pub association_id: String,
    /// The VPC.
    pub vpc: VpcId,
    /// The block.
    pub cidr: Ipv4Net,
}

/// Adds a secondary block to a VPC (agents see it with the next revision: it widens who may
/// ask the VPC's resolver).
pub async fn add_cidr_block(
    tx: &mut Tx,
    b: &CidrBlock,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    db::query(
        "INSERT INTO vpc_cidr_blocks (association_id, vpc_id, cidr, created_ms) VALUES (?, ?, ?, ?)",
    )
    .bind(&b.association_id)
    .bind(b.vpc.to_string())
    .bind(b.cidr.to_string())
    .bind(to_ms(now))
    .execute(tx)?;
    bump_revision(tx).await?;
    Ok(())
}

/// The secondary blocks of `vpc`, oldest first.
pub async fn cidr_blocks(tx: &mut Tx, vpc: &VpcId) -> Result<Vec<CidrBlock>, StoreError> {
    db::query("SELECT * FROM vpc_cidr_blocks WHERE vpc_id = ? ORDER BY created_ms, association_id")
        .bind(vpc.to_string())
        .fetch_all(tx)?
        .iter()
        .map(|r| {
            Ok(CidrBlock {
                association_id: r.try_get("association_id")?,
                vpc: parse_col(r, "vpc_id")?,
                cidr: parse_col(r, "cidr")?,
            })
        })
        .collect()
}

/// The secondary block with `association_id`, if any.
pub async fn get_cidr_block(
    tx: &mut Tx,
    association_id: &str,
) -> Result<Option<CidrBlock>, StoreError> {
    let Some(r) = db::query("SELECT * FROM vpc_cidr_blocks WHERE association_id = ?")
        .bind(association_id)
        .fetch_optional(tx)?
    else {
        return Ok(None);
    };
    Ok(Some(CidrBlock {
        association_id: r.try_get("association_id")?,
        vpc: parse_col(&r, "vpc_id")?,
        cidr: parse_col(&r, "cidr")?,
    }))
}

/// Removes the secondary block `association_id`.
pub async fn remove_cidr_block(tx: &mut Tx, association_id: &str) -> Result<(), StoreError> {
    db::query("DELETE FROM vpc_cidr_blocks WHERE association_id = ?")
        .bind(association_id)
        .execute(tx)?;
    bump_revision(tx).await?;
    Ok(())
}
