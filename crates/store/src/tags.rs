//! Tags of resources: EC2 resources by id (`vpc-…`, `rtb-…`), ELBv2 resources and IAM policies
//! by ARN. Tags are metadata only: changing them does not bump the revision agents follow.

use std::collections::BTreeMap;

use crate::db;
use crate::{StoreError, Tx};

/// One tag of one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRow {
    /// The resource's id or ARN.
    pub resource_id: String,
    /// EC2's resource type (`vpc`, `subnet`, …), or `loadbalancer`, `targetgroup`, `policy`.
    pub resource_type: String,
    /// The key.
    pub key: String,
    /// The value (may be empty).
    pub value: String,
}

/// Sets tags on a resource: new keys are added, existing keys get the new value.
pub async fn set(
    tx: &mut Tx,
    account: &str,
    region: &str,
    resource_id: &str,
    resource_type: &str,
    tags: &[(String, String)],
) -> Result<(), StoreError> {
    for (key, value) in tags {
        db::query(
            "INSERT INTO tags (resource_id, resource_type, account_id, region, key, value) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (resource_id, key) DO UPDATE SET value = excluded.value",
        )
        .bind(resource_id)
        .bind(resource_type)
        .bind(account)
        .bind(region)
        .bind(key)
        .bind(value)
        .execute(tx)?;
    }
    Ok(())
}

/// Removes the tag `key` of a resource, only if its value is `value` when one is given; returns
/// whether a tag was removed.
pub async fn remove(
    tx: &mut Tx,
    resource_id: &str,
    key: &str,
    value: Option<&str>,
) -> Result<bool, StoreError> {
    let n = db::query(
        "DELETE FROM tags WHERE resource_id = ?1 AND key = ?2 AND (?3 IS NULL OR value = ?3)",
    )
    .bind(resource_id)
    .bind(key)
    .bind(value)
    .execute(tx)?
    .rows_affected();
    Ok(n > 0)
}

/// Removes every tag of a resource (when the resource goes).
pub async fn remove_all(tx: &mut Tx, resource_id: &str) -> Result<(), StoreError> {
    db::query("DELETE FROM tags WHERE resource_id = ?")
        .bind(resource_id)
        .execute(tx)?;
    Ok(())
}

/// The tags of a resource, by key.
pub async fn of(tx: &mut Tx, resource_id: &str) -> Result<Vec<(String, String)>, StoreError> {
    let rows = db::query("SELECT key, value FROM tags WHERE resource_id = ? ORDER BY key")
        .bind(resource_id)
        .fetch_all(tx)?;
    rows.iter()
        .map(|r| Ok((r.try_get("key")?, r.try_get("value")?)))
        .collect()
}

/// Every tag of an account's resources in `region`, ordered by resource and key.
pub async fn of_account(
    tx: &mut Tx,
    account: &str,
    region: &str,
) -> Result<Vec<TagRow>, StoreError> {
    let rows = db::query(
        "SELECT resource_id, resource_type, key, value FROM tags WHERE account_id = ? AND region = ? ORDER BY resource_id, key",
    )
    .bind(account)
    .bind(region)
    .fetch_all(tx)?;
    rows.iter()
        .map(|r| {
            Ok(TagRow {
                resource_id: r.try_get("resource_id")?,
                resource_type: r.try_get("resource_type")?,
                key: r.try_get("key")?,
                value: r.try_get("value")?,
            })
        })
        .collect()
}

/// The tags of the account's resources `ids`, grouped by resource (those without tags are
/// absent): for one page of a `Describe*` answer.
pub async fn by_resources(
    tx: &mut Tx,
    account: &str,
    ids: &[String],
) -> Result<BTreeMap<String, Vec<(String, String)>>, StoreError> {
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let list = serde_json::to_string(ids).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let rows = db::query(
        // `+account_id`: the planner must take the resources' own keys (the primary key, one
        // probe each), not the account's index, which would visit every tag the account has.
        "SELECT resource_id, key, value FROM tags WHERE +account_id = ?1 \
         AND resource_id IN (SELECT value FROM json_each(?2)) ORDER BY resource_id, key",
    )
    .bind(account)
    .bind(list)
    .fetch_all(tx)?;
    for r in &rows {
        out.entry(r.try_get("resource_id")?)
            .or_default()
            .push((r.try_get("key")?, r.try_get("value")?));
    }
    Ok(out)
}

/// Every tag of an account's resources in `region`, grouped by resource: for `Describe*` answers and their
/// `tag:` filters in one query.
pub async fn by_resource(
    tx: &mut Tx,
    account: &str,
    region: &str,
) -> Result<BTreeMap<String, Vec<(String, String)>>, StoreError> {
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for t in of_account(tx, account, region).await? {
        out.entry(t.resource_id).or_default().push((t.key, t.value));
    }
    Ok(out)
}
