//! EC2 routes of route tables: `CreateRoute`, `DeleteRoute` (see `route_tables.rs`). Targets
//! are the VPC's own network interfaces; the other EC2 target kinds do not exist in Underpass
//! and fail with their `…NotFound` codes.

use ipnet::IpNet;
use serde::Deserialize;
use underpass_domain::{EniId, RouteTableId};
use underpass_store::routing::{self, Route, RouteTarget};
use underpass_store::{gateway_endpoints, network, StoreError};

use super::elb::Empty;
use super::lookup::{ec2_arn, parse_id, ReturnTrue};
use super::route_tables::own;
use super::Ctx;
use crate::api::ApiError;

/// `CreateRoute` / `DeleteRoute`: one destination.
fn destination(
    v4: Option<&str>,
    v6: Option<&str>,
    prefix_list: Option<&str>,
) -> Result<IpNet, ApiError> {
    let bad = |s: &str| {
        ApiError::invalid(format!(
            "Value ({}) for parameter destinationCidrBlock is invalid. This is not a valid CIDR block.",
            s.chars().take(64).collect::<String>()
        ))
    };
    match (v4, v6, prefix_list) {
        (Some(c), None, None) => {
            let net: ipnet::Ipv4Net = c.parse().map_err(|_| bad(c))?;
            Ok(IpNet::V4(net.trunc()))
        }
        (None, Some(c), None) => {
            let net: ipnet::Ipv6Net = c.parse().map_err(|_| bad(c))?;
            Ok(IpNet::V6(net.trunc()))
        }
        (None, None, Some(pl)) => Err(ApiError::client(
            "InvalidPrefixListID.NotFound",
            format!(
                "The prefix list ID '{}' does not exist",
                pl.chars().take(64).collect::<String>()
            ),
        )),
        (None, None, None) => Err(ApiError::missing("DestinationCidrBlock")),
        _ => Err(ApiError::client(
            "InvalidParameterCombination",
            "Specify exactly one of DestinationCidrBlock, DestinationIpv6CidrBlock and DestinationPrefixListId.",
        )),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateRouteRequest {
    route_table_id: String,
    destination_cidr_block: Option<String>,
    destination_ipv6_cidr_block: Option<String>,
    destination_prefix_list_id: Option<String>,
    network_interface_id: Option<String>,
    gateway_id: Option<String>,
    nat_gateway_id: Option<String>,
    transit_gateway_id: Option<String>,
    vpc_peering_connection_id: Option<String>,
    instance_id: Option<String>,
    egress_only_internet_gateway_id: Option<String>,
    vpc_endpoint_id: Option<String>,
    local_gateway_id: Option<String>,
    carrier_gateway_id: Option<String>,
    core_network_arn: Option<String>,
    odb_network_arn: Option<String>,
}

impl CreateRouteRequest {
    /// The target kinds Underpass has none of, with their EC2 not-found codes.
    fn absent_target(&self) -> Option<(&'static str, &str)> {
        [
            ("InvalidGatewayID.NotFound", &self.gateway_id),
            ("NatGatewayNotFound", &self.nat_gateway_id),
            ("InvalidTransitGatewayID.NotFound", &self.transit_gateway_id),
            (
                "InvalidVpcPeeringConnectionID.NotFound",
                &self.vpc_peering_connection_id,
            ),
            ("InvalidInstanceID.NotFound", &self.instance_id),
            (
                "InvalidEgressOnlyInternetGatewayId.NotFound",
                &self.egress_only_internet_gateway_id,
            ),
            ("InvalidVpcEndpointId.NotFound", &self.vpc_endpoint_id),
            ("InvalidLocalGatewayID.NotFound", &self.local_gateway_id),
            ("InvalidCarrierGatewayID.NotFound", &self.carrier_gateway_id),
            ("InvalidParameterValue", &self.core_network_arn),
            ("InvalidParameterValue", &self.odb_network_arn),
        ]
        .into_iter()
        .find_map(|(code, v)| v.as_deref().map(|v| (code, v)))
    }
}

pub(crate) async fn create_route(
    ctx: &mut Ctx<'_>,
    req: CreateRouteRequest,
) -> Result<ReturnTrue, ApiError> {
    let id: RouteTableId = parse_id(&req.route_table_id, "InvalidRouteTableID.Malformed")?;
    ctx.authorize("ec2:CreateRoute", &ec2_arn(ctx, "route-table", id))
        .await?;
    let rt = own(ctx, &req.route_table_id).await?;
    let dest = destination(
        req.destination_cidr_block.as_deref(),
        req.destination_ipv6_cidr_block.as_deref(),
        req.destination_prefix_list_id.as_deref(),
    )?;
    if let Some((code, value)) = req.absent_target() {
        return Err(ApiError::client(
            code,
            format!(
                "The target '{}' does not exist (Underpass routes can name the VPC's network interfaces only)",
                value.chars().take(64).collect::<String>()
            ),
        ));
    }
    let eni_id = req
        .network_interface_id
        .as_deref()
        .ok_or_else(|| ApiError::missing("NetworkInterfaceId"))?;
    let eni: EniId = parse_id(eni_id, "InvalidNetworkInterfaceID.Malformed")?;
    let account = ctx.caller.account.clone();
    let Some(found) = network::list_enis(&mut ctx.tx, Some(&account))
        .await?
        .into_iter()
        .find(|e| e.id == eni && ctx.here(e))
    else {
        return Err(ApiError::client(
            "InvalidNetworkInterfaceID.NotFound",
            format!("The networkInterface ID '{eni}' does not exist"),
        ));
    };
    if found.vpc != rt.vpc {
        return Err(ApiError::invalid(format!(
            "Route table {} and network interface {eni} belong to different networks",
            rt.id
        )));
    }
    if rt.routes.iter().any(|r| r.destination == dest) {
        return Err(route_exists(&dest, &rt.id));
    }
    routing::add_route(
        &mut ctx.tx,
        &rt.id,
        &Route {
            destination: dest,
            target: RouteTarget::Interface(eni),
            origin: "CreateRoute".into(),
        },
    )
    .await
    .map_err(|e| match e {
        StoreError::Conflict(_) => route_exists(&dest, &rt.id),
        e => e.into(),
    })?;
    Ok(ReturnTrue::YES)
}

fn route_exists(dest: &IpNet, rt: &RouteTableId) -> ApiError {
    ApiError::client(
        "RouteAlreadyExists",
        format!("The route identified by {dest} already exists in route table {rt}."),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DeleteRouteRequest {
    route_table_id: String,
    destination_cidr_block: Option<String>,
    destination_ipv6_cidr_block: Option<String>,
    destination_prefix_list_id: Option<String>,
}

/// `DeleteRoute`: the `local` route stays.
pub(crate) async fn delete_route(
    ctx: &mut Ctx<'_>,
    req: DeleteRouteRequest,
) -> Result<Empty, ApiError> {
    let id: RouteTableId = parse_id(&req.route_table_id, "InvalidRouteTableID.Malformed")?;
    ctx.authorize("ec2:DeleteRoute", &ec2_arn(ctx, "route-table", id))
        .await?;
    let rt = own(ctx, &req.route_table_id).await?;
    let missing = |d: &str| {
        ApiError::client(
            "InvalidRoute.NotFound",
            format!("no route with destination-cidr-block {d} in route table {id}"),
        )
    };
    let dest = match destination(
        req.destination_cidr_block.as_deref(),
        req.destination_ipv6_cidr_block.as_deref(),
        req.destination_prefix_list_id.as_deref(),
    ) {
        Ok(d) => d,
        Err(e) if e.code == "InvalidPrefixListID.NotFound" => {
            let pl = req
                .destination_prefix_list_id
                .as_deref()
                .unwrap_or_default();
            let lists = super::regions::gateway_services(&ctx.state.cfg, ctx.region());
            let endpoints = gateway_endpoints::in_route_table(&mut ctx.tx, &id).await?;
            if let Some((endpoint, _)) = endpoints.iter().find(|(_, service)| {
                lists
                    .iter()
                    .any(|g| g.name == *service && g.prefix_list_id == pl)
            }) {
                return Err(ApiError::invalid(format!(
                    "The route to {pl} in route table {id} belongs to VPC endpoint {endpoint}: change it with ModifyVpcEndpoint"
                )));
            }
            return Err(missing(
                req.destination_prefix_list_id
                    .as_deref()
                    .unwrap_or_default(),
            ));
        }
        Err(e) => return Err(e),
    };
    match rt.routes.iter().find(|r| r.destination == dest) {
        None => Err(missing(&dest.to_string())),
        Some(r) if r.target == RouteTarget::Local => Err(ApiError::invalid(format!(
            "cannot remove local route {dest} in route table {id}"
        ))),
        Some(_) => {
            routing::delete_route(&mut ctx.tx, &id, &dest).await?;
            Ok(Empty {})
        }
    }
}
