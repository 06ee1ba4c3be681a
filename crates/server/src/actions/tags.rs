//! EC2 tags: `CreateTags`, `DeleteTags`, `DescribeTags`, tags on create (`TagSpecifications`),
//! and the `tag:<key>` / `tag-key` filters of the `Describe*` actions.
//!
//! Taggable here: VPCs, subnets, security groups, interface endpoints, endpoint services,
//! route tables, network ACLs and flow logs (by id). EC2's rules: keys of 1-128 characters, values of at
//! most 256, at most 50 tags per resource (`TagLimitExceeded`), and keys starting with `aws:`
//! are AWS's own (`InvalidParameterValue`). A call that fails changes no tag of any resource.
//!
//! `DescribeTags` is also an ELBv2 action: the credential scope picks whose (`elb_tags.rs`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use underpass_store::tags;

use super::describe::{paginate, scope, Filter, Filters, PageRequest, PageStyle};
use super::lookup::{self, ec2_arn};
use super::Ctx;
use crate::api::ApiError;

/// Most tags one resource may carry.
pub(crate) const MAX_TAGS: usize = 50;
const MAX_KEY: usize = 128;
const MAX_VALUE: usize = 256;

/// One tag as requests give it (EC2's `Value` may be left out).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct Tag {
    pub(crate) key: Option<String>,
    pub(crate) value: Option<String>,
}

/// One tag as answers show it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagView {
    key: String,
    value: String,
}

/// A resource's tags for an answer.
pub(crate) fn view(tags: &[(String, String)]) -> Vec<TagView> {
    tags.iter()
        .map(|(key, value)| TagView {
            key: key.clone(),
            value: value.clone(),
        })
        .collect()
}

/// The tags of `id` from a per-account map (see [`tags::by_resource`]).
pub(crate) fn of<'m>(
    all: &'m BTreeMap<String, Vec<(String, String)>>,
    id: &str,
) -> &'m [(String, String)] {
    all.get(id).map(Vec::as_slice).unwrap_or(&[])
}

/// The values of a `tag-key` or `tag:<key>` filter for a resource with `tags`; `None` for any
/// other filter name.
pub(crate) fn filter_values(name: &str, tags: &[(String, String)]) -> Option<Vec<String>> {
    if name == "tag-key" {
        return Some(tags.iter().map(|(k, _)| k.clone()).collect());
    }
    let key = name.strip_prefix("tag:")?;
    Some(
        tags.iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect(),
    )
}

/// `TagSpecifications` of a create action.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct TagSpecification {
    resource_type: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
}

fn too_long(what: &str, max: usize) -> ApiError {
    ApiError::invalid(format!(
        "Tag {what}s must be at most {max} characters long."
    ))
}

/// Checks tags for setting: keys present, lengths, the reserved `aws:` prefix, no key twice.
pub(crate) fn check(list: &[Tag]) -> Result<Vec<(String, String)>, ApiError> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(list.len());
    for t in list {
        let key = t.key.clone().ok_or_else(|| ApiError::missing("Tag.Key"))?;
        let value = t.value.clone().unwrap_or_default();
        check_key(&key)?;
        if value.chars().count() > MAX_VALUE {
            return Err(too_long("value", MAX_VALUE));
        }
        if out.iter().any(|(k, _)| *k == key) {
            return Err(ApiError::invalid(format!(
                "Duplicate tag key '{}' in the request.",
                printable(&key)
            )));
        }
        out.push((key, value));
    }
    Ok(out)
}

fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() {
        return Err(ApiError::invalid("Tag keys must not be empty."));
    }
    if key.chars().count() > MAX_KEY {
        return Err(too_long("key", MAX_KEY));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(ApiError::invalid(format!(
            "Tag keys starting with 'aws:' are reserved for internal use: '{}'",
            printable(key)
        )));
    }
    Ok(())
}

fn printable(s: &str) -> String {
    s.chars()
        .take(MAX_KEY)
        .filter(|c| !c.is_control())
        .collect()
}

/// The tags `specs` give a new resource of EC2 type `resource_type` (`vpc`, …): every
/// specification must name that type. Authorizes `ec2:CreateTags` on the resource when there
/// are tags, as EC2 does for tags on create.
pub(crate) async fn on_create(
    ctx: &mut Ctx<'_>,
    specs: &[TagSpecification],
    resource_type: &str,
    arn: &str,
) -> Result<Vec<(String, String)>, ApiError> {
    let mut all = Vec::new();
    for spec in specs {
        match spec.resource_type.as_deref() {
            Some(t) if t == resource_type => {}
            None => return Err(ApiError::missing("TagSpecification.ResourceType")),
            Some(t) => {
                return Err(ApiError::invalid(format!(
                    "'{}' is not a valid taggable resource type for this operation.",
                    printable(t)
                )))
            }
        }
        all.extend(spec.tags.iter().cloned());
    }
    let tags = check(&all)?;
    if tags.len() > MAX_TAGS {
        return Err(limit(resource_type));
    }
    if !tags.is_empty() {
        ctx.authorize("ec2:CreateTags", arn).await?;
    }
    Ok(tags)
}

