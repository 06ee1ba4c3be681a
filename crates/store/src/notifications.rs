//! Endpoint connection notifications: which SNS topic hears which connection events of one
//! endpoint service or one endpoint.

use crate::db;
use crate::db::Row;
use time::OffsetDateTime;
use underpass_domain::{ConnectionNotificationId, EndpointId, ServiceId};

use crate::cols::{not_found, parse_col};
use crate::{from_ms, to_ms, StoreError, Tx};

/// What a notification watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    /// Every endpoint connection of a service.
    Service(ServiceId),
    /// One endpoint.
    Endpoint(EndpointId),
}

/// One notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionNotification {
    /// `vpce-nfn-…`.
    pub id: ConnectionNotificationId,
    /// The owner.
    pub account: String,
    /// Its region.
    pub region: String,
    /// The service or endpoint.
    pub watched: Watched,
    /// The SNS topic ARN.
    pub topic_arn: String,
    /// `Connect`, `Accept`, `Reject`, `Delete`, sorted.
    pub events: Vec<String>,
    /// When it was made.
    pub created: OffsetDateTime,
}

fn row(r: &Row) -> Result<ConnectionNotification, StoreError> {
    let service: Option<String> = r.try_get("service_id")?;
    let endpoint: Option<String> = r.try_get("endpoint_id")?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("connection notification {what}"));
    let watched = match (service, endpoint) {
        (Some(s), None) => Watched::Service(s.parse().map_err(|_| corrupt("service"))?),
        (None, Some(e)) => Watched::Endpoint(e.parse().map_err(|_| corrupt("endpoint"))?),
        _ => return Err(corrupt("target")),
    };
    let events: String = r.try_get("events")?;
    Ok(ConnectionNotification {
        id: parse_col(r, "notification_id")?,
        account: r.try_get("account_id")?,
        region: r.try_get("region")?,
        watched,
        topic_arn: r.try_get("topic_arn")?,
        events: events.split(',').map(str::to_owned).collect(),
        created: from_ms(r.try_get("created_ms")?),
    })
}

fn ids(w: Watched) -> (Option<String>, Option<String>) {
    match w {
        Watched::Service(s) => (Some(s.to_string()), None),
        Watched::Endpoint(e) => (None, Some(e.to_string())),
    }
}

/// Inserts a notification.
pub async fn insert(tx: &mut Tx, n: &ConnectionNotification) -> Result<(), StoreError> {
    let (service, endpoint) = ids(n.watched);
    db::query(
        "INSERT INTO connection_notifications (notification_id, account_id, region, service_id, endpoint_id, topic_arn, events, created_ms) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(n.id.to_string())
    .bind(&n.account)
    .bind(&n.region)
    .bind(service)
    .bind(endpoint)
    .bind(&n.topic_arn)
    .bind(n.events.join(","))
    .bind(to_ms(n.created))
    .execute(tx)?;
    Ok(())
}

/// The notification `id`.
pub async fn get(
    tx: &mut Tx,
    id: &ConnectionNotificationId,
) -> Result<ConnectionNotification, StoreError> {
    let r = db::query("SELECT * FROM connection_notifications WHERE notification_id = ?")
        .bind(id.to_string())
        .fetch_optional(tx)?
        .ok_or_else(|| not_found("connection notification", id))?;
    row(&r)
}

/// The notifications of `account`, by id.
pub async fn list(tx: &mut Tx, account: &str) -> Result<Vec<ConnectionNotification>, StoreError> {
    db::query(
        "SELECT * FROM connection_notifications WHERE account_id = ? ORDER BY notification_id",
    )
    .bind(account)
    .fetch_all(tx)?
    .iter()
    .map(row)
    .collect()
}

/// The notifications that hear about `endpoint` (its own, and its service's).
pub async fn watching(
    tx: &mut Tx,
    endpoint: &EndpointId,
    service: &ServiceId,
) -> Result<Vec<ConnectionNotification>, StoreError> {
    db::query(
        "SELECT * FROM connection_notifications WHERE endpoint_id = ? OR service_id = ? ORDER BY notification_id",
    )
    .bind(endpoint.to_string())
    .bind(service.to_string())
    .fetch_all(tx)?
    .iter()
    .map(row)
    .collect()
}

/// Replaces the topic and events of `id`.
pub async fn update(
    tx: &mut Tx,
    id: &ConnectionNotificationId,
    topic_arn: &str,
    events: &[String],
) -> Result<(), StoreError> {
    db::query(
        "UPDATE connection_notifications SET topic_arn = ?, events = ? WHERE notification_id = ?",
    )
    .bind(topic_arn)
    .bind(events.join(","))
    .bind(id.to_string())
    .execute(tx)?;
    Ok(())
}

/// Deletes `id`.
pub async fn delete(tx: &mut Tx, id: &ConnectionNotificationId) -> Result<(), StoreError> {
    db::query("DELETE FROM connection_notifications WHERE notification_id = ?")
        .bind(id.to_string())
        .execute(tx)?;
    Ok(())
}
