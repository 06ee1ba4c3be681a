//! IAM customer managed policies: `CreatePolicy`, `GetPolicy`, `ListPolicies`, `DeletePolicy`
//! and their versions (`Create/Get/Delete/ListPolicyVersion(s)`, `SetDefaultPolicyVersion`).
//! Attaching them to users and roles is in `iam_attach.rs`; the default versions of attached
//! policies take part in every authorization (`authz.rs`).
//!
//! IAM's rules: ARN `arn:aws:iam::<account>:policy<path><name>`, id `ANPA…`, the first version
//! `v1` is the default, at most 5 versions (`LimitExceeded`), documents of at most 6144
//! non-blank characters that parse as identity policies (`MalformedPolicyDocument`), the
//! default version cannot be deleted, and a policy is deleted only once it is attached nowhere
//! and has no other version (`DeleteConflict`). Underpass has no AWS managed policies: `Scope`
//! `AWS` lists nothing.

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use underpass_store::policies::{self as store, ManagedPolicy};
use underpass_store::tags as tag_store;

use super::authz::check_identity_policy;
use super::describe::{paginate, scope, PageRequest, PageStyle};
use super::iam::{ts, Empty};
use super::iam_read::no_such_entity;
use super::tags::TagView;
use super::util::{check_iam_name, check_iam_path, unique_id};
use super::Ctx;
use crate::api::ApiError;

/// Most versions a policy keeps.
pub(crate) const MAX_VERSIONS: usize = 5;
/// Largest managed-policy document, in non-whitespace characters.
const MAX_POLICY_CHARS: usize = 6144;

/// A 409 with `code`, as IAM answers conflicts and quotas.
pub(crate) fn conflict(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::client(code, message).with_status(StatusCode::CONFLICT)
}

fn invalid_input(message: impl Into<String>) -> ApiError {
    ApiError::client("InvalidInput", message)
}

fn check_document(doc: &str) -> Result<(), ApiError> {
    let size = doc.chars().filter(|c| !c.is_whitespace()).count();
    if size > MAX_POLICY_CHARS {
        return Err(conflict(
            "LimitExceeded",
            format!("Cannot exceed quota for PolicySize: {MAX_POLICY_CHARS}"),
        ));
    }
    check_identity_policy(doc)
}

/// The caller's policy `arn`, or `NoSuchEntity` (also for another account's and for AWS
/// managed policies, which Underpass does not have).
pub(crate) async fn own_policy(ctx: &mut Ctx<'_>, arn: &str) -> Result<ManagedPolicy, ApiError> {
    let shape_ok = arn.len() <= 2048
        && arn.starts_with("arn:aws:iam::")
        && arn
            .splitn(6, ':')
            .nth(5)
            .is_some_and(|r| r.starts_with("policy/"));
    if !shape_ok {
        return Err(invalid_input(format!(
            "ARN {} is not valid.",
            arn.chars().take(128).collect::<String>()
        )));
    }
    match store::get_policy(&mut ctx.tx, arn).await? {
        Some(p) if p.account == ctx.caller.account => Ok(p),
        _ => Err(no_such_entity(format!(
            "Policy {} does not exist or is not attachable.",
            arn.chars().take(128).collect::<String>()
        ))),
    }
}

/// One IAM tag (both parts required).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct IamTag {
    key: String,
    value: String,
}

fn check_tags(tags: &[IamTag]) -> Result<Vec<(String, String)>, ApiError> {
    if tags.len() > 50 {
        return Err(conflict(
            "LimitExceeded",
            "Cannot exceed quota for TagsPerPolicy: 50",
        ));
    }
    let mut out: Vec<(String, String)> = Vec::with_capacity(tags.len());
    for t in tags {
        if t.key.is_empty() || t.key.chars().count() > 128 || t.value.chars().count() > 256 {
            return Err(invalid_input(
                "Tag keys must be 1-128 characters and values at most 256.",
            ));
        }
        if t.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid_input("Tag keys starting with 'aws:' are reserved."));
        }
        if out.iter().any(|(k, _)| k.eq_ignore_ascii_case(&t.key)) {
            return Err(invalid_input("Duplicate tag keys found."));
        }
        out.push((t.key.clone(), t.value.clone()));
    }
    Ok(out)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PolicyView {
    policy_name: String,
    policy_id: String,
    arn: String,
    path: String,
    default_version_id: String,
    attachment_count: u32,
    permissions_boundary_usage_count: u32,
    is_attachable: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    description: String,
    create_date: String,
    update_date: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<TagView>,
}