fn limit(id: &str) -> ApiError {
    ApiError::client(
        "TagLimitExceeded",
        format!("The maximum number of tags ({MAX_TAGS}) for the resource {id} has been reached."),
    )
}

/// Stores the tags of a resource just made (checked by [`on_create`]).
pub(crate) async fn save_new(
    ctx: &mut Ctx<'_>,
    id: &str,
    resource_type: &str,
    list: &[(String, String)],
) -> Result<(), ApiError> {
    if list.is_empty() {
        return Ok(());
    }
    let account = ctx.caller.account.clone();
    tags::set(
        &mut ctx.tx,
        &account,
        &ctx.caller.region,
        id,
        resource_type,
        list,
    )
    .await?;
    Ok(())
}

/// EC2's resource type of an id, and its ARN kind, by prefix; checks the resource is the
/// caller's (a missing or foreign one fails with its `…NotFound` code).
async fn resource(ctx: &mut Ctx<'_>, id: &str) -> Result<(&'static str, String), ApiError> {
    let (kind, arn_kind) = if id.starts_with("vpce-svc-") {
        lookup::service(ctx, id).await?;
        ("vpc-endpoint-service", "vpc-endpoint-service")
    } else if id.starts_with("vpce-") {
        let gateway = match id.parse() {
            Ok(eid) => super::vpce_gateway::find(ctx, &eid).await?.is_some(),
            Err(_) => false,
        };
        if !gateway {
            lookup::endpoint(ctx, id).await?;
        }
        ("vpc-endpoint", "vpc-endpoint")
    } else if id.starts_with("vpc-") {
        lookup::vpc(ctx, id).await?;
        ("vpc", "vpc")
    } else if id.starts_with("subnet-") {
        lookup::subnet(ctx, id).await?;
        ("subnet", "subnet")
    } else if id.starts_with("sg-") {
        lookup::group(ctx, id).await?;
        ("security-group", "security-group")
    } else if id.starts_with("rtb-") {
        super::route_tables::own(ctx, id).await?;
        ("route-table", "route-table")
    } else if id.starts_with("acl-") {
        super::network_acls::own(ctx, id).await?;
        ("network-acl", "network-acl")
    } else if id.starts_with("fl-") {
        super::flow_logs::own(ctx, id).await?;
        ("vpc-flow-log", "vpc-flow-log")
    } else {
        return Err(ApiError::client(
            "InvalidID",
            format!(
                "The ID '{}' is not valid",
                id.chars().take(64).collect::<String>()
            ),
        ));
    };
    Ok((kind, ec2_arn(ctx, arn_kind, id)))
}

/// `CreateTags`: adds or overwrites tags on resources.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateTagsRequest {
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    tags: Vec<Tag>,
}

pub(crate) async fn create_tags(
    ctx: &mut Ctx<'_>,
    req: CreateTagsRequest,
) -> Result<lookup::ReturnTrue, ApiError> {
    if req.resources.is_empty() {
        return Err(ApiError::missing("ResourceId"));
    }
    if req.tags.is_empty() {
        return Err(ApiError::missing("Tag"));
    }
    if req.resources.len() > 1000 {
        return Err(ApiError::invalid("At most 1000 resources per call."));
    }
    let list = check(&req.tags)?;
    let account = ctx.caller.account.clone();
    let mut checked = Vec::with_capacity(req.resources.len());
    for id in &req.resources {
        let (kind, arn) = resource(ctx, id).await?;
        ctx.authorize("ec2:CreateTags", &arn).await?;
        let mut keys: Vec<String> = tags::of(&mut ctx.tx, id)
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        keys.extend(list.iter().map(|(k, _)| k.clone()));
        keys.sort_unstable();
        keys.dedup();
        if keys.len() > MAX_TAGS {
            return Err(limit(id));
        }
        checked.push((id.clone(), kind));
    }
    for (id, kind) in checked {
        tags::set(&mut ctx.tx, &account, &ctx.caller.region, &id, kind, &list).await?;
    }
    Ok(lookup::ReturnTrue::YES)
}

