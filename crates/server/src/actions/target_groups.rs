//! ELBv2 target groups: settings (health checks with ELBv2's defaults) and attributes. Their
//! targets and the targets' health are in `targets.rs`.

use serde::{Deserialize, Serialize};
use underpass_store::records::{HealthCheck, TargetGroup};
use underpass_store::services;
use underpass_store::StoreError;

use super::describe::{paginate, scope, PageRequest, PageStyle};
use super::elb::{
    bool_attr, check_name, elb_arn, hex16, own_lb, own_tg, validation, Attribute,
    AttributesResponse, Empty,
};
use super::lookup;
use super::Ctx;
use crate::api::ApiError;

/// ELBv2's defaults for TCP target groups of network load balancers.
const DEFAULT_INTERVAL: u32 = 30;
const DEFAULT_TIMEOUT_TCP: u32 = 10;
const DEFAULT_TIMEOUT_HTTP: u32 = 6;
const DEFAULT_HEALTHY: u32 = 5;
const DEFAULT_UNHEALTHY: u32 = 2;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TgView {
    target_group_arn: String,
    target_group_name: String,
    protocol: String,
    port: u16,
    vpc_id: String,
    target_type: &'static str,
    ip_address_type: &'static str,
    health_check_enabled: bool,
    health_check_protocol: String,
    health_check_port: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    health_check_path: Option<String>,
    health_check_interval_seconds: u32,
    health_check_timeout_seconds: u32,
    healthy_threshold_count: u32,
    unhealthy_threshold_count: u32,
    load_balancer_arns: Vec<String>,
}

