//! Gateway endpoints: `CreateVpcEndpoint` with `VpcEndpointType=Gateway` (EC2's default type),
//! and their share of `DescribeVpcEndpoints`, `ModifyVpcEndpoint` and `DeleteVpcEndpoints`.
//!
//! A gateway endpoint names a regional gateway service (`com.<prefix>.<region>.s3` or
//! `…dynamodb`, see [`super::regions::gateway_services`]) and route tables of its VPC; each of
//! them gains a route whose destination is the service's prefix list and whose target is the
//! endpoint, shown by `DescribeRouteTables` and managed only through the endpoint (as in EC2,
//! `DeleteRoute` cannot remove it). A route table holds at most one route per prefix list
//! (`RouteAlreadyExists`). The endpoint is `available` at once and carries no connection, no
//! ENI and no agent state: Underpass does not host the service itself.

use std::collections::BTreeSet;

use underpass_auth::iam::{Policy, PolicyKind};
use underpass_domain::{EndpointId, RouteTableId};
use underpass_store::gateway_endpoints::{self, GatewayEndpoint};
use underpass_store::records::Vpc;
use underpass_store::StoreError;

use super::lookup::{no_duplicates, parse_id};
use super::regions::{gateway_services, GatewayService};
use super::vpce_permissions::invalid_service_name;
use super::vpce_services::invalid_parameter;
use super::Ctx;
use crate::api::ApiError;

/// The caller's gateway endpoint `id`, or `None` when it is no gateway endpoint of theirs.
pub(crate) async fn find(
    ctx: &mut Ctx<'_>,
    id: &EndpointId,
) -> Result<Option<GatewayEndpoint>, ApiError> {
    match gateway_endpoints::get(&mut ctx.tx, id).await {
        Ok(g) if ctx.mine(&g) => Ok(Some(g)),
        Ok(_) | Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The gateway service called `name`.
pub(crate) fn service(ctx: &Ctx<'_>, name: &str) -> Result<GatewayService, ApiError> {
    gateway_services(&ctx.state.cfg, ctx.region())
        .into_iter()
        .find(|g| g.name == name)
        .ok_or_else(|| invalid_service_name(name))
}

/// Checks route tables for a gateway endpoint of `service` in `vpc`: the caller's, in the VPC,
/// and without a route to the same prefix list already (`except`: the endpoint being changed).
async fn route_tables(
    ctx: &mut Ctx<'_>,
    field: &str,
    ids: &[String],
    vpc: &Vpc,
    service: &str,
    except: Option<EndpointId>,
) -> Result<Vec<RouteTableId>, ApiError> {
    no_duplicates(field, ids)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let rt = super::route_tables::own(ctx, id).await?;
        if rt.vpc != vpc.id {
            return Err(invalid_parameter(format!(
                "The route table '{}' belongs to VPC '{}', not to '{}'",
                rt.id, rt.vpc, vpc.id
            )));
        }
        let taken = gateway_endpoints::in_route_table(&mut ctx.tx, &rt.id)
            .await?
            .into_iter()
            .any(|(other, name)| Some(other) != except && name == service);
        if taken {
            return Err(ApiError::client(
                "RouteAlreadyExists",
                format!(
                    "The route table {} already has a route to the prefix list of {service}.",
                    rt.id
                ),
            ));
        }
        out.push(rt.id);
    }
    out.sort();
    Ok(out)
}

/// What `CreateVpcEndpoint` asks of a gateway endpoint.
pub(crate) struct NewGateway<'r> {
    /// The id already authorized.
    pub(crate) id: EndpointId,
    /// The VPC, looked up.
    pub(crate) vpc: Vpc,
    /// `ServiceName`.
    pub(crate) service_name: &'r str,
    /// `RouteTableIds`.
    pub(crate) route_table_ids: &'r [String],
    /// `PolicyDocument`.
    pub(crate) policy: Option<&'r str>,
    /// Whether interface-only fields were given.
    pub(crate) interface_fields: bool,
}

/// Makes a gateway endpoint (nothing is stored when a check fails).
pub(crate) async fn create(
    ctx: &mut Ctx<'_>,
    new: NewGateway<'_>,
) -> Result<GatewayEndpoint, ApiError> {
    if new.interface_fields {
        return Err(invalid_parameter(
            "SubnetIds, SecurityGroupIds and PrivateDnsEnabled apply to Interface endpoints, not to Gateway endpoints",
        ));
    }
    let svc = service(ctx, new.service_name)?;
    let tables = route_tables(
        ctx,
        "RouteTableIds",
        new.route_table_ids,
        &new.vpc,
        &svc.name,
        None,
    )
    .await?;
    if let Some(doc) = new.policy {
        Policy::parse(doc, PolicyKind::Endpoint)?;
    }
    let g = GatewayEndpoint {
        id: new.id,
        account: ctx.caller.account.clone(),
        region: new.vpc.region.clone(),
        vpc: new.vpc.id,
        service_name: svc.name,
        policy: new.policy.map(str::to_owned),
        route_tables: tables,
        created: ctx.meta.now,
    };
    gateway_endpoints::insert(&mut ctx.tx, &g).await?;
    Ok(g)
}

/// `ModifyVpcEndpoint`'s fields for a gateway endpoint.
pub(crate) struct GatewayChange<'r> {
    /// `AddRouteTableIds`.
    pub(crate) add: &'r [String],
    /// `RemoveRouteTableIds`.
    pub(crate) remove: &'r [String],
    /// `PolicyDocument`.
    pub(crate) policy: Option<&'r str>,
    /// `ResetPolicy`.
    pub(crate) reset: bool,
    /// Whether interface-only fields were given.
    pub(crate) interface_fields: bool,
}

/// Applies `change` to `g`.
pub(crate) async fn modify(
    ctx: &mut Ctx<'_>,
    g: &GatewayEndpoint,
    change: GatewayChange<'_>,
) -> Result<(), ApiError> {
    if change.interface_fields {
        return Err(invalid_parameter(
            "Security groups, subnets and private DNS apply to Interface endpoints, not to Gateway endpoints",
        ));
    }
    if change.reset && change.policy.is_some() {
        return Err(ApiError::client(
            "InvalidParameterCombination",
            "Specify either PolicyDocument or ResetPolicy, not both.",
        ));
    }
    if !change.add.is_empty() || !change.remove.is_empty() {
        let vpc = underpass_store::network::get_vpc(&mut ctx.tx, &g.vpc).await?;
        let add = route_tables(
            ctx,
            "AddRouteTableIds",
            change.add,
            &vpc,
            &g.service_name,
            Some(g.id),
        )
        .await?;
        no_duplicates("RemoveRouteTableIds", change.remove)?;
        let mut tables: BTreeSet<RouteTableId> = g.route_tables.iter().copied().collect();
        tables.extend(add);
        for id in change.remove {
            let rid: RouteTableId = parse_id(id, "InvalidRouteTableID.Malformed")?;
            if !tables.remove(&rid) {
                return Err(invalid_parameter(format!(
                    "The route table '{rid}' is not associated with endpoint {}",
                    g.id
                )));
            }
        }
        let tables: Vec<RouteTableId> = tables.into_iter().collect();
        gateway_endpoints::set_route_tables(&mut ctx.tx, &g.id, &tables).await?;
    }
    if let Some(doc) = change.policy {
        Policy::parse(doc, PolicyKind::Endpoint)?;
        gateway_endpoints::set_policy(&mut ctx.tx, &g.id, Some(doc)).await?;
    } else if change.reset {
        gateway_endpoints::set_policy(&mut ctx.tx, &g.id, None).await?;
    }
    Ok(())
}
