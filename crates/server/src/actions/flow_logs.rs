//! VPC Flow Logs as resources: `CreateFlowLogs`, `DescribeFlowLogs`, `DeleteFlowLogs`.
//!
//! A flow log covers a VPC, a subnet or a network interface of the caller's, keeps ACCEPT,
//! REJECT or ALL records, aggregates over 60 or 600 seconds, and writes in a format string
//! checked by `underpass-flowlogs` (default: version 2). Destinations: `s3` (a bucket ARN; the
//! agents write to the S3-compatible store they are configured with) and Underpass's own
//! `file`: a directory under the flow-log root of the agents that write it, which never names an
//! absolute path, `..`, or anything but plain names (RELIABILITY item 9). `DestinationOptions`
//! (gzip text or Parquet, Hive-compatible and per-hour partitions) apply to both. As in EC2,
//! per-resource failures are `Unsuccessful` items, and a resource holds at most two flow logs.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use underpass_domain::{EniId, FlowLogId};
use underpass_flowlogs::{aggregation_interval, Destination, FlowLogFormat, TrafficType};
use underpass_store::flow_logs::{self, FlowLog};
use underpass_store::iam::{self as iam_store, TokenLookup};
use underpass_store::network;
use underpass_store::tags as tag_store;

use super::describe::{
    check_client_token, fingerprint, paginate, scope, Filter, Filters, PageRequest, PageStyle,
};
use super::lookup::{self, ec2_arn, parse_id, timestamp, UnsuccessfulItem};
use super::tags::{self, TagSpecification, TagView};
use super::vpce_services::{invalid_parameter, mismatch};
use super::Ctx;
use crate::api::ApiError;

/// Flow logs one resource may hold (EC2's quota).
const PER_RESOURCE: usize = 2;
/// Resources one `CreateFlowLogs` call may name.
const MAX_RESOURCES: usize = 100;
/// The longest accepted format string.
const MAX_FORMAT: usize = 4096;
const CREATE_FLOW_LOGS: &str = "CreateFlowLogs";

/// `DestinationOptions`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DestinationOptions {
    file_format: Option<String>,
    hive_compatible_partitions: Option<bool>,
    per_hour_partition: Option<bool>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateFlowLogsRequest {
    #[serde(default)]
    resource_ids: Vec<String>,
    resource_type: Option<String>,
    traffic_type: Option<String>,
    log_destination_type: Option<String>,
    log_destination: Option<String>,
    log_format: Option<String>,
    max_aggregation_interval: Option<i64>,
    destination_options: Option<DestinationOptions>,
    #[serde(default)]
    tag_specifications: Vec<TagSpecification>,
    deliver_logs_permission_arn: Option<String>,
    deliver_cross_account_role: Option<String>,
    log_group_name: Option<String>,
    #[serde(skip_serializing)]
    client_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateFlowLogsResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    client_token: Option<String>,
    flow_log_ids: Vec<String>,
    unsuccessful: Vec<UnsuccessfulItem>,
}

/// The checked, request-wide settings of a `CreateFlowLogs` call.
struct Settings {
    resource_type: &'static str,
    traffic: TrafficType,
    interval: u32,
    format: String,
    destination: Destination,
    file_format: &'static str,
    hive: bool,
    per_hour: bool,
}

