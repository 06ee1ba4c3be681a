//! EC2 route tables: create, describe, delete, associate with subnets. Their routes are in
//! `routes.rs`.
//!
//! Every VPC has a main route table, made with it (with the `local` route for the VPC's block,
//! which cannot be removed) and deleted with it; subnets without an explicit association use
//! it. Routes record intent: Underpass carries traffic only through endpoints, so no agent
//! reads them.

use std::collections::BTreeMap;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use underpass_domain::{RouteTableAssociationId, RouteTableId};
use underpass_store::iam::{self as iam_store, TokenLookup};
use underpass_store::records::Vpc;
use underpass_store::routing::{self, Route, RouteTable, RouteTableAssociation, RouteTarget};
use underpass_store::{gateway_endpoints, network, tags as tag_store, StoreError};

use super::describe::{
    check_client_token, fingerprint, paginate, scope, Filter, Filters, PageRequest, PageStyle,
};
use super::lookup::{self, ec2_arn, no_duplicates, parse_id, ReturnTrue};
use super::tags::{self, TagSpecification, TagView};
use super::vpce_services::mismatch;
use super::Ctx;
use crate::api::ApiError;

fn not_found(id: &str) -> ApiError {
    ApiError::client(
        "InvalidRouteTableID.NotFound",
        format!(
            "The routeTable ID '{}' does not exist",
            id.chars().take(64).collect::<String>()
        ),
    )
}

/// The caller's route table `id`.
pub(crate) async fn own(ctx: &mut Ctx<'_>, id: &str) -> Result<RouteTable, ApiError> {
    let rid: RouteTableId = parse_id(id, "InvalidRouteTableID.Malformed")?;
    match routing::get_route_table(&mut ctx.tx, &rid).await {
        Ok(rt) if ctx.mine(&rt) => Ok(rt),
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(not_found(id)),
        Err(e) => Err(e.into()),
    }
}

/// Makes the main route table of a new VPC (with its `local` route and main association).
pub(crate) async fn create_main(ctx: &mut Ctx<'_>, vpc: &Vpc) -> Result<(), ApiError> {
    let id = RouteTableId::from_bits(ctx.new_id()?);
    let rt = RouteTable {
        id,
        vpc: vpc.id,
        account: vpc.account.clone(),
        region: vpc.region.clone(),
        main: true,
        routes: vec![local_route(&vpc.cidr)],
        associations: vec![RouteTableAssociation {
            id: RouteTableAssociationId::from_bits(ctx.new_id()?),
            route_table: id,
            subnet: None,
        }],
    };
    routing::insert_route_table(&mut ctx.tx, &rt, ctx.meta.now).await?;
    Ok(())
}