fn view(p: &ManagedPolicy, tags: &[(String, String)]) -> PolicyView {
    PolicyView {
        policy_name: p.name.clone(),
        policy_id: p.policy_id.clone(),
        arn: p.arn.clone(),
        path: p.path.clone(),
        default_version_id: p.default_version.clone(),
        attachment_count: p.attachment_count,
        permissions_boundary_usage_count: 0,
        is_attachable: true,
        description: p.description.clone(),
        create_date: ts(p.created),
        update_date: ts(p.updated),
        tags: super::tags::view(tags),
    }
}

/// `CreatePolicy`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreatePolicyRequest {
    policy_name: String,
    path: Option<String>,
    policy_document: String,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<IamTag>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PolicyResponse {
    policy: PolicyView,
}

pub(crate) async fn create_policy(
    ctx: &mut Ctx<'_>,
    req: CreatePolicyRequest,
) -> Result<PolicyResponse, ApiError> {
    check_iam_name("policyName", &req.policy_name, 128)?;
    let path = req.path.unwrap_or_else(|| "/".into());
    check_iam_path(&path)?;
    let description = req.description.unwrap_or_default();
    if description.chars().count() > 1000 {
        return Err(ApiError::client(
            "ValidationError",
            "Description is limited to 1000 characters.",
        ));
    }
    let arn = ctx.arn("iam", &format!("policy{path}{}", req.policy_name));
    ctx.authorize("iam:CreatePolicy", &arn).await?;
    check_document(&req.policy_document)?;
    let tags = check_tags(&req.tags)?;
    if !tags.is_empty() {
        ctx.authorize("iam:TagPolicy", &arn).await?;
    }
    let p = ManagedPolicy {
        arn: arn.clone(),
        account: ctx.caller.account.clone(),
        name: req.policy_name,
        path,
        policy_id: unique_id(ctx, "ANPA")?,
        description,
        default_version: "v1".into(),
        next_version: 2,
        attachment_count: 0,
        created: ctx.meta.now,
        updated: ctx.meta.now,
    };
    store::insert_policy(&mut ctx.tx, &p, &req.policy_document)
        .await
        .map_err(|e| match e {
            underpass_store::StoreError::Conflict(m) => conflict("EntityAlreadyExists", m),
            e => e.into(),
        })?;
    let account = ctx.caller.account.clone();
    // IAM is global: its tags belong to no region.
    tag_store::set(&mut ctx.tx, &account, "", &arn, "policy", &tags).await?;
    Ok(PolicyResponse {
        policy: view(&p, &tags),
    })
}

/// `GetPolicy` / `DeletePolicy`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct PolicyArnRequest {
    policy_arn: String,
}

pub(crate) async fn get_policy(
    ctx: &mut Ctx<'_>,
    req: PolicyArnRequest,
) -> Result<PolicyResponse, ApiError> {
    let p = own_policy(ctx, &req.policy_arn).await?;
    ctx.authorize("iam:GetPolicy", &p.arn).await?;
    let tags = tag_store::of(&mut ctx.tx, &p.arn).await?;
    Ok(PolicyResponse {
        policy: view(&p, &tags),
    })
}

pub(crate) async fn delete_policy(
    ctx: &mut Ctx<'_>,
    req: PolicyArnRequest,
) -> Result<Empty, ApiError> {
    let p = own_policy(ctx, &req.policy_arn).await?;
    ctx.authorize("iam:DeletePolicy", &p.arn).await?;
    if p.attachment_count > 0 {
        return Err(conflict(
            "DeleteConflict",
            "Cannot delete a policy attached to entities.",
        ));
    }
    if store::versions(&mut ctx.tx, &p.arn).await?.len() > 1 {
        return Err(conflict(
            "DeleteConflict",
            "This policy has more than one version. Before you delete a policy, you must delete the policy's non-default versions.",
        ));
    }
    store::delete_policy(&mut ctx.tx, &p.arn).await?;
    tag_store::remove_all(&mut ctx.tx, &p.arn).await?;
    Ok(Empty {})
}

