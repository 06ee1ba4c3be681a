//! Regions: which region a row is in, and which regions an account has been opened in.
//!
//! Every regional table has a `region` column (migration 0057). Rows from before it carry `''`
//! until [`adopt`] gives them the primary region: the one region they were served in.

use crate::db;
use crate::{StoreError, Tx};

/// The tables whose rows carry a region.
const REGIONAL_TABLES: [&str; 15] = [
    "vpcs",
    "subnets",
    "security_groups",
    "route_tables",
    "network_acls",
    "network_interfaces",
    "load_balancers",
    "target_groups",
    "endpoint_services",
    "endpoints",
    "gateway_endpoints",
    "connection_notifications",
    "flow_logs",
    "tags",
    "account_regions",
];

/// Gives rows made before regions existed (region `''`) the region `primary`. Returns how many
/// rows changed; 0 on every start after the first.
pub async fn adopt(tx: &mut Tx, primary: &str) -> Result<u64, StoreError> {
    let mut changed = 0;
    for table in REGIONAL_TABLES {
        // The table names are the constants above, never input.
        changed += db::query(&format!("UPDATE {table} SET region = ? WHERE region = ''"))
            .bind(primary)
            .execute(tx)?
            .rows_affected();
    }
    Ok(changed)
}

/// The (account, region) pairs among `regions` that an account has not been opened in, by
/// account then region as given.
pub async fn unopened(
    tx: &mut Tx,
    regions: &[String],
) -> Result<Vec<(String, String)>, StoreError> {
    let accounts: Vec<String> =
        db::query_scalar("SELECT account_id FROM accounts ORDER BY account_id").fetch_all(tx)?;
    let opened = db::query("SELECT account_id, region FROM account_regions")
        .fetch_all(tx)?
        .iter()
        .map(|r| Ok((r.try_get("account_id")?, r.try_get("region")?)))
        .collect::<Result<std::collections::HashSet<(String, String)>, StoreError>>()?;
    let mut out = Vec::new();
    for account in accounts {
        for region in regions {
            let pair = (account.clone(), region.clone());
            if !opened.contains(&pair) {
                out.push(pair);
            }
        }
    }
    Ok(out)
}

/// Records that `account` has been opened in `region` (its default VPC there settled).
pub async fn open(tx: &mut Tx, account: &str, region: &str) -> Result<(), StoreError> {
    db::query("INSERT OR IGNORE INTO account_regions (account_id, region) VALUES (?, ?)")
        .bind(account)
        .bind(region)
        .execute(tx)?;
    Ok(())
}
