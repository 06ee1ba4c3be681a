//! EC2 network actions: VPCs, their DNS attributes, and subnets. The network interfaces that
//! endpoints and load balancers own are in `enis.rs`; route tables and network ACLs, which every
//! VPC is born with, in `route_tables.rs` and `network_acls.rs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use underpass_domain::firewall::{IngressRule, PortRange, Protocol, Source};
use underpass_domain::net::{check_subnet, parse_block, usable_addresses};
use underpass_domain::{SecurityGroupId, SecurityGroupRuleId, SubnetId, VpcId};
use underpass_store::network::CidrBlock;
use underpass_store::records::{Direction, SecurityGroup, SgRule, Subnet, SubnetAttributes, Vpc};
use underpass_store::{gateway_endpoints, network, routing, tags as tag_store};

use super::describe::{paginate, scope, Filter, Filters, PageRequest, PageStyle};
use super::lookup::{self, ec2_arn, no_duplicates, parse_id, ReturnTrue};
use super::tags::{self, TagSpecification, TagView};
use super::vpc_cidr_blocks::{association_set, BlockView};
use super::Ctx;
use crate::api::ApiError;

/// An EC2 `AttributeBooleanValue`: `{"Value": true}`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct BoolValue {
    value: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct VpcView {
    vpc_id: String,
    cidr_block: String,
    state: &'static str,
    owner_id: String,
    is_default: bool,
    instance_tenancy: &'static str,
    cidr_block_association_set: Vec<BlockView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<TagView>,
}

impl VpcView {
    pub(crate) fn new(v: &Vpc, secondary: &[CidrBlock], tag_list: &[(String, String)]) -> Self {
        Self {
            vpc_id: v.id.to_string(),
            cidr_block: v.cidr.to_string(),
            state: "available",
            owner_id: v.account.clone(),
            is_default: v.is_default,
            instance_tenancy: "default",
            cidr_block_association_set: association_set(v, secondary),
            tags: tags::view(tag_list),
        }
    }
}

/// The name of the group every VPC is born with, as in EC2.
pub(crate) const DEFAULT_GROUP: &str = "default";

/// `CreateVpc`: a network with one IPv4 block of /16 to /28. Both DNS attributes start enabled.
/// As in EC2, the VPC comes with its default security group (`default`, all traffic in from
/// members of the group itself), its main route table (the `local` route) and its default
/// network ACL (everything allowed), which go when the VPC goes and cannot be deleted alone.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateVpcRequest {
    cidr_block: Option<String>,
    #[serde(default)]
    tag_specifications: Vec<TagSpecification>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateVpcResponse {
    vpc: VpcView,
}

pub(crate) async fn create_vpc(
    ctx: &mut Ctx<'_>,
    req: CreateVpcRequest,
) -> Result<CreateVpcResponse, ApiError> {
    let id = VpcId::from_bits(ctx.new_id()?);
    let arn = ec2_arn(ctx, "vpc", id);
    ctx.authorize("ec2:CreateVpc", &arn).await?;
    let tag_list = tags::on_create(ctx, &req.tag_specifications, "vpc", &arn).await?;
    let cidr = parse_block(
        req.cidr_block
            .as_deref()
            .ok_or_else(|| ApiError::missing("CidrBlock"))?,
    )?;
    let vpc = Vpc {
        id,
        account: ctx.caller.account.clone(),
        region: ctx.region().to_owned(),
        cidr,
        dns_support: true,
        dns_hostnames: true,
        is_default: false,
    };
    provision_vpc(ctx, &vpc).await?;
    tags::save_new(ctx, &id.to_string(), "vpc", &tag_list).await?;
    Ok(CreateVpcResponse {
        vpc: VpcView::new(&vpc, &[], &tag_list),
    })
}

