//! PrivateLink: the connections consumers request to the caller's services, and the
//! provider's decisions on them. Every change goes through the store's `transition`, so only
//! legal moves are recorded; a refused move is an `Unsuccessful` item, as in EC2.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use underpass_domain::{ConnEvent, EndpointId, ServiceId};
use underpass_store::records::{Endpoint, Service};
use underpass_store::services::{self, EndpointFilter};
use underpass_store::StoreError;

use super::describe::{paginate, scope, Filter, Filters, PageRequest, PageStyle};
use super::lookup::{self, ec2_arn, parse_id, timestamp, UnsuccessfulItem};
use super::vpce_services::{own_services, UnsuccessfulResponse};
use super::Ctx;
use crate::api::ApiError;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ConnectionView {
    service_id: String,
    vpc_endpoint_id: String,
    vpc_endpoint_owner: String,
    vpc_endpoint_state: String,
    creation_timestamp: String,
    network_load_balancer_arns: Vec<String>,
    ip_address_type: &'static str,
}

/// `DescribeVpcEndpointConnections`: the connections to the caller's services.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DescribeConnectionsRequest {
    #[serde(default)]
    filters: Vec<Filter>,
    #[serde(skip_serializing)]
    max_results: Option<i64>,
    #[serde(skip_serializing)]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeConnectionsResponse {
    vpc_endpoint_connections: Vec<ConnectionView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn describe_vpc_endpoint_connections(
    ctx: &mut Ctx<'_>,
    req: DescribeConnectionsRequest,
) -> Result<DescribeConnectionsResponse, ApiError> {
    ctx.authorize("ec2:DescribeVpcEndpointConnections", "*")
        .await?;
    let filters = Filters::new(
        &req.filters,
        &[
            "service-id",
            "vpc-endpoint-state",
            "vpc-endpoint-id",
            "vpc-endpoint-owner",
        ],
    )?;
    let mut list = Vec::new();
    for s in own_services(ctx).await? {
        let eps = services::list_endpoints(
            &mut ctx.tx,
            &EndpointFilter {
                service: Some(s.id),
                ..EndpointFilter::default()
            },
        )
        .await?;
        for e in eps {
            let ok = filters.matches(|name| match name {
                "service-id" => vec![s.id.to_string()],
                "vpc-endpoint-state" => vec![e.state.as_str().to_owned()],
                "vpc-endpoint-id" => vec![e.id.to_string()],
                "vpc-endpoint-owner" => vec![e.account.clone()],
                _ => vec![],
            });
            if ok {
                list.push(ConnectionView {
                    service_id: s.id.to_string(),
                    vpc_endpoint_id: e.id.to_string(),
                    vpc_endpoint_owner: e.account.clone(),
                    vpc_endpoint_state: e.state.as_str().to_owned(),
                    creation_timestamp: timestamp(e.created),
                    network_load_balancer_arns: s.load_balancers.clone(),
                    ip_address_type: "ipv4",
                });
            }
        }
    }
    let page = PageRequest {
        size: req.max_results,
        token: req.next_token.as_deref(),
        scope: scope("DescribeVpcEndpointConnections", &req),
        style: PageStyle::Ec2,
    };
    let (vpc_endpoint_connections, next_token) =
        paginate(ctx, &page, list, |c| c.vpc_endpoint_id.clone())?;
    Ok(DescribeConnectionsResponse {
        vpc_endpoint_connections,
        next_token,
    })
}

/// `Accept…` / `RejectVpcEndpointConnections`: the service owner's decision on each endpoint.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DecideRequest {
    service_id: String,
    #[serde(default)]
    vpc_endpoint_ids: Vec<String>,
}

/// The endpoint `id` if it is connected to `service`, else `InvalidVpcEndpointId.NotFound`.
async fn connection_of(
    ctx: &mut Ctx<'_>,
    service: &Service,
    id: &str,
) -> Result<Endpoint, ApiError> {
    let eid: EndpointId = parse_id(id, "InvalidVpcEndpointId.Malformed")?;
    match services::get_endpoint(&mut ctx.tx, &eid).await {
        Ok(e) if e.service == service.id => Ok(e),
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(lookup::missing("endpoint", id)),
        Err(e) => Err(e.into()),
    }
}

async fn decide(
    ctx: &mut Ctx<'_>,
    req: DecideRequest,
    action: &str,
    events: &[ConnEvent],
) -> Result<UnsuccessfulResponse, ApiError> {
    let sid: ServiceId = parse_id(&req.service_id, "InvalidVpcEndpointServiceId.Malformed")?;
    ctx.authorize(action, &ec2_arn(ctx, "vpc-endpoint-service", sid))
        .await?;
    let service = lookup::service(ctx, &req.service_id).await?;
    if req.vpc_endpoint_ids.is_empty() {
        return Err(ApiError::missing("VpcEndpointIds"));
    }
    let actor = ctx.caller.arn.clone();
    let mut seen = BTreeSet::new();
    let mut unsuccessful = Vec::new();
    for id in &req.vpc_endpoint_ids {
        if !seen.insert(id) {
            continue;
        }
        let e = match connection_of(ctx, &service, id).await {
            Ok(e) => e,
            Err(err) => {
                unsuccessful.push(UnsuccessfulItem::new(id, err));
                continue;
            }
        };
        for (i, event) in events.iter().enumerate() {
            match services::transition(&mut ctx.tx, &e.id, *event, &actor, ctx.meta.now).await? {
                Ok(_) => {}
                // Only the first event can be refused: the ones after it follow from its result.
                Err(illegal) if i == 0 => {
                    unsuccessful.push(UnsuccessfulItem::new(id, illegal.into()));
                    break;
                }
                Err(illegal) => return Err(ApiError::internal(illegal)),
            }
            match event {
                ConnEvent::Accept => super::vpce_notifications::notify(ctx, &e, "Accept").await?,
                ConnEvent::Reject => super::vpce_notifications::notify(ctx, &e, "Reject").await?,
                _ => {}
            }
        }
    }
    Ok(UnsuccessfulResponse { unsuccessful })
}

/// `AcceptVpcEndpointConnections`: pendingAcceptance → pending → available, in one
/// transaction, so the connection is available when the call returns.
pub(crate) async fn accept_vpc_endpoint_connections(
    ctx: &mut Ctx<'_>,
    req: DecideRequest,
) -> Result<UnsuccessfulResponse, ApiError> {
    decide(
        ctx,
        req,
        "ec2:AcceptVpcEndpointConnections",
        &[ConnEvent::Accept, ConnEvent::Provisioned],
    )
    .await
}

/// `RejectVpcEndpointConnections`: pending or live connections become rejected.
pub(crate) async fn reject_vpc_endpoint_connections(
    ctx: &mut Ctx<'_>,
    req: DecideRequest,
) -> Result<UnsuccessfulResponse, ApiError> {
    decide(
        ctx,
        req,
        "ec2:RejectVpcEndpointConnections",
        &[ConnEvent::Reject],
    )
    .await
}
