//! Accounts, users, roles, inline policies, access keys, ClientTokens and the audit log.

use time::OffsetDateTime;

use crate::db;
use crate::{from_ms, to_ms, StoreError, Tx};

/// A stored access key: the columns, with the secret still sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    /// `AKIA…`.
    pub access_key_id: String,
    /// The owner's ARN.
    pub owner_arn: String,
    /// `Active` or `Inactive`.
    pub status: String,
    /// Creation time.
    pub created: OffsetDateTime,
    /// Last use: time, service, region.
    pub last_used: Option<(OffsetDateTime, String, String)>,
    /// The sealed secret (see `underpass_auth::credentials::SealedSecret`).
    pub sealed_secret: String,
}

/// A role with its trust policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRow {
    /// The role ARN.
    pub arn: String,
    /// Owner account.
    pub account: String,
    /// Role name.
    pub name: String,
    /// `AROA…`.
    pub role_id: String,
    /// The trust policy document.
    pub trust_policy: String,
    /// Maximum session length.
    pub max_session_secs: u32,
}

/// Creates an account if it does not exist; returns whether it was created.
pub async fn ensure_account(
    tx: &mut Tx,
    id: &str,
    name: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    let n =
        db::query("INSERT OR IGNORE INTO accounts (account_id, name, created_ms) VALUES (?, ?, ?)")
            .bind(id)
            .bind(name)
            .bind(to_ms(now))
            .execute(tx)?
            .rows_affected();
    Ok(n == 1)
}

/// Whether the account exists.
pub async fn account_exists(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    let n: i64 = db::query_scalar("SELECT COUNT(*) FROM accounts WHERE account_id = ?")
        .bind(id)
        .fetch_one(tx)?;
    Ok(n > 0)
}

/// When the account was created, if it exists.
pub async fn account_created(tx: &mut Tx, id: &str) -> Result<Option<OffsetDateTime>, StoreError> {
    let ms: Option<i64> = db::query_scalar("SELECT created_ms FROM accounts WHERE account_id = ?")
        .bind(id)
        .fetch_optional(tx)?;
    Ok(ms.map(from_ms))
}

/// Every account: (id, name).
pub async fn list_accounts(tx: &mut Tx) -> Result<Vec<(String, String)>, StoreError> {
    let rows =
        db::query("SELECT account_id, name FROM accounts ORDER BY account_id").fetch_all(tx)?;
    rows.iter()
        .map(|r| Ok((r.try_get("account_id")?, r.try_get("name")?)))
        .collect()
}

/// Inserts a user.
pub async fn insert_user(
    tx: &mut Tx,
    arn: &str,
    account: &str,
    name: &str,
    path: &str,
    user_id: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    db::query("INSERT INTO users (arn, account_id, name, path, user_id, created_ms) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(arn)
        .bind(account)
        .bind(name)
        .bind(path)
        .bind(user_id)
        .bind(to_ms(now))
        .execute(tx)
        .map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict(format!("User with name {name} already exists.")),
            other => other,
        })?;
    Ok(())
}

/// Users of an account: (arn, user id).
pub async fn list_users(tx: &mut Tx, account: &str) -> Result<Vec<(String, String)>, StoreError> {
    let rows = db::query("SELECT arn, user_id FROM users WHERE account_id = ? ORDER BY name")
        .bind(account)
        .fetch_all(tx)?;
    rows.iter()
        .map(|r| Ok((r.try_get("arn")?, r.try_get("user_id")?)))
        .collect()
}

/// The unique id of a user (for `aws:userid`), if the user exists.
pub async fn user_id(tx: &mut Tx, arn: &str) -> Result<Option<String>, StoreError> {
    db::query_scalar("SELECT user_id FROM users WHERE arn = ?")
        .bind(arn)
        .fetch_optional(tx)
}

/// Deletes a user, its keys, its inline policies and its managed-policy attachments.
pub async fn delete_user(tx: &mut Tx, arn: &str) -> Result<(), StoreError> {
    let n = db::query("DELETE FROM users WHERE arn = ?")
        .bind(arn)
        .execute(tx)?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound {
            kind: "user",
            id: arn.to_owned(),
        });
    }
    db::query("DELETE FROM access_keys WHERE owner_arn = ?")
        .bind(arn)
        .execute(tx)?;
    db::query("DELETE FROM principal_policies WHERE principal_arn = ?")
        .bind(arn)
        .execute(tx)?;
    crate::policies::detach_all(tx, arn).await?;
    Ok(())
}

