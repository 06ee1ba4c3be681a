//! IAM customer managed policies: the policies, their versions, and their attachments to users
//! and roles. Documents are stored as given (validated by the caller).

use crate::db;
use crate::db::Row;
use time::OffsetDateTime;

use crate::{from_ms, to_ms, StoreError, Tx};

/// A managed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicy {
    /// `arn:aws:iam::<account>:policy/<path><name>`.
    pub arn: String,
    /// Owner account.
    pub account: String,
    /// Unique per account.
    pub name: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// `ANPA…`.
    pub policy_id: String,
    /// Free text.
    pub description: String,
    /// `v1`, `v2`, …
    pub default_version: String,
    /// The number the next version gets.
    pub next_version: u32,
    /// Users and roles it is attached to.
    pub attachment_count: u32,
    /// Creation time.
    pub created: OffsetDateTime,
    /// Last change of the default version.
    pub updated: OffsetDateTime,
}

/// One version of a managed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    /// `v1`, `v2`, …
    pub version_id: String,
    /// The document.
    pub document: String,
    /// Creation time.
    pub created: OffsetDateTime,
}

fn policy_row(r: &Row) -> Result<ManagedPolicy, StoreError> {
    let count: i64 = r.try_get("attachment_count")?;
    let next: i64 = r.try_get("next_version")?;
    Ok(ManagedPolicy {
        arn: r.try_get("arn")?,
        account: r.try_get("account_id")?,
        name: r.try_get("name")?,
        path: r.try_get("path")?,
        policy_id: r.try_get("policy_id")?,
        description: r.try_get("description")?,
        default_version: r.try_get("default_version")?,
        next_version: u32::try_from(next).unwrap_or(u32::MAX),
        attachment_count: u32::try_from(count).unwrap_or(u32::MAX),
        created: from_ms(r.try_get("created_ms")?),
        updated: from_ms(r.try_get("updated_ms")?),
    })
}

const SELECT_POLICY: &str = "SELECT p.*, (SELECT COUNT(*) FROM policy_attachments a WHERE a.policy_arn = p.arn) AS attachment_count FROM managed_policies p";

/// Inserts a policy with its first version `v1` as the default.
pub async fn insert_policy(
    tx: &mut Tx,
    p: &ManagedPolicy,
    document: &str,
) -> Result<(), StoreError> {
    db::query(
        "INSERT INTO managed_policies (arn, account_id, name, path, policy_id, description, default_version, next_version, created_ms, updated_ms) \
         VALUES (?, ?, ?, ?, ?, ?, 'v1', 2, ?, ?)",
    )
    .bind(&p.arn)
    .bind(&p.account)
    .bind(&p.name)
    .bind(&p.path)
    .bind(&p.policy_id)
    .bind(&p.description)
    .bind(to_ms(p.created))
    .bind(to_ms(p.created))
    .execute(tx)
    .map_err(|e| match e {
        StoreError::Conflict(_) => {
            StoreError::Conflict(format!("A policy called {} already exists. Duplicate names are not allowed.", p.name))
        }
        other => other,
    })?;
    insert_version(tx, &p.arn, "v1", document, p.created).await
}

async fn insert_version(
    tx: &mut Tx,
    arn: &str,
    version: &str,
    document: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    db::query("INSERT INTO policy_versions (policy_arn, version_id, document, created_ms) VALUES (?, ?, ?, ?)")
        .bind(arn)
        .bind(version)
        .bind(document)
        .bind(to_ms(now))
        .execute(tx)?;
    Ok(())
}

/// The policy `arn`, if it exists.
pub async fn get_policy(tx: &mut Tx, arn: &str) -> Result<Option<ManagedPolicy>, StoreError> {
    let row = db::query(&format!("{SELECT_POLICY} WHERE p.arn = ?"))
        .bind(arn)
        .fetch_optional(tx)?;
    row.as_ref().map(policy_row).transpose()
}

/// The policies of an account, by name.
pub async fn list_policies(tx: &mut Tx, account: &str) -> Result<Vec<ManagedPolicy>, StoreError> {
    let rows = db::query(&format!(
        "{SELECT_POLICY} WHERE p.account_id = ? ORDER BY p.name"
    ))
    .bind(account)
    .fetch_all(tx)?;
    rows.iter().map(policy_row).collect()
}