async fn tg_view(ctx: &mut Ctx<'_>, tg: &TargetGroup) -> Result<TgView, ApiError> {
    let h = &tg.health;
    Ok(TgView {
        target_group_arn: tg.arn.clone(),
        target_group_name: tg.name.clone(),
        protocol: tg.protocol.clone(),
        port: tg.port,
        vpc_id: tg.vpc.to_string(),
        target_type: "ip",
        ip_address_type: "ipv4",
        health_check_enabled: true,
        health_check_protocol: h.protocol.clone(),
        health_check_port: h.port.clone(),
        health_check_path: (h.protocol == "HTTP").then(|| h.path.clone()),
        health_check_interval_seconds: h.interval_secs,
        health_check_timeout_seconds: h.timeout_secs,
        healthy_threshold_count: h.healthy_threshold,
        unhealthy_threshold_count: h.unhealthy_threshold,
        load_balancer_arns: services::lbs_of_tg(&mut ctx.tx, &tg.arn).await?,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TgsResponse {
    target_groups: Vec<TgView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

/// Health-check settings as requests carry them (all optional).
#[derive(Debug, Default)]
pub(crate) struct HealthInput {
    health_check_protocol: Option<String>,
    health_check_port: Option<String>,
    health_check_path: Option<String>,
    health_check_interval_seconds: Option<i64>,
    health_check_timeout_seconds: Option<i64>,
    healthy_threshold_count: Option<i64>,
    unhealthy_threshold_count: Option<i64>,
    health_check_enabled: Option<bool>,
}

/// Moves the health-check fields of a request into a [`HealthInput`] (`serde(flatten)` does
/// not combine with `deny_unknown_fields`, so each request lists them).
macro_rules! health_input {
    ($req:expr) => {
        HealthInput {
            health_check_protocol: $req.health_check_protocol,
            health_check_port: $req.health_check_port,
            health_check_path: $req.health_check_path,
            health_check_interval_seconds: $req.health_check_interval_seconds,
            health_check_timeout_seconds: $req.health_check_timeout_seconds,
            healthy_threshold_count: $req.healthy_threshold_count,
            unhealthy_threshold_count: $req.unhealthy_threshold_count,
            health_check_enabled: $req.health_check_enabled,
        }
    };
}

pub(crate) fn in_range(field: &str, v: i64, lo: u32, hi: u32) -> Result<u32, ApiError> {
    u32::try_from(v)
        .ok()
        .filter(|x| (lo..=hi).contains(x))
        .ok_or_else(|| {
            validation(format!(
                "1 validation error detected: Value '{v}' at '{field}' failed to satisfy constraint: Member must have value between {lo} and {hi}"
            ))
        })
}

/// Applies `input` over `base` (or ELBv2's defaults when creating) and checks the result.
fn merge_health(base: Option<&HealthCheck>, input: &HealthInput) -> Result<HealthCheck, ApiError> {
    if input.health_check_enabled == Some(false) {
        return Err(validation(
            "Health checks cannot be disabled for target groups of network load balancers",
        ));
    }
    let protocol = match input.health_check_protocol.as_deref() {
        Some(p @ ("TCP" | "HTTP")) => p.to_owned(),
        Some(p) => {
            return Err(validation(format!(
                "Health check protocol '{}' is not supported: use TCP or HTTP",
                p.chars().take(16).collect::<String>()
            )))
        }
        None => base.map_or_else(|| "TCP".to_owned(), |b| b.protocol.clone()),
    };
    let http = protocol == "HTTP";
    let port = match input.health_check_port.as_deref() {
        Some("traffic-port") => "traffic-port".to_owned(),
        Some(p) => {
            let n: i64 = p.parse().map_err(|_| {
                validation("HealthCheckPort must be 'traffic-port' or a port number")
            })?;
            in_range("healthCheckPort", n, 1, 65535)?.to_string()
        }
        None => base.map_or_else(|| "traffic-port".to_owned(), |b| b.port.clone()),
    };
    let path = match (&input.health_check_path, http) {
        (Some(_), false) => {
            return Err(validation(
                "A health check path can only be set for HTTP health checks",
            ))
        }
        (Some(p), true) => {
            if !p.starts_with('/') || p.len() > 1024 || !p.chars().all(|c| c.is_ascii_graphic()) {
                return Err(validation(
                    "HealthCheckPath must start with '/' and be at most 1024 printable characters",
                ));
            }
            p.clone()
        }
        (None, true) => base
            .filter(|b| b.protocol == "HTTP")
            .map_or_else(|| "/".to_owned(), |b| b.path.clone()),
        (None, false) => String::new(),
    };
    let pick = |v: Option<i64>, field: &str, lo, hi, old: Option<u32>, default| match v {
        Some(v) => in_range(field, v, lo, hi),
        None => Ok(old.unwrap_or(default)),
    };
    let interval = pick(
        input.health_check_interval_seconds,
        "healthCheckIntervalSeconds",
        5,
        300,
        base.map(|b| b.interval_secs),
        DEFAULT_INTERVAL,
    )?;
    let default_timeout = if http {
        DEFAULT_TIMEOUT_HTTP
    } else {
        DEFAULT_TIMEOUT_TCP
    };
    let timeout = pick(
        input.health_check_timeout_seconds,
        "healthCheckTimeoutSeconds",
        2,
        120,
        base.map(|b| b.timeout_secs),
        default_timeout,
    )?;
    let healthy = pick(
        input.healthy_threshold_count,
        "healthyThresholdCount",
        2,
        10,
        base.map(|b| b.healthy_threshold),
        DEFAULT_HEALTHY,
    )?;
    let unhealthy = pick(
        input.unhealthy_threshold_count,
        "unhealthyThresholdCount",
        2,
        10,
        base.map(|b| b.unhealthy_threshold),
        DEFAULT_UNHEALTHY,
    )?;
    if timeout >= interval {
        return Err(validation(format!(
            "Health check timeout ({timeout}s) must be smaller than the interval ({interval}s)"
        )));
    }
    Ok(HealthCheck {
        protocol,
        port,
        path,
        interval_secs: interval,
        timeout_secs: timeout,
        healthy_threshold: healthy,
        unhealthy_threshold: unhealthy,
    })
}

/// `CreateTargetGroup`: TCP, IP targets (`TargetType` defaults to `ip` here; ELBv2 defaults to
/// `instance`, which Underpass does not have).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateTgRequest {
    name: String,
    protocol: Option<String>,
    port: Option<i64>,
    vpc_id: Option<String>,
    target_type: Option<String>,
    health_check_protocol: Option<String>,
    health_check_port: Option<String>,
    health_check_path: Option<String>,
    health_check_interval_seconds: Option<i64>,
    health_check_timeout_seconds: Option<i64>,
    healthy_threshold_count: Option<i64>,
    unhealthy_threshold_count: Option<i64>,
    health_check_enabled: Option<bool>,
    #[serde(default)]
    tags: Vec<super::elb_tags::ElbTag>,
}

pub(crate) async fn create_target_group(
    ctx: &mut Ctx<'_>,
    req: CreateTgRequest,
) -> Result<TgsResponse, ApiError> {
    check_name("Target group", &req.name)?;
    let arn = elb_arn(ctx, &format!("targetgroup/{}/{}", req.name, hex16(ctx)?));
    ctx.authorize("elasticloadbalancing:CreateTargetGroup", &arn)
        .await?;
    if !matches!(req.target_type.as_deref(), None | Some("ip")) {
        return Err(validation(
            "Underpass target groups take IP targets: TargetType must be 'ip'",
        ));
    }
    match req.protocol.as_deref() {
        Some("TCP") => {}
        None => return Err(validation("A protocol must be specified")),
        Some(p) => {
            return Err(validation(format!(
                "Protocol '{}' is not supported: Underpass target groups are TCP",
                p.chars().take(16).collect::<String>()
            )))
        }
    }
    let port = u16::try_from(in_range(
        "port",
        req.port
            .ok_or_else(|| validation("A port must be specified"))?,
        1,
        65535,
    )?)
    .map_err(|_| validation("port out of range"))?;
    let vpc_id = req
        .vpc_id
        .ok_or_else(|| validation("A VPC ID must be specified"))?;
    let vpc = lookup::vpc(ctx, &vpc_id).await.map_err(|_| {
        validation(format!(
            "The VPC ID '{}' is not found",
            vpc_id.chars().take(64).collect::<String>()
        ))
    })?;
    let health = merge_health(None, &health_input!(req))?;
    let tag_list = super::elb_tags::check(&req.tags)?;
    let tg = TargetGroup {
        arn: arn.clone(),
        account: ctx.caller.account.clone(),
        region: vpc.region.clone(),
        name: req.name,
        vpc: vpc.id,
        protocol: "TCP".into(),
        port,
        health,
        proxy_protocol_v2: false,
        targets: vec![],
    };
    services::insert_tg(&mut ctx.tx, &tg, ctx.meta.now)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => ApiError::client("DuplicateTargetGroupName", m),
            e => e.into(),
        })?;
    super::elb_tags::save_new(ctx, &arn, "targetgroup", &tag_list).await?;
    Ok(TgsResponse {
        target_groups: vec![tg_view(ctx, &tg).await?],
        next_marker: None,
    })
}

/// `DescribeTargetGroups`.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DescribeTgsRequest {
    #[serde(default)]
    target_group_arns: Vec<String>,
    #[serde(default)]
    names: Vec<String>,
    load_balancer_arn: Option<String>,
    #[serde(skip_serializing)]
    marker: Option<String>,
    #[serde(skip_serializing)]
    page_size: Option<i64>,
}

