//! EC2 network ACLs: create, describe, delete, and moving a subnet to another ACL. Their entries
//! are in `acl_entries.rs`.
//!
//! As in EC2: every VPC has a default ACL, made with it, whose rule 100 allows everything in
//! both directions; every subnet is associated with one ACL (the default one when it is made);
//! every ACL ends with the `*` rule that denies what no numbered rule matched (shown as rule
//! 32767, not stored, not removable), so a new custom ACL denies everything. Agents enforce the
//! inbound entries of the ACL of each endpoint ENI's subnet (see `desired.rs`); outbound
//! entries are kept and shown, but no flow leaves an ENI outward.

use std::collections::BTreeMap;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use underpass_domain::firewall::{AclEntry, PortRange, Protocol, RuleAction};
use underpass_domain::{NetworkAclAssociationId, NetworkAclId};
use underpass_store::acls::{self as acl_store, AclAssociation, AclEntryRow, NetworkAcl};
use underpass_store::iam::{self as iam_store, TokenLookup};
use underpass_store::records::{Subnet, Vpc};
use underpass_store::{tags as tag_store, StoreError};

use super::describe::{
    check_client_token, fingerprint, paginate, scope, Filter, Filters, PageRequest, PageStyle,
};
use super::lookup::{self, ec2_arn, no_duplicates, parse_id, ReturnTrue};
use super::tags::{self, TagSpecification, TagView};
use super::vpce_services::mismatch;
use super::Ctx;
use crate::api::ApiError;

/// The number EC2 shows for the `*` rule.
const STAR_RULE: u16 = 32767;

fn not_found(id: &str) -> ApiError {
    ApiError::client(
        "InvalidNetworkAclID.NotFound",
        format!(
            "The networkAcl ID '{}' does not exist",
            id.chars().take(64).collect::<String>()
        ),
    )
}

/// The caller's ACL `id`.
pub(crate) async fn own(ctx: &mut Ctx<'_>, id: &str) -> Result<NetworkAcl, ApiError> {
    let aid: NetworkAclId = parse_id(id, "InvalidNetworkAclID.Malformed")?;
    match acl_store::get_acl(&mut ctx.tx, &aid).await {
        Ok(acl) if ctx.mine(&acl) => Ok(acl),
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(not_found(id)),
        Err(e) => Err(e.into()),
    }
}

fn allow_all(egress: bool) -> AclEntryRow {
    AclEntryRow {
        number: 100,
        egress,
        protocol: Protocol::All,
        action: RuleAction::Allow,
        cidr: IpNet::V4(ipnet::Ipv4Net::default()),
        ports: PortRange::ALL,
        icmp: None,
    }
}

/// Makes the default ACL of a new VPC: rule 100 allows everything, in and out.
pub(crate) async fn create_default(ctx: &mut Ctx<'_>, vpc: &Vpc) -> Result<(), ApiError> {
    let acl = NetworkAcl {
        id: NetworkAclId::from_bits(ctx.new_id()?),
        vpc: vpc.id,
        account: vpc.account.clone(),
        region: vpc.region.clone(),
        is_default: true,
        entries: vec![allow_all(false), allow_all(true)],
        associations: vec![],
    };
    acl_store::insert_acl(&mut ctx.tx, &acl, ctx.meta.now).await?;
    Ok(())
}

/// Associates a new subnet with its VPC's default ACL (VPCs made before ACLs have none).
pub(crate) async fn associate_default(ctx: &mut Ctx<'_>, subnet: &Subnet) -> Result<(), ApiError> {
    if let Some(acl) = acl_store::default_acl(&mut ctx.tx, &subnet.vpc).await? {
        let a = AclAssociation {
            id: NetworkAclAssociationId::from_bits(ctx.new_id()?),
            acl,
            subnet: subnet.id,
        };
        acl_store::associate_acl(&mut ctx.tx, &a).await?;
    }
    Ok(())
}

