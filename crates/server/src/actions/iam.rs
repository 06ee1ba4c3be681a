//! IAM and STS actions: accounts, users, access keys, roles, policies, AssumeRole.

use serde::{Deserialize, Serialize};
use underpass_auth::credentials::{
    self, AccessKeyRecord, AssumeRoleRequest, KeyRing, KeyStatus, RoleInfo, SealedSecret,
};
use underpass_auth::iam::{NamedPolicy, Policy, PolicyKind};
use underpass_domain::{AccountId, PrincipalArn};
use underpass_store::iam as store;

use super::authz::{check_identity_policy, is_admin};
use super::util::{check_iam_name, check_iam_path, unique_id};
use super::Ctx;
use crate::api::ApiError;

/// RFC 3339 time, as IAM prints dates.
pub(crate) use crate::rfc3339 as ts;

/// `CreateAccount` (Underpass): a new account and its root access key. Admin only.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateAccountRequest {
    account_id: String,
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct NewKey {
    user_name: Option<String>,
    access_key_id: String,
    secret_access_key: String,
    status: &'static str,
    create_date: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateAccountResponse {
    account_id: String,
    access_key: NewKey,
}

pub(crate) async fn create_account(
    ctx: &mut Ctx<'_>,
    req: CreateAccountRequest,
) -> Result<CreateAccountResponse, ApiError> {
    if !is_admin(ctx) {
        return Err(ApiError::unauthorized(
            "Only the install's administrator may create accounts.",
        ));
    }
    let account: AccountId = req.account_id.parse()?;
    if req.name.is_empty() || req.name.len() > 64 || req.name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "Account names are 1-64 printable characters.",
        ));
    }
    if !store::ensure_account(&mut ctx.tx, account.as_str(), &req.name, ctx.meta.now).await? {
        return Err(ApiError::client(
            "EntityAlreadyExists",
            format!("Account {account} already exists."),
        ));
    }
    let key = new_key(ctx, &PrincipalArn::Root { account }).await?;
    let regions: Vec<String> = ctx
        .state
        .cfg
        .regions
        .iter()
        .map(|r| r.name.clone())
        .collect();
    for region in &regions {
        super::default_vpc::open_region(ctx, account.as_str(), region).await?;
    }
    Ok(CreateAccountResponse {
        account_id: account.to_string(),
        access_key: key,
    })
}

/// Creates an access key for `owner`, enforcing IAM's rules through the auth crate's key ring.
pub(crate) async fn new_key(ctx: &mut Ctx<'_>, owner: &PrincipalArn) -> Result<NewKey, ApiError> {
    let mut ring = load_ring(ctx, owner).await?;
    let created = ring.create(&ctx.state.master, owner, ctx.meta.now)?;
    save_new(ctx, &created.record).await?;
    Ok(NewKey {
        user_name: user_name(owner),
        access_key_id: created.record.id.to_string(),
        secret_access_key: created.secret.expose().to_owned(),
        status: "Active",
        create_date: ts(created.record.created),
    })
}

async fn load_ring(ctx: &mut Ctx<'_>, owner: &PrincipalArn) -> Result<KeyRing, ApiError> {
    let mut ring = KeyRing::new();
    for row in store::keys_of(&mut ctx.tx, &owner.to_string()).await? {
        ring.insert(AccessKeyRecord {
            id: row.access_key_id.parse().map_err(ApiError::internal)?,
            owner: owner.clone(),
            status: if row.status == "Active" {
                KeyStatus::Active
            } else {
                KeyStatus::Inactive
            },
            created: row.created,
            last_used: None,
            sealed_secret: SealedSecret::from_stored(row.sealed_secret),
        });
    }
    Ok(ring)
}

async fn save_new(ctx: &mut Ctx<'_>, r: &AccessKeyRecord) -> Result<(), ApiError> {
    store::insert_key(
        &mut ctx.tx,
        &store::KeyRow {
            access_key_id: r.id.to_string(),
            owner_arn: r.owner.to_string(),
            status: r.status.as_str().into(),
            created: r.created,
            last_used: None,
            sealed_secret: r.sealed_secret.as_stored().to_owned(),
        },
    )
    .await?;
    Ok(())
}

fn user_name(p: &PrincipalArn) -> Option<String> {
    match p {
        PrincipalArn::User { name, .. } => Some(name.clone()),
        _ => None,
    }
}