pub(crate) async fn describe_target_groups(
    ctx: &mut Ctx<'_>,
    req: DescribeTgsRequest,
) -> Result<TgsResponse, ApiError> {
    ctx.authorize("elasticloadbalancing:DescribeTargetGroups", "*")
        .await?;
    let given = [
        !req.target_group_arns.is_empty(),
        !req.names.is_empty(),
        req.load_balancer_arn.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(validation(
            "Specify at most one of TargetGroupArns, Names and LoadBalancerArn",
        ));
    }
    let tgs = if !req.target_group_arns.is_empty() {
        let mut out = Vec::new();
        for arn in &req.target_group_arns {
            out.push(own_tg(ctx, arn).await?);
        }
        out
    } else {
        let account = ctx.caller.account.clone();
        let mut all = services::list_tgs(&mut ctx.tx, Some(&account)).await?;
        all.retain(|x| ctx.here(x));
        for n in &req.names {
            if !all.iter().any(|t| &t.name == n) {
                return Err(ApiError::client(
                    "TargetGroupNotFound",
                    format!(
                        "One or more target groups not found: '{}'",
                        n.chars().take(64).collect::<String>()
                    ),
                ));
            }
        }
        if !req.names.is_empty() {
            all.retain(|t| req.names.contains(&t.name));
        }
        if let Some(lb) = &req.load_balancer_arn {
            let lb = own_lb(ctx, lb).await?;
            let mut keep = Vec::new();
            for t in all {
                if services::lbs_of_tg(&mut ctx.tx, &t.arn)
                    .await?
                    .contains(&lb.arn)
                {
                    keep.push(t);
                }
            }
            all = keep;
        }
        all
    };
    let page = PageRequest {
        size: req.page_size,
        token: req.marker.as_deref(),
        scope: scope("DescribeTargetGroups", &req),
        style: PageStyle::Elb,
    };
    let (tgs, next_marker) = paginate(ctx, &page, tgs, |t| t.arn.clone())?;
    let mut target_groups = Vec::with_capacity(tgs.len());
    for t in &tgs {
        target_groups.push(tg_view(ctx, t).await?);
    }
    Ok(TgsResponse {
        target_groups,
        next_marker,
    })
}