/// The `*` rule: what no numbered entry matched is denied.
pub(crate) fn star_entries() -> Vec<AclEntry> {
    ["0.0.0.0/0", "::/0"]
        .into_iter()
        .filter_map(|c| c.parse().ok())
        .map(|cidr| AclEntry {
            number: STAR_RULE,
            protocol: Protocol::All,
            ports: PortRange::ALL,
            cidr,
            action: RuleAction::Deny,
        })
        .collect()
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AclAssociationView {
    network_acl_association_id: String,
    network_acl_id: String,
    subnet_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PortRangeView {
    from: u16,
    to: u16,
}

#[derive(Serialize)]
pub(crate) struct IcmpView {
    #[serde(rename = "Type")]
    kind: i32,
    #[serde(rename = "Code")]
    code: i32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EntryView {
    rule_number: u16,
    egress: bool,
    protocol: String,
    rule_action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cidr_block: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ipv6_cidr_block: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    port_range: Option<PortRangeView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    icmp_type_code: Option<IcmpView>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AclView {
    network_acl_id: String,
    vpc_id: String,
    owner_id: String,
    is_default: bool,
    entries: Vec<EntryView>,
    associations: Vec<AclAssociationView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<TagView>,
}

fn entry_view(e: &AclEntryRow) -> EntryView {
    let (v4, v6) = match e.cidr {
        IpNet::V4(_) => (Some(e.cidr.to_string()), None),
        IpNet::V6(_) => (None, Some(e.cidr.to_string())),
    };
    EntryView {
        rule_number: e.number,
        egress: e.egress,
        protocol: e.protocol.number().to_string(),
        rule_action: match e.action {
            RuleAction::Allow => "allow",
            RuleAction::Deny => "deny",
        },
        cidr_block: v4,
        ipv6_cidr_block: v6,
        port_range: matches!(e.protocol, Protocol::Tcp | Protocol::Udp).then_some(PortRangeView {
            from: e.ports.from,
            to: e.ports.to,
        }),
        icmp_type_code: e.icmp.map(|(kind, code)| IcmpView { kind, code }),
    }
}

/// The entries as EC2 lists them: inbound then outbound (egress `false` first), each direction
/// by rule number and ending with its `*` rule.
fn entries_view(acl: &NetworkAcl) -> Vec<EntryView> {
    let mut out = Vec::with_capacity(acl.entries.len() + 2);
    for egress in [false, true] {
        out.extend(
            acl.entries
                .iter()
                .filter(|e| e.egress == egress)
                .map(entry_view),
        );
        out.push(entry_view(&AclEntryRow {
            number: STAR_RULE,
            egress,
            protocol: Protocol::All,
            action: RuleAction::Deny,
            cidr: IpNet::V4(ipnet::Ipv4Net::default()),
            ports: PortRange::ALL,
            icmp: None,
        }));
    }
    out
}

fn view(acl: &NetworkAcl, tag_list: &[(String, String)]) -> AclView {
    AclView {
        network_acl_id: acl.id.to_string(),
        vpc_id: acl.vpc.to_string(),
        owner_id: acl.account.clone(),
        is_default: acl.is_default,
        entries: entries_view(acl),
        associations: acl
            .associations
            .iter()
            .map(|a| AclAssociationView {
                network_acl_association_id: a.id.to_string(),
                network_acl_id: acl.id.to_string(),
                subnet_id: a.subnet.to_string(),
            })
            .collect(),
        tags: tags::view(tag_list),
    }
}

/// `CreateNetworkAcl`: a custom ACL with only the `*` rules (it denies everything until
/// entries are added), associated with nothing.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateAclRequest {
    vpc_id: String,
    #[serde(default)]
    tag_specifications: Vec<TagSpecification>,
    #[serde(skip_serializing)]
    client_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateAclResponse {
    network_acl: AclView,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_token: Option<String>,
}

const CREATE: &str = "CreateNetworkAcl";

pub(crate) async fn create_network_acl(
    ctx: &mut Ctx<'_>,
    req: CreateAclRequest,
) -> Result<CreateAclResponse, ApiError> {
    let id = NetworkAclId::from_bits(ctx.new_id()?);
    let arn = ec2_arn(ctx, "network-acl", id);
    ctx.authorize("ec2:CreateNetworkAcl", &arn).await?;
    let account = ctx.caller.account.clone();
    let hash = fingerprint(&req)?;
    if let Some(token) = &req.client_token {
        check_client_token(token)?;
        match iam_store::client_token(&mut ctx.tx, &account, CREATE, token, &hash).await? {
            TokenLookup::New => {}
            TokenLookup::Replay(existing) => {
                let acl = own(ctx, &existing).await?;
                let t = tag_store::of(&mut ctx.tx, &existing).await?;
                return Ok(CreateAclResponse {
                    network_acl: view(&acl, &t),
                    client_token: req.client_token.clone(),
                });
            }
            TokenLookup::Mismatch => return Err(mismatch()),
        }
    }
    let vpc = lookup::vpc(ctx, &req.vpc_id).await?;
    let tag_list = tags::on_create(ctx, &req.tag_specifications, "network-acl", &arn).await?;
    let acl = NetworkAcl {
        id,
        vpc: vpc.id,
        account: account.clone(),
        region: vpc.region.clone(),
        is_default: false,
        entries: vec![],
        associations: vec![],
    };
    acl_store::insert_acl(&mut ctx.tx, &acl, ctx.meta.now).await?;
    tags::save_new(ctx, &id.to_string(), "network-acl", &tag_list).await?;
    if let Some(token) = &req.client_token {
        iam_store::save_client_token(
            &mut ctx.tx,
            &account,
            CREATE,
            token,
            &hash,
            &id.to_string(),
            ctx.meta.now,
        )
        .await?;
    }
    Ok(CreateAclResponse {
        network_acl: view(&acl, &tag_list),
        client_token: req.client_token,
    })
}

/// `DescribeNetworkAcls`.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DescribeAclsRequest {
    #[serde(default)]
    network_acl_ids: Vec<String>,
    #[serde(default)]
    filters: Vec<Filter>,
    #[serde(skip_serializing)]
    max_results: Option<i64>,
    #[serde(skip_serializing)]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeAclsResponse {
    network_acls: Vec<AclView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

const FILTERS: &[&str] = &[
    "network-acl-id",
    "vpc-id",
    "owner-id",
    "default",
    "association.association-id",
    "association.network-acl-id",
    "association.subnet-id",
    "entry.cidr",
    "entry.ipv6-cidr",
    "entry.egress",
    "entry.protocol",
    "entry.rule-action",
    "entry.rule-number",
    "entry.port-range.from",
    "entry.port-range.to",
    "tag-key",
];

fn filter_values(acl: &NetworkAcl, tag_list: &[(String, String)], name: &str) -> Vec<String> {
    if let Some(v) = tags::filter_values(name, tag_list) {
        return v;
    }
    let entries = acl.entries.iter();
    let assoc = acl.associations.iter();
    match name {
        "network-acl-id" => vec![acl.id.to_string()],
        "vpc-id" => vec![acl.vpc.to_string()],
        "owner-id" => vec![acl.account.clone()],
        "default" => vec![acl.is_default.to_string()],
        "association.association-id" => assoc.map(|a| a.id.to_string()).collect(),
        "association.network-acl-id" => assoc.map(|_| acl.id.to_string()).collect(),
        "association.subnet-id" => assoc.map(|a| a.subnet.to_string()).collect(),
        "entry.cidr" => entries
            .filter(|e| e.cidr.addr().is_ipv4())
            .map(|e| e.cidr.to_string())
            .collect(),
        "entry.ipv6-cidr" => entries
            .filter(|e| e.cidr.addr().is_ipv6())
            .map(|e| e.cidr.to_string())
            .collect(),
        "entry.egress" => entries.map(|e| e.egress.to_string()).collect(),
        "entry.protocol" => entries.map(|e| e.protocol.number().to_string()).collect(),
        "entry.rule-action" => entries
            .map(|e| entry_view(e).rule_action.to_owned())
            .collect(),
        "entry.rule-number" => entries.map(|e| e.number.to_string()).collect(),
        "entry.port-range.from" => entries.map(|e| e.ports.from.to_string()).collect(),
        "entry.port-range.to" => entries.map(|e| e.ports.to.to_string()).collect(),
        _ => vec![],
    }
}

pub(crate) async fn describe_network_acls(
    ctx: &mut Ctx<'_>,
    req: DescribeAclsRequest,
) -> Result<DescribeAclsResponse, ApiError> {
    ctx.authorize("ec2:DescribeNetworkAcls", "*").await?;
    let filters = Filters::new(&req.filters, FILTERS)?;
    no_duplicates("NetworkAclIds", &req.network_acl_ids)?;
    let account = ctx.caller.account.clone();
    let acls = if req.network_acl_ids.is_empty() {
        let all = acl_store::list_acls(&mut ctx.tx, Some(&account), None).await?;
        all.into_iter().filter(|x| ctx.here(x)).collect()
    } else {
        let mut out = Vec::with_capacity(req.network_acl_ids.len());
        for id in &req.network_acl_ids {
            out.push(own(ctx, id).await?);
        }
        out
    };
    let all_tags: BTreeMap<String, Vec<(String, String)>> =
        tag_store::by_resource(&mut ctx.tx, &account, &ctx.caller.region).await?;
    let acls: Vec<NetworkAcl> = acls
        .into_iter()
        .filter(|acl| {
            let t = tags::of(&all_tags, &acl.id.to_string());
            filters.matches(|name| filter_values(acl, t, name))
        })
        .collect();
    let page = PageRequest {
        size: req.max_results,
        token: req.next_token.as_deref(),
        scope: scope("DescribeNetworkAcls", &req),
        style: PageStyle::Ec2,
    };
    let (acls, next_token) = paginate(ctx, &page, acls, |a| a.id.to_string())?;
    Ok(DescribeAclsResponse {
        network_acls: acls
            .iter()
            .map(|a| view(a, tags::of(&all_tags, &a.id.to_string())))
            .collect(),
        next_token,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct AclIdRequest {
    network_acl_id: String,
}

/// `DeleteNetworkAcl`: not the default ACL, and not while subnets are associated with it.
pub(crate) async fn delete_network_acl(
    ctx: &mut Ctx<'_>,
    req: AclIdRequest,
) -> Result<ReturnTrue, ApiError> {
    let id: NetworkAclId = parse_id(&req.network_acl_id, "InvalidNetworkAclID.Malformed")?;
    ctx.authorize("ec2:DeleteNetworkAcl", &ec2_arn(ctx, "network-acl", id))
        .await?;
    let acl = own(ctx, &req.network_acl_id).await?;
    if acl.is_default {
        return Err(ApiError::invalid(format!(
            "cannot delete default network ACL {id}"
        )));
    }
    acl_store::delete_acl(&mut ctx.tx, &id)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => ApiError::client("DependencyViolation", m),
            e => e.into(),
        })?;
    tag_store::remove_all(&mut ctx.tx, &id.to_string()).await?;
    Ok(ReturnTrue::YES)
}

/// `ReplaceNetworkAclAssociation`: moves a subnet to another ACL of its VPC; the association
/// gets a new id.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct ReplaceAssociationRequest {
    association_id: String,
    network_acl_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReplaceAssociationResponse {
    new_association_id: String,
}

pub(crate) async fn replace_network_acl_association(
    ctx: &mut Ctx<'_>,
    req: ReplaceAssociationRequest,
) -> Result<ReplaceAssociationResponse, ApiError> {
    let id: NetworkAclId = parse_id(&req.network_acl_id, "InvalidNetworkAclID.Malformed")?;
    ctx.authorize(
        "ec2:ReplaceNetworkAclAssociation",
        &ec2_arn(ctx, "network-acl", id),
    )
    .await?;
    let missing = || {
        ApiError::client(
            "InvalidAssociationID.NotFound",
            format!(
                "The association ID '{}' does not exist",
                req.association_id.chars().take(64).collect::<String>()
            ),
        )
    };
    let aid: NetworkAclAssociationId =
        parse_id(&req.association_id, "InvalidAssociationID.Malformed")?;
    let acl = own(ctx, &req.network_acl_id).await?;
    let Some(old) = acl_store::get_acl_association(&mut ctx.tx, &aid).await? else {
        return Err(missing());
    };
    // The association is the caller's if its subnet is.
    let subnet = lookup::subnet(ctx, &old.subnet.to_string())
        .await
        .map_err(|_| missing())?;
    if subnet.vpc != acl.vpc {
        return Err(ApiError::invalid(format!(
            "Network ACL {} and subnet {} belong to different networks",
            acl.id, subnet.id
        )));
    }
    let new = AclAssociation {
        id: NetworkAclAssociationId::from_bits(ctx.new_id()?),
        acl: acl.id,
        subnet: subnet.id,
    };
    acl_store::remove_acl_association(&mut ctx.tx, &aid).await?;
    acl_store::associate_acl(&mut ctx.tx, &new).await?;
    Ok(ReplaceAssociationResponse {
        new_association_id: new.id.to_string(),
    })
}
