//! Flow logs: what `CreateFlowLogs` stored, for `DescribeFlowLogs` and the agents' states.

use crate::db;
use crate::db::Row;
use time::OffsetDateTime;
use underpass_domain::FlowLogId;

use crate::open::bump_revision;
use crate::{from_ms, to_ms, StoreError, Tx};

/// One flow log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowLog {
    /// `fl-…`.
    pub id: FlowLogId,
    /// The owner.
    pub account: String,
    /// Its region.
    pub region: String,
    /// The VPC, subnet or ENI it covers.
    pub resource_id: String,
    /// `VPC`, `Subnet` or `NetworkInterface`.
    pub resource_type: String,
    /// `ACCEPT`, `REJECT` or `ALL`.
    pub traffic_type: String,
    /// 60 or 600 seconds.
    pub max_aggregation_interval: u32,
    /// The format string.
    pub log_format: String,
    /// `file` or `s3`.
    pub destination_type: String,
    /// The directory or bucket ARN.
    pub destination: String,
    /// `plain-text` or `parquet`.
    pub file_format: String,
    /// Hive-compatible partitions in the object keys.
    pub hive_compatible_partitions: bool,
    /// An hour level in the object keys.
    pub per_hour_partition: bool,
    /// When it was created.
    pub created: OffsetDateTime,
}

fn row(r: &Row) -> Result<FlowLog, StoreError> {
    let id: String = r.try_get("flow_log_id")?;
    let interval: i64 = r.try_get("max_aggregation_interval")?;
    Ok(FlowLog {
        id: id
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("flow log id {id:?}")))?,
        account: r.try_get("account_id")?,
        region: r.try_get("region")?,
        resource_id: r.try_get("resource_id")?,
        resource_type: r.try_get("resource_type")?,
        traffic_type: r.try_get("traffic_type")?,
        max_aggregation_interval: u32::try_from(interval)
            .map_err(|_| StoreError::Corrupt(format!("aggregation interval {interval}")))?,
        log_format: r.try_get("log_format")?,
        destination_type: r.try_get("destination_type")?,
        destination: r.try_get("log_destination")?,
        file_format: r.try_get("file_format")?,
        hive_compatible_partitions: r.try_get("hive_compatible_partitions")?,
        per_hour_partition: r.try_get("per_hour_partition")?,
        created: from_ms(r.try_get("created_ms")?),
    })
}

/// Inserts a flow log (agents see it with the next revision).
pub async fn insert(tx: &mut Tx, f: &FlowLog) -> Result<(), StoreError> {
    db::query(
        "INSERT INTO flow_logs (flow_log_id, account_id, region, resource_id, resource_type, traffic_type, max_aggregation_interval, log_format, destination_type, log_destination, file_format, hive_compatible_partitions, per_hour_partition, created_ms) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(f.id.to_string())
    .bind(&f.account)
    .bind(&f.region)
    .bind(&f.resource_id)
    .bind(&f.resource_type)
    .bind(&f.traffic_type)
    .bind(i64::from(f.max_aggregation_interval))
    .bind(&f.log_format)
    .bind(&f.destination_type)
    .bind(&f.destination)
    .bind(&f.file_format)
    .bind(f.hive_compatible_partitions)
    .bind(f.per_hour_partition)
    .bind(to_ms(f.created))
    .execute(tx)?;
    bump_revision(tx).await?;
    Ok(())
}

/// The flow log `id`.
pub async fn get(tx: &mut Tx, id: &FlowLogId) -> Result<FlowLog, StoreError> {
    let r = db::query("SELECT * FROM flow_logs WHERE flow_log_id = ?")
        .bind(id.to_string())
        .fetch_optional(tx)?
        .ok_or_else(|| StoreError::NotFound {
            kind: "flow log",
            id: id.to_string(),
        })?;
    row(&r)
}

/// Every flow log, or those of `account`, oldest first.
pub async fn list(tx: &mut Tx, account: Option<&str>) -> Result<Vec<FlowLog>, StoreError> {
    let rows = db::query(
        "SELECT * FROM flow_logs WHERE (?1 IS NULL OR account_id = ?1) ORDER BY created_ms, flow_log_id",
    )
    .bind(account)
    .fetch_all(tx)?;
    rows.iter().map(row).collect()
}

/// The flow logs on any of `resources` (ids of VPCs, subnets or ENIs).
pub async fn on_resources(tx: &mut Tx, resources: &[String]) -> Result<Vec<FlowLog>, StoreError> {
    let mut out = Vec::new();
    for r in resources {
        let rows = db::query(
            "SELECT * FROM flow_logs WHERE resource_id = ? ORDER BY created_ms, flow_log_id",
        )
        .bind(r)
        .fetch_all(tx)?;
        for r in &rows {
            out.push(row(r)?);
        }
    }
    Ok(out)
}

/// Deletes the flow log `id` (agents stop writing it with the next revision).
pub async fn delete(tx: &mut Tx, id: &FlowLogId) -> Result<(), StoreError> {
    let n = db::query("DELETE FROM flow_logs WHERE flow_log_id = ?")
        .bind(id.to_string())
        .execute(tx)?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound {
            kind: "flow log",
            id: id.to_string(),
        });
    }
    bump_revision(tx).await?;
    Ok(())
}

/// Replaces what `agent` last reported of its flow-log deliveries: (flow-log id, error, `None`
/// when the last write succeeded).
pub async fn put_delivery(
    tx: &mut Tx,
    agent: &str,
    deliveries: &[(String, Option<String>)],
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    db::query("DELETE FROM flow_log_delivery WHERE agent_id = ?")
        .bind(agent)
        .execute(tx)?;
    for (flow_log, error) in deliveries {
        db::query(
            "INSERT OR REPLACE INTO flow_log_delivery (agent_id, flow_log_id, error, at_ms) VALUES (?, ?, ?, ?)",
        )
        .bind(agent)
        .bind(flow_log)
        .bind(error.as_deref())
        .bind(to_ms(now))
        .execute(tx)?;
    }
    Ok(())
}

/// The flow logs some agent failed to deliver in a report made at or after `since`, with the
/// latest such report's error.
pub async fn delivery_errors(
    tx: &mut Tx,
    since: OffsetDateTime,
) -> Result<std::collections::HashMap<String, String>, StoreError> {
    let rows = db::query(
        "SELECT flow_log_id, error FROM flow_log_delivery WHERE error IS NOT NULL AND at_ms >= ? ORDER BY at_ms",
    )
    .bind(to_ms(since))
    .fetch_all(tx)?;
    let mut out = std::collections::HashMap::new();
    for r in &rows {
        out.insert(r.try_get("flow_log_id")?, r.try_get("error")?);
    }
    Ok(out)
}