/// `ModifyTargetGroup`: health-check settings.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct ModifyTgRequest {
    target_group_arn: String,
    health_check_protocol: Option<String>,
    health_check_port: Option<String>,
    health_check_path: Option<String>,
    health_check_interval_seconds: Option<i64>,
    health_check_timeout_seconds: Option<i64>,
    healthy_threshold_count: Option<i64>,
    unhealthy_threshold_count: Option<i64>,
    health_check_enabled: Option<bool>,
}

pub(crate) async fn modify_target_group(
    ctx: &mut Ctx<'_>,
    req: ModifyTgRequest,
) -> Result<TgsResponse, ApiError> {
    ctx.authorize(
        "elasticloadbalancing:ModifyTargetGroup",
        &tg_arn_checked(&req.target_group_arn)?,
    )
    .await?;
    let mut tg = own_tg(ctx, &req.target_group_arn).await?;
    tg.health = merge_health(Some(&tg.health), &health_input!(req))?;
    services::update_tg(&mut ctx.tx, &tg).await?;
    Ok(TgsResponse {
        target_groups: vec![tg_view(ctx, &tg).await?],
        next_marker: None,
    })
}

pub(crate) fn tg_arn_checked(arn: &str) -> Result<String, ApiError> {
    if arn.starts_with("arn:") && arn.contains(":targetgroup/") && arn.len() <= 512 {
        Ok(arn.to_owned())
    } else {
        Err(validation(format!(
            "'{}' is not a valid target group ARN",
            arn.chars().take(64).collect::<String>()
        )))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct TgArnRequest {
    target_group_arn: String,
}

/// `DeleteTargetGroup`: refused with `ResourceInUse` while a listener forwards to it.
pub(crate) async fn delete_target_group(
    ctx: &mut Ctx<'_>,
    req: TgArnRequest,
) -> Result<Empty, ApiError> {
    ctx.authorize(
        "elasticloadbalancing:DeleteTargetGroup",
        &tg_arn_checked(&req.target_group_arn)?,
    )
    .await?;
    let tg = own_tg(ctx, &req.target_group_arn).await?;
    services::delete_tg(&mut ctx.tx, &tg.arn)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => ApiError::client("ResourceInUse", m),
            e => e.into(),
        })?;
    services::clear_target_health(&mut ctx.tx, &tg.arn, None).await?;
    underpass_store::tags::remove_all(&mut ctx.tx, &tg.arn).await?;
    Ok(Empty {})
}

async fn tg_attributes(
    ctx: &mut Ctx<'_>,
    tg: &TargetGroup,
) -> Result<AttributesResponse, ApiError> {
    let delay = services::tg_deregistration_delay(&mut ctx.tx, &tg.arn).await?;
    Ok(AttributesResponse {
        attributes: vec![
            Attribute {
                key: "deregistration_delay.timeout_seconds".into(),
                value: delay.to_string(),
            },
            Attribute {
                key: "proxy_protocol_v2.enabled".into(),
                value: tg.proxy_protocol_v2.to_string(),
            },
        ],
    })
}

