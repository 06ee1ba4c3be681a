//! ELBv2 tags on load balancers and target groups: `AddTags`, `RemoveTags`, `DescribeTags`
//! (reached through `tags::describe_tags` when the call is signed for ELBv2), and `Tags` on
//! `CreateLoadBalancer` / `CreateTargetGroup`.
//!
//! ELBv2's rules: keys of 1-128 characters, values of at most 256, the `aws:` prefix reserved
//! (`ValidationError`), a key twice in one call is `DuplicateTagKeys`, more than 50 tags on a
//! resource `TooManyTags`, and an unknown ARN `LoadBalancerNotFound` / `TargetGroupNotFound`.
//! Every ARN is checked before any tag changes.

use serde::{Deserialize, Serialize};
use underpass_store::tags;

use super::elb::{own_lb, own_tg, validation, Empty};
use super::tags::{view, TagView, MAX_TAGS};
use super::Ctx;
use crate::api::ApiError;

/// Most ARNs one call may name, as ELBv2 allows.
const MAX_ARNS: usize = 20;

/// One ELBv2 tag (`Value` optional).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct ElbTag {
    key: String,
    value: Option<String>,
}

/// Checks tags for setting.
pub(crate) fn check(list: &[ElbTag]) -> Result<Vec<(String, String)>, ApiError> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(list.len());
    for t in list {
        check_key(&t.key)?;
        let value = t.value.clone().unwrap_or_default();
        if value.chars().count() > 256 {
            return Err(validation("Tag values must be at most 256 characters long"));
        }
        if out.iter().any(|(k, _)| *k == t.key) {
            return Err(ApiError::client(
                "DuplicateTagKeys",
                format!(
                    "Tag key '{}' is given more than once",
                    t.key.chars().take(128).collect::<String>()
                ),
            ));
        }
        out.push((t.key.clone(), value));
    }
    if out.len() > MAX_TAGS {
        return Err(too_many());
    }
    Ok(out)
}

fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.chars().count() > 128 {
        return Err(validation("Tag keys must be 1 to 128 characters long"));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(validation(format!(
            "Tag keys starting with 'aws:' are reserved: '{}'",
            key.chars().take(128).collect::<String>()
        )));
    }
    Ok(())
}

fn too_many() -> ApiError {
    ApiError::client(
        "TooManyTags",
        format!("A resource can have at most {MAX_TAGS} tags"),
    )
}

/// Checks that `arn` is one of the caller's load balancers or target groups; returns the tag
/// table's resource type.
async fn resource(ctx: &mut Ctx<'_>, arn: &str) -> Result<&'static str, ApiError> {
    if arn.contains(":targetgroup/") {
        own_tg(ctx, arn).await?;
        Ok("targetgroup")
    } else if arn.contains(":loadbalancer/") {
        own_lb(ctx, arn).await?;
        Ok("loadbalancer")
    } else {
        Err(validation(format!(
            "'{}' is not a valid load balancer or target group ARN",
            arn.chars().take(64).collect::<String>()
        )))
    }
}

fn check_arns(arns: &[String]) -> Result<(), ApiError> {
    if arns.is_empty() {
        return Err(validation("ResourceArns must name at least one resource"));
    }
    if arns.len() > MAX_ARNS {
        return Err(validation(format!(
            "ResourceArns may name at most {MAX_ARNS} resources"
        )));
    }
    Ok(())
}

/// Stores the tags of a load balancer or target group just made (checked by [`check`]).
pub(crate) async fn save_new(
    ctx: &mut Ctx<'_>,
    arn: &str,
    resource_type: &str,
    list: &[(String, String)],
) -> Result<(), ApiError> {
    if list.is_empty() {
        return Ok(());
    }
    ctx.authorize("elasticloadbalancing:AddTags", arn).await?;
    let account = ctx.caller.account.clone();
    tags::set(
        &mut ctx.tx,
        &account,
        &ctx.caller.region,
        arn,
        resource_type,
        list,
    )
    .await?;
    Ok(())
}

/// `AddTags`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct AddTagsRequest {
    #[serde(default)]
    resource_arns: Vec<String>,
    #[serde(default)]
    tags: Vec<ElbTag>,
}

pub(crate) async fn add_tags(ctx: &mut Ctx<'_>, req: AddTagsRequest) -> Result<Empty, ApiError> {
    check_arns(&req.resource_arns)?;
    if req.tags.is_empty() {
        return Err(validation("Tags must name at least one tag"));
    }
    let list = check(&req.tags)?;
    let mut checked = Vec::with_capacity(req.resource_arns.len());
    for arn in &req.resource_arns {
        ctx.authorize("elasticloadbalancing:AddTags", arn).await?;
        let kind = resource(ctx, arn).await?;
        let mut keys: Vec<String> = tags::of(&mut ctx.tx, arn)
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        keys.extend(list.iter().map(|(k, _)| k.clone()));
        keys.sort_unstable();
        keys.dedup();
        if keys.len() > MAX_TAGS {
            return Err(too_many());
        }
        checked.push((arn.clone(), kind));
    }
    let account = ctx.caller.account.clone();
    for (arn, kind) in checked {
        tags::set(&mut ctx.tx, &account, &ctx.caller.region, &arn, kind, &list).await?;
    }
    Ok(Empty {})
}

/// `RemoveTags`: keys that are not there are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct RemoveTagsRequest {
    #[serde(default)]
    resource_arns: Vec<String>,
    #[serde(default)]
    tag_keys: Vec<String>,
}

pub(crate) async fn remove_tags(
    ctx: &mut Ctx<'_>,
    req: RemoveTagsRequest,
) -> Result<Empty, ApiError> {
    check_arns(&req.resource_arns)?;
    if req.tag_keys.is_empty() {
        return Err(validation("TagKeys must name at least one key"));
    }
    for k in &req.tag_keys {
        check_key(k)?;
    }
    for arn in &req.resource_arns {
        ctx.authorize("elasticloadbalancing:RemoveTags", arn)
            .await?;
        resource(ctx, arn).await?;
    }
    for arn in &req.resource_arns {
        for k in &req.tag_keys {
            tags::remove(&mut ctx.tx, arn, k, None).await?;
        }
    }
    Ok(Empty {})
}

/// One resource's tags in ELBv2's `DescribeTags` answer.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagDescription {
    resource_arn: String,
    tags: Vec<TagView>,
}

/// ELBv2's `DescribeTags` answer.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeTagsOutput {
    tag_descriptions: Vec<TagDescription>,
}

/// ELBv2's `DescribeTags`: the tags of each named resource, in the order named.
pub(crate) async fn describe(
    ctx: &mut Ctx<'_>,
    arns: &[String],
) -> Result<DescribeTagsOutput, ApiError> {
    check_arns(arns)?;
    ctx.authorize("elasticloadbalancing:DescribeTags", "*")
        .await?;
    let mut out = Vec::with_capacity(arns.len());
    for arn in arns {
        resource(ctx, arn).await?;
        let t = tags::of(&mut ctx.tx, arn).await?;
        out.push(TagDescription {
            resource_arn: arn.clone(),
            tags: view(&t),
        });
    }
    Ok(DescribeTagsOutput {
        tag_descriptions: out,
    })
}
