//! ELBv2 targets: registering IP targets, and their health.
//!
//! Health comes from the `target_health` rows the provider's agents write (one per agent and
//! target). Several agents may run gateway nodes for one target group; their reports are
//! combined by [`combine_health`]: a target is `healthy` if any node sees it healthy (a node
//! only forwards to targets it sees healthy itself, so one healthy view means traffic can
//! flow), otherwise `unhealthy` if any node reports it unhealthy, otherwise the most recent
//! report. A target no agent has reported on yet is `initial` / `Elb.RegistrationInProgress`;
//! the targets of a group no listener uses are `unused` / `Target.NotInUse`.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use underpass_store::network;
use underpass_store::records::{Target, TargetGroup};
use underpass_store::services::{self, HealthReport};

use super::elb::{own_tg, validation, Empty};
use super::target_groups::{in_range, tg_arn_checked};
use super::Ctx;
use crate::api::ApiError;

/// A target in requests and answers: `{"Id": "10.0.1.5", "Port": 8080, "AvailabilityZone": …}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct TargetDescription {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    availability_zone: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct TargetsRequest {
    target_group_arn: String,
    #[serde(default)]
    targets: Vec<TargetDescription>,
}

fn invalid_target(message: String) -> ApiError {
    ApiError::client("InvalidTarget", message)
}

fn target_ip(t: &TargetDescription) -> Result<Ipv4Addr, ApiError> {
    let ip: Ipv4Addr = t.id.parse().map_err(|_| {
        invalid_target(format!(
            "The IP address '{}' is not a valid IPv4 address",
            t.id.chars().take(64).collect::<String>()
        ))
    })?;
    if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() {
        return Err(invalid_target(format!(
            "The IP address '{ip}' cannot be a target"
        )));
    }
    Ok(ip)
}

fn target_port(tg: &TargetGroup, t: &TargetDescription) -> Result<u16, ApiError> {
    match t.port {
        None => Ok(tg.port),
        Some(p) => u16::try_from(in_range("port", p, 1, 65535)?)
            .map_err(|_| validation("port out of range")),
    }
}

/// `RegisterTargets`: each IP must lie in the target group's VPC, unless its
/// `AvailabilityZone` is `all` (targets outside the VPC, e.g. on premises). Without a zone, a
/// target in one of the VPC's subnets takes that subnet's zone.
pub(crate) async fn register_targets(
    ctx: &mut Ctx<'_>,
    req: TargetsRequest,
) -> Result<Empty, ApiError> {
    ctx.authorize(
        "elasticloadbalancing:RegisterTargets",
        &tg_arn_checked(&req.target_group_arn)?,
    )
    .await?;
    let tg = own_tg(ctx, &req.target_group_arn).await?;
    if req.targets.is_empty() {
        return Err(validation("At least one target must be specified"));
    }
    let vpc = network::get_vpc(&mut ctx.tx, &tg.vpc).await?;
    let subnets = network::list_subnets(&mut ctx.tx, Some(&tg.vpc), None).await?;
    let mut targets = Vec::with_capacity(req.targets.len());
    for t in &req.targets {
        let ip = target_ip(t)?;
        let port = target_port(&tg, t)?;
        let zone = match t.availability_zone.as_deref() {
            Some("all") => Some("all".to_owned()),
            Some(z) => {
                super::ec2::check_zone(ctx, z).map_err(|e| validation(e.message))?;
                Some(z.to_owned())
            }
            None => subnets
                .iter()
                .find(|s| s.cidr.contains(&ip))
                .map(|s| s.zone.clone()),
        };
        if zone.as_deref() != Some("all") && !vpc.cidr.contains(&ip) {
            return Err(invalid_target(format!(
                "The IP address '{ip}' is not within the CIDR of VPC {} ({}); use AvailabilityZone 'all' for targets outside the VPC",
                vpc.id, vpc.cidr
            )));
        }
        targets.push(Target { ip, port, zone });
    }
    services::register_targets(&mut ctx.tx, &tg.arn, &targets).await?;
    Ok(Empty {})
}

/// `DeregisterTargets`: every target must be registered (`InvalidTarget` otherwise).
pub(crate) async fn deregister_targets(
    ctx: &mut Ctx<'_>,
    req: TargetsRequest,
) -> Result<Empty, ApiError> {
    ctx.authorize(
        "elasticloadbalancing:DeregisterTargets",
        &tg_arn_checked(&req.target_group_arn)?,
    )
    .await?;
    let tg = own_tg(ctx, &req.target_group_arn).await?;
    if req.targets.is_empty() {
        return Err(validation("At least one target must be specified"));
    }
    let mut targets = Vec::with_capacity(req.targets.len());
    for t in &req.targets {
        let ip = target_ip(t)?;
        let port = target_port(&tg, t)?;
        let Some(found) = tg.targets.iter().find(|x| x.ip == ip && x.port == port) else {
            return Err(invalid_target(format!(
                "The following targets are not registered in target group '{}': '{ip}:{port}'",
                tg.arn
            )));
        };
        targets.push(found.clone());
    }
    services::deregister_targets(&mut ctx.tx, &tg.arn, &targets).await?;
    services::clear_target_health(&mut ctx.tx, &tg.arn, Some(&targets)).await?;
    Ok(Empty {})
}

/// A target's health as ELBv2 shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TargetHealth {
    state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

impl TargetHealth {
    fn new(state: &str, reason: Option<&str>, description: Option<&str>) -> Self {
        Self {
            state: state.to_owned(),
            reason: reason.map(str::to_owned),
            description: description.map(str::to_owned),
        }
    }
}