fn settings(req: &CreateFlowLogsRequest) -> Result<Settings, ApiError> {
    let resource_type = match req.resource_type.as_deref() {
        None => return Err(ApiError::missing("ResourceType")),
        Some("VPC") => "VPC",
        Some("Subnet") => "Subnet",
        Some("NetworkInterface") => "NetworkInterface",
        Some(other) => {
            return Err(invalid_parameter(format!(
                "ResourceType {:?} is not supported: use VPC, Subnet or NetworkInterface",
                other.chars().take(64).collect::<String>()
            )))
        }
    };
    if req.resource_ids.is_empty() {
        return Err(ApiError::missing("ResourceIds"));
    }
    if req.resource_ids.len() > MAX_RESOURCES {
        return Err(invalid_parameter(format!(
            "At most {MAX_RESOURCES} ResourceIds may be given in one call"
        )));
    }
    let traffic: TrafficType = req
        .traffic_type
        .as_deref()
        .ok_or_else(|| ApiError::missing("TrafficType"))?
        .parse()
        .map_err(|e: underpass_flowlogs::SpecError| invalid_parameter(e.to_string()))?;
    let interval = aggregation_interval(req.max_aggregation_interval.unwrap_or(600))
        .map_err(|e| invalid_parameter(e.to_string()))?;
    let format = match req.log_format.as_deref() {
        None => FlowLogFormat::default_v2(),
        Some(f) if f.len() > MAX_FORMAT => {
            return Err(invalid_parameter(format!(
                "LogFormat is longer than {MAX_FORMAT} characters"
            )))
        }
        Some(f) => FlowLogFormat::parse(f).map_err(|e| invalid_parameter(e.to_string()))?,
    };
    if req.log_group_name.is_some() || req.deliver_cross_account_role.is_some() {
        return Err(invalid_parameter(
            "LogGroupName and DeliverCrossAccountRole apply to CloudWatch Logs and Firehose destinations, which Underpass does not offer",
        ));
    }
    let kind = req.log_destination_type.as_deref().ok_or_else(|| {
        invalid_parameter(
            "LogDestinationType is required: s3, or file for a directory under the flow-log root",
        )
    })?;
    let value = req
        .log_destination
        .as_deref()
        .ok_or_else(|| ApiError::missing("LogDestination"))?;
    let destination =
        Destination::parse(kind, value).map_err(|e| invalid_parameter(e.to_string()))?;
    let options = req
        .destination_options
        .clone()
        .unwrap_or(DestinationOptions {
            file_format: None,
            hive_compatible_partitions: None,
            per_hour_partition: None,
        });
    let file_format = match options.file_format.as_deref() {
        None | Some("plain-text") => "plain-text",
        Some("parquet") => "parquet",
        Some(other) => {
            return Err(invalid_parameter(format!(
                "DestinationOptions.FileFormat {:?} is not valid: use plain-text or parquet",
                other.chars().take(64).collect::<String>()
            )))
        }
    };
    Ok(Settings {
        resource_type,
        traffic,
        interval: u32::try_from(interval.as_secs()).unwrap_or(600),
        format: format.to_string(),
        destination,
        file_format,
        hive: options.hive_compatible_partitions.unwrap_or(false),
        per_hour: options.per_hour_partition.unwrap_or(false),
    })
}

/// Checks that `id` is one of the caller's resources of `kind`.
async fn check_resource(ctx: &mut Ctx<'_>, kind: &str, id: &str) -> Result<(), ApiError> {
    match kind {
        "VPC" => lookup::vpc(ctx, id).await.map(drop),
        "Subnet" => lookup::subnet(ctx, id).await.map(drop),
        _ => {
            let eid: EniId = parse_id(id, "InvalidNetworkInterfaceID.Malformed")?;
            let account = ctx.caller.account.clone();
            let mine = network::list_enis(&mut ctx.tx, Some(&account))
                .await?
                .iter()
                .any(|e| e.id == eid && ctx.here(e));
            if mine {
                Ok(())
            } else {
                Err(ApiError::client(
                    "InvalidNetworkInterfaceID.NotFound",
                    format!("The networkInterface ID '{eid}' does not exist"),
                ))
            }
        }
    }
}