/// Stores `vpc` with what EC2 gives every VPC: its default security group (`default`, all
/// traffic in from members of the group itself, all out), its main route table (the `local`
/// route) and its default network ACL (everything allowed).
pub(crate) async fn provision_vpc(ctx: &mut Ctx<'_>, vpc: &Vpc) -> Result<(), ApiError> {
    network::insert_vpc(&mut ctx.tx, vpc, ctx.meta.now).await?;
    let gid = SecurityGroupId::from_bits(ctx.new_id()?);
    let group = SecurityGroup {
        id: gid,
        vpc: vpc.id,
        account: vpc.account.clone(),
        region: vpc.region.clone(),
        name: DEFAULT_GROUP.into(),
        description: "default VPC security group".into(),
        rules: vec![],
        egress_rules: vec![],
    };
    network::insert_group(&mut ctx.tx, &group, ctx.meta.now).await?;
    let self_rule = SgRule {
        id: SecurityGroupRuleId::from_bits(ctx.new_id()?),
        rule: IngressRule {
            protocol: Protocol::All,
            ports: PortRange::ALL,
            source: Source::Group(gid),
        },
        description: String::new(),
    };
    network::add_rules(&mut ctx.tx, &gid, Direction::Ingress, &[self_rule]).await?;
    super::sg_rules::add_default_egress(ctx, &gid).await?;
    super::route_tables::create_main(ctx, vpc).await?;
    super::network_acls::create_default(ctx, vpc).await
}

/// `DescribeVpcs`.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DescribeVpcsRequest {
    #[serde(default)]
    vpc_ids: Vec<String>,
    #[serde(default)]
    filters: Vec<Filter>,
    #[serde(skip_serializing)]
    max_results: Option<i64>,
    #[serde(skip_serializing)]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeVpcsResponse {
    vpcs: Vec<VpcView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

const VPC_FILTERS: &[&str] = &[
    "vpc-id",
    "cidr",
    "cidr-block-association.cidr-block",
    "cidr-block-association.association-id",
    "cidr-block-association.state",
    "owner-id",
    "state",
    "is-default",
    "tag-key",
];

