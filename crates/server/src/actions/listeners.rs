//! ELBv2 listeners: TCP, one per port, forwarding to one target group of the load
//! balancer's VPC that no other load balancer uses.

use serde::{Deserialize, Serialize};
use underpass_store::records::Listener;
use underpass_store::{services, StoreError};

use super::describe::{paginate, scope, PageRequest, PageStyle};
use super::elb::{check_arn, elb_arn, hex16, own_lb, own_tg, validation, Empty};
use super::Ctx;
use crate::api::ApiError;

/// One listener action: forward to a target group.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct Action {
    #[serde(rename = "Type")]
    kind: String,
    target_group_arn: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListenerView {
    listener_arn: String,
    load_balancer_arn: String,
    port: u16,
    protocol: String,
    default_actions: Vec<Action>,
}

impl From<&Listener> for ListenerView {
    fn from(l: &Listener) -> Self {
        Self {
            listener_arn: l.arn.clone(),
            load_balancer_arn: l.load_balancer.clone(),
            port: l.port,
            protocol: l.protocol.clone(),
            default_actions: vec![Action {
                kind: "forward".into(),
                target_group_arn: Some(l.target_group.clone()),
            }],
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListenersResponse {
    listeners: Vec<ListenerView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

/// `CreateListener`: TCP, one per port, forwarding to one target group of the same VPC that no
/// other load balancer uses.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateListenerRequest {
    load_balancer_arn: String,
    protocol: Option<String>,
    port: Option<i64>,
    #[serde(default)]
    default_actions: Vec<Action>,
}

pub(crate) async fn create_listener(
    ctx: &mut Ctx<'_>,
    req: CreateListenerRequest,
) -> Result<ListenersResponse, ApiError> {
    check_arn(&req.load_balancer_arn, "loadbalancer")?;
    ctx.authorize(
        "elasticloadbalancing:CreateListener",
        &req.load_balancer_arn,
    )
    .await?;
    let lb = own_lb(ctx, &req.load_balancer_arn).await?;
    let protocol = req.protocol.as_deref().unwrap_or("TCP");
    if protocol != "TCP" {
        return Err(ApiError::client(
            "UnsupportedProtocol",
            format!(
                "Protocol '{}' is not supported: Underpass listeners are TCP",
                protocol.chars().take(16).collect::<String>()
            ),
        ));
    }
    let port = req
        .port
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p >= 1)
        .ok_or_else(|| validation("Port must be between 1 and 65535"))?;
    let [action] = req.default_actions.as_slice() else {
        return Err(validation("Exactly one default action must be specified"));
    };
    if action.kind != "forward" {
        return Err(validation("The default action must be of type 'forward'"));
    }
    let tg_arn = action
        .target_group_arn
        .as_deref()
        .ok_or_else(|| validation("A forward action needs a TargetGroupArn"))?;
    let tg = own_tg(ctx, tg_arn).await?;
    if tg.vpc != lb.vpc {
        return Err(validation(format!(
            "Target group '{}' is in VPC {} but the load balancer is in VPC {}",
            tg.arn, tg.vpc, lb.vpc
        )));
    }
    if tg.protocol != "TCP" {
        return Err(ApiError::client(
            "IncompatibleProtocols",
            "The target group's protocol must be TCP",
        ));
    }
    if services::lbs_of_tg(&mut ctx.tx, &tg.arn)
        .await?
        .iter()
        .any(|a| a != &lb.arn)
    {
        return Err(ApiError::client(
            "TargetGroupAssociationLimit",
            format!(
                "Target group '{}' is already used by another load balancer",
                tg.arn
            ),
        ));
    }
    let tail = lb
        .arn
        .split_once(":loadbalancer/")
        .map(|(_, t)| t.to_owned())
        .ok_or_else(|| ApiError::internal("load balancer ARN without a resource"))?;
    let listener = Listener {
        arn: elb_arn(ctx, &format!("listener/{tail}/{}", hex16(ctx)?)),
        load_balancer: lb.arn.clone(),
        protocol: "TCP".into(),
        port,
        target_group: tg.arn.clone(),
    };
    services::insert_listener(&mut ctx.tx, &listener)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => ApiError::client("DuplicateListener", m),
            e => e.into(),
        })?;
    Ok(ListenersResponse {
        listeners: vec![ListenerView::from(&listener)],
        next_marker: None,
    })
}

/// `DescribeListeners`: of one load balancer, or by ARN.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DescribeListenersRequest {
    load_balancer_arn: Option<String>,
    #[serde(default)]
    listener_arns: Vec<String>,
    #[serde(skip_serializing)]
    marker: Option<String>,
    #[serde(skip_serializing)]
    page_size: Option<i64>,
}

async fn own_listeners(ctx: &mut Ctx<'_>) -> Result<Vec<Listener>, ApiError> {
    let account = ctx.caller.account.clone();
    let mut out = Vec::new();
    let mut lbs = services::list_lbs(&mut ctx.tx, Some(&account)).await?;
    lbs.retain(|x| ctx.here(x));
    for lb in lbs {
        out.extend(services::list_listeners(&mut ctx.tx, Some(&lb.arn)).await?);
    }
    Ok(out)
}

fn listener_not_found(arn: &str) -> ApiError {
    ApiError::client(
        "ListenerNotFound",
        format!(
            "Listener '{}' not found",
            arn.chars().take(256).collect::<String>()
        ),
    )
}

pub(crate) async fn describe_listeners(
    ctx: &mut Ctx<'_>,
    req: DescribeListenersRequest,
) -> Result<ListenersResponse, ApiError> {
    ctx.authorize("elasticloadbalancing:DescribeListeners", "*")
        .await?;
    let listeners = match (&req.load_balancer_arn, req.listener_arns.is_empty()) {
        (Some(_), false) | (None, true) => {
            return Err(validation("Specify either LoadBalancerArn or ListenerArns"))
        }
        (Some(arn), true) => {
            let lb = own_lb(ctx, arn).await?;
            services::list_listeners(&mut ctx.tx, Some(&lb.arn)).await?
        }
        (None, false) => {
            let all = own_listeners(ctx).await?;
            let mut out = Vec::new();
            for arn in &req.listener_arns {
                let l = all
                    .iter()
                    .find(|l| &l.arn == arn)
                    .ok_or_else(|| listener_not_found(arn))?;
                out.push(l.clone());
            }
            out
        }
    };
    let page = PageRequest {
        size: req.page_size,
        token: req.marker.as_deref(),
        scope: scope("DescribeListeners", &req),
        style: PageStyle::Elb,
    };
    let (listeners, next_marker) = paginate(ctx, &page, listeners, |l| l.arn.clone())?;
    Ok(ListenersResponse {
        listeners: listeners.iter().map(ListenerView::from).collect(),
        next_marker,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct ListenerArnRequest {
    listener_arn: String,
}

/// `DeleteListener`.
pub(crate) async fn delete_listener(
    ctx: &mut Ctx<'_>,
    req: ListenerArnRequest,
) -> Result<Empty, ApiError> {
    check_arn(&req.listener_arn, "listener")?;
    ctx.authorize("elasticloadbalancing:DeleteListener", &req.listener_arn)
        .await?;
    if !own_listeners(ctx)
        .await?
        .iter()
        .any(|l| l.arn == req.listener_arn)
    {
        return Err(listener_not_found(&req.listener_arn));
    }
    services::delete_listener(&mut ctx.tx, &req.listener_arn).await?;
    Ok(Empty {})
}
