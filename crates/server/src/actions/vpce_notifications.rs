//! Endpoint connection notifications: `CreateVpcEndpointConnectionNotification`,
//! `DescribeVpcEndpointConnectionNotifications`, `ModifyVpcEndpointConnectionNotification`,
//! `DeleteVpcEndpointConnectionNotifications`, and their delivery.
//!
//! A notification names an SNS topic ARN and the events it wants (`Connect`, `Accept`,
//! `Reject`, `Delete`) of one of the caller's endpoint services, or (`Accept`, `Reject`,
//! `Delete`) of one of its endpoints. Underpass has no SNS: delivery is a structured `INFO`
//! event with target `underpass::notification` in the server's log (topic, event, endpoint,
//! service), which a log shipper forwards where the topic would have, counted in
//! `underpass_connection_notifications_total{event}`. Events are logged as the
//! action makes its state change; every check of an action comes before its changes, so a
//! refused call raises none.

use serde::{Deserialize, Serialize};
use underpass_domain::{ConnectionNotificationId, EndpointId, ServiceId};
use underpass_store::notifications::{self, ConnectionNotification, Watched};
use underpass_store::records::Endpoint;
use underpass_store::StoreError;

use super::describe::{paginate, scope, Filter, Filters, PageRequest, PageStyle};
use super::lookup::{self, ec2_arn, parse_id, UnsuccessfulItem};
use super::vpce_services::{invalid_parameter, UnsuccessfulResponse};
use super::Ctx;
use crate::api::ApiError;

const SERVICE_EVENTS: [&str; 4] = ["Accept", "Connect", "Delete", "Reject"];
const ENDPOINT_EVENTS: [&str; 3] = ["Accept", "Delete", "Reject"];

/// Checks an SNS topic ARN: `arn:aws:sns:<region>:<account>:<topic>`.
fn check_topic(arn: &str) -> Result<(), ApiError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let ok = match parts.as_slice() {
        ["arn", partition, "sns", region, account, topic] => {
            partition.starts_with("aws")
                && !region.is_empty()
                && region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && (1..=256).contains(&topic.len())
                && topic
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(invalid_parameter(format!(
            "Invalid SNS topic ARN: '{}'",
            arn.chars().take(128).collect::<String>()
        )))
    }
}