/// The principal a key action applies to: the named user in the caller's account, or the
/// caller itself (a user or the root) when no user is named.
async fn key_owner(ctx: &mut Ctx<'_>, user: Option<&str>) -> Result<PrincipalArn, ApiError> {
    match user {
        Some(name) => {
            check_iam_name("userName", name, 64)?;
            let arn = find_user(ctx, name).await?;
            Ok(arn)
        }
        None => match &ctx.caller.principal {
            p @ (PrincipalArn::User { .. } | PrincipalArn::Root { .. }) => Ok(p.clone()),
            _ => Err(ApiError::client(
                "ValidationError",
                "Must specify userName when calling with non-User credentials",
            )),
        },
    }
}

pub(crate) async fn find_user(ctx: &mut Ctx<'_>, name: &str) -> Result<PrincipalArn, ApiError> {
    let users = store::list_users(&mut ctx.tx, &ctx.caller.account).await?;
    for (arn, _) in users {
        let p: PrincipalArn = arn.parse().map_err(ApiError::internal)?;
        if matches!(&p, PrincipalArn::User { name: n, .. } if n == name) {
            return Ok(p);
        }
    }
    Err(ApiError::client(
        "NoSuchEntity",
        format!("The user with name {name} cannot be found."),
    )
    .with_status(axum::http::StatusCode::NOT_FOUND))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateUserRequest {
    user_name: String,
    path: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UserView {
    user_name: String,
    user_id: String,
    arn: String,
    path: String,
    create_date: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateUserResponse {
    user: UserView,
}

pub(crate) async fn create_user(
    ctx: &mut Ctx<'_>,
    req: CreateUserRequest,
) -> Result<CreateUserResponse, ApiError> {
    check_iam_name("userName", &req.user_name, 64)?;
    let path = req.path.unwrap_or_else(|| "/".into());
    check_iam_path(&path)?;
    let arn = ctx.arn("iam", &format!("user{path}{}", req.user_name));
    ctx.authorize("iam:CreateUser", &arn).await?;
    let id = unique_id(ctx, "AIDA")?;
    store::insert_user(
        &mut ctx.tx,
        &arn,
        &ctx.caller.account.clone(),
        &req.user_name,
        &path,
        &id,
        ctx.meta.now,
    )
    .await
    .map_err(|e| match e {
        underpass_store::StoreError::Conflict(m) => {
            ApiError::client("EntityAlreadyExists", m).with_status(axum::http::StatusCode::CONFLICT)
        }
        e => e.into(),
    })?;
    Ok(CreateUserResponse {
        user: UserView {
            user_name: req.user_name,
            user_id: id,
            arn,
            path,
            create_date: ts(ctx.meta.now),
        },
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct UserNameRequest {
    user_name: String,
}

#[derive(Serialize)]
pub(crate) struct Empty {}

pub(crate) async fn delete_user(
    ctx: &mut Ctx<'_>,
    req: UserNameRequest,
) -> Result<Empty, ApiError> {
    check_iam_name("userName", &req.user_name, 64)?;
    let arn = find_user(ctx, &req.user_name).await?.to_string();
    ctx.authorize("iam:DeleteUser", &arn).await?;
    store::delete_user(&mut ctx.tx, &arn).await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct PutUserPolicyRequest {
    user_name: String,
    policy_name: String,
    policy_document: String,
}

pub(crate) async fn put_user_policy(
    ctx: &mut Ctx<'_>,
    req: PutUserPolicyRequest,
) -> Result<Empty, ApiError> {
    check_iam_name("policyName", &req.policy_name, 128)?;
    let arn = find_user(ctx, &req.user_name).await?.to_string();
    ctx.authorize("iam:PutUserPolicy", &arn).await?;
    check_identity_policy(&req.policy_document)?;
    store::put_policy(&mut ctx.tx, &arn, &req.policy_name, &req.policy_document).await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DeleteUserPolicyRequest {
    user_name: String,
    policy_name: String,
}

pub(crate) async fn delete_user_policy(
    ctx: &mut Ctx<'_>,
    req: DeleteUserPolicyRequest,
) -> Result<Empty, ApiError> {
    let arn = find_user(ctx, &req.user_name).await?.to_string();
    ctx.authorize("iam:DeleteUserPolicy", &arn).await?;
    store::delete_policy(&mut ctx.tx, &arn, &req.policy_name).await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct OptionalUserRequest {
    user_name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateAccessKeyResponse {
    access_key: NewKey,
}

pub(crate) async fn create_access_key(
    ctx: &mut Ctx<'_>,
    req: OptionalUserRequest,
) -> Result<CreateAccessKeyResponse, ApiError> {
    let owner = key_owner(ctx, req.user_name.as_deref()).await?;
    ctx.authorize("iam:CreateAccessKey", &owner.to_string())
        .await?;
    Ok(CreateAccessKeyResponse {
        access_key: new_key(ctx, &owner).await?,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct KeyMetadata {
    user_name: Option<String>,
    access_key_id: String,
    status: &'static str,
    create_date: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListAccessKeysResponse {
    access_key_metadata: Vec<KeyMetadata>,
}

pub(crate) async fn list_access_keys(
    ctx: &mut Ctx<'_>,
    req: OptionalUserRequest,
) -> Result<ListAccessKeysResponse, ApiError> {
    let owner = key_owner(ctx, req.user_name.as_deref()).await?;
    ctx.authorize("iam:ListAccessKeys", &owner.to_string())
        .await?;
    let ring = load_ring(ctx, &owner).await?;
    let access_key_metadata = ring
        .list(&owner)
        .into_iter()
        .map(|k| KeyMetadata {
            user_name: user_name(&owner),
            access_key_id: k.id.to_string(),
            status: k.status.as_str(),
            create_date: ts(k.created),
        })
        .collect();
    Ok(ListAccessKeysResponse {
        access_key_metadata,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct UpdateAccessKeyRequest {
    user_name: Option<String>,
    access_key_id: String,
    status: String,
}

pub(crate) async fn update_access_key(
    ctx: &mut Ctx<'_>,
    req: UpdateAccessKeyRequest,
) -> Result<Empty, ApiError> {
    let owner = key_owner(ctx, req.user_name.as_deref()).await?;
    ctx.authorize("iam:UpdateAccessKey", &owner.to_string())
        .await?;
    let status: KeyStatus = req.status.parse()?;
    let id = req.access_key_id.parse().map_err(|_| {
        credentials::CredentialError::NoSuchEntity(req.access_key_id.chars().take(32).collect())
    })?;
    let mut ring = load_ring(ctx, &owner).await?;
    ring.set_status(&owner, &id, status)?;
    store::set_key_status(&mut ctx.tx, id.as_str(), status.as_str()).await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct KeyIdRequest {
    user_name: Option<String>,
    access_key_id: String,
}

pub(crate) async fn delete_access_key(
    ctx: &mut Ctx<'_>,
    req: KeyIdRequest,
) -> Result<Empty, ApiError> {
    let owner = key_owner(ctx, req.user_name.as_deref()).await?;
    ctx.authorize("iam:DeleteAccessKey", &owner.to_string())
        .await?;
    let id = req.access_key_id.parse().map_err(|_| {
        credentials::CredentialError::NoSuchEntity(req.access_key_id.chars().take(32).collect())
    })?;
    let mut ring = load_ring(ctx, &owner).await?;
    ring.delete(&owner, &id)?;
    store::delete_key(&mut ctx.tx, id.as_str()).await?;
    Ok(Empty {})
}

pub(crate) async fn rotate_access_key(
    ctx: &mut Ctx<'_>,
    req: KeyIdRequest,
) -> Result<CreateAccessKeyResponse, ApiError> {
    let owner = key_owner(ctx, req.user_name.as_deref()).await?;
    ctx.authorize("iam:CreateAccessKey", &owner.to_string())
        .await?;
    ctx.authorize("iam:UpdateAccessKey", &owner.to_string())
        .await?;
    let old = req.access_key_id.parse().map_err(|_| {
        credentials::CredentialError::NoSuchEntity(req.access_key_id.chars().take(32).collect())
    })?;
    let mut ring = load_ring(ctx, &owner).await?;
    let created = ring.rotate(&ctx.state.master, &owner, &old, ctx.meta.now)?;
    save_new(ctx, &created.record).await?;
    store::set_key_status(&mut ctx.tx, old.as_str(), "Inactive").await?;
    Ok(CreateAccessKeyResponse {
        access_key: NewKey {
            user_name: user_name(&owner),
            access_key_id: created.record.id.to_string(),
            secret_access_key: created.secret.expose().to_owned(),
            status: "Active",
            create_date: ts(created.record.created),
        },
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct LastUsedRequest {
    access_key_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LastUsedView {
    last_used_date: Option<String>,
    service_name: String,
    region: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LastUsedResponse {
    user_name: Option<String>,
    access_key_last_used: LastUsedView,
}

pub(crate) async fn get_access_key_last_used(
    ctx: &mut Ctx<'_>,
    req: LastUsedRequest,
) -> Result<LastUsedResponse, ApiError> {
    let missing = || {
        ApiError::from(credentials::CredentialError::NoSuchEntity(
            req.access_key_id.chars().take(32).collect(),
        ))
    };
    // Key uses are written in the background: the ones already noted (this very call's
    // included) land before this transaction's snapshot, which its first read takes.
    ctx.state.settle_key_use().await;
    let row = store::get_key(&mut ctx.tx, &req.access_key_id)
        .await?
        .ok_or_else(missing)?;
    let owner: PrincipalArn = row.owner_arn.parse().map_err(ApiError::internal)?;
    if owner.account().as_str() != ctx.caller.account {
        return Err(missing());
    }
    ctx.authorize("iam:GetAccessKeyLastUsed", &owner.to_string())
        .await?;
    let (date, service, region) = match row.last_used {
        Some((t, s, r)) => (Some(ts(t)), s, r),
        None => (None, "N/A".into(), "N/A".into()),
    };
    Ok(LastUsedResponse {
        user_name: user_name(&owner),
        access_key_last_used: LastUsedView {
            last_used_date: date,
            service_name: service,
            region,
        },
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateRoleRequest {
    role_name: String,
    assume_role_policy_document: String,
    path: Option<String>,
    max_session_duration: Option<u32>,
    description: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RoleView {
    role_name: String,
    role_id: String,
    arn: String,
    path: String,
    max_session_duration: u32,
    create_date: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateRoleResponse {
    role: RoleView,
}

pub(crate) async fn create_role(
    ctx: &mut Ctx<'_>,
    req: CreateRoleRequest,
) -> Result<CreateRoleResponse, ApiError> {
    check_iam_name("roleName", &req.role_name, 64)?;
    let path = req.path.unwrap_or_else(|| "/".into());
    check_iam_path(&path)?;
    if req.description.as_ref().is_some_and(|d| d.len() > 1000) {
        return Err(ApiError::client(
            "ValidationError",
            "Description is limited to 1000 characters.",
        ));
    }
    let max = req.max_session_duration.unwrap_or(3600);
    if !(3600..=43_200).contains(&max) {
        return Err(ApiError::client(
            "ValidationError",
            "MaxSessionDuration must be between 3600 and 43200 seconds.",
        ));
    }
    let arn = ctx.arn("iam", &format!("role{path}{}", req.role_name));
    ctx.authorize("iam:CreateRole", &arn).await?;
    Policy::parse(&req.assume_role_policy_document, PolicyKind::Trust)?;
    let role_id = unique_id(ctx, "AROA")?;
    let row = store::RoleRow {
        arn: arn.clone(),
        account: ctx.caller.account.clone(),
        name: req.role_name.clone(),
        role_id: role_id.clone(),
        trust_policy: req.assume_role_policy_document,
        max_session_secs: max,
    };
    store::insert_role(&mut ctx.tx, &row, ctx.meta.now)
        .await
        .map_err(|e| match e {
            underpass_store::StoreError::Conflict(m) => ApiError::client("EntityAlreadyExists", m)
                .with_status(axum::http::StatusCode::CONFLICT),
            e => e.into(),
        })?;
    if req.description.is_some() {
        store::set_role_description(&mut ctx.tx, &row.arn, req.description.as_deref()).await?;
    }
    Ok(CreateRoleResponse {
        role: RoleView {
            role_name: req.role_name,
            role_id,
            arn,
            path,
            max_session_duration: max,
            create_date: ts(ctx.meta.now),
        },
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct RoleNameRequest {
    role_name: String,
}

pub(crate) async fn find_role(ctx: &mut Ctx<'_>, name: &str) -> Result<store::RoleRow, ApiError> {
    check_iam_name("roleName", name, 64)?;
    let account = ctx.caller.account.clone();
    // Roles are looked up by name in the caller's account (paths are part of the ARN).
    let Some((arn, _)) = store::find_role_by_name(&mut ctx.tx, &account, name).await? else {
        return Err(ApiError::client(
            "NoSuchEntity",
            format!("The role with name {name} cannot be found."),
        )
        .with_status(axum::http::StatusCode::NOT_FOUND));
    };
    store::get_role(&mut ctx.tx, &arn)
        .await?
        .ok_or_else(|| ApiError::internal("role vanished inside a transaction"))
}

pub(crate) async fn delete_role(
    ctx: &mut Ctx<'_>,
    req: RoleNameRequest,
) -> Result<Empty, ApiError> {
    let role = find_role(ctx, &req.role_name).await?;
    ctx.authorize("iam:DeleteRole", &role.arn).await?;
    store::delete_role(&mut ctx.tx, &role.arn).await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct UpdateTrustRequest {
    role_name: String,
    policy_document: String,
}

pub(crate) async fn update_assume_role_policy(
    ctx: &mut Ctx<'_>,
    req: UpdateTrustRequest,
) -> Result<Empty, ApiError> {
    let role = find_role(ctx, &req.role_name).await?;
    ctx.authorize("iam:UpdateAssumeRolePolicy", &role.arn)
        .await?;
    Policy::parse(&req.policy_document, PolicyKind::Trust)?;
    store::set_trust_policy(&mut ctx.tx, &role.arn, &req.policy_document).await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct PutRolePolicyRequest {
    role_name: String,
    policy_name: String,
    policy_document: String,
}

pub(crate) async fn put_role_policy(
    ctx: &mut Ctx<'_>,
    req: PutRolePolicyRequest,
) -> Result<Empty, ApiError> {
    check_iam_name("policyName", &req.policy_name, 128)?;
    let role = find_role(ctx, &req.role_name).await?;
    ctx.authorize("iam:PutRolePolicy", &role.arn).await?;
    check_identity_policy(&req.policy_document)?;
    store::put_policy(
        &mut ctx.tx,
        &role.arn,
        &req.policy_name,
        &req.policy_document,
    )
    .await?;
    Ok(Empty {})
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct AssumeRoleRequestBody {
    role_arn: String,
    role_session_name: String,
    duration_seconds: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StsCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AssumedRoleUser {
    assumed_role_id: String,
    arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AssumeRoleResponse {
    credentials: StsCredentials,
    assumed_role_user: AssumedRoleUser,
}

pub(crate) async fn assume_role(
    ctx: &mut Ctx<'_>,
    req: AssumeRoleRequestBody,
) -> Result<AssumeRoleResponse, ApiError> {
    let role_arn: PrincipalArn = req.role_arn.parse()?;
    if !matches!(role_arn, PrincipalArn::Role { .. }) {
        return Err(ApiError::client(
            "ValidationError",
            format!("{} is not a role ARN", req.role_arn),
        ));
    }
    let denied = || {
        ApiError::client(
            "AccessDenied",
            format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
                ctx.caller.arn, req.role_arn
            ),
        )
        .with_status(axum::http::StatusCode::FORBIDDEN)
    };
    let Some(role) = store::get_role(&mut ctx.tx, &role_arn.to_string()).await? else {
        return Err(denied());
    };
    let trust = Policy::parse(&role.trust_policy, PolicyKind::Trust).map_err(ApiError::internal)?;
    // Identity side and trust side together, with AWS's cross-account rule.
    let named = NamedPolicy::new("trust-policy", trust.clone());
    ctx.authorize_with("sts:AssumeRole", &role.arn, Some((&named, &role.account)))
        .await
        .map_err(|_| denied())?;
    let caller = ctx.caller.principal.clone();
    let rctx = ctx.request_context("sts:AssumeRole", &role.arn);
    let creds = credentials::assume_role(
        &ctx.state.master,
        &AssumeRoleRequest {
            caller: &caller,
            role: RoleInfo {
                arn: &role_arn,
                role_id: &role.role_id,
                trust_policy: &trust,
                max_session_secs: role.max_session_secs,
            },
            session_name: &req.role_session_name,
            duration_secs: req.duration_seconds,
        },
        rctx,
        ctx.meta.now,
    )?;
    Ok(AssumeRoleResponse {
        credentials: StsCredentials {
            access_key_id: creds.access_key_id.to_string(),
            secret_access_key: creds.secret_access_key.expose().to_owned(),
            session_token: creds.session_token.expose().to_owned(),
            expiration: ts(creds.expiration),
        },
        assumed_role_user: AssumedRoleUser {
            assumed_role_id: creds.assumed_role_id,
            arn: creds.assumed_role_arn.to_string(),
        },
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoParams {}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CallerIdentity {
    account: String,
    arn: String,
    user_id: String,
}

pub(crate) async fn get_caller_identity(
    ctx: &mut Ctx<'_>,
    _req: NoParams,
) -> Result<CallerIdentity, ApiError> {
    // Like STS, this needs no permission.
    Ok(CallerIdentity {
        account: ctx.caller.account.clone(),
        arn: ctx.caller.arn.clone(),
        user_id: ctx
            .caller
            .userid
            .clone()
            .unwrap_or_else(|| ctx.caller.account.clone()),
    })
}
