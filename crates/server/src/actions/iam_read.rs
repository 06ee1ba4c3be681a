//! IAM reads: users, roles and their inline policies (`GetUser`, `ListUsers`, `GetRole`,
//! `ListRoles`, `Get/ListUserPolicies`, `Get/ListRolePolicies`), and `DeleteRolePolicy`.
//!
//! Lists page as IAM does: `MaxItems` (1-1000, default 100), `Marker`, `IsTruncated`; markers
//! are the bound, expiring tokens of `describe.rs`. Names are looked up in the caller's account
//! only; a missing one is `NoSuchEntity` (404).

use serde::{Deserialize, Serialize};
use underpass_domain::PrincipalArn;
use underpass_store::iam as store;

use super::describe::{paginate, scope, PageRequest, PageStyle};
use super::iam::{find_role, find_user, ts, Empty};
use super::util::check_iam_name;
use super::Ctx;
use crate::api::ApiError;

/// IAM's `NoSuchEntity` (HTTP 404).
pub(crate) fn no_such_entity(message: impl Into<String>) -> ApiError {
    ApiError::client("NoSuchEntity", message).with_status(axum::http::StatusCode::NOT_FOUND)
}

/// The path of an IAM ARN's resource: `role/a/b/name` → `/a/b/`.
pub(crate) fn path_of(arn: &str) -> String {
    let resource = arn.splitn(6, ':').nth(5).unwrap_or("");
    let rest = resource.split_once('/').map_or("", |(_, r)| r);
    match rest.rfind('/') {
        Some(i) => format!("/{}", &rest[..=i]),
        None => "/".into(),
    }
}

fn check_prefix(prefix: Option<&str>) -> Result<&str, ApiError> {
    let p = prefix.unwrap_or("/");
    let ok = p.starts_with('/') && p.len() <= 512 && p.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(p)
    } else {
        Err(ApiError::client(
            "ValidationError",
            "The PathPrefix must begin with / and contain only printable ASCII characters.",
        ))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UserOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<String>,
    user_id: String,
    arn: String,
    create_date: String,
}

impl From<&store::UserDetail> for UserOut {
    fn from(u: &store::UserDetail) -> Self {
        Self {
            path: Some(u.path.clone()),
            user_name: Some(u.name.clone()),
            user_id: u.user_id.clone(),
            arn: u.arn.clone(),
            create_date: ts(u.created),
        }
    }
}

/// `GetUser`: the named user, or without a name the caller itself (a user, or the account
/// root, which has no name or path).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct GetUserRequest {
    user_name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetUserResponse {
    user: UserOut,
}

pub(crate) async fn get_user(
    ctx: &mut Ctx<'_>,
    req: GetUserRequest,
) -> Result<GetUserResponse, ApiError> {
    let name = match (&req.user_name, &ctx.caller.principal) {
        (Some(n), _) => n.clone(),
        (None, PrincipalArn::User { name, .. }) => name.clone(),
        (None, PrincipalArn::Root { .. }) => {
            let arn = ctx.caller.arn.clone();
            ctx.authorize("iam:GetUser", &arn).await?;
            let account = ctx.caller.account.clone();
            let created = store::account_created(&mut ctx.tx, &account).await?;
            return Ok(GetUserResponse {
                user: UserOut {
                    path: None,
                    user_name: None,
                    user_id: account,
                    arn,
                    create_date: ts(created.unwrap_or(ctx.meta.now)),
                },
            });
        }
        (None, _) => {
            return Err(ApiError::client(
                "ValidationError",
                "Must specify userName when calling with non-User credentials",
            ))
        }
    };
    check_iam_name("userName", &name, 64)?;
    let arn = find_user(ctx, &name).await?.to_string();
    ctx.authorize("iam:GetUser", &arn).await?;
    let account = ctx.caller.account.clone();
    let user = store::user_details(&mut ctx.tx, &account)
        .await?
        .into_iter()
        .find(|u| u.arn == arn)
        .ok_or_else(|| no_such_entity(format!("The user with name {name} cannot be found.")))?;
    Ok(GetUserResponse {
        user: UserOut::from(&user),
    })
}

/// IAM list paging parameters with a path prefix.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct ListRequest {
    path_prefix: Option<String>,
    #[serde(skip_serializing)]
    marker: Option<String>,
    #[serde(skip_serializing)]
    max_items: Option<i64>,
}

