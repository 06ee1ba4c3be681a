//! EC2 network-ACL entries: `CreateNetworkAclEntry`, `DeleteNetworkAclEntry` (see
//! `network_acls.rs`). Entries are checked as EC2 does: rule numbers 1-32766, protocol `-1`,
//! `6`, `17` or `1` (or their names), a port range for TCP and UDP, exactly one block; a number
//! already used in that direction is `NetworkAclEntryAlreadyExists`.

use serde::Deserialize;
use underpass_domain::firewall::{parse_source_cidr, AclEntry, PortRange, Protocol, RuleAction};
use underpass_domain::NetworkAclId;
use underpass_store::acls::{self as acl_store, AclEntryRow};
use underpass_store::StoreError;

use super::elb::Empty;
use super::lookup::{ec2_arn, parse_id};
use super::network_acls::own;
use super::Ctx;
use crate::api::ApiError;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct PortRangeInput {
    from: Option<i64>,
    to: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct IcmpInput {
    code: Option<i64>,
    #[serde(rename = "Type")]
    kind: Option<i64>,
}

/// `CreateNetworkAclEntry`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateEntryRequest {
    network_acl_id: String,
    rule_number: Option<i64>,
    protocol: Option<String>,
    rule_action: Option<String>,
    egress: Option<bool>,
    cidr_block: Option<String>,
    ipv6_cidr_block: Option<String>,
    port_range: Option<PortRangeInput>,
    icmp_type_code: Option<IcmpInput>,
}

fn rule_number(n: Option<i64>) -> Result<u16, ApiError> {
    let n = n.ok_or_else(|| ApiError::missing("RuleNumber"))?;
    let n = i32::try_from(n).unwrap_or(i32::MAX);
    Ok(AclEntry::check_number(n)?)
}

fn int(v: Option<i64>, default: i32) -> i32 {
    v.map_or(default, |v| i32::try_from(v).unwrap_or(i32::MAX))
}

/// Checks an entry as EC2 does: protocol `-1`, `6`, `17` or `1` (or their names), ports for
/// TCP and UDP, exactly one block.
fn entry_of(req: &CreateEntryRequest) -> Result<AclEntryRow, ApiError> {
    let number = rule_number(req.rule_number)?;
    let egress = req.egress.ok_or_else(|| ApiError::missing("Egress"))?;
    let protocol = Protocol::parse(
        req.protocol
            .as_deref()
            .ok_or_else(|| ApiError::missing("Protocol"))?,
    )?;
    let action = match req.rule_action.as_deref() {
        Some("allow") => RuleAction::Allow,
        Some("deny") => RuleAction::Deny,
        None => return Err(ApiError::missing("RuleAction")),
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Value ({}) for parameter ruleAction is invalid. Expected 'allow' or 'deny'.",
                other.chars().take(32).collect::<String>()
            )))
        }
    };
    let cidr = match (&req.cidr_block, &req.ipv6_cidr_block) {
        (Some(c), None) if c.contains('.') => parse_source_cidr(c)?,
        (None, Some(c)) if c.contains(':') => parse_source_cidr(c)?,
        (Some(c), None) | (None, Some(c)) => {
            return Err(ApiError::invalid(format!(
                "Value ({}) for parameter cidrBlock is invalid. This is not a valid CIDR block.",
                c.chars().take(64).collect::<String>()
            )))
        }
        (None, None) => return Err(ApiError::missing("CidrBlock")),
        (Some(_), Some(_)) => {
            return Err(ApiError::client(
                "InvalidParameterCombination",
                "Specify either CidrBlock or Ipv6CidrBlock, not both.",
            ))
        }
    };
    let ports = match (protocol, &req.port_range) {
        (Protocol::Tcp | Protocol::Udp, None) => return Err(ApiError::missing("PortRange")),
        (Protocol::Tcp | Protocol::Udp, Some(p)) => {
            PortRange::new(protocol, int(p.from, -1), int(p.to, -1))?
        }
        _ => PortRange::ALL,
    };
    let icmp = match (protocol, &req.icmp_type_code) {
        (Protocol::Icmp, Some(i)) => Some((int(i.kind, -1), int(i.code, -1))),
        (Protocol::Icmp, None) => Some((-1, -1)),
        _ => None,
    };
    Ok(AclEntryRow {
        number,
        egress,
        protocol,
        action,
        cidr,
        ports,
        icmp,
    })
}

pub(crate) async fn create_network_acl_entry(
    ctx: &mut Ctx<'_>,
    req: CreateEntryRequest,
) -> Result<Empty, ApiError> {
    let id: NetworkAclId = parse_id(&req.network_acl_id, "InvalidNetworkAclID.Malformed")?;
    ctx.authorize(
        "ec2:CreateNetworkAclEntry",
        &ec2_arn(ctx, "network-acl", id),
    )
    .await?;
    let acl = own(ctx, &req.network_acl_id).await?;
    let entry = entry_of(&req)?;
    let exists = || {
        ApiError::client(
            "NetworkAclEntryAlreadyExists",
            format!(
                "The network acl entry identified by {} already exists.",
                entry.number
            ),
        )
    };
    if acl
        .entries
        .iter()
        .any(|e| e.number == entry.number && e.egress == entry.egress)
    {
        return Err(exists());
    }
    acl_store::add_acl_entry(&mut ctx.tx, &acl.id, &entry)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => exists(),
            e => e.into(),
        })?;
    Ok(Empty {})
}

/// `DeleteNetworkAclEntry`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DeleteEntryRequest {
    network_acl_id: String,
    rule_number: Option<i64>,
    egress: Option<bool>,
}

pub(crate) async fn delete_network_acl_entry(
    ctx: &mut Ctx<'_>,
    req: DeleteEntryRequest,
) -> Result<Empty, ApiError> {
    let id: NetworkAclId = parse_id(&req.network_acl_id, "InvalidNetworkAclID.Malformed")?;
    ctx.authorize(
        "ec2:DeleteNetworkAclEntry",
        &ec2_arn(ctx, "network-acl", id),
    )
    .await?;
    let acl = own(ctx, &req.network_acl_id).await?;
    let number = rule_number(req.rule_number)?;
    let egress = req.egress.ok_or_else(|| ApiError::missing("Egress"))?;
    if !acl_store::delete_acl_entry(&mut ctx.tx, &acl.id, number, egress).await? {
        return Err(ApiError::client(
            "InvalidNetworkAclEntry.NotFound",
            format!(
                "The network acl entry identified by {number} ({}) does not exist in {}",
                if egress { "egress" } else { "ingress" },
                acl.id
            ),
        ));
    }
    Ok(Empty {})
}