pub(crate) async fn describe_target_group_attributes(
    ctx: &mut Ctx<'_>,
    req: TgArnRequest,
) -> Result<AttributesResponse, ApiError> {
    tg_arn_checked(&req.target_group_arn)?;
    ctx.authorize("elasticloadbalancing:DescribeTargetGroupAttributes", "*")
        .await?;
    let tg = own_tg(ctx, &req.target_group_arn).await?;
    tg_attributes(ctx, &tg).await
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct ModifyTgAttributesRequest {
    target_group_arn: String,
    #[serde(default)]
    attributes: Vec<Attribute>,
}

/// `ModifyTargetGroupAttributes`: `proxy_protocol_v2.enabled`,
/// `deregistration_delay.timeout_seconds` (0-3600).
pub(crate) async fn modify_target_group_attributes(
    ctx: &mut Ctx<'_>,
    req: ModifyTgAttributesRequest,
) -> Result<AttributesResponse, ApiError> {
    ctx.authorize(
        "elasticloadbalancing:ModifyTargetGroupAttributes",
        &tg_arn_checked(&req.target_group_arn)?,
    )
    .await?;
    let mut tg = own_tg(ctx, &req.target_group_arn).await?;
    if req.attributes.is_empty() {
        return Err(validation("At least one attribute must be specified"));
    }
    let (mut proxy, mut delay) = (None, None);
    for a in &req.attributes {
        match a.key.as_str() {
            "proxy_protocol_v2.enabled" => proxy = Some(bool_attr(a)?),
            "deregistration_delay.timeout_seconds" => {
                let n: i64 = a.value.parse().map_err(|_| {
                    validation("deregistration_delay.timeout_seconds must be a number of seconds")
                })?;
                delay = Some(in_range(
                    "deregistration_delay.timeout_seconds",
                    n,
                    0,
                    3600,
                )?);
            }
            k => {
                return Err(validation(format!(
                    "Target group attribute key '{}' is not recognized",
                    k.chars().take(64).collect::<String>()
                )))
            }
        }
    }
    if let Some(on) = proxy {
        tg.proxy_protocol_v2 = on;
        services::update_tg(&mut ctx.tx, &tg).await?;
    }
    if let Some(secs) = delay {
        services::set_tg_deregistration_delay(&mut ctx.tx, &tg.arn, secs).await?;
    }
    tg_attributes(ctx, &tg).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_settings_defaults_and_ranges() {
        let h = merge_health(None, &HealthInput::default()).unwrap();
        assert_eq!(
            (
                h.protocol.as_str(),
                h.port.as_str(),
                h.interval_secs,
                h.timeout_secs
            ),
            ("TCP", "traffic-port", 30, 10)
        );
        assert_eq!((h.healthy_threshold, h.unhealthy_threshold), (5, 2));
        let http = merge_health(
            None,
            &HealthInput {
                health_check_protocol: Some("HTTP".into()),
                ..HealthInput::default()
            },
        )
        .unwrap();
        assert_eq!((http.path.as_str(), http.timeout_secs), ("/", 6));
        for bad in [
            HealthInput {
                health_check_interval_seconds: Some(4),
                ..HealthInput::default()
            },
            HealthInput {
                health_check_interval_seconds: Some(301),
                ..HealthInput::default()
            },
            HealthInput {
                health_check_timeout_seconds: Some(1),
                ..HealthInput::default()
            },
            HealthInput {
                healthy_threshold_count: Some(11),
                ..HealthInput::default()
            },
            HealthInput {
                unhealthy_threshold_count: Some(1),
                ..HealthInput::default()
            },
            HealthInput {
                health_check_path: Some("/x".into()),
                ..HealthInput::default()
            },
            HealthInput {
                health_check_port: Some("70000".into()),
                ..HealthInput::default()
            },
            HealthInput {
                health_check_protocol: Some("HTTPS".into()),
                ..HealthInput::default()
            },
            HealthInput {
                health_check_interval_seconds: Some(10),
                health_check_timeout_seconds: Some(10),
                ..HealthInput::default()
            },
        ] {
            assert_eq!(
                merge_health(None, &bad).unwrap_err().code,
                "ValidationError",
                "{bad:?}"
            );
        }
    }
}