impl ListRequest {
    fn page(&self, action: &str) -> PageRequest<'_> {
        PageRequest {
            size: self.max_items,
            token: self.marker.as_deref(),
            scope: scope(action, self),
            style: PageStyle::Iam,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListUsersResponse {
    users: Vec<UserOut>,
    is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    marker: Option<String>,
}

pub(crate) async fn list_users(
    ctx: &mut Ctx<'_>,
    req: ListRequest,
) -> Result<ListUsersResponse, ApiError> {
    let prefix = check_prefix(req.path_prefix.as_deref())?.to_owned();
    let resource = ctx.arn("iam", "user/*");
    ctx.authorize("iam:ListUsers", &resource).await?;
    let account = ctx.caller.account.clone();
    let users: Vec<store::UserDetail> = store::user_details(&mut ctx.tx, &account)
        .await?
        .into_iter()
        .filter(|u| u.path.starts_with(&prefix))
        .collect();
    let (users, marker) = paginate(ctx, &req.page("ListUsers"), users, |u| u.name.clone())?;
    Ok(ListUsersResponse {
        users: users.iter().map(UserOut::from).collect(),
        is_truncated: marker.is_some(),
        marker,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RoleOut {
    path: String,
    role_name: String,
    role_id: String,
    arn: String,
    create_date: String,
    assume_role_policy_document: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    max_session_duration: u32,
}

impl From<&store::RoleDetail> for RoleOut {
    fn from(d: &store::RoleDetail) -> Self {
        Self {
            path: path_of(&d.role.arn),
            role_name: d.role.name.clone(),
            role_id: d.role.role_id.clone(),
            arn: d.role.arn.clone(),
            create_date: ts(d.created),
            assume_role_policy_document: d.role.trust_policy.clone(),
            description: d.description.clone(),
            max_session_duration: d.role.max_session_secs,
        }
    }
}

/// `GetRole`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct RoleNameRequest {
    role_name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetRoleResponse {
    role: RoleOut,
}

pub(crate) async fn get_role(
    ctx: &mut Ctx<'_>,
    req: RoleNameRequest,
) -> Result<GetRoleResponse, ApiError> {
    let role = find_role(ctx, &req.role_name).await?;
    ctx.authorize("iam:GetRole", &role.arn).await?;
    let account = ctx.caller.account.clone();
    let detail = store::role_details(&mut ctx.tx, &account)
        .await?
        .into_iter()
        .find(|d| d.role.arn == role.arn)
        .ok_or_else(|| ApiError::internal("role vanished inside a transaction"))?;
    Ok(GetRoleResponse {
        role: RoleOut::from(&detail),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListRolesResponse {
    roles: Vec<RoleOut>,
    is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    marker: Option<String>,
}

pub(crate) async fn list_roles(
    ctx: &mut Ctx<'_>,
    req: ListRequest,
) -> Result<ListRolesResponse, ApiError> {
    let prefix = check_prefix(req.path_prefix.as_deref())?.to_owned();
    let resource = ctx.arn("iam", "role/*");
    ctx.authorize("iam:ListRoles", &resource).await?;
    let account = ctx.caller.account.clone();
    let roles: Vec<store::RoleDetail> = store::role_details(&mut ctx.tx, &account)
        .await?
        .into_iter()
        .filter(|d| path_of(&d.role.arn).starts_with(&prefix))
        .collect();
    let (roles, marker) = paginate(ctx, &req.page("ListRoles"), roles, |d| d.role.name.clone())?;
    Ok(ListRolesResponse {
        roles: roles.iter().map(RoleOut::from).collect(),
        is_truncated: marker.is_some(),
        marker,
    })
}

/// An inline policy of a principal, or `NoSuchEntity`.
async fn inline_policy(
    ctx: &mut Ctx<'_>,
    owner: &str,
    kind: &str,
    name: &str,
) -> Result<String, ApiError> {
    check_iam_name("policyName", name, 128)?;
    store::policies_of(&mut ctx.tx, owner)
        .await?
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, doc)| doc)
        .ok_or_else(|| {
            no_such_entity(format!(
                "The {kind} policy with name {name} cannot be found."
            ))
        })
}

/// `GetUserPolicy`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct GetUserPolicyRequest {
    user_name: String,
    policy_name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetUserPolicyResponse {
    user_name: String,
    policy_name: String,
    policy_document: String,
}

pub(crate) async fn get_user_policy(
    ctx: &mut Ctx<'_>,
    req: GetUserPolicyRequest,
) -> Result<GetUserPolicyResponse, ApiError> {
    check_iam_name("userName", &req.user_name, 64)?;
    let arn = find_user(ctx, &req.user_name).await?.to_string();
    ctx.authorize("iam:GetUserPolicy", &arn).await?;
    let doc = inline_policy(ctx, &arn, "user", &req.policy_name).await?;
    Ok(GetUserPolicyResponse {
        user_name: req.user_name,
        policy_name: req.policy_name,
        policy_document: doc,
    })
}

/// `ListUserPolicies` / `ListRolePolicies`.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct ListInlineRequest {
    user_name: Option<String>,
    role_name: Option<String>,
    #[serde(skip_serializing)]
    marker: Option<String>,
    #[serde(skip_serializing)]
    max_items: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListInlineResponse {
    policy_names: Vec<String>,
    is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    marker: Option<String>,
}

async fn list_inline(
    ctx: &mut Ctx<'_>,
    req: &ListInlineRequest,
    action: &str,
    owner: &str,
) -> Result<ListInlineResponse, ApiError> {
    ctx.authorize(&format!("iam:{action}"), owner).await?;
    let names: Vec<String> = store::policies_of(&mut ctx.tx, owner)
        .await?
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let page = PageRequest {
        size: req.max_items,
        token: req.marker.as_deref(),
        scope: scope(action, req),
        style: PageStyle::Iam,
    };
    let (policy_names, marker) = paginate(ctx, &page, names, Clone::clone)?;
    Ok(ListInlineResponse {
        policy_names,
        is_truncated: marker.is_some(),
        marker,
    })
}

pub(crate) async fn list_user_policies(
    ctx: &mut Ctx<'_>,
    req: ListInlineRequest,
) -> Result<ListInlineResponse, ApiError> {
    let (Some(name), None) = (&req.user_name, &req.role_name) else {
        return Err(ApiError::client(
            "ValidationError",
            "ListUserPolicies takes UserName (and no RoleName)",
        ));
    };
    check_iam_name("userName", name, 64)?;
    let arn = find_user(ctx, name).await?.to_string();
    list_inline(ctx, &req, "ListUserPolicies", &arn).await
}

pub(crate) async fn list_role_policies(
    ctx: &mut Ctx<'_>,
    req: ListInlineRequest,
) -> Result<ListInlineResponse, ApiError> {
    let (None, Some(name)) = (&req.user_name, &req.role_name) else {
        return Err(ApiError::client(
            "ValidationError",
            "ListRolePolicies takes RoleName (and no UserName)",
        ));
    };
    let role = find_role(ctx, name).await?;
    list_inline(ctx, &req, "ListRolePolicies", &role.arn).await
}

/// `GetRolePolicy` / `DeleteRolePolicy`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct RolePolicyRequest {
    role_name: String,
    policy_name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetRolePolicyResponse {
    role_name: String,
    policy_name: String,
    policy_document: String,
}

pub(crate) async fn get_role_policy(
    ctx: &mut Ctx<'_>,
    req: RolePolicyRequest,
) -> Result<GetRolePolicyResponse, ApiError> {
    let role = find_role(ctx, &req.role_name).await?;
    ctx.authorize("iam:GetRolePolicy", &role.arn).await?;
    let doc = inline_policy(ctx, &role.arn, "role", &req.policy_name).await?;
    Ok(GetRolePolicyResponse {
        role_name: role.name,
        policy_name: req.policy_name,
        policy_document: doc,
    })
}

pub(crate) async fn delete_role_policy(
    ctx: &mut Ctx<'_>,
    req: RolePolicyRequest,
) -> Result<Empty, ApiError> {
    let role = find_role(ctx, &req.role_name).await?;
    ctx.authorize("iam:DeleteRolePolicy", &role.arn).await?;
    inline_policy(ctx, &role.arn, "role", &req.policy_name).await?;
    store::delete_policy(&mut ctx.tx, &role.arn, &req.policy_name).await?;
    Ok(Empty {})
}