/// Inserts a role.
pub async fn insert_role(tx: &mut Tx, r: &RoleRow, now: OffsetDateTime) -> Result<(), StoreError> {
    db::query("INSERT INTO roles (arn, account_id, name, role_id, trust_policy, max_session_secs, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(&r.arn)
        .bind(&r.account)
        .bind(&r.name)
        .bind(&r.role_id)
        .bind(&r.trust_policy)
        .bind(i64::from(r.max_session_secs))
        .bind(to_ms(now))
        .execute(tx)
        .map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict(format!("Role with name {} already exists.", r.name)),
            other => other,
        })?;
    Ok(())
}

/// The role `arn`, if it exists.
pub async fn get_role(tx: &mut Tx, arn: &str) -> Result<Option<RoleRow>, StoreError> {
    let Some(row) = db::query("SELECT * FROM roles WHERE arn = ?")
        .bind(arn)
        .fetch_optional(tx)?
    else {
        return Ok(None);
    };
    Ok(Some(RoleRow {
        arn: row.try_get("arn")?,
        account: row.try_get("account_id")?,
        name: row.try_get("name")?,
        role_id: row.try_get("role_id")?,
        trust_policy: row.try_get("trust_policy")?,
        max_session_secs: u32::try_from(row.try_get::<i64, _>("max_session_secs")?).unwrap_or(3600),
    }))
}

/// Replaces a role's trust policy.
pub async fn set_trust_policy(tx: &mut Tx, arn: &str, doc: &str) -> Result<(), StoreError> {
    let n = db::query("UPDATE roles SET trust_policy = ? WHERE arn = ?")
        .bind(doc)
        .bind(arn)
        .execute(tx)?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound {
            kind: "role",
            id: arn.to_owned(),
        });
    }
    Ok(())
}

/// Deletes a role, its inline policies and its managed-policy attachments.
pub async fn delete_role(tx: &mut Tx, arn: &str) -> Result<(), StoreError> {
    let n = db::query("DELETE FROM roles WHERE arn = ?")
        .bind(arn)
        .execute(tx)?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound {
            kind: "role",
            id: arn.to_owned(),
        });
    }
    db::query("DELETE FROM principal_policies WHERE principal_arn = ?")
        .bind(arn)
        .execute(tx)?;
    crate::policies::detach_all(tx, arn).await?;
    Ok(())
}

/// Sets (inserts or replaces) an inline policy of a user or role.
pub async fn put_policy(
    tx: &mut Tx,
    principal: &str,
    name: &str,
    doc: &str,
) -> Result<(), StoreError> {
    db::query("INSERT INTO principal_policies (principal_arn, name, document) VALUES (?, ?, ?) ON CONFLICT (principal_arn, name) DO UPDATE SET document = excluded.document")
        .bind(principal)
        .bind(name)
        .bind(doc)
        .execute(tx)?;
    Ok(())
}

/// Removes an inline policy.
pub async fn delete_policy(tx: &mut Tx, principal: &str, name: &str) -> Result<(), StoreError> {
    let n = db::query("DELETE FROM principal_policies WHERE principal_arn = ? AND name = ?")
        .bind(principal)
        .bind(name)
        .execute(tx)?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound {
            kind: "policy",
            id: name.to_owned(),
        });
    }
    Ok(())
}

/// The inline policies of a principal: (name, document).
pub async fn policies_of(
    tx: &mut Tx,
    principal: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = db::query(
        "SELECT name, document FROM principal_policies WHERE principal_arn = ? ORDER BY name",
    )
    .bind(principal)
    .fetch_all(tx)?;
    rows.iter()
        .map(|r| Ok((r.try_get("name")?, r.try_get("document")?)))
        .collect()
}

fn key_row(row: &crate::db::Row) -> Result<KeyRow, StoreError> {
    let last_ms: Option<i64> = row.try_get("last_used_ms")?;
    let last_used = match last_ms {
        Some(ms) => Some((
            from_ms(ms),
            row.try_get::<Option<String>, _>("last_used_service")?
                .unwrap_or_default(),
            row.try_get::<Option<String>, _>("last_used_region")?
                .unwrap_or_default(),
        )),
        None => None,
    };
    Ok(KeyRow {
        access_key_id: row.try_get("access_key_id")?,
        owner_arn: row.try_get("owner_arn")?,
        status: row.try_get("status")?,
        created: from_ms(row.try_get("created_ms")?),
        last_used,
        sealed_secret: row.try_get("sealed_secret")?,
    })
}