/// The caller's flow log `id` (a foreign or missing one is `InvalidFlowLogId.NotFound`).
pub(crate) async fn own(ctx: &mut Ctx<'_>, id: &str) -> Result<FlowLog, ApiError> {
    let fid: FlowLogId = parse_id(id, "InvalidFlowLogId.Malformed")?;
    match flow_logs::get(&mut ctx.tx, &fid).await {
        Ok(f) if ctx.mine(&f) => Ok(f),
        Ok(_) | Err(underpass_store::StoreError::NotFound { .. }) => Err(ApiError::client(
            "InvalidFlowLogId.NotFound",
            format!("Flow log '{fid}' does not exist"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Deletes the flow logs on `resources` (a VPC, subnet or ENI being deleted), with their tags.
pub(crate) async fn delete_on(ctx: &mut Ctx<'_>, resources: &[String]) -> Result<(), ApiError> {
    for f in flow_logs::on_resources(&mut ctx.tx, resources).await? {
        flow_logs::delete(&mut ctx.tx, &f.id).await?;
        tag_store::remove_all(&mut ctx.tx, &f.id.to_string()).await?;
    }
    Ok(())
}

fn resource_arn(ctx: &Ctx<'_>, kind: &str, id: &str) -> String {
    let what = match kind {
        "VPC" => "vpc",
        "Subnet" => "subnet",
        _ => "network-interface",
    };
    ec2_arn(ctx, what, id)
}

pub(crate) async fn create_flow_logs(
    ctx: &mut Ctx<'_>,
    req: CreateFlowLogsRequest,
) -> Result<CreateFlowLogsResponse, ApiError> {
    let s = settings(&req)?;
    let mut ids = Vec::with_capacity(req.resource_ids.len());
    let mut tag_list = Vec::new();
    for rid in &req.resource_ids {
        let id = FlowLogId::from_bits(ctx.new_id()?);
        let fl_arn = ec2_arn(ctx, "vpc-flow-log", id);
        ctx.authorize("ec2:CreateFlowLogs", &fl_arn).await?;
        tag_list = tags::on_create(ctx, &req.tag_specifications, "vpc-flow-log", &fl_arn).await?;
        let arn = resource_arn(ctx, s.resource_type, rid);
        ctx.authorize("ec2:CreateFlowLogs", &arn).await?;
        ids.push(id);
    }
    let account = ctx.caller.account.clone();
    let hash = fingerprint(&req)?;
    if let Some(token) = &req.client_token {
        check_client_token(token)?;
        match iam_store::client_token(&mut ctx.tx, &account, CREATE_FLOW_LOGS, token, &hash).await?
        {
            TokenLookup::New => {}
            TokenLookup::Replay(existing) => {
                return Ok(CreateFlowLogsResponse {
                    client_token: req.client_token.clone(),
                    flow_log_ids: existing.split_whitespace().map(str::to_owned).collect(),
                    unsuccessful: Vec::new(),
                });
            }
            TokenLookup::Mismatch => return Err(mismatch()),
        }
    }
    let mut created = Vec::new();
    let mut unsuccessful = Vec::new();
    let mut seen = BTreeSet::new();
    for (rid, id) in req.resource_ids.iter().zip(ids) {
        if !seen.insert(rid) {
            continue;
        }
        if let Err(e) = check_resource(ctx, s.resource_type, rid).await {
            unsuccessful.push(UnsuccessfulItem::new(rid, e));
            continue;
        }
        let existing = flow_logs::on_resources(&mut ctx.tx, std::slice::from_ref(rid)).await?;
        let same = existing.iter().any(|f| {
            f.traffic_type == s.traffic.as_str()
                && f.destination_type == s.destination.kind()
                && f.destination == s.destination.value()
        });
        if same {
            unsuccessful.push(UnsuccessfulItem::new(
                rid,
                ApiError::client(
                    "FlowLogAlreadyExists",
                    "There is an existing Flow Log with the same configuration and log destination.",
                ),
            ));
            continue;
        }
        if existing.len() >= PER_RESOURCE {
            unsuccessful.push(UnsuccessfulItem::new(
                rid,
                ApiError::client(
                    "FlowLogsLimitExceeded",
                    format!("A resource may hold at most {PER_RESOURCE} flow logs."),
                ),
            ));
            continue;
        }
        let row = FlowLog {
            id,
            account: account.clone(),
            region: ctx.region().to_owned(),
            resource_id: rid.clone(),
            resource_type: s.resource_type.to_owned(),
            traffic_type: s.traffic.as_str().to_owned(),
            max_aggregation_interval: s.interval,
            log_format: s.format.clone(),
            destination_type: s.destination.kind().to_owned(),
            destination: s.destination.value(),
            file_format: s.file_format.to_owned(),
            hive_compatible_partitions: s.hive,
            per_hour_partition: s.per_hour,
            created: ctx.meta.now,
        };
        flow_logs::insert(&mut ctx.tx, &row).await?;
        tags::save_new(ctx, &id.to_string(), "vpc-flow-log", &tag_list).await?;
        created.push(id.to_string());
    }
    if let Some(token) = &req.client_token {
        iam_store::save_client_token(
            &mut ctx.tx,
            &account,
            CREATE_FLOW_LOGS,
            token,
            &hash,
            &created.join(" "),
            ctx.meta.now,
        )
        .await?;
    }
    Ok(CreateFlowLogsResponse {
        client_token: req.client_token,
        flow_log_ids: created,
        unsuccessful,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DestinationOptionsView {
    file_format: String,
    hive_compatible_partitions: bool,
    per_hour_partition: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct FlowLogView {
    creation_time: String,
    deliver_logs_status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    deliver_logs_error_message: Option<&'static str>,
    flow_log_id: String,
    flow_log_status: &'static str,
    resource_id: String,
    traffic_type: String,
    log_destination_type: String,
    log_destination: String,
    log_format: String,
    max_aggregation_interval: u32,
    destination_options: DestinationOptionsView,
    tags: Vec<TagView>,
}

/// EC2's `DeliverLogsErrorMessage` for what an agent reported: one of EC2's three messages
/// (`Access error`, `Rate limited`, `Unknown error`), anything else read as the last.
pub(crate) fn delivery_error(reported: &str) -> &'static str {
    ["Access error", "Rate limited"]
        .into_iter()
        .find(|m| *m == reported)
        .unwrap_or("Unknown error")
}

/// How long an agent's report of a failed delivery counts: agents report every few seconds
/// while they run, so an older one is from an agent that stopped (or was fixed and restarted).
const DELIVERY_REPORT_TTL: time::Duration = time::Duration::minutes(5);

/// `DeliverLogsStatus`: `FAILED` while an agent reports that its last write of the flow log's
/// records failed (they stay spooled and are retried; see the agent's flow-log writer), with
/// EC2's message for why; else `SUCCESS`.
fn deliver_status(
    f: &FlowLog,
    errors: &HashMap<String, String>,
) -> (&'static str, Option<&'static str>) {
    match errors.get(&f.id.to_string()) {
        None => ("SUCCESS", None),
        Some(e) => ("FAILED", Some(delivery_error(e))),
    }
}

impl FlowLogView {
    fn new(f: &FlowLog, tags: &[(String, String)], errors: &HashMap<String, String>) -> Self {
        let (status, message) = deliver_status(f, errors);
        Self {
            creation_time: timestamp(f.created),
            deliver_logs_status: status,
            deliver_logs_error_message: message,
            flow_log_id: f.id.to_string(),
            flow_log_status: "ACTIVE",
            resource_id: f.resource_id.clone(),
            traffic_type: f.traffic_type.clone(),
            log_destination_type: f.destination_type.clone(),
            log_destination: f.destination.clone(),
            log_format: f.log_format.clone(),
            max_aggregation_interval: f.max_aggregation_interval,
            destination_options: DestinationOptionsView {
                file_format: f.file_format.clone(),
                hive_compatible_partitions: f.hive_compatible_partitions,
                per_hour_partition: f.per_hour_partition,
            },
            tags: tags::view(tags),
        }
    }
}

/// `DescribeFlowLogs` (EC2 names its filter list `Filter` here).
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DescribeFlowLogsRequest {
    #[serde(default)]
    flow_log_ids: Vec<String>,
    #[serde(default)]
    filter: Vec<Filter>,
    #[serde(skip_serializing)]
    max_results: Option<i64>,
    #[serde(skip_serializing)]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeFlowLogsResponse {
    flow_logs: Vec<FlowLogView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

const FLOW_LOG_FILTERS: &[&str] = &[
    "flow-log-id",
    "resource-id",
    "log-destination-type",
    "traffic-type",
    "deliver-log-status",
    "log-format",
    "tag-key",
];

pub(crate) async fn describe_flow_logs(
    ctx: &mut Ctx<'_>,
    req: DescribeFlowLogsRequest,
) -> Result<DescribeFlowLogsResponse, ApiError> {
    ctx.authorize("ec2:DescribeFlowLogs", "*").await?;
    let filters = Filters::new(&req.filter, FLOW_LOG_FILTERS)?;
    let mut wanted = BTreeSet::new();
    for id in &req.flow_log_ids {
        let fid: FlowLogId = parse_id(id, "InvalidFlowLogId.Malformed")?;
        wanted.insert(fid);
    }
    let account = ctx.caller.account.clone();
    let all_tags = tag_store::by_resource(&mut ctx.tx, &account, &ctx.caller.region).await?;
    let errors =
        flow_logs::delivery_errors(&mut ctx.tx, ctx.meta.now - DELIVERY_REPORT_TTL).await?;
    let logs: Vec<FlowLog> = flow_logs::list(&mut ctx.tx, Some(&account))
        .await?
        .into_iter()
        .filter(|f| ctx.here(f))
        .filter(|f| wanted.is_empty() || wanted.contains(&f.id))
        .filter(|f| {
            let t = tags::of(&all_tags, &f.id.to_string());
            filters.matches(|name| {
                if let Some(values) = tags::filter_values(name, t) {
                    return values;
                }
                match name {
                    "log-format" => vec![f.log_format.clone()],
                    "flow-log-id" => vec![f.id.to_string()],
                    "resource-id" => vec![f.resource_id.clone()],
                    "log-destination-type" => vec![f.destination_type.clone()],
                    "traffic-type" => vec![f.traffic_type.clone()],
                    "deliver-log-status" => vec![deliver_status(f, &errors).0.into()],
                    _ => vec![],
                }
            })
        })
        .collect();
    let page = PageRequest {
        size: req.max_results,
        token: req.next_token.as_deref(),
        scope: scope("DescribeFlowLogs", &req),
        style: PageStyle::Ec2,
    };
    let (logs, next_token) = paginate(ctx, &page, logs, |f| f.id.to_string())?;
    Ok(DescribeFlowLogsResponse {
        flow_logs: logs
            .iter()
            .map(|f| FlowLogView::new(f, tags::of(&all_tags, &f.id.to_string()), &errors))
            .collect(),
        next_token,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DeleteFlowLogsRequest {
    #[serde(default)]
    flow_log_ids: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeleteFlowLogsResponse {
    unsuccessful: Vec<UnsuccessfulItem>,
}

pub(crate) async fn delete_flow_logs(
    ctx: &mut Ctx<'_>,
    req: DeleteFlowLogsRequest,
) -> Result<DeleteFlowLogsResponse, ApiError> {
    if req.flow_log_ids.is_empty() {
        return Err(ApiError::missing("FlowLogIds"));
    }
    for id in &req.flow_log_ids {
        let arn = ec2_arn(ctx, "vpc-flow-log", id);
        ctx.authorize("ec2:DeleteFlowLogs", &arn).await?;
    }
    let not_found = |id: &str| {
        ApiError::client(
            "InvalidFlowLogId.NotFound",
            format!(
                "Flow log '{}' does not exist",
                id.chars().take(64).collect::<String>()
            ),
        )
    };
    let mut unsuccessful = Vec::new();
    let mut seen = BTreeSet::new();
    for id in &req.flow_log_ids {
        if !seen.insert(id) {
            continue;
        }
        let fid: FlowLogId = match parse_id(id, "InvalidFlowLogId.Malformed") {
            Ok(f) => f,
            Err(e) => {
                unsuccessful.push(UnsuccessfulItem::new(id, e));
                continue;
            }
        };
        match flow_logs::get(&mut ctx.tx, &fid).await {
            Ok(f) if ctx.mine(&f) => {
                flow_logs::delete(&mut ctx.tx, &fid).await?;
                tag_store::remove_all(&mut ctx.tx, &fid.to_string()).await?;
            }
            Ok(_) | Err(underpass_store::StoreError::NotFound { .. }) => {
                unsuccessful.push(UnsuccessfulItem::new(id, not_found(id)));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(DeleteFlowLogsResponse { unsuccessful })
}