/// Checks and sorts the events a notification of `watched` may ask for.
fn check_events(events: &[String], watched: Watched) -> Result<Vec<String>, ApiError> {
    if events.is_empty() {
        return Err(ApiError::missing("ConnectionEvents"));
    }
    let allowed: &[&str] = match watched {
        Watched::Service(_) => &SERVICE_EVENTS,
        Watched::Endpoint(_) => &ENDPOINT_EVENTS,
    };
    let mut out: Vec<String> = Vec::with_capacity(events.len());
    for e in events {
        if !allowed.contains(&e.as_str()) {
            return Err(invalid_parameter(format!(
                "Invalid connection event '{}': use {}",
                e.chars().take(32).collect::<String>(),
                allowed.join(", ")
            )));
        }
        out.push(e.clone());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// `ConnectionNotification` as EC2 shows it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct NotificationView {
    connection_notification_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vpc_endpoint_id: Option<String>,
    connection_notification_type: &'static str,
    connection_notification_arn: String,
    connection_events: Vec<String>,
    connection_notification_state: &'static str,
}

impl From<&ConnectionNotification> for NotificationView {
    fn from(n: &ConnectionNotification) -> Self {
        let (service_id, vpc_endpoint_id) = match n.watched {
            Watched::Service(s) => (Some(s.to_string()), None),
            Watched::Endpoint(e) => (None, Some(e.to_string())),
        };
        Self {
            connection_notification_id: n.id.to_string(),
            service_id,
            vpc_endpoint_id,
            connection_notification_type: "Topic",
            connection_notification_arn: n.topic_arn.clone(),
            connection_events: n.events.clone(),
            connection_notification_state: "Enabled",
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateRequest {
    service_id: Option<String>,
    vpc_endpoint_id: Option<String>,
    connection_notification_arn: Option<String>,
    #[serde(default)]
    connection_events: Vec<String>,
    client_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateResponse {
    connection_notification: NotificationView,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_token: Option<String>,
}

pub(crate) async fn create_vpc_endpoint_connection_notification(
    ctx: &mut Ctx<'_>,
    req: CreateRequest,
) -> Result<CreateResponse, ApiError> {
    let watched = match (&req.service_id, &req.vpc_endpoint_id) {
        (Some(s), None) => {
            let sid: ServiceId = parse_id(s, "InvalidVpcEndpointServiceId.Malformed")?;
            ctx.authorize(
                "ec2:CreateVpcEndpointConnectionNotification",
                &ec2_arn(ctx, "vpc-endpoint-service", sid),
            )
            .await?;
            lookup::service(ctx, s).await?;
            Watched::Service(sid)
        }
        (None, Some(e)) => {
            let eid: EndpointId = parse_id(e, "InvalidVpcEndpointId.Malformed")?;
            ctx.authorize(
                "ec2:CreateVpcEndpointConnectionNotification",
                &ec2_arn(ctx, "vpc-endpoint", eid),
            )
            .await?;
            lookup::endpoint(ctx, e).await?;
            Watched::Endpoint(eid)
        }
        (None, None) => return Err(ApiError::missing("ServiceId or VpcEndpointId")),
        (Some(_), Some(_)) => {
            return Err(ApiError::client(
                "InvalidParameterCombination",
                "Specify either ServiceId or VpcEndpointId, not both.",
            ))
        }
    };
    let arn = req
        .connection_notification_arn
        .as_deref()
        .ok_or_else(|| ApiError::missing("ConnectionNotificationArn"))?;
    check_topic(arn)?;
    let events = check_events(&req.connection_events, watched)?;
    let n = ConnectionNotification {
        id: ConnectionNotificationId::from_bits(ctx.new_id()?),
        account: ctx.caller.account.clone(),
        region: ctx.region().to_owned(),
        watched,
        topic_arn: arn.to_owned(),
        events,
        created: ctx.meta.now,
    };
    notifications::insert(&mut ctx.tx, &n).await?;
    Ok(CreateResponse {
        connection_notification: NotificationView::from(&n),
        client_token: req.client_token,
    })
}

/// The caller's notification `id`.
async fn own(ctx: &mut Ctx<'_>, id: &str) -> Result<ConnectionNotification, ApiError> {
    let nid: ConnectionNotificationId = parse_id(id, "InvalidConnectionNotification")?;
    let missing = || {
        ApiError::client(
            "InvalidConnectionNotification",
            format!("The connection notification '{nid}' does not exist"),
        )
    };
    match notifications::get(&mut ctx.tx, &nid).await {
        Ok(n) if ctx.mine(&n) => Ok(n),
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(missing()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DescribeRequest {
    connection_notification_id: Option<String>,
    #[serde(default)]
    filters: Vec<Filter>,
    #[serde(skip_serializing)]
    max_results: Option<i64>,
    #[serde(skip_serializing)]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeResponse {
    connection_notification_set: Vec<NotificationView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

const FILTERS: &[&str] = &[
    "connection-notification-arn",
    "connection-notification-id",
    "connection-notification-state",
    "connection-notification-type",
    "service-id",
    "vpc-endpoint-id",
];

pub(crate) async fn describe_vpc_endpoint_connection_notifications(
    ctx: &mut Ctx<'_>,
    req: DescribeRequest,
) -> Result<DescribeResponse, ApiError> {
    ctx.authorize("ec2:DescribeVpcEndpointConnectionNotifications", "*")
        .await?;
    let filters = Filters::new(&req.filters, FILTERS)?;
    let list = match &req.connection_notification_id {
        Some(id) => vec![own(ctx, id).await?],
        None => {
            let account = ctx.caller.account.clone();
            let mut all = notifications::list(&mut ctx.tx, &account).await?;
            all.retain(|x| ctx.here(x));
            all
        }
    };
    let list: Vec<ConnectionNotification> = list
        .into_iter()
        .filter(|n| {
            filters.matches(|name| match (name, n.watched) {
                ("connection-notification-arn", _) => vec![n.topic_arn.clone()],
                ("connection-notification-id", _) => vec![n.id.to_string()],
                ("connection-notification-state", _) => vec!["Enabled".into()],
                ("connection-notification-type", _) => vec!["Topic".into()],
                ("service-id", Watched::Service(s)) => vec![s.to_string()],
                ("vpc-endpoint-id", Watched::Endpoint(e)) => vec![e.to_string()],
                _ => vec![],
            })
        })
        .collect();
    let page = PageRequest {
        size: req.max_results,
        token: req.next_token.as_deref(),
        scope: scope("DescribeVpcEndpointConnectionNotifications", &req),
        style: PageStyle::Ec2,
    };
    let (list, next_token) = paginate(ctx, &page, list, |n| n.id.to_string())?;
    Ok(DescribeResponse {
        connection_notification_set: list.iter().map(NotificationView::from).collect(),
        next_token,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct ModifyRequest {
    connection_notification_id: String,
    connection_notification_arn: Option<String>,
    #[serde(default)]
    connection_events: Vec<String>,
}

/// `ModifyVpcEndpointConnectionNotification` answers `ReturnValue`, not EC2's usual `Return`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ModifyResponse {
    return_value: bool,
}

pub(crate) async fn modify_vpc_endpoint_connection_notification(
    ctx: &mut Ctx<'_>,
    req: ModifyRequest,
) -> Result<ModifyResponse, ApiError> {
    let arn = ec2_arn(
        ctx,
        "vpc-endpoint-connection-notification",
        &req.connection_notification_id,
    );
    ctx.authorize("ec2:ModifyVpcEndpointConnectionNotification", &arn)
        .await?;
    let n = own(ctx, &req.connection_notification_id).await?;
    let topic = match &req.connection_notification_arn {
        Some(a) => {
            check_topic(a)?;
            a.clone()
        }
        None => n.topic_arn.clone(),
    };
    let events = if req.connection_events.is_empty() {
        n.events.clone()
    } else {
        check_events(&req.connection_events, n.watched)?
    };
    notifications::update(&mut ctx.tx, &n.id, &topic, &events).await?;
    Ok(ModifyResponse { return_value: true })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DeleteRequest {
    #[serde(default)]
    connection_notification_ids: Vec<String>,
}

pub(crate) async fn delete_vpc_endpoint_connection_notifications(
    ctx: &mut Ctx<'_>,
    req: DeleteRequest,
) -> Result<UnsuccessfulResponse, ApiError> {
    if req.connection_notification_ids.is_empty() {
        return Err(ApiError::missing("ConnectionNotificationIds"));
    }
    for id in &req.connection_notification_ids {
        let arn = ec2_arn(ctx, "vpc-endpoint-connection-notification", id);
        ctx.authorize("ec2:DeleteVpcEndpointConnectionNotifications", &arn)
            .await?;
    }
    let mut unsuccessful = Vec::new();
    for id in &req.connection_notification_ids {
        match own(ctx, id).await {
            Ok(n) => notifications::delete(&mut ctx.tx, &n.id).await?,
            Err(e) => unsuccessful.push(UnsuccessfulItem::new(id, e)),
        }
    }
    Ok(UnsuccessfulResponse { unsuccessful })
}

/// Delivers `event` (`Connect`, `Accept`, `Reject` or `Delete`) about endpoint `e` to every
/// notification that asked for it: a structured log event per topic.
pub(crate) async fn notify(
    ctx: &mut Ctx<'_>,
    e: &Endpoint,
    event: &'static str,
) -> Result<(), ApiError> {
    notify_all(ctx, e, &[event]).await
}

/// As [`notify`], for several events in order, with one read of the watchers.
pub(crate) async fn notify_all(
    ctx: &mut Ctx<'_>,
    e: &Endpoint,
    events: &[&'static str],
) -> Result<(), ApiError> {
    let watchers = notifications::watching(&mut ctx.tx, &e.id, &e.service).await?;
    for &event in events {
        for n in watchers
            .iter()
            .filter(|n| n.events.iter().any(|x| x == event))
        {
            tracing::info!(
                target: "underpass::notification",
                topic = %n.topic_arn,
                notification = %n.id,
                event,
                endpoint = %e.id,
                service = %e.service,
                endpoint_owner = %e.account,
                "endpoint connection notification"
            );
            ctx.state.metrics.notified(event);
        }
    }
    Ok(())
}
