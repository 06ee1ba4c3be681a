//! PrivateLink, the provider's side: endpoint service configurations. Who may see a service is
//! in `vpce_permissions.rs`; the connections requested to it are in `vpce_connections.rs`.

use serde::{Deserialize, Serialize};
use underpass_domain::ServiceId;
use underpass_store::iam::{self as iam_store, TokenLookup};
use underpass_store::records::Service;
use underpass_store::services::{self, EndpointFilter};
use underpass_store::{network, tags as tag_store};

use super::describe::{
    check_client_token, fingerprint, paginate, scope, Filter, Filters, PageRequest, PageStyle,
};
use super::lookup::{self, ec2_arn, no_duplicates, parse_id, ReturnTrue, UnsuccessfulItem};
use super::tags::{self, TagSpecification, TagView};
use super::vpce_dns::{self, PrivateDnsNameConfiguration};
use super::Ctx;
use crate::api::ApiError;
use crate::dns_names;

/// `InvalidParameter`, EC2's code for a parameter that is wrong in context.
pub(crate) fn invalid_parameter(message: impl Into<String>) -> ApiError {
    ApiError::client("InvalidParameter", message)
}

/// The zones a service's load balancers have nodes in.
pub(crate) async fn service_zones(ctx: &mut Ctx<'_>, s: &Service) -> Result<Vec<String>, ApiError> {
    // The zones alone, not the load balancers' rows and nodes: every CreateVpcEndpoint asks.
    Ok(services::lb_zones(&mut ctx.tx, &s.load_balancers).await?)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ServiceTypeView {
    pub(crate) service_type: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ServiceConfigView {
    service_type: Vec<ServiceTypeView>,
    service_id: String,
    service_name: String,
    service_state: String,
    availability_zones: Vec<String>,
    acceptance_required: bool,
    manages_vpc_endpoints: bool,
    network_load_balancer_arns: Vec<String>,
    supported_ip_address_types: Vec<&'static str>,
    base_endpoint_dns_names: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    private_dns_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    private_dns_name_configuration: Option<PrivateDnsNameConfiguration>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<TagView>,
}

async fn config_view(ctx: &mut Ctx<'_>, s: &Service) -> Result<ServiceConfigView, ApiError> {
    let tag_list = tag_store::of(&mut ctx.tx, &s.id.to_string()).await?;
    Ok(ServiceConfigView {
        service_type: vec![ServiceTypeView {
            service_type: "Interface",
        }],
        service_id: s.id.to_string(),
        service_name: s.name.clone(),
        service_state: s.state.clone(),
        availability_zones: service_zones(ctx, s).await?,
        acceptance_required: s.acceptance_required,
        manages_vpc_endpoints: false,
        network_load_balancer_arns: s.load_balancers.clone(),
        supported_ip_address_types: vec!["ipv4"],
        base_endpoint_dns_names: vec![dns_names::base(&ctx.state.cfg, s)],
        private_dns_name: s.private_dns.as_ref().map(|p| p.name.clone()),
        private_dns_name_configuration: s.private_dns.as_ref().map(PrivateDnsNameConfiguration::of),
        tags: tags::view(&tag_list),
    })
}

/// Checks that every ARN names one of the caller's load balancers.
async fn check_lbs(ctx: &mut Ctx<'_>, arns: &[String]) -> Result<(), ApiError> {
    no_duplicates("NetworkLoadBalancerArns", arns).map_err(|e| invalid_parameter(e.message))?;
    for arn in arns {
        super::elb::own_lb(ctx, arn).await.map_err(|_| {
            invalid_parameter(format!(
                "The load balancer '{}' does not exist or is not yours",
                arn.chars().take(256).collect::<String>()
            ))
        })?;
    }
    Ok(())
}

/// `CreateVpcEndpointServiceConfiguration`: a service in front of the caller's network load
/// balancers (at least one). Acceptance is required unless `AcceptanceRequired` is false.
/// Allowed principals start empty (`ModifyVpcEndpointServicePermissions` adds them).
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateServiceRequest {
    acceptance_required: Option<bool>,
    #[serde(default)]
    network_load_balancer_arns: Vec<String>,
    #[serde(default)]
    gateway_load_balancer_arns: Vec<String>,
    supported_ip_address_types: Option<Vec<String>>,
    private_dns_name: Option<String>,
    #[serde(default)]
    tag_specifications: Vec<TagSpecification>,
    #[serde(skip_serializing)]
    client_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateServiceResponse {
    service_configuration: ServiceConfigView,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_token: Option<String>,
}

const CREATE_SERVICE: &str = "CreateVpcEndpointServiceConfiguration";

pub(crate) async fn create_vpc_endpoint_service_configuration(
    ctx: &mut Ctx<'_>,
    req: CreateServiceRequest,
) -> Result<CreateServiceResponse, ApiError> {
    let id = ServiceId::from_bits(ctx.new_id()?);
    let arn = ec2_arn(ctx, "vpc-endpoint-service", id);
    ctx.authorize("ec2:CreateVpcEndpointServiceConfiguration", &arn)
        .await?;
    let account = ctx.caller.account.clone();
    let hash = fingerprint(&req)?;
    if let Some(token) = &req.client_token {
        check_client_token(token)?;
        match iam_store::client_token(&mut ctx.tx, &account, CREATE_SERVICE, token, &hash).await? {
            TokenLookup::New => {}
            TokenLookup::Replay(existing) => {
                let s = lookup::service(ctx, &existing).await?;
                return Ok(CreateServiceResponse {
                    service_configuration: config_view(ctx, &s).await?,
                    client_token: req.client_token.clone(),
                });
            }
            TokenLookup::Mismatch => return Err(mismatch()),
        }
    }
    if !req.gateway_load_balancer_arns.is_empty() {
        return Err(invalid_parameter(
            "Gateway Load Balancer endpoint services are not supported",
        ));
    }
    if req.network_load_balancer_arns.is_empty() {
        return Err(invalid_parameter(
            "An endpoint service needs at least one network load balancer (NetworkLoadBalancerArns)",
        ));
    }
    if let Some(types) = &req.supported_ip_address_types {
        if types.iter().any(|t| t != "ipv4") {
            return Err(invalid_parameter("Only the ipv4 address type is supported"));
        }
    }
    check_lbs(ctx, &req.network_load_balancer_arns).await?;
    let tag_list =
        tags::on_create(ctx, &req.tag_specifications, "vpc-endpoint-service", &arn).await?;
    let private_dns = match &req.private_dns_name {
        Some(name) => Some(vpce_dns::claim(ctx, name).await?),
        None => None,
    };
    let service = Service {
        id,
        name: format!(
            "com.{}.vpce.{}.{id}",
            ctx.state.cfg.service_name_prefix,
            ctx.region()
        ),
        account: account.clone(),
        region: ctx.region().to_owned(),
        acceptance_required: req.acceptance_required.unwrap_or(true),
        load_balancers: req.network_load_balancer_arns.clone(),
        state: "Available".into(),
        allowed_principals: vec![],
        private_dns,
    };
    services::insert_service(&mut ctx.tx, &service, ctx.meta.now).await?;
    tags::save_new(ctx, &id.to_string(), "vpc-endpoint-service", &tag_list).await?;
    if let Some(token) = &req.client_token {
        iam_store::save_client_token(
            &mut ctx.tx,
            &account,
            CREATE_SERVICE,
            token,
            &hash,
            &id.to_string(),
            ctx.meta.now,
        )
        .await?;
    }
    Ok(CreateServiceResponse {
        service_configuration: config_view(ctx, &service).await?,
        client_token: req.client_token,
    })
}

/// `IdempotentParameterMismatch`.
pub(crate) fn mismatch() -> ApiError {
    ApiError::client(
        "IdempotentParameterMismatch",
        "The client token was already used with different parameters.",
    )
}

/// `DescribeVpcEndpointServiceConfigurations`: the caller's services.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DescribeConfigsRequest {
    #[serde(default)]
    service_ids: Vec<String>,
    #[serde(default)]
    filters: Vec<Filter>,
    #[serde(skip_serializing)]
    max_results: Option<i64>,
    #[serde(skip_serializing)]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeConfigsResponse {
    service_configurations: Vec<ServiceConfigView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn own_services(ctx: &mut Ctx<'_>) -> Result<Vec<Service>, ApiError> {
    let mut all = services::list_services(&mut ctx.tx).await?;
    all.retain(|s| ctx.mine(s));
    Ok(all)
}

pub(crate) async fn describe_vpc_endpoint_service_configurations(
    ctx: &mut Ctx<'_>,
    req: DescribeConfigsRequest,
) -> Result<DescribeConfigsResponse, ApiError> {
    ctx.authorize("ec2:DescribeVpcEndpointServiceConfigurations", "*")
        .await?;
    let filters = Filters::new(
        &req.filters,
        &["service-name", "service-id", "service-state", "tag-key"],
    )?;
    no_duplicates("ServiceIds", &req.service_ids)?;
    let list = if req.service_ids.is_empty() {
        own_services(ctx).await?
    } else {
        let mut out = Vec::new();
        for id in &req.service_ids {
            out.push(lookup::service(ctx, id).await?);
        }
        out
    };
    let account = ctx.caller.account.clone();
    let all_tags = tag_store::by_resource(&mut ctx.tx, &account, &ctx.caller.region).await?;
    let list: Vec<Service> = list
        .into_iter()
        .filter(|s| {
            let t = tags::of(&all_tags, &s.id.to_string());
            filters.matches(|name| match name {
                n if n.starts_with("tag") => tags::filter_values(n, t).unwrap_or_default(),
                "service-name" => vec![s.name.clone()],
                "service-id" => vec![s.id.to_string()],
                "service-state" => vec![s.state.clone()],
                _ => vec![],
            })
        })
        .collect();
    let page = PageRequest {
        size: req.max_results,
        token: req.next_token.as_deref(),
        scope: scope("DescribeVpcEndpointServiceConfigurations", &req),
        style: PageStyle::Ec2,
    };
    let (list, next_token) = paginate(ctx, &page, list, |s| s.id.to_string())?;
    let mut service_configurations = Vec::with_capacity(list.len());
    for s in &list {
        service_configurations.push(config_view(ctx, s).await?);
    }
    Ok(DescribeConfigsResponse {
        service_configurations,
        next_token,
    })
}

/// `ModifyVpcEndpointServiceConfiguration`: acceptance, the load balancers (at least one
/// must remain) and the private DNS name (a new name starts `pendingVerification` with a new
/// TXT record; `RemovePrivateDnsName` drops it). Existing connections keep their state.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct ModifyServiceRequest {
    service_id: String,
    acceptance_required: Option<bool>,
    private_dns_name: Option<String>,
    remove_private_dns_name: Option<bool>,
    #[serde(default)]
    add_network_load_balancer_arns: Vec<String>,
    #[serde(default)]
    remove_network_load_balancer_arns: Vec<String>,
}

pub(crate) async fn modify_vpc_endpoint_service_configuration(
    ctx: &mut Ctx<'_>,
    req: ModifyServiceRequest,
) -> Result<ReturnTrue, ApiError> {
    let sid: ServiceId = parse_id(&req.service_id, "InvalidVpcEndpointServiceId.Malformed")?;
    ctx.authorize(
        "ec2:ModifyVpcEndpointServiceConfiguration",
        &ec2_arn(ctx, "vpc-endpoint-service", sid),
    )
    .await?;
    let mut s = lookup::service(ctx, &req.service_id).await?;
    check_lbs(ctx, &req.add_network_load_balancer_arns).await?;
    for arn in &req.add_network_load_balancer_arns {
        if s.load_balancers.contains(arn) {
            return Err(invalid_parameter(format!(
                "The load balancer '{arn}' is already associated with the service"
            )));
        }
        s.load_balancers.push(arn.clone());
    }
    for arn in &req.remove_network_load_balancer_arns {
        let before = s.load_balancers.len();
        s.load_balancers.retain(|a| a != arn);
        if s.load_balancers.len() == before {
            return Err(invalid_parameter(format!(
                "The load balancer '{}' is not associated with the service",
                arn.chars().take(256).collect::<String>()
            )));
        }
    }
    if s.load_balancers.is_empty() {
        return Err(invalid_parameter(
            "An endpoint service needs at least one network load balancer",
        ));
    }
    if let Some(a) = req.acceptance_required {
        s.acceptance_required = a;
    }
    match (
        &req.private_dns_name,
        req.remove_private_dns_name.unwrap_or(false),
    ) {
        (Some(_), true) => {
            return Err(ApiError::client(
                "InvalidParameterCombination",
                "Specify either PrivateDnsName or RemovePrivateDnsName, not both.",
            ))
        }
        (Some(name), false) => {
            let checked = underpass_domain::dns::check_private_dns_name(name)?;
            match &s.private_dns {
                // The same name again keeps its record and state (unless someone else owns it).
                Some(p) if p.name == checked => vpce_dns::check_owner(ctx, &checked).await?,
                _ => s.private_dns = Some(vpce_dns::claim(ctx, name).await?),
            }
        }
        (None, true) => s.private_dns = None,
        (None, false) => {}
    }
    services::update_service(&mut ctx.tx, &s).await?;
    Ok(ReturnTrue::YES)
}

/// `DeleteVpcEndpointServiceConfigurations`: per service, refused with
/// `ExistingVpcEndpointConnections` while connections are pendingAcceptance, pending or
/// available. Endpoints left rejected, failed or expired are removed with the service and
/// their addresses freed.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DeleteServicesRequest {
    #[serde(default)]
    service_ids: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UnsuccessfulResponse {
    pub(crate) unsuccessful: Vec<UnsuccessfulItem>,
}

pub(crate) async fn delete_vpc_endpoint_service_configurations(
    ctx: &mut Ctx<'_>,
    req: DeleteServicesRequest,
) -> Result<UnsuccessfulResponse, ApiError> {
    if req.service_ids.is_empty() {
        return Err(ApiError::missing("ServiceIds"));
    }
    for id in &req.service_ids {
        let arn = ec2_arn(ctx, "vpc-endpoint-service", id);
        ctx.authorize("ec2:DeleteVpcEndpointServiceConfigurations", &arn)
            .await?;
    }
    let mut unsuccessful = Vec::new();
    for id in &req.service_ids {
        let s = match lookup::service(ctx, id).await {
            Ok(s) => s,
            Err(e) => {
                unsuccessful.push(UnsuccessfulItem::new(id, e));
                continue;
            }
        };
        let endpoints = services::list_endpoints(
            &mut ctx.tx,
            &EndpointFilter {
                service: Some(s.id),
                ..EndpointFilter::default()
            },
        )
        .await?;
        if endpoints.iter().any(|e| {
            matches!(
                e.state.as_str(),
                "pendingAcceptance" | "pending" | "available"
            )
        }) {
            unsuccessful.push(UnsuccessfulItem::new(
                id,
                ApiError::client(
                    "ExistingVpcEndpointConnections",
                    format!("Service {id} has existing VPC endpoint connections in pendingAcceptance, pending or available state."),
                ),
            ));
            continue;
        }
        for e in &endpoints {
            network::delete_enis_of(&mut ctx.tx, &e.id.to_string()).await?;
        }
        services::delete_service(&mut ctx.tx, &s.id).await?;
        tag_store::remove_all(&mut ctx.tx, &s.id.to_string()).await?;
    }
    Ok(UnsuccessfulResponse { unsuccessful })
}
