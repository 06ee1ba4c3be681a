//! Attaching managed policies to users and roles: `Attach/DetachUserPolicy`,
//! `Attach/DetachRolePolicy`, `ListAttachedUserPolicies`, `ListAttachedRolePolicies`.
//!
//! IAM's rules: at most 10 managed policies per user or role (`LimitExceeded`); attaching one
//! that is already attached succeeds and changes nothing; detaching one that is not attached is
//! `NoSuchEntity`. The permission is checked on the user or role (`iam:AttachUserPolicy` on
//! `arn:aws:iam::<account>:user/<name>`), as IAM does.

use serde::{Deserialize, Serialize};
use underpass_store::policies as store;

use super::describe::{paginate, scope, PageRequest, PageStyle};
use super::iam::{find_role, find_user, Empty};
use super::iam_policies::{conflict, own_policy};
use super::iam_read::no_such_entity;
use super::util::check_iam_name;
use super::Ctx;
use crate::api::ApiError;

/// Most managed policies one user or role may have.
const MAX_ATTACHED: usize = 10;

/// `AttachUserPolicy` / `DetachUserPolicy`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct UserPolicyRequest {
    user_name: String,
    policy_arn: String,
}

/// `AttachRolePolicy` / `DetachRolePolicy`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct RolePolicyRequest {
    role_name: String,
    policy_arn: String,
}

async fn user_arn(ctx: &mut Ctx<'_>, name: &str) -> Result<String, ApiError> {
    check_iam_name("userName", name, 64)?;
    Ok(find_user(ctx, name).await?.to_string())
}

async fn attach(
    ctx: &mut Ctx<'_>,
    action: &str,
    kind: &str,
    principal: &str,
    policy_arn: &str,
) -> Result<Empty, ApiError> {
    ctx.authorize(action, principal).await?;
    let p = own_policy(ctx, policy_arn).await?;
    let attached = store::attached_to(&mut ctx.tx, principal).await?;
    if attached.iter().any(|a| a.arn == p.arn) {
        return Ok(Empty {});
    }
    if attached.len() >= MAX_ATTACHED {
        return Err(conflict(
            "LimitExceeded",
            format!("Cannot exceed quota for PoliciesPer{kind}: {MAX_ATTACHED}"),
        ));
    }
    store::attach(&mut ctx.tx, &p.arn, principal).await?;
    Ok(Empty {})
}

async fn detach(
    ctx: &mut Ctx<'_>,
    action: &str,
    principal: &str,
    policy_arn: &str,
) -> Result<Empty, ApiError> {
    ctx.authorize(action, principal).await?;
    let p = own_policy(ctx, policy_arn).await?;
    if !store::detach(&mut ctx.tx, &p.arn, principal).await? {
        return Err(no_such_entity(format!("Policy {} was not found.", p.arn)));
    }
    Ok(Empty {})
}

pub(crate) async fn attach_user_policy(
    ctx: &mut Ctx<'_>,
    req: UserPolicyRequest,
) -> Result<Empty, ApiError> {
    let arn = user_arn(ctx, &req.user_name).await?;
    attach(ctx, "iam:AttachUserPolicy", "User", &arn, &req.policy_arn).await
}

pub(crate) async fn detach_user_policy(
    ctx: &mut Ctx<'_>,
    req: UserPolicyRequest,
) -> Result<Empty, ApiError> {
    let arn = user_arn(ctx, &req.user_name).await?;
    detach(ctx, "iam:DetachUserPolicy", &arn, &req.policy_arn).await
}

pub(crate) async fn attach_role_policy(
    ctx: &mut Ctx<'_>,
    req: RolePolicyRequest,
) -> Result<Empty, ApiError> {
    let role = find_role(ctx, &req.role_name).await?;
    attach(
        ctx,
        "iam:AttachRolePolicy",
        "Role",
        &role.arn,
        &req.policy_arn,
    )
    .await
}

pub(crate) async fn detach_role_policy(
    ctx: &mut Ctx<'_>,
    req: RolePolicyRequest,
) -> Result<Empty, ApiError> {
    let role = find_role(ctx, &req.role_name).await?;
    detach(ctx, "iam:DetachRolePolicy", &role.arn, &req.policy_arn).await
}

/// `ListAttachedUserPolicies` / `ListAttachedRolePolicies`.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct ListAttachedRequest {
    user_name: Option<String>,
    role_name: Option<String>,
    path_prefix: Option<String>,
    #[serde(skip_serializing)]
    marker: Option<String>,
    #[serde(skip_serializing)]
    max_items: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AttachedPolicy {
    policy_name: String,
    policy_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListAttachedResponse {
    attached_policies: Vec<AttachedPolicy>,
    is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    marker: Option<String>,
}

async fn list_attached(
    ctx: &mut Ctx<'_>,
    req: &ListAttachedRequest,
    action: &str,
    principal: &str,
) -> Result<ListAttachedResponse, ApiError> {
    ctx.authorize(&format!("iam:{action}"), principal).await?;
    let prefix = req.path_prefix.clone().unwrap_or_else(|| "/".into());
    let policies: Vec<_> = store::attached_to(&mut ctx.tx, principal)
        .await?
        .into_iter()
        .filter(|p| p.path.starts_with(&prefix))
        .collect();
    let page = PageRequest {
        size: req.max_items,
        token: req.marker.as_deref(),
        scope: scope(action, req),
        style: PageStyle::Iam,
    };
    let (policies, marker) = paginate(ctx, &page, policies, |p| p.name.clone())?;
    Ok(ListAttachedResponse {
        attached_policies: policies
            .into_iter()
            .map(|p| AttachedPolicy {
                policy_name: p.name,
                policy_arn: p.arn,
            })
            .collect(),
        is_truncated: marker.is_some(),
        marker,
    })
}

pub(crate) async fn list_attached_user_policies(
    ctx: &mut Ctx<'_>,
    req: ListAttachedRequest,
) -> Result<ListAttachedResponse, ApiError> {
    let (Some(name), None) = (&req.user_name, &req.role_name) else {
        return Err(ApiError::client(
            "ValidationError",
            "ListAttachedUserPolicies takes UserName (and no RoleName)",
        ));
    };
    let arn = user_arn(ctx, name).await?;
    list_attached(ctx, &req, "ListAttachedUserPolicies", &arn).await
}

pub(crate) async fn list_attached_role_policies(
    ctx: &mut Ctx<'_>,
    req: ListAttachedRequest,
) -> Result<ListAttachedResponse, ApiError> {
    let (None, Some(name)) = (&req.user_name, &req.role_name) else {
        return Err(ApiError::client(
            "ValidationError",
            "ListAttachedRolePolicies takes RoleName (and no UserName)",
        ));
    };
    let role = find_role(ctx, name).await?;
    list_attached(ctx, &req, "ListAttachedRolePolicies", &role.arn).await
}