/// Combines the reports of several agents on one target (see the module documentation).
pub(crate) fn combine_health(reports: &[&HealthReport]) -> TargetHealth {
    if reports.is_empty() {
        return TargetHealth::new(
            "initial",
            Some("Elb.RegistrationInProgress"),
            Some("Target registration is in progress"),
        );
    }
    if reports.iter().any(|r| r.state == "healthy") {
        return TargetHealth::new("healthy", None, None);
    }
    let latest = |pred: &dyn Fn(&HealthReport) -> bool| {
        reports
            .iter()
            .filter(|r| pred(r))
            .max_by_key(|r| (r.updated, r.agent.clone()))
            .copied()
    };
    if let Some(r) = latest(&|r| r.state == "unhealthy") {
        return TargetHealth::new(
            "unhealthy",
            Some(r.reason.as_deref().unwrap_or("Target.FailedHealthChecks")),
            Some("Health checks failed"),
        );
    }
    match latest(&|_| true) {
        Some(r) => TargetHealth::new(&r.state, r.reason.as_deref(), None),
        None => TargetHealth::new("initial", Some("Elb.RegistrationInProgress"), None),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct HealthDescription {
    target: TargetDescription,
    health_check_port: String,
    target_health: TargetHealth,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeHealthResponse {
    target_health_descriptions: Vec<HealthDescription>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DescribeHealthRequest {
    target_group_arn: String,
    #[serde(default)]
    targets: Vec<TargetDescription>,
}

/// `DescribeTargetHealth`: every registered target, or the ones asked for (a target that is
/// not registered is `unused` / `Target.NotRegistered`).
pub(crate) async fn describe_target_health(
    ctx: &mut Ctx<'_>,
    req: DescribeHealthRequest,
) -> Result<DescribeHealthResponse, ApiError> {
    tg_arn_checked(&req.target_group_arn)?;
    ctx.authorize("elasticloadbalancing:DescribeTargetHealth", "*")
        .await?;
    let tg = own_tg(ctx, &req.target_group_arn).await?;
    let in_use = !services::lbs_of_tg(&mut ctx.tx, &tg.arn).await?.is_empty();
    let reports = services::target_health_reports(&mut ctx.tx, &tg.arn).await?;
    let wanted: Vec<(Ipv4Addr, u16, bool)> = if req.targets.is_empty() {
        tg.targets.iter().map(|t| (t.ip, t.port, true)).collect()
    } else {
        let mut out = Vec::with_capacity(req.targets.len());
        for t in &req.targets {
            let (ip, port) = (target_ip(t)?, target_port(&tg, t)?);
            let registered = tg.targets.iter().any(|x| x.ip == ip && x.port == port);
            out.push((ip, port, registered));
        }
        out
    };
    let descriptions = wanted
        .into_iter()
        .map(|(ip, port, registered)| {
            let zone = tg
                .targets
                .iter()
                .find(|x| x.ip == ip && x.port == port)
                .and_then(|x| x.zone.clone());
            let health = if !registered {
                TargetHealth::new(
                    "unused",
                    Some("Target.NotRegistered"),
                    Some("Target is not registered to the target group"),
                )
            } else if !in_use {
                TargetHealth::new(
                    "unused",
                    Some("Target.NotInUse"),
                    Some(
                        "Target group is not configured to receive traffic from the load balancer",
                    ),
                )
            } else {
                let ip_s = ip.to_string();
                let mine: Vec<&HealthReport> = reports
                    .iter()
                    .filter(|r| r.ip == ip_s && r.port == port)
                    .collect();
                combine_health(&mine)
            };
            HealthDescription {
                target: TargetDescription {
                    id: ip.to_string(),
                    port: Some(i64::from(port)),
                    availability_zone: zone,
                },
                health_check_port: if tg.health.port == "traffic-port" {
                    port.to_string()
                } else {
                    tg.health.port.clone()
                },
                target_health: health,
            }
        })
        .collect();
    Ok(DescribeHealthResponse {
        target_health_descriptions: descriptions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn report(agent: &str, state: &str, reason: Option<&str>, at: i64) -> HealthReport {
        HealthReport {
            ip: "10.0.0.5".into(),
            port: 80,
            agent: agent.into(),
            state: state.into(),
            reason: reason.map(str::to_owned),
            updated: OffsetDateTime::from_unix_timestamp(at).unwrap(),
        }
    }

    #[test]
    fn any_healthy_node_makes_the_target_healthy() {
        let none: Vec<&HealthReport> = vec![];
        assert_eq!(
            combine_health(&none).reason.as_deref(),
            Some("Elb.RegistrationInProgress")
        );
        let a = report("agent-a", "unhealthy", Some("Target.Timeout"), 10);
        let b = report("agent-b", "healthy", None, 5);
        assert_eq!(combine_health(&[&a, &b]).state, "healthy");
        let c = report(
            "agent-c",
            "unhealthy",
            Some("Target.FailedHealthChecks"),
            20,
        );
        let h = combine_health(&[&a, &c]);
        assert_eq!(h.state, "unhealthy");
        assert_eq!(h.reason.as_deref(), Some("Target.FailedHealthChecks"));
        let i = report("agent-d", "initial", Some("Elb.InitialHealthChecking"), 30);
        assert_eq!(combine_health(&[&i, &a]).state, "unhealthy");
        assert_eq!(combine_health(&[&i]).state, "initial");
    }
}