fn local_route(block: &ipnet::Ipv4Net) -> Route {
    Route {
        destination: IpNet::V4(*block),
        target: RouteTarget::Local,
        origin: "CreateRouteTable".into(),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AssociationState {
    state: &'static str,
}

const ASSOCIATED: AssociationState = AssociationState {
    state: "associated",
};

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AssociationView {
    main: bool,
    route_table_association_id: String,
    route_table_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    subnet_id: Option<String>,
    association_state: AssociationState,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RouteView {
    #[serde(skip_serializing_if = "Option::is_none")]
    destination_cidr_block: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination_ipv6_cidr_block: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination_prefix_list_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    network_interface_id: Option<String>,
    origin: String,
    state: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RouteTableView {
    route_table_id: String,
    vpc_id: String,
    owner_id: String,
    routes: Vec<RouteView>,
    associations: Vec<AssociationView>,
    propagating_vgws: Vec<()>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<TagView>,
}

/// A route table as EC2 shows it; a route to an interface that is gone is a `blackhole`.
async fn view(
    ctx: &mut Ctx<'_>,
    rt: &RouteTable,
    tag_list: &[(String, String)],
) -> Result<RouteTableView, ApiError> {
    let mut routes = Vec::with_capacity(rt.routes.len());
    for r in &rt.routes {
        let (gateway_id, network_interface_id, state) = match &r.target {
            RouteTarget::Local => (Some("local".to_owned()), None, "active"),
            RouteTarget::Interface(eni) => {
                let alive = network::list_enis(&mut ctx.tx, Some(&rt.account))
                    .await?
                    .iter()
                    .any(|e| e.id == *eni);
                (
                    None,
                    Some(eni.to_string()),
                    if alive { "active" } else { "blackhole" },
                )
            }
        };
        let (v4, v6) = match r.destination {
            IpNet::V4(_) => (Some(r.destination.to_string()), None),
            IpNet::V6(_) => (None, Some(r.destination.to_string())),
        };
        routes.push(RouteView {
            destination_cidr_block: v4,
            destination_ipv6_cidr_block: v6,
            destination_prefix_list_id: None,
            gateway_id,
            network_interface_id,
            origin: r.origin.clone(),
            state,
        });
    }
    // Gateway endpoints' routes: to their service's prefix list, managed by the endpoint.
    let lists = super::regions::gateway_services(&ctx.state.cfg, ctx.region());
    for (endpoint, service) in gateway_endpoints::in_route_table(&mut ctx.tx, &rt.id).await? {
        let pl = lists.iter().find(|g| g.name == service);
        routes.push(RouteView {
            destination_cidr_block: None,
            destination_ipv6_cidr_block: None,
            destination_prefix_list_id: pl.map(|g| g.prefix_list_id.clone()),
            gateway_id: Some(endpoint.to_string()),
            network_interface_id: None,
            origin: "CreateRoute".into(),
            state: if pl.is_some() { "active" } else { "blackhole" },
        });
    }
    Ok(RouteTableView {
        route_table_id: rt.id.to_string(),
        vpc_id: rt.vpc.to_string(),
        owner_id: rt.account.clone(),
        routes,
        associations: rt
            .associations
            .iter()
            .map(|a| AssociationView {
                main: a.subnet.is_none(),
                route_table_association_id: a.id.to_string(),
                route_table_id: rt.id.to_string(),
                subnet_id: a.subnet.map(|s| s.to_string()),
                association_state: ASSOCIATED,
            })
            .collect(),
        propagating_vgws: vec![],
        tags: tags::view(tag_list),
    })
}

/// `CreateRouteTable`: a table with the `local` route, associated with nothing.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateRouteTableRequest {
    vpc_id: String,
    #[serde(default)]
    tag_specifications: Vec<TagSpecification>,
    #[serde(skip_serializing)]
    client_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateRouteTableResponse {
    route_table: RouteTableView,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_token: Option<String>,
}

const CREATE: &str = "CreateRouteTable";

pub(crate) async fn create_route_table(
    ctx: &mut Ctx<'_>,
    req: CreateRouteTableRequest,
) -> Result<CreateRouteTableResponse, ApiError> {
    let id = RouteTableId::from_bits(ctx.new_id()?);
    let arn = ec2_arn(ctx, "route-table", id);
    ctx.authorize("ec2:CreateRouteTable", &arn).await?;
    let account = ctx.caller.account.clone();
    let hash = fingerprint(&req)?;
    if let Some(token) = &req.client_token {
        check_client_token(token)?;
        match iam_store::client_token(&mut ctx.tx, &account, CREATE, token, &hash).await? {
            TokenLookup::New => {}
            TokenLookup::Replay(existing) => {
                let rt = own(ctx, &existing).await?;
                let t = tag_store::of(&mut ctx.tx, &existing).await?;
                return Ok(CreateRouteTableResponse {
                    route_table: view(ctx, &rt, &t).await?,
                    client_token: req.client_token.clone(),
                });
            }
            TokenLookup::Mismatch => return Err(mismatch()),
        }
    }
    let vpc = lookup::vpc(ctx, &req.vpc_id).await?;
    let tag_list = tags::on_create(ctx, &req.tag_specifications, "route-table", &arn).await?;
    let rt = RouteTable {
        id,
        vpc: vpc.id,
        account: account.clone(),
        region: vpc.region.clone(),
        main: false,
        routes: super::vpc_cidr_blocks::blocks(ctx, &vpc)
            .await?
            .into_iter()
            .map(|b| local_route(&b))
            .collect(),
        associations: vec![],
    };
    routing::insert_route_table(&mut ctx.tx, &rt, ctx.meta.now).await?;
    tags::save_new(ctx, &id.to_string(), "route-table", &tag_list).await?;
    if let Some(token) = &req.client_token {
        iam_store::save_client_token(
            &mut ctx.tx,
            &account,
            CREATE,
            token,
            &hash,
            &id.to_string(),
            ctx.meta.now,
        )
        .await?;
    }
    Ok(CreateRouteTableResponse {
        route_table: view(ctx, &rt, &tag_list).await?,
        client_token: req.client_token,
    })
}

/// `DescribeRouteTables`.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DescribeRouteTablesRequest {
    #[serde(default)]
    route_table_ids: Vec<String>,
    #[serde(default)]
    filters: Vec<Filter>,
    #[serde(skip_serializing)]
    max_results: Option<i64>,
    #[serde(skip_serializing)]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeRouteTablesResponse {
    route_tables: Vec<RouteTableView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

const FILTERS: &[&str] = &[
    "route-table-id",
    "vpc-id",
    "owner-id",
    "association.main",
    "association.route-table-association-id",
    "association.route-table-id",
    "association.subnet-id",
    "route.destination-cidr-block",
    "route.destination-ipv6-cidr-block",
    "route.gateway-id",
    "route.network-interface-id",
    "route.origin",
    "tag-key",
];

fn filter_values(rt: &RouteTable, tag_list: &[(String, String)], name: &str) -> Vec<String> {
    if let Some(v) = tags::filter_values(name, tag_list) {
        return v;
    }
    let assoc = rt.associations.iter();
    let routes = rt.routes.iter();
    match name {
        "route-table-id" => vec![rt.id.to_string()],
        "vpc-id" => vec![rt.vpc.to_string()],
        "owner-id" => vec![rt.account.clone()],
        "association.main" => vec![rt.main.to_string()],
        "association.route-table-association-id" => assoc.map(|a| a.id.to_string()).collect(),
        "association.route-table-id" => assoc.map(|_| rt.id.to_string()).collect(),
        "association.subnet-id" => assoc
            .filter_map(|a| a.subnet.map(|s| s.to_string()))
            .collect(),
        "route.destination-cidr-block" => routes
            .filter(|r| matches!(r.destination, IpNet::V4(_)))
            .map(|r| r.destination.to_string())
            .collect(),
        "route.destination-ipv6-cidr-block" => routes
            .filter(|r| matches!(r.destination, IpNet::V6(_)))
            .map(|r| r.destination.to_string())
            .collect(),
        "route.gateway-id" => routes
            .filter(|r| r.target == RouteTarget::Local)
            .map(|_| "local".to_owned())
            .collect(),
        "route.network-interface-id" => routes
            .filter_map(|r| match &r.target {
                RouteTarget::Interface(e) => Some(e.to_string()),
                RouteTarget::Local => None,
            })
            .collect(),
        "route.origin" => routes.map(|r| r.origin.clone()).collect(),
        _ => vec![],
    }
}

pub(crate) async fn describe_route_tables(
    ctx: &mut Ctx<'_>,
    req: DescribeRouteTablesRequest,
) -> Result<DescribeRouteTablesResponse, ApiError> {
    ctx.authorize("ec2:DescribeRouteTables", "*").await?;
    let filters = Filters::new(&req.filters, FILTERS)?;
    no_duplicates("RouteTableIds", &req.route_table_ids)?;
    let account = ctx.caller.account.clone();
    let tables = if req.route_table_ids.is_empty() {
        let all = routing::list_route_tables(&mut ctx.tx, Some(&account), None).await?;
        all.into_iter().filter(|x| ctx.here(x)).collect()
    } else {
        let mut out = Vec::with_capacity(req.route_table_ids.len());
        for id in &req.route_table_ids {
            out.push(own(ctx, id).await?);
        }
        out
    };
    let all_tags: BTreeMap<String, Vec<(String, String)>> =
        tag_store::by_resource(&mut ctx.tx, &account, &ctx.caller.region).await?;
    let tables: Vec<RouteTable> = tables
        .into_iter()
        .filter(|rt| {
            let t = tags::of(&all_tags, &rt.id.to_string());
            filters.matches(|name| filter_values(rt, t, name))
        })
        .collect();
    let page = PageRequest {
        size: req.max_results,
        token: req.next_token.as_deref(),
        scope: scope("DescribeRouteTables", &req),
        style: PageStyle::Ec2,
    };
    let (tables, next_token) = paginate(ctx, &page, tables, |rt| rt.id.to_string())?;
    let mut views = Vec::with_capacity(tables.len());
    for rt in &tables {
        let t = tags::of(&all_tags, &rt.id.to_string()).to_vec();
        views.push(view(ctx, rt, &t).await?);
    }
    Ok(DescribeRouteTablesResponse {
        route_tables: views,
        next_token,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct RouteTableIdRequest {
    route_table_id: String,
}

fn dependency(id: &RouteTableId) -> ApiError {
    ApiError::client(
        "DependencyViolation",
        format!("The routeTable '{id}' has dependencies and cannot be deleted."),
    )
}

/// `DeleteRouteTable`: refused for the main table and while subnets are associated with it.
pub(crate) async fn delete_route_table(
    ctx: &mut Ctx<'_>,
    req: RouteTableIdRequest,
) -> Result<ReturnTrue, ApiError> {
    let id: RouteTableId = parse_id(&req.route_table_id, "InvalidRouteTableID.Malformed")?;
    ctx.authorize("ec2:DeleteRouteTable", &ec2_arn(ctx, "route-table", id))
        .await?;
    let rt = own(ctx, &req.route_table_id).await?;
    if rt.main || !rt.associations.is_empty() {
        return Err(dependency(&id));
    }
    routing::delete_route_table(&mut ctx.tx, &id).await?;
    tag_store::remove_all(&mut ctx.tx, &id.to_string()).await?;
    Ok(ReturnTrue::YES)
}

/// `AssociateRouteTable`: a subnet of the same VPC, not yet explicitly associated.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct AssociateRequest {
    route_table_id: String,
    subnet_id: Option<String>,
    gateway_id: Option<String>,
    public_ipv4_pool: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AssociateResponse {
    association_id: String,
    association_state: AssociationState,
}

pub(crate) async fn associate_route_table(
    ctx: &mut Ctx<'_>,
    req: AssociateRequest,
) -> Result<AssociateResponse, ApiError> {
    let id: RouteTableId = parse_id(&req.route_table_id, "InvalidRouteTableID.Malformed")?;
    ctx.authorize("ec2:AssociateRouteTable", &ec2_arn(ctx, "route-table", id))
        .await?;
    if req.gateway_id.is_some() || req.public_ipv4_pool.is_some() {
        return Err(ApiError::client(
            "InvalidGatewayID.NotFound",
            "Underpass has no gateways to associate route tables with; name a SubnetId",
        ));
    }
    let subnet_id = req.subnet_id.ok_or_else(|| ApiError::missing("SubnetId"))?;
    let rt = own(ctx, &req.route_table_id).await?;
    let subnet = lookup::subnet(ctx, &subnet_id).await?;
    if subnet.vpc != rt.vpc {
        return Err(ApiError::invalid(format!(
            "Route table {} and subnet {} belong to different networks",
            rt.id, subnet.id
        )));
    }
    let assoc = RouteTableAssociation {
        id: RouteTableAssociationId::from_bits(ctx.new_id()?),
        route_table: rt.id,
        subnet: Some(subnet.id),
    };
    routing::associate_route_table(&mut ctx.tx, &assoc)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ApiError::client(
                "Resource.AlreadyAssociated",
                format!(
                    "the specified association for route table {} conflicts with an existing association: subnet {} is already associated with a route table",
                    rt.id, subnet.id
                ),
            ),
            e => e.into(),
        })?;
    Ok(AssociateResponse {
        association_id: assoc.id.to_string(),
        association_state: ASSOCIATED,
    })
}

/// `DisassociateRouteTable`: the subnet goes back to the main table. The main association
/// itself cannot be removed.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DisassociateRequest {
    association_id: String,
}

pub(crate) async fn disassociate_route_table(
    ctx: &mut Ctx<'_>,
    req: DisassociateRequest,
) -> Result<super::elb::Empty, ApiError> {
    let missing = || {
        ApiError::client(
            "InvalidAssociationID.NotFound",
            format!(
                "The association ID '{}' does not exist",
                req.association_id.chars().take(64).collect::<String>()
            ),
        )
    };
    let aid: RouteTableAssociationId =
        parse_id(&req.association_id, "InvalidAssociationID.Malformed")?;
    let Some((assoc, _)) = routing::get_rt_association(&mut ctx.tx, &aid).await? else {
        return Err(missing());
    };
    // The association is the caller's if its route table is (in this region).
    own(ctx, &assoc.route_table.to_string())
        .await
        .map_err(|_| missing())?;
    ctx.authorize(
        "ec2:DisassociateRouteTable",
        &ec2_arn(ctx, "route-table", assoc.route_table),
    )
    .await?;
    if assoc.subnet.is_none() {
        return Err(ApiError::invalid(format!(
            "The main route table association {aid} cannot be disassociated; use ReplaceRouteTableAssociation"
        )));
    }
    routing::disassociate_route_table(&mut ctx.tx, &aid).await?;
    Ok(super::elb::Empty {})
}