/// Inserts an access key.
pub async fn insert_key(tx: &mut Tx, k: &KeyRow) -> Result<(), StoreError> {
    db::query("INSERT INTO access_keys (access_key_id, owner_arn, status, created_ms, sealed_secret) VALUES (?, ?, ?, ?, ?)")
        .bind(&k.access_key_id)
        .bind(&k.owner_arn)
        .bind(&k.status)
        .bind(to_ms(k.created))
        .bind(&k.sealed_secret)
        .execute(tx)?;
    Ok(())
}

/// The key `id`, if it exists.
pub async fn get_key(tx: &mut Tx, id: &str) -> Result<Option<KeyRow>, StoreError> {
    let row = db::query("SELECT * FROM access_keys WHERE access_key_id = ?")
        .bind(id)
        .fetch_optional(tx)?;
    row.as_ref().map(key_row).transpose()
}

/// The keys of `owner`, oldest first.
pub async fn keys_of(tx: &mut Tx, owner: &str) -> Result<Vec<KeyRow>, StoreError> {
    let rows = db::query(
        "SELECT * FROM access_keys WHERE owner_arn = ? ORDER BY created_ms, access_key_id",
    )
    .bind(owner)
    .fetch_all(tx)?;
    rows.iter().map(key_row).collect()
}

/// Sets a key's status.
pub async fn set_key_status(tx: &mut Tx, id: &str, status: &str) -> Result<(), StoreError> {
    db::query("UPDATE access_keys SET status = ? WHERE access_key_id = ?")
        .bind(status)
        .bind(id)
        .execute(tx)?;
    Ok(())
}

/// Deletes a key.
pub async fn delete_key(tx: &mut Tx, id: &str) -> Result<(), StoreError> {
    db::query("DELETE FROM access_keys WHERE access_key_id = ?")
        .bind(id)
        .execute(tx)?;
    Ok(())
}

/// Records a key's last use.
pub async fn touch_key(
    tx: &mut Tx,
    id: &str,
    at: OffsetDateTime,
    service: &str,
    region: &str,
) -> Result<(), StoreError> {
    db::query("UPDATE access_keys SET last_used_ms = ?, last_used_service = ?, last_used_region = ? WHERE access_key_id = ?")
        .bind(to_ms(at))
        .bind(service)
        .bind(region)
        .bind(id)
        .execute(tx)?;
    Ok(())
}

/// What a ClientToken lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenLookup {
    /// First use of the token.
    New,
    /// Same token, same parameters: the resource created the first time.
    Replay(String),
    /// Same token, different parameters.
    Mismatch,
}

/// Looks a ClientToken up.
pub async fn client_token(
    tx: &mut Tx,
    account: &str,
    action: &str,
    token: &str,
    params_hash: &str,
) -> Result<TokenLookup, StoreError> {
    let row = db::query("SELECT params_hash, resource_id FROM client_tokens WHERE account_id = ? AND action = ? AND token = ?")
        .bind(account)
        .bind(action)
        .bind(token)
        .fetch_optional(tx)?;
    Ok(match row {
        None => TokenLookup::New,
        Some(r) if r.try_get::<String, _>("params_hash")? == params_hash => {
            TokenLookup::Replay(r.try_get("resource_id")?)
        }
        Some(_) => TokenLookup::Mismatch,
    })
}

/// Records a ClientToken's first use.
pub async fn save_client_token(
    tx: &mut Tx,
    account: &str,
    action: &str,
    token: &str,
    params_hash: &str,
    resource: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    db::query("INSERT INTO client_tokens (account_id, action, token, params_hash, resource_id, created_ms) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(account)
        .bind(action)
        .bind(token)
        .bind(params_hash)
        .bind(resource)
        .bind(to_ms(now))
        .execute(tx)?;
    Ok(())
}

/// One audit-log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// When.
    pub at: OffsetDateTime,
    /// The request id returned to the caller.
    pub request_id: String,
    /// The authenticated principal, if authentication succeeded.
    pub principal: Option<String>,
    /// The action name.
    pub action: String,
    /// `Success` or `Failure`.
    pub outcome: String,
    /// The error code on failure.
    pub error_code: Option<String>,
}

/// Appends `entries` to the audit log in one statement, in order, inside `tx` (its own, outside
/// the actions' transactions, so refusals are logged too).
pub async fn audit_batch(tx: &mut Tx, entries: &[AuditEntry]) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let rows: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            serde_json::json!([
                to_ms(e.at),
                e.request_id,
                e.principal,
                e.action,
                e.outcome,
                e.error_code
            ])
        })
        .collect();
    let list = serde_json::to_string(&rows).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    db::query(
        "INSERT INTO audit_log (at_ms, request_id, principal, action, outcome, error_code) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 \
         FROM json_each(?) ORDER BY key",
    )
    .bind(list)
    .execute(tx)?;
    Ok(())
}