/// The versions of a policy, newest first.
pub async fn versions(tx: &mut Tx, arn: &str) -> Result<Vec<PolicyVersion>, StoreError> {
    let rows = db::query(
        "SELECT version_id, document, created_ms FROM policy_versions WHERE policy_arn = ? ORDER BY created_ms DESC, CAST(substr(version_id, 2) AS INTEGER) DESC",
    )
    .bind(arn)
    .fetch_all(tx)?;
    rows.iter()
        .map(|r| {
            Ok(PolicyVersion {
                version_id: r.try_get("version_id")?,
                document: r.try_get("document")?,
                created: from_ms(r.try_get("created_ms")?),
            })
        })
        .collect()
}

/// Adds the next version (`v<next_version>`); makes it the default when asked. Returns its id.
pub async fn add_version(
    tx: &mut Tx,
    p: &ManagedPolicy,
    document: &str,
    set_default: bool,
    now: OffsetDateTime,
) -> Result<String, StoreError> {
    let version = format!("v{}", p.next_version);
    insert_version(tx, &p.arn, &version, document, now).await?;
    db::query("UPDATE managed_policies SET next_version = next_version + 1 WHERE arn = ?")
        .bind(&p.arn)
        .execute(tx)?;
    if set_default {
        set_default_version(tx, &p.arn, &version, now).await?;
    }
    Ok(version)
}

/// Makes `version` the default.
pub async fn set_default_version(
    tx: &mut Tx,
    arn: &str,
    version: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    db::query("UPDATE managed_policies SET default_version = ?, updated_ms = ? WHERE arn = ?")
        .bind(version)
        .bind(to_ms(now))
        .bind(arn)
        .execute(tx)?;
    Ok(())
}

/// Deletes one version; returns whether it existed.
pub async fn delete_version(tx: &mut Tx, arn: &str, version: &str) -> Result<bool, StoreError> {
    let n = db::query("DELETE FROM policy_versions WHERE policy_arn = ? AND version_id = ?")
        .bind(arn)
        .bind(version)
        .execute(tx)?
        .rows_affected();
    Ok(n > 0)
}

/// Deletes a policy and its versions (the caller has checked it is attached nowhere).
pub async fn delete_policy(tx: &mut Tx, arn: &str) -> Result<(), StoreError> {
    db::query("DELETE FROM managed_policies WHERE arn = ?")
        .bind(arn)
        .execute(tx)?;
    Ok(())
}

/// Attaches a policy to a user or role; returns false if it already was.
pub async fn attach(tx: &mut Tx, policy: &str, principal: &str) -> Result<bool, StoreError> {
    let n = db::query(
        "INSERT OR IGNORE INTO policy_attachments (policy_arn, principal_arn) VALUES (?, ?)",
    )
    .bind(policy)
    .bind(principal)
    .execute(tx)?
    .rows_affected();
    Ok(n > 0)
}

/// Detaches a policy; returns whether it was attached.
pub async fn detach(tx: &mut Tx, policy: &str, principal: &str) -> Result<bool, StoreError> {
    let n = db::query("DELETE FROM policy_attachments WHERE policy_arn = ? AND principal_arn = ?")
        .bind(policy)
        .bind(principal)
        .execute(tx)?
        .rows_affected();
    Ok(n > 0)
}

/// Detaches every policy from a principal (when the user or role is deleted, so a new one of
/// the same name starts with none).
pub async fn detach_all(tx: &mut Tx, principal: &str) -> Result<(), StoreError> {
    db::query("DELETE FROM policy_attachments WHERE principal_arn = ?")
        .bind(principal)
        .execute(tx)?;
    Ok(())
}

/// The policies attached to a principal, by name.
pub async fn attached_to(tx: &mut Tx, principal: &str) -> Result<Vec<ManagedPolicy>, StoreError> {
    let rows = db::query(&format!(
        "{SELECT_POLICY} JOIN policy_attachments t ON t.policy_arn = p.arn WHERE t.principal_arn = ? ORDER BY p.name"
    ))
    .bind(principal)
    .fetch_all(tx)?;
    rows.iter().map(policy_row).collect()
}

/// The default-version documents of the policies attached to a principal: (policy ARN,
/// document), for authorization.
pub async fn attached_documents(
    tx: &mut Tx,
    principal: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = db::query(
        "SELECT p.arn, v.document FROM policy_attachments t \
         JOIN managed_policies p ON p.arn = t.policy_arn \
         JOIN policy_versions v ON v.policy_arn = p.arn AND v.version_id = p.default_version \
         WHERE t.principal_arn = ? ORDER BY p.arn",
    )
    .bind(principal)
    .fetch_all(tx)?;
    rows.iter()
        .map(|r| Ok((r.try_get("arn")?, r.try_get("document")?)))
        .collect()
}