pub(crate) async fn describe_vpcs(
    ctx: &mut Ctx<'_>,
    req: DescribeVpcsRequest,
) -> Result<DescribeVpcsResponse, ApiError> {
    ctx.authorize("ec2:DescribeVpcs", "*").await?;
    let filters = Filters::new(&req.filters, VPC_FILTERS)?;
    no_duplicates("VpcIds", &req.vpc_ids)?;
    let vpcs = if req.vpc_ids.is_empty() {
        let account = ctx.caller.account.clone();
        let all = network::list_vpcs(&mut ctx.tx, Some(&account)).await?;
        all.into_iter().filter(|x| ctx.here(x)).collect()
    } else {
        let mut out = Vec::with_capacity(req.vpc_ids.len());
        for id in &req.vpc_ids {
            out.push(lookup::vpc(ctx, id).await?);
        }
        out
    };
    let account = ctx.caller.account.clone();
    let all_tags = tag_store::by_resource(&mut ctx.tx, &account, &ctx.caller.region).await?;
    let mut secondary = BTreeMap::new();
    for v in &vpcs {
        secondary.insert(v.id, network::cidr_blocks(&mut ctx.tx, &v.id).await?);
    }
    let no_blocks = Vec::new();
    let vpcs: Vec<Vpc> = vpcs
        .into_iter()
        .filter(|v| {
            let t = tags::of(&all_tags, &v.id.to_string());
            let extra = secondary.get(&v.id).unwrap_or(&no_blocks);
            filters.matches(|name| match name {
                n if n.starts_with("tag") => tags::filter_values(n, t).unwrap_or_default(),
                "vpc-id" => vec![v.id.to_string()],
                "cidr" => vec![v.cidr.to_string()],
                "cidr-block-association.cidr-block" => std::iter::once(v.cidr)
                    .chain(extra.iter().map(|b| b.cidr))
                    .map(|c| c.to_string())
                    .collect(),
                "cidr-block-association.association-id" => {
                    std::iter::once(super::vpc_cidr_blocks::primary_association(&v.id))
                        .chain(extra.iter().map(|b| b.association_id.clone()))
                        .collect()
                }
                "cidr-block-association.state" => vec!["associated".into()],
                "owner-id" => vec![v.account.clone()],
                "state" => vec!["available".into()],
                "is-default" => vec![v.is_default.to_string()],
                _ => vec![],
            })
        })
        .collect();
    let page = PageRequest {
        size: req.max_results,
        token: req.next_token.as_deref(),
        scope: scope("DescribeVpcs", &req),
        style: PageStyle::Ec2,
    };
    let (vpcs, next_token) = paginate(ctx, &page, vpcs, |v| v.id.to_string())?;
    Ok(DescribeVpcsResponse {
        vpcs: vpcs
            .iter()
            .map(|v| {
                VpcView::new(
                    v,
                    secondary.get(&v.id).unwrap_or(&no_blocks),
                    tags::of(&all_tags, &v.id.to_string()),
                )
            })
            .collect(),
        next_token,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct VpcIdRequest {
    vpc_id: String,
}

/// `DeleteVpc`: refused with `DependencyViolation` while subnets, groups, endpoints, load
/// balancers, target groups, route tables or network ACLs other than its own defaults use it.
pub(crate) async fn delete_vpc(
    ctx: &mut Ctx<'_>,
    req: VpcIdRequest,
) -> Result<ReturnTrue, ApiError> {
    let id: VpcId = parse_id(&req.vpc_id, "InvalidVpcID.Malformed")?;
    ctx.authorize("ec2:DeleteVpc", &ec2_arn(ctx, "vpc", id))
        .await?;
    lookup::vpc(ctx, &req.vpc_id).await?;
    let default_group = default_group(ctx, &id).await?;
    let own = i64::from(default_group.is_some());
    let dependency = || {
        ApiError::client(
            "DependencyViolation",
            format!("The vpc '{id}' has dependencies and cannot be deleted."),
        )
    };
    if network::vpc_dependents(&mut ctx.tx, &id).await? > own
        || routing::vpc_routing_dependents(&mut ctx.tx, &id).await? > 0
        || gateway_endpoints::count_in_vpc(&mut ctx.tx, &id).await? > 0
    {
        return Err(dependency());
    }
    // As in EC2, a resource's flow logs go with it.
    super::flow_logs::delete_on(ctx, &[id.to_string()]).await?;
    if let Some(gid) = default_group {
        network::delete_group(&mut ctx.tx, &gid)
            .await
            .map_err(|e| match e {
                underpass_store::StoreError::Conflict(_) => dependency(),
                e => e.into(),
            })?;
    }
    for gone in routing::delete_vpc_defaults(&mut ctx.tx, &id).await? {
        tag_store::remove_all(&mut ctx.tx, &gone).await?;
    }
    if let Some(gid) = default_group {
        tag_store::remove_all(&mut ctx.tx, &gid.to_string()).await?;
    }
    network::delete_vpc(&mut ctx.tx, &id).await?;
    tag_store::remove_all(&mut ctx.tx, &id.to_string()).await?;
    Ok(ReturnTrue::YES)
}

/// The VPC's default security group, if it has one (VPCs made before it existed do not).
pub(crate) async fn default_group(
    ctx: &mut Ctx<'_>,
    vpc: &VpcId,
) -> Result<Option<SecurityGroupId>, ApiError> {
    for gid in network::list_group_ids(&mut ctx.tx, None, Some(vpc)).await? {
        if network::get_group(&mut ctx.tx, &gid).await?.name == DEFAULT_GROUP {
            return Ok(Some(gid));
        }
    }
    Ok(None)
}

/// `ModifyVpcAttribute`: one attribute per call, as EC2 requires.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct ModifyVpcAttributeRequest {
    vpc_id: String,
    enable_dns_support: Option<BoolValue>,
    enable_dns_hostnames: Option<BoolValue>,
}

pub(crate) async fn modify_vpc_attribute(
    ctx: &mut Ctx<'_>,
    req: ModifyVpcAttributeRequest,
) -> Result<ReturnTrue, ApiError> {
    let id: VpcId = parse_id(&req.vpc_id, "InvalidVpcID.Malformed")?;
    ctx.authorize("ec2:ModifyVpcAttribute", &ec2_arn(ctx, "vpc", id))
        .await?;
    lookup::vpc(ctx, &req.vpc_id).await?;
    match (req.enable_dns_support, req.enable_dns_hostnames) {
        (None, None) => Err(ApiError::missing("EnableDnsSupport or EnableDnsHostnames")),
        (Some(_), Some(_)) => Err(ApiError::client(
            "InvalidParameterCombination",
            "Only one attribute can be modified in a single request.",
        )),
        (support, hostnames) => {
            network::set_vpc_dns(
                &mut ctx.tx,
                &id,
                support.map(|b| b.value),
                hostnames.map(|b| b.value),
            )
            .await?;
            Ok(ReturnTrue::YES)
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DescribeVpcAttributeRequest {
    vpc_id: String,
    attribute: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeVpcAttributeResponse {
    vpc_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    enable_dns_support: Option<BoolValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enable_dns_hostnames: Option<BoolValue>,
}

pub(crate) async fn describe_vpc_attribute(
    ctx: &mut Ctx<'_>,
    req: DescribeVpcAttributeRequest,
) -> Result<DescribeVpcAttributeResponse, ApiError> {
    let id: VpcId = parse_id(&req.vpc_id, "InvalidVpcID.Malformed")?;
    ctx.authorize("ec2:DescribeVpcAttribute", &ec2_arn(ctx, "vpc", id))
        .await?;
    let vpc = lookup::vpc(ctx, &req.vpc_id).await?;
    let (support, hostnames) = match req.attribute.as_str() {
        "enableDnsSupport" => (Some(vpc.dns_support), None),
        "enableDnsHostnames" => (None, Some(vpc.dns_hostnames)),
        other => {
            return Err(ApiError::invalid(format!(
                "Value ({}) for parameter attribute is invalid. Expected enableDnsSupport or enableDnsHostnames.",
                other.chars().take(64).collect::<String>()
            )))
        }
    };
    Ok(DescribeVpcAttributeResponse {
        vpc_id: vpc.id.to_string(),
        enable_dns_support: support.map(|value| BoolValue { value }),
        enable_dns_hostnames: hostnames.map(|value| BoolValue { value }),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SubnetView {
    subnet_id: String,
    subnet_arn: String,
    vpc_id: String,
    cidr_block: String,
    availability_zone: String,
    available_ip_address_count: u32,
    state: &'static str,
    owner_id: String,
    default_for_az: bool,
    map_public_ip_on_launch: bool,
    assign_ipv6_address_on_creation: bool,
    enable_dns64: bool,
    private_dns_name_options_on_launch: PrivateDnsNameOptions,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<TagView>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PrivateDnsNameOptions {
    hostname_type: String,
    enable_resource_name_dns_a_record: bool,
    enable_resource_name_dns_aaaa_record: bool,
}

async fn subnet_view(
    ctx: &mut Ctx<'_>,
    s: &Subnet,
    tag_list: &[(String, String)],
) -> Result<SubnetView, ApiError> {
    let used = network::count_used_ips(&mut ctx.tx, &s.id).await?;
    Ok(SubnetView {
        subnet_id: s.id.to_string(),
        subnet_arn: ec2_arn(ctx, "subnet", s.id),
        vpc_id: s.vpc.to_string(),
        cidr_block: s.cidr.to_string(),
        availability_zone: s.zone.clone(),
        available_ip_address_count: usable_addresses(&s.cidr)
            .saturating_sub(u32::try_from(used).unwrap_or(u32::MAX)),
        state: "available",
        owner_id: s.account.clone(),
        default_for_az: s.default_for_az,
        map_public_ip_on_launch: s.attributes.map_public_ip_on_launch,
        assign_ipv6_address_on_creation: s.attributes.assign_ipv6_address_on_creation,
        enable_dns64: s.attributes.enable_dns64,
        private_dns_name_options_on_launch: PrivateDnsNameOptions {
            hostname_type: s.attributes.private_dns_hostname_type.clone(),
            enable_resource_name_dns_a_record: s.attributes.resource_name_dns_a_record,
            enable_resource_name_dns_aaaa_record: false,
        },
        tags: tags::view(tag_list),
    })
}

/// `ModifySubnetAttribute`: one attribute per call, as EC2 requires. The settings are kept and
/// shown; Underpass launches no instances they would apply to.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct ModifySubnetAttributeRequest {
    subnet_id: String,
    map_public_ip_on_launch: Option<BoolValue>,
    assign_ipv6_address_on_creation: Option<BoolValue>,
    enable_dns64: Option<BoolValue>,
    private_dns_hostname_type_on_launch: Option<String>,
    enable_resource_name_dns_a_record_on_launch: Option<BoolValue>,
    enable_resource_name_dns_aaaa_record_on_launch: Option<BoolValue>,
    map_customer_owned_ip_on_launch: Option<BoolValue>,
    customer_owned_ipv4_pool: Option<String>,
    enable_lni_at_device_index: Option<i64>,
    disable_lni_at_device_index: Option<BoolValue>,
}

pub(crate) async fn modify_subnet_attribute(
    ctx: &mut Ctx<'_>,
    req: ModifySubnetAttributeRequest,
) -> Result<ReturnTrue, ApiError> {
    let id: SubnetId = parse_id(&req.subnet_id, "InvalidSubnetID.Malformed")?;
    ctx.authorize("ec2:ModifySubnetAttribute", &ec2_arn(ctx, "subnet", id))
        .await?;
    let subnet = lookup::subnet(ctx, &req.subnet_id).await?;
    let given = [
        req.map_public_ip_on_launch.is_some(),
        req.assign_ipv6_address_on_creation.is_some(),
        req.enable_dns64.is_some(),
        req.private_dns_hostname_type_on_launch.is_some(),
        req.enable_resource_name_dns_a_record_on_launch.is_some(),
        req.enable_resource_name_dns_aaaa_record_on_launch.is_some(),
        req.map_customer_owned_ip_on_launch.is_some(),
        req.customer_owned_ipv4_pool.is_some(),
        req.enable_lni_at_device_index.is_some(),
        req.disable_lni_at_device_index.is_some(),
    ]
    .into_iter()
    .filter(|g| *g)
    .count();
    if given != 1 {
        return Err(ApiError::invalid(
            "Specify exactly one subnet attribute to modify per call.",
        ));
    }
    let mut a = subnet.attributes.clone();
    let unsupported = |what: &str| {
        ApiError::invalid(format!(
            "{what} does not apply here: the subnet has no IPv6 block, Outpost or customer-owned pool"
        ))
    };
    if let Some(v) = req.map_public_ip_on_launch {
        a.map_public_ip_on_launch = v.value;
    } else if let Some(v) = req.assign_ipv6_address_on_creation {
        if v.value {
            return Err(unsupported("AssignIpv6AddressOnCreation"));
        }
        a.assign_ipv6_address_on_creation = false;
    } else if let Some(v) = req.enable_dns64 {
        a.enable_dns64 = v.value;
    } else if let Some(t) = req.private_dns_hostname_type_on_launch {
        if t != "ip-name" && t != "resource-name" {
            return Err(ApiError::invalid(format!(
                "Value ({}) for parameter PrivateDnsHostnameTypeOnLaunch is invalid: use ip-name or resource-name",
                t.chars().take(32).collect::<String>()
            )));
        }
        a.private_dns_hostname_type = t;
    } else if let Some(v) = req.enable_resource_name_dns_a_record_on_launch {
        a.resource_name_dns_a_record = v.value;
    } else if req.enable_resource_name_dns_aaaa_record_on_launch.is_some() {
        return Err(unsupported("EnableResourceNameDnsAAAARecordOnLaunch"));
    } else {
        return Err(unsupported("That attribute"));
    }
    network::set_subnet_attributes(&mut ctx.tx, &subnet.id, &a).await?;
    Ok(ReturnTrue::YES)
}

/// Checks a zone name against the region's zones.
pub(crate) fn check_zone(ctx: &Ctx<'_>, zone: &str) -> Result<(), ApiError> {
    if ctx.zones().iter().any(|z| z == zone) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "Value ({}) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: {}.",
            zone.chars().take(64).collect::<String>(),
            ctx.zones().join(", ")
        )))
    }
}

/// `CreateSubnet`: a block inside the VPC's, overlapping no other subnet, in one of the
/// region's zones (the first zone when none is named), associated with the VPC's default
/// network ACL.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateSubnetRequest {
    vpc_id: String,
    cidr_block: Option<String>,
    availability_zone: Option<String>,
    #[serde(default)]
    tag_specifications: Vec<TagSpecification>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateSubnetResponse {
    subnet: SubnetView,
}

pub(crate) async fn create_subnet(
    ctx: &mut Ctx<'_>,
    req: CreateSubnetRequest,
) -> Result<CreateSubnetResponse, ApiError> {
    let id = SubnetId::from_bits(ctx.new_id()?);
    let arn = ec2_arn(ctx, "subnet", id);
    ctx.authorize("ec2:CreateSubnet", &arn).await?;
    let tag_list = tags::on_create(ctx, &req.tag_specifications, "subnet", &arn).await?;
    let cidr = parse_block(
        req.cidr_block
            .as_deref()
            .ok_or_else(|| ApiError::missing("CidrBlock"))?,
    )?;
    let zone = match req.availability_zone {
        Some(z) => {
            check_zone(ctx, &z)?;
            z
        }
        None => ctx
            .zones()
            .first()
            .cloned()
            .ok_or_else(|| ApiError::internal("no zones configured"))?,
    };
    let vpc = lookup::vpc(ctx, &req.vpc_id).await?;
    let existing: Vec<_> = network::list_subnets(&mut ctx.tx, Some(&vpc.id), None)
        .await?
        .iter()
        .map(|s| s.cidr)
        .collect();
    let blocks = super::vpc_cidr_blocks::blocks(ctx, &vpc).await?;
    check_subnet(&blocks, &existing, cidr)?;
    let subnet = Subnet {
        id,
        vpc: vpc.id,
        account: ctx.caller.account.clone(),
        region: vpc.region.clone(),
        zone,
        cidr,
        attributes: SubnetAttributes::default(),
        default_for_az: false,
    };
    network::insert_subnet(&mut ctx.tx, &subnet, ctx.meta.now).await?;
    super::network_acls::associate_default(ctx, &subnet).await?;
    tags::save_new(ctx, &id.to_string(), "subnet", &tag_list).await?;
    Ok(CreateSubnetResponse {
        subnet: subnet_view(ctx, &subnet, &tag_list).await?,
    })
}

/// `DescribeSubnets`.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DescribeSubnetsRequest {
    #[serde(default)]
    subnet_ids: Vec<String>,
    #[serde(default)]
    filters: Vec<Filter>,
    #[serde(skip_serializing)]
    max_results: Option<i64>,
    #[serde(skip_serializing)]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeSubnetsResponse {
    subnets: Vec<SubnetView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

const SUBNET_FILTERS: &[&str] = &[
    "subnet-id",
    "vpc-id",
    "cidr-block",
    "cidr",
    "availability-zone",
    "owner-id",
    "state",
    "default-for-az",
    "tag-key",
];

pub(crate) async fn describe_subnets(
    ctx: &mut Ctx<'_>,
    req: DescribeSubnetsRequest,
) -> Result<DescribeSubnetsResponse, ApiError> {
    ctx.authorize("ec2:DescribeSubnets", "*").await?;
    let filters = Filters::new(&req.filters, SUBNET_FILTERS)?;
    no_duplicates("SubnetIds", &req.subnet_ids)?;
    let subnets = if req.subnet_ids.is_empty() {
        let account = ctx.caller.account.clone();
        let all = network::list_subnets(&mut ctx.tx, None, Some(&account)).await?;
        all.into_iter().filter(|x| ctx.here(x)).collect()
    } else {
        let mut out = Vec::with_capacity(req.subnet_ids.len());
        for id in &req.subnet_ids {
            out.push(lookup::subnet(ctx, id).await?);
        }
        out
    };
    let account = ctx.caller.account.clone();
    let all_tags: BTreeMap<String, Vec<(String, String)>> =
        tag_store::by_resource(&mut ctx.tx, &account, &ctx.caller.region).await?;
    let subnets: Vec<Subnet> = subnets
        .into_iter()
        .filter(|s| {
            let t = tags::of(&all_tags, &s.id.to_string());
            filters.matches(|name| match name {
                n if n.starts_with("tag") => tags::filter_values(n, t).unwrap_or_default(),
                "subnet-id" => vec![s.id.to_string()],
                "vpc-id" => vec![s.vpc.to_string()],
                "cidr-block" | "cidr" => vec![s.cidr.to_string()],
                "availability-zone" => vec![s.zone.clone()],
                "owner-id" => vec![s.account.clone()],
                "state" => vec!["available".into()],
                "default-for-az" => vec![s.default_for_az.to_string()],
                _ => vec![],
            })
        })
        .collect();
    let page = PageRequest {
        size: req.max_results,
        token: req.next_token.as_deref(),
        scope: scope("DescribeSubnets", &req),
        style: PageStyle::Ec2,
    };
    let (subnets, next_token) = paginate(ctx, &page, subnets, |s| s.id.to_string())?;
    let mut views = Vec::with_capacity(subnets.len());
    for s in &subnets {
        let t = tags::of(&all_tags, &s.id.to_string()).to_vec();
        views.push(subnet_view(ctx, s, &t).await?);
    }
    Ok(DescribeSubnetsResponse {
        subnets: views,
        next_token,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct SubnetIdRequest {
    subnet_id: String,
}

/// `DeleteSubnet`: refused with `DependencyViolation` while interfaces use it.
pub(crate) async fn delete_subnet(
    ctx: &mut Ctx<'_>,
    req: SubnetIdRequest,
) -> Result<ReturnTrue, ApiError> {
    let id: SubnetId = parse_id(&req.subnet_id, "InvalidSubnetID.Malformed")?;
    ctx.authorize("ec2:DeleteSubnet", &ec2_arn(ctx, "subnet", id))
        .await?;
    lookup::subnet(ctx, &req.subnet_id).await?;
    // Its route-table and network-ACL associations go with it, and its flow logs.
    network::delete_subnet(&mut ctx.tx, &id).await?;
    super::flow_logs::delete_on(ctx, &[id.to_string()]).await?;
    tag_store::remove_all(&mut ctx.tx, &id.to_string()).await?;
    Ok(ReturnTrue::YES)
}