/// The last `limit` audit entries, newest first.
pub async fn audit_tail(store: &crate::Store, limit: i64) -> Result<Vec<AuditEntry>, StoreError> {
    let rows = db::query("SELECT * FROM audit_log ORDER BY seq DESC LIMIT ?")
        .bind(limit)
        .fetch_all(&mut store.conn().await?)?;
    rows.iter()
        .map(|r| {
            Ok(AuditEntry {
                at: from_ms(r.try_get("at_ms")?),
                request_id: r.try_get("request_id")?,
                principal: r.try_get("principal")?,
                action: r.try_get("action")?,
                outcome: r.try_get("outcome")?,
                error_code: r.try_get("error_code")?,
            })
        })
        .collect()
}

/// The role named `name` in `account`: (arn, role id).
pub async fn find_role_by_name(
    tx: &mut Tx,
    account: &str,
    name: &str,
) -> Result<Option<(String, String)>, StoreError> {
    let row = db::query("SELECT arn, role_id FROM roles WHERE account_id = ? AND name = ?")
        .bind(account)
        .bind(name)
        .fetch_optional(tx)?;
    row.map(|r| Ok((r.try_get("arn")?, r.try_get("role_id")?)))
        .transpose()
}

/// A user as `GetUser` and `ListUsers` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDetail {
    /// The user ARN.
    pub arn: String,
    /// The name.
    pub name: String,
    /// `/` or `/a/b/`.
    pub path: String,
    /// `AIDA…`.
    pub user_id: String,
    /// Creation time.
    pub created: OffsetDateTime,
}

/// The users of an account, by name.
pub async fn user_details(tx: &mut Tx, account: &str) -> Result<Vec<UserDetail>, StoreError> {
    let rows = db::query(
        "SELECT arn, name, path, user_id, created_ms FROM users WHERE account_id = ? ORDER BY name",
    )
    .bind(account)
    .fetch_all(tx)?;
    rows.iter()
        .map(|r| {
            Ok(UserDetail {
                arn: r.try_get("arn")?,
                name: r.try_get("name")?,
                path: r.try_get("path")?,
                user_id: r.try_get("user_id")?,
                created: from_ms(r.try_get("created_ms")?),
            })
        })
        .collect()
}

/// A role as `GetRole` and `ListRoles` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDetail {
    /// The role and its trust policy.
    pub role: RoleRow,
    /// Free text, if set.
    pub description: Option<String>,
    /// Creation time.
    pub created: OffsetDateTime,
}

/// The roles of an account, by name.
pub async fn role_details(tx: &mut Tx, account: &str) -> Result<Vec<RoleDetail>, StoreError> {
    let rows = db::query("SELECT * FROM roles WHERE account_id = ? ORDER BY name")
        .bind(account)
        .fetch_all(tx)?;
    rows.iter()
        .map(|row| {
            Ok(RoleDetail {
                role: RoleRow {
                    arn: row.try_get("arn")?,
                    account: row.try_get("account_id")?,
                    name: row.try_get("name")?,
                    role_id: row.try_get("role_id")?,
                    trust_policy: row.try_get("trust_policy")?,
                    max_session_secs: u32::try_from(row.try_get::<i64, _>("max_session_secs")?)
                        .unwrap_or(3600),
                },
                description: row.try_get("description")?,
                created: from_ms(row.try_get("created_ms")?),
            })
        })
        .collect()
}

/// Sets a role's description.
pub async fn set_role_description(
    tx: &mut Tx,
    arn: &str,
    description: Option<&str>,
) -> Result<(), StoreError> {
    db::query("UPDATE roles SET description = ? WHERE arn = ?")
        .bind(description)
        .bind(arn)
        .execute(tx)?;
    Ok(())
}

/// The IAM generation: moved by every change to users, roles, accounts, access keys (but their
/// last use) and identity policies (triggers of migration 0058).
pub async fn generation(tx: &mut Tx) -> Result<i64, StoreError> {
    db::query_scalar("SELECT gen FROM iam_generation WHERE singleton = 1").fetch_one(tx)
}

/// As [`generation`], outside a transaction.
pub async fn generation_now(store: &crate::Store) -> Result<i64, StoreError> {
    db::query_scalar("SELECT gen FROM iam_generation WHERE singleton = 1")
        .fetch_one(&mut store.conn().await?)
}