/// `ListPolicies`: the account's policies (`Scope` `All` or `Local`; `AWS` has none).
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct ListPoliciesRequest {
    scope: Option<String>,
    only_attached: Option<bool>,
    path_prefix: Option<String>,
    policy_usage_filter: Option<String>,
    #[serde(skip_serializing)]
    marker: Option<String>,
    #[serde(skip_serializing)]
    max_items: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListPoliciesResponse {
    policies: Vec<PolicyView>,
    is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    marker: Option<String>,
}

pub(crate) async fn list_policies(
    ctx: &mut Ctx<'_>,
    req: ListPoliciesRequest,
) -> Result<ListPoliciesResponse, ApiError> {
    let resource = ctx.arn("iam", "policy/*");
    ctx.authorize("iam:ListPolicies", &resource).await?;
    let local = match req.scope.as_deref() {
        None | Some("All" | "Local") => true,
        Some("AWS") => false,
        Some(other) => {
            return Err(ApiError::client(
                "ValidationError",
                format!(
                    "1 validation error detected: Value '{}' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]",
                    other.chars().take(32).collect::<String>()
                ),
            ))
        }
    };
    let permissions = match req.policy_usage_filter.as_deref() {
        None | Some("PermissionsPolicy") => true,
        Some("PermissionsBoundary") => false,
        Some(other) => {
            return Err(ApiError::client(
                "ValidationError",
                format!(
                    "1 validation error detected: Value '{}' at 'policyUsageFilter' failed to satisfy constraint: Member must satisfy enum value set: [PermissionsPolicy, PermissionsBoundary]",
                    other.chars().take(32).collect::<String>()
                ),
            ))
        }
    };
    let prefix = req.path_prefix.clone().unwrap_or_else(|| "/".into());
    let only_attached = req.only_attached.unwrap_or(false);
    let account = ctx.caller.account.clone();
    let policies: Vec<ManagedPolicy> = if local && permissions {
        store::list_policies(&mut ctx.tx, &account)
            .await?
            .into_iter()
            .filter(|p| p.path.starts_with(&prefix))
            .filter(|p| !only_attached || p.attachment_count > 0)
            .collect()
    } else {
        vec![]
    };
    let page = PageRequest {
        size: req.max_items,
        token: req.marker.as_deref(),
        scope: scope("ListPolicies", &req),
        style: PageStyle::Iam,
    };
    let (policies, marker) = paginate(ctx, &page, policies, |p| p.name.clone())?;
    let mut views = Vec::with_capacity(policies.len());
    for p in &policies {
        let tags = tag_store::of(&mut ctx.tx, &p.arn).await?;
        views.push(view(p, &tags));
    }
    Ok(ListPoliciesResponse {
        policies: views,
        is_truncated: marker.is_some(),
        marker,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct VersionView {
    #[serde(skip_serializing_if = "Option::is_none")]
    document: Option<String>,
    version_id: String,
    is_default_version: bool,
    create_date: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct VersionResponse {
    policy_version: VersionView,
}

/// `GetPolicyVersion` / `DeletePolicyVersion` / `SetDefaultPolicyVersion`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct VersionRequest {
    policy_arn: String,
    version_id: String,
}

async fn version(
    ctx: &mut Ctx<'_>,
    p: &ManagedPolicy,
    id: &str,
) -> Result<store::PolicyVersion, ApiError> {
    store::versions(&mut ctx.tx, &p.arn)
        .await?
        .into_iter()
        .find(|v| v.version_id == id)
        .ok_or_else(|| {
            no_such_entity(format!(
                "Policy {} version {} does not exist or is not attachable.",
                p.arn,
                id.chars().take(32).collect::<String>()
            ))
        })
}

pub(crate) async fn get_policy_version(
    ctx: &mut Ctx<'_>,
    req: VersionRequest,
) -> Result<VersionResponse, ApiError> {
    let p = own_policy(ctx, &req.policy_arn).await?;
    ctx.authorize("iam:GetPolicyVersion", &p.arn).await?;
    let v = version(ctx, &p, &req.version_id).await?;
    Ok(VersionResponse {
        policy_version: VersionView {
            is_default_version: v.version_id == p.default_version,
            document: Some(v.document),
            version_id: v.version_id,
            create_date: ts(v.created),
        },
    })
}

/// `CreatePolicyVersion`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateVersionRequest {
    policy_arn: String,
    policy_document: String,
    set_as_default: Option<bool>,
}

pub(crate) async fn create_policy_version(
    ctx: &mut Ctx<'_>,
    req: CreateVersionRequest,
) -> Result<VersionResponse, ApiError> {
    let p = own_policy(ctx, &req.policy_arn).await?;
    ctx.authorize("iam:CreatePolicyVersion", &p.arn).await?;
    check_document(&req.policy_document)?;
    if store::versions(&mut ctx.tx, &p.arn).await?.len() >= MAX_VERSIONS {
        return Err(conflict(
            "LimitExceeded",
            format!("A managed policy can have up to {MAX_VERSIONS} versions. Before you create a new version, you must delete an existing version."),
        ));
    }
    let set_default = req.set_as_default.unwrap_or(false);
    let id = store::add_version(
        &mut ctx.tx,
        &p,
        &req.policy_document,
        set_default,
        ctx.meta.now,
    )
    .await?;
    Ok(VersionResponse {
        policy_version: VersionView {
            document: Some(req.policy_document),
            version_id: id,
            is_default_version: set_default,
            create_date: ts(ctx.meta.now),
        },
    })
}

pub(crate) async fn delete_policy_version(
    ctx: &mut Ctx<'_>,
    req: VersionRequest,
) -> Result<Empty, ApiError> {
    let p = own_policy(ctx, &req.policy_arn).await?;
    ctx.authorize("iam:DeletePolicyVersion", &p.arn).await?;
    let v = version(ctx, &p, &req.version_id).await?;
    if v.version_id == p.default_version {
        return Err(conflict(
            "DeleteConflict",
            "Cannot delete the default version of a policy.",
        ));
    }
    store::delete_version(&mut ctx.tx, &p.arn, &v.version_id).await?;
    Ok(Empty {})
}

pub(crate) async fn set_default_policy_version(
    ctx: &mut Ctx<'_>,
    req: VersionRequest,
) -> Result<Empty, ApiError> {
    let p = own_policy(ctx, &req.policy_arn).await?;
    ctx.authorize("iam:SetDefaultPolicyVersion", &p.arn).await?;
    let v = version(ctx, &p, &req.version_id).await?;
    store::set_default_version(&mut ctx.tx, &p.arn, &v.version_id, ctx.meta.now).await?;
    Ok(Empty {})
}

/// `ListPolicyVersions`: newest first, without documents.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct ListVersionsRequest {
    policy_arn: String,
    #[serde(skip_serializing)]
    marker: Option<String>,
    #[serde(skip_serializing)]
    max_items: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListVersionsResponse {
    versions: Vec<VersionView>,
    is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    marker: Option<String>,
}

pub(crate) async fn list_policy_versions(
    ctx: &mut Ctx<'_>,
    req: ListVersionsRequest,
) -> Result<ListVersionsResponse, ApiError> {
    let p = own_policy(ctx, &req.policy_arn).await?;
    ctx.authorize("iam:ListPolicyVersions", &p.arn).await?;
    let versions = store::versions(&mut ctx.tx, &p.arn).await?;
    let page = PageRequest {
        size: req.max_items,
        token: req.marker.as_deref(),
        scope: scope("ListPolicyVersions", &req),
        style: PageStyle::Iam,
    };
    // Newest first: keyed by the version number counted down from the top, zero-padded.
    let (versions, marker) = paginate(ctx, &page, versions, |v| {
        let n: u32 = v.version_id.trim_start_matches('v').parse().unwrap_or(0);
        format!("{:010}", u32::MAX - n)
    })?;
    Ok(ListVersionsResponse {
        versions: versions
            .into_iter()
            .map(|v| VersionView {
                document: None,
                is_default_version: v.version_id == p.default_version,
                version_id: v.version_id,
                create_date: ts(v.created),
            })
            .collect(),
        is_truncated: marker.is_some(),
        marker,
    })
}
