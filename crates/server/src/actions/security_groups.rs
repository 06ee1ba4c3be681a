//! EC2 security groups: create, describe, delete. Their inbound rules are in `sg_rules.rs`.

use serde::{Deserialize, Serialize};
use underpass_domain::SecurityGroupId;
use underpass_store::records::{Direction, SecurityGroup};
use underpass_store::{network, tags as tag_store, StoreError};

use super::describe::{paginate, scope, Filter, Filters, PageRequest, PageStyle};
use super::lookup::{self, ec2_arn, no_duplicates, parse_id, ReturnTrue};
use super::sg_rules::{permissions, IpPermission};
use super::tags::{self, TagSpecification, TagView};
use super::Ctx;
use crate::api::ApiError;

pub(crate) const MAX_TEXT: usize = 255;

/// EC2's character set for VPC group names and descriptions.
fn check_text(field: &str, value: &str) -> Result<(), ApiError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_TEXT
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "Value for parameter {field} is invalid: it must be 1-{MAX_TEXT} characters of a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{{}}!$*"
        )))
    }
}

/// `CreateSecurityGroup` (the VPC is required: Underpass has no default VPC).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateGroupRequest {
    group_name: String,
    description: String,
    vpc_id: Option<String>,
    #[serde(default)]
    tag_specifications: Vec<TagSpecification>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateGroupResponse {
    group_id: String,
    security_group_arn: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<TagView>,
}