/// `DeleteTags`: removes the named tags (a tag with a value only if the value matches), or,
/// with no tags named, every tag of the resources.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DeleteTagsRequest {
    #[serde(default)]
    resources: Vec<String>,
    tags: Option<Vec<Tag>>,
}

pub(crate) async fn delete_tags(
    ctx: &mut Ctx<'_>,
    req: DeleteTagsRequest,
) -> Result<lookup::ReturnTrue, ApiError> {
    if req.resources.is_empty() {
        return Err(ApiError::missing("ResourceId"));
    }
    let mut which: Vec<(String, Option<String>)> = Vec::new();
    for t in req.tags.iter().flatten() {
        let key = t.key.clone().ok_or_else(|| ApiError::missing("Tag.Key"))?;
        check_key(&key)?;
        which.push((key, t.value.clone()));
    }
    let mut checked = Vec::with_capacity(req.resources.len());
    for id in &req.resources {
        let (_, arn) = resource(ctx, id).await?;
        ctx.authorize("ec2:DeleteTags", &arn).await?;
        checked.push(id.clone());
    }
    for id in checked {
        if which.is_empty() {
            tags::remove_all(&mut ctx.tx, &id).await?;
        }
        for (key, value) in &which {
            tags::remove(&mut ctx.tx, &id, key, value.as_deref()).await?;
        }
    }
    Ok(lookup::ReturnTrue::YES)
}

/// `DescribeTags` in either service's shape: EC2's filters and paging, or ELBv2's ARNs.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DescribeTagsRequest {
    #[serde(default)]
    filters: Vec<Filter>,
    #[serde(skip_serializing)]
    max_results: Option<i64>,
    #[serde(skip_serializing)]
    next_token: Option<String>,
    #[serde(default, skip_serializing)]
    resource_arns: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagDescription {
    resource_id: String,
    resource_type: String,
    key: String,
    value: String,
}

#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum DescribeTagsResponse {
    Ec2 {
        #[serde(rename = "Tags")]
        tags: Vec<TagDescription>,
        #[serde(rename = "NextToken", skip_serializing_if = "Option::is_none")]
        next_token: Option<String>,
    },
    Elb(super::elb_tags::DescribeTagsOutput),
}

const TAG_FILTERS: &[&str] = &["key", "resource-id", "resource-type", "value"];

pub(crate) async fn describe_tags(
    ctx: &mut Ctx<'_>,
    req: DescribeTagsRequest,
) -> Result<DescribeTagsResponse, ApiError> {
    if ctx.caller.service == "elasticloadbalancing" {
        if !req.filters.is_empty() || req.max_results.is_some() || req.next_token.is_some() {
            return Err(super::elb::validation(
                "ELBv2's DescribeTags takes ResourceArns only",
            ));
        }
        let arns = req.resource_arns.unwrap_or_default();
        return super::elb_tags::describe(ctx, &arns)
            .await
            .map(DescribeTagsResponse::Elb);
    }
    if req.resource_arns.is_some() {
        return Err(ApiError::client(
            "UnknownParameter",
            "The parameter ResourceArns is not recognized",
        ));
    }
    ctx.authorize("ec2:DescribeTags", "*").await?;
    let filters = Filters::new(&req.filters, TAG_FILTERS)?;
    let account = ctx.caller.account.clone();
    let ec2_types = [
        "vpc",
        "subnet",
        "security-group",
        "vpc-endpoint",
        "vpc-endpoint-service",
        "route-table",
        "network-acl",
    ];
    let rows: Vec<tags::TagRow> = tags::of_account(&mut ctx.tx, &account, &ctx.caller.region)
        .await?
        .into_iter()
        .filter(|t| ec2_types.contains(&t.resource_type.as_str()))
        .filter(|t| {
            filters.matches(|name| match name {
                "key" => vec![t.key.clone()],
                "resource-id" => vec![t.resource_id.clone()],
                "resource-type" => vec![t.resource_type.clone()],
                "value" => vec![t.value.clone()],
                _ => vec![],
            })
        })
        .collect();
    let page = PageRequest {
        size: req.max_results,
        token: req.next_token.as_deref(),
        scope: scope("DescribeTags", &req),
        style: PageStyle::Ec2,
    };
    // One key per (resource, tag key), in a stable order.
    let (rows, next_token) = paginate(ctx, &page, rows, |t| {
        format!("{}\u{0}{}", t.resource_id, t.key)
    })?;
    Ok(DescribeTagsResponse::Ec2 {
        tags: rows
            .into_iter()
            .map(|t| TagDescription {
                resource_id: t.resource_id,
                resource_type: t.resource_type,
                key: t.key,
                value: t.value,
            })
            .collect(),
        next_token,
    })
}