pub(crate) async fn create_security_group(
    ctx: &mut Ctx<'_>,
    req: CreateGroupRequest,
) -> Result<CreateGroupResponse, ApiError> {
    let id = SecurityGroupId::from_bits(ctx.new_id()?);
    let arn = ec2_arn(ctx, "security-group", id);
    ctx.authorize("ec2:CreateSecurityGroup", &arn).await?;
    check_text("GroupName", &req.group_name)?;
    if req.group_name.starts_with("sg-") {
        return Err(ApiError::invalid("Group names may not start with 'sg-'."));
    }
    check_text("GroupDescription", &req.description)?;
    let vpc_id = req.vpc_id.ok_or_else(|| ApiError::missing("VpcId"))?;
    let vpc = lookup::vpc(ctx, &vpc_id).await?;
    let tag_list = tags::on_create(ctx, &req.tag_specifications, "security-group", &arn).await?;
    let group = SecurityGroup {
        id,
        vpc: vpc.id,
        account: ctx.caller.account.clone(),
        region: vpc.region.clone(),
        name: req.group_name,
        description: req.description,
        rules: vec![],
        egress_rules: vec![],
    };
    network::insert_group(&mut ctx.tx, &group, ctx.meta.now)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => ApiError::client("InvalidGroup.Duplicate", m),
            e => e.into(),
        })?;
    super::sg_rules::add_default_egress(ctx, &id).await?;
    tags::save_new(ctx, &id.to_string(), "security-group", &tag_list).await?;
    Ok(CreateGroupResponse {
        group_id: id.to_string(),
        security_group_arn: arn,
        tags: tags::view(&tag_list),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GroupView {
    group_id: String,
    group_name: String,
    description: String,
    vpc_id: String,
    owner_id: String,
    security_group_arn: String,
    ip_permissions: Vec<IpPermission>,
    ip_permissions_egress: Vec<IpPermission>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<TagView>,
}

/// `DescribeSecurityGroups`.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DescribeGroupsRequest {
    #[serde(default)]
    group_ids: Vec<String>,
    #[serde(default)]
    group_names: Vec<String>,
    #[serde(default)]
    filters: Vec<Filter>,
    #[serde(skip_serializing)]
    max_results: Option<i64>,
    #[serde(skip_serializing)]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeGroupsResponse {
    security_groups: Vec<GroupView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

const GROUP_FILTERS: &[&str] = &[
    "group-id",
    "group-name",
    "vpc-id",
    "owner-id",
    "description",
    "tag-key",
];

pub(crate) async fn own_groups(ctx: &mut Ctx<'_>) -> Result<Vec<SecurityGroup>, ApiError> {
    let account = ctx.caller.account.clone();
    let ids = network::list_group_ids(&mut ctx.tx, Some(&account), None).await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let g = network::get_group(&mut ctx.tx, &id).await?;
        if ctx.here(&g) {
            out.push(g);
        }
    }
    Ok(out)
}

pub(crate) async fn describe_security_groups(
    ctx: &mut Ctx<'_>,
    req: DescribeGroupsRequest,
) -> Result<DescribeGroupsResponse, ApiError> {
    ctx.authorize("ec2:DescribeSecurityGroups", "*").await?;
    let filters = Filters::new(&req.filters, GROUP_FILTERS)?;
    no_duplicates("GroupIds", &req.group_ids)?;
    let mut groups = if req.group_ids.is_empty() {
        own_groups(ctx).await?
    } else {
        let mut out = Vec::with_capacity(req.group_ids.len());
        for id in &req.group_ids {
            out.push(lookup::group(ctx, id).await?);
        }
        out
    };
    if !req.group_names.is_empty() {
        for name in &req.group_names {
            if !groups.iter().any(|g| &g.name == name) {
                return Err(ApiError::client(
                    "InvalidGroup.NotFound",
                    format!(
                        "The security group '{}' does not exist",
                        name.chars().take(64).collect::<String>()
                    ),
                ));
            }
        }
        groups.retain(|g| req.group_names.contains(&g.name));
    }
    let account = ctx.caller.account.clone();
    let all_tags = tag_store::by_resource(&mut ctx.tx, &account, &ctx.caller.region).await?;
    let groups: Vec<SecurityGroup> = groups
        .into_iter()
        .filter(|g| {
            let t = tags::of(&all_tags, &g.id.to_string());
            filters.matches(|name| match name {
                n if n.starts_with("tag") => tags::filter_values(n, t).unwrap_or_default(),
                "group-id" => vec![g.id.to_string()],
                "group-name" => vec![g.name.clone()],
                "vpc-id" => vec![g.vpc.to_string()],
                "owner-id" => vec![g.account.clone()],
                "description" => vec![g.description.clone()],
                _ => vec![],
            })
        })
        .collect();
    let page = PageRequest {
        size: req.max_results,
        token: req.next_token.as_deref(),
        scope: scope("DescribeSecurityGroups", &req),
        style: PageStyle::Ec2,
    };
    let (groups, next_token) = paginate(ctx, &page, groups, |g| g.id.to_string())?;
    let security_groups = groups
        .iter()
        .map(|g| GroupView {
            group_id: g.id.to_string(),
            group_name: g.name.clone(),
            description: g.description.clone(),
            vpc_id: g.vpc.to_string(),
            owner_id: g.account.clone(),
            security_group_arn: ec2_arn(ctx, "security-group", g.id),
            ip_permissions: permissions(g, Direction::Ingress),
            ip_permissions_egress: permissions(g, Direction::Egress),
            tags: tags::view(tags::of(&all_tags, &g.id.to_string())),
        })
        .collect();
    Ok(DescribeGroupsResponse {
        security_groups,
        next_token,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DeleteGroupRequest {
    group_id: Option<String>,
}

/// `DeleteSecurityGroup`: refused with `DependencyViolation` while an endpoint uses the group
/// or another group's rule names it.
pub(crate) async fn delete_security_group(
    ctx: &mut Ctx<'_>,
    req: DeleteGroupRequest,
) -> Result<ReturnTrue, ApiError> {
    let id = req.group_id.ok_or_else(|| ApiError::missing("GroupId"))?;
    let gid: SecurityGroupId = parse_id(&id, "InvalidGroupId.Malformed")?;
    ctx.authorize(
        "ec2:DeleteSecurityGroup",
        &ec2_arn(ctx, "security-group", gid),
    )
    .await?;
    let group = lookup::group(ctx, &id).await?;
    if group.name == super::ec2::DEFAULT_GROUP {
        return Err(ApiError::client(
            "CannotDelete",
            format!("the specified group: \"{gid}\" name: \"default\" cannot be deleted by a user"),
        ));
    }
    network::delete_group(&mut ctx.tx, &gid).await?;
    tag_store::remove_all(&mut ctx.tx, &gid.to_string()).await?;
    Ok(ReturnTrue::YES)
}
