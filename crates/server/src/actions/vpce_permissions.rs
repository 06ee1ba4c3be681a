//! PrivateLink: who may see and connect to an endpoint service.
//!
//! A service is visible to its owner account, and to callers matched by one of its allowed
//! principals: `*`, the caller's account root (which admits every principal of that account),
//! the caller's user ARN, or, for a role session, the role's ARN. Everyone else gets
//! `InvalidServiceName`, exactly as for a name that does not exist.

use serde::{Deserialize, Serialize};
use underpass_domain::{PrincipalArn, ServiceId};
use underpass_store::records::Service;
use underpass_store::services;

use super::describe::{paginate, scope, Filter, Filters, PageRequest, PageStyle};
use super::lookup::{self, ec2_arn, parse_id};
use super::vpce_services::{invalid_parameter, service_zones, ServiceTypeView};
use super::Ctx;
use crate::api::{ApiError, CallerInfo};

/// Whether `caller` may see (and connect to) `service`.
pub(crate) fn visible_to(service: &Service, caller: &CallerInfo) -> bool {
    if service.account == caller.account {
        return true;
    }
    let root = format!("arn:aws:iam::{}:root", caller.account);
    service.allowed_principals.iter().any(|p| {
        p == "*" || *p == root || *p == caller.arn || caller.role_arn.as_deref() == Some(p.as_str())
    })
}

/// The error for a service the caller cannot see.
pub(crate) fn invalid_service_name(name: &str) -> ApiError {
    ApiError::client(
        "InvalidServiceName",
        format!(
            "The Vpc Endpoint Service '{}' does not exist",
            name.chars().take(256).collect::<String>()
        ),
    )
}

/// A principal in `Add/RemoveAllowedPrincipals`: `*`, or the ARN of an account root, user or
/// role (sessions are temporary and cannot be allowed).
fn check_principal(p: &str) -> Result<String, ApiError> {
    if p == "*" {
        return Ok(p.to_owned());
    }
    let arn: PrincipalArn = p.parse().map_err(|e: underpass_domain::ArnError| {
        invalid_parameter(format!("Invalid principal: {e}"))
    })?;
    match arn {
        PrincipalArn::AssumedRole { .. } => Err(invalid_parameter(format!(
            "Invalid principal '{p}': allow the role, not one of its sessions"
        ))),
        a => Ok(a.to_string()),
    }
}

fn principal_type(p: &str) -> &'static str {
    match p.parse::<PrincipalArn>() {
        _ if p == "*" => "All",
        Ok(PrincipalArn::Root { .. }) => "Account",
        Ok(PrincipalArn::User { .. }) => "User",
        Ok(PrincipalArn::Role { .. }) => "Role",
        _ => "Service",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AllowedPrincipal {
    principal_type: &'static str,
    principal: String,
    service_id: String,
}

/// `ModifyVpcEndpointServicePermissions`. Removing a principal does not touch connections it
/// already made (as in AWS): reject them to cut them off.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct ModifyPermissionsRequest {
    service_id: String,
    #[serde(default)]
    add_allowed_principals: Vec<String>,
    #[serde(default)]
    remove_allowed_principals: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ModifyPermissionsResponse {
    added_principals: Vec<AllowedPrincipal>,
    return_value: bool,
}

pub(crate) async fn modify_vpc_endpoint_service_permissions(
    ctx: &mut Ctx<'_>,
    req: ModifyPermissionsRequest,
) -> Result<ModifyPermissionsResponse, ApiError> {
    let sid: ServiceId = parse_id(&req.service_id, "InvalidVpcEndpointServiceId.Malformed")?;
    ctx.authorize(
        "ec2:ModifyVpcEndpointServicePermissions",
        &ec2_arn(ctx, "vpc-endpoint-service", sid),
    )
    .await?;
    let s = lookup::service(ctx, &req.service_id).await?;
    if req.add_allowed_principals.is_empty() && req.remove_allowed_principals.is_empty() {
        return Err(ApiError::missing(
            "AddAllowedPrincipals or RemoveAllowedPrincipals",
        ));
    }
    let add = req
        .add_allowed_principals
        .iter()
        .map(|p| check_principal(p))
        .collect::<Result<Vec<_>, _>>()?;
    let remove = req
        .remove_allowed_principals
        .iter()
        .map(|p| check_principal(p))
        .collect::<Result<Vec<_>, _>>()?;
    services::modify_permissions(&mut ctx.tx, &s.id, &add, &remove).await?;
    Ok(ModifyPermissionsResponse {
        added_principals: add
            .into_iter()
            .map(|p| AllowedPrincipal {
                principal_type: principal_type(&p),
                principal: p,
                service_id: s.id.to_string(),
            })
            .collect(),
        return_value: true,
    })
}

/// `DescribeVpcEndpointServicePermissions`.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DescribePermissionsRequest {
    service_id: String,
    #[serde(default)]
    filters: Vec<Filter>,
    #[serde(skip_serializing)]
    max_results: Option<i64>,
    #[serde(skip_serializing)]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribePermissionsResponse {
    allowed_principals: Vec<AllowedPrincipal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn describe_vpc_endpoint_service_permissions(
    ctx: &mut Ctx<'_>,
    req: DescribePermissionsRequest,
) -> Result<DescribePermissionsResponse, ApiError> {
    let sid: ServiceId = parse_id(&req.service_id, "InvalidVpcEndpointServiceId.Malformed")?;
    ctx.authorize(
        "ec2:DescribeVpcEndpointServicePermissions",
        &ec2_arn(ctx, "vpc-endpoint-service", sid),
    )
    .await?;
    let filters = Filters::new(&req.filters, &["principal", "principal-type"])?;
    let s = lookup::service(ctx, &req.service_id).await?;
    let list: Vec<AllowedPrincipal> = s
        .allowed_principals
        .iter()
        .map(|p| AllowedPrincipal {
            principal_type: principal_type(p),
            principal: p.clone(),
            service_id: s.id.to_string(),
        })
        .filter(|a| {
            filters.matches(|name| match name {
                "principal" => vec![a.principal.clone()],
                "principal-type" => vec![a.principal_type.to_owned()],
                _ => vec![],
            })
        })
        .collect();
    let page = PageRequest {
        size: req.max_results,
        token: req.next_token.as_deref(),
        scope: scope("DescribeVpcEndpointServicePermissions", &req),
        style: PageStyle::Ec2,
    };
    let (allowed_principals, next_token) = paginate(ctx, &page, list, |a| a.principal.clone())?;
    Ok(DescribePermissionsResponse {
        allowed_principals,
        next_token,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ServiceDetail {
    service_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    service_id: String,
    service_type: Vec<ServiceTypeView>,
    availability_zones: Vec<String>,
    owner: String,
    acceptance_required: bool,
    manages_vpc_endpoints: bool,
    vpc_endpoint_policy_supported: bool,
    supported_ip_address_types: Vec<&'static str>,
    base_endpoint_dns_names: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    private_dns_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    private_dns_names: Vec<PrivateDnsNameItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    private_dns_name_verification_state: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PrivateDnsNameItem {
    private_dns_name: String,
}

/// A service `DescribeVpcEndpointServices` lists.
enum Offered {
    Endpoint(Service),
    Gateway(super::regions::GatewayService),
}

impl Offered {
    fn name(&self) -> &str {
        match self {
            Self::Endpoint(s) => &s.name,
            Self::Gateway(g) => &g.name,
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            Self::Endpoint(_) => "Interface",
            Self::Gateway(_) => "Gateway",
        }
    }
    fn owner(&self) -> &str {
        match self {
            Self::Endpoint(s) => &s.account,
            Self::Gateway(_) => "amazon",
        }
    }
}

/// `DescribeVpcEndpointServices`: the services the caller may connect to (see the module
/// documentation). A named service it may not see is `InvalidServiceName`.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DescribeServicesRequest {
    #[serde(default)]
    service_names: Vec<String>,
    #[serde(default)]
    filters: Vec<Filter>,
    #[serde(skip_serializing)]
    max_results: Option<i64>,
    #[serde(skip_serializing)]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeServicesResponse {
    service_names: Vec<String>,
    service_details: Vec<ServiceDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub(crate) async fn describe_vpc_endpoint_services(
    ctx: &mut Ctx<'_>,
    req: DescribeServicesRequest,
) -> Result<DescribeServicesResponse, ApiError> {
    ctx.authorize("ec2:DescribeVpcEndpointServices", "*")
        .await?;
    let filters = Filters::new(&req.filters, &["service-name", "service-type", "owner"])?;
    // Endpoint services the caller may see, then the region's gateway services (Amazon's).
    let mut list: Vec<Offered> = services::list_services(&mut ctx.tx)
        .await?
        .into_iter()
        .filter(|s| ctx.here(s) && visible_to(s, ctx.caller))
        .map(Offered::Endpoint)
        .collect();
    list.extend(
        super::regions::gateway_services(&ctx.state.cfg, ctx.region())
            .into_iter()
            .map(Offered::Gateway),
    );
    for n in &req.service_names {
        if !list.iter().any(|s| s.name() == n) {
            return Err(invalid_service_name(n));
        }
    }
    if !req.service_names.is_empty() {
        list.retain(|s| req.service_names.iter().any(|n| n == s.name()));
    }
    list.retain(|s| {
        filters.matches(|name| match name {
            "service-name" => vec![s.name().to_owned()],
            "service-type" => vec![s.kind().into()],
            "owner" => vec![s.owner().to_owned()],
            _ => vec![],
        })
    });
    list.sort_by(|a, b| a.name().cmp(b.name()));
    let page = PageRequest {
        size: req.max_results,
        token: req.next_token.as_deref(),
        scope: scope("DescribeVpcEndpointServices", &req),
        style: PageStyle::Ec2,
    };
    let (list, next_token) = paginate(ctx, &page, list, |s| s.name().to_owned())?;
    let mut details = Vec::with_capacity(list.len());
    for offered in &list {
        let s = match offered {
            Offered::Endpoint(s) => s,
            Offered::Gateway(g) => {
                details.push(ServiceDetail {
                    service_name: g.name.clone(),
                    service_id: String::new(),
                    service_type: vec![ServiceTypeView {
                        service_type: "Gateway",
                    }],
                    availability_zones: ctx.zones().to_vec(),
                    owner: "amazon".into(),
                    acceptance_required: false,
                    manages_vpc_endpoints: false,
                    vpc_endpoint_policy_supported: true,
                    supported_ip_address_types: vec!["ipv4"],
                    base_endpoint_dns_names: vec![format!(
                        "{}.{}.{}",
                        g.short,
                        ctx.region(),
                        ctx.state.cfg.dns_domain
                    )],
                    private_dns_name: None,
                    private_dns_names: vec![],
                    private_dns_name_verification_state: None,
                });
                continue;
            }
        };
        details.push(ServiceDetail {
            service_name: s.name.clone(),
            service_id: s.id.to_string(),
            service_type: vec![ServiceTypeView {
                service_type: "Interface",
            }],
            availability_zones: service_zones(ctx, s).await?,
            owner: s.account.clone(),
            acceptance_required: s.acceptance_required,
            manages_vpc_endpoints: false,
            vpc_endpoint_policy_supported: true,
            supported_ip_address_types: vec!["ipv4"],
            base_endpoint_dns_names: vec![crate::dns_names::base(&ctx.state.cfg, s)],
            private_dns_name: s.private_dns.as_ref().map(|p| p.name.clone()),
            private_dns_names: s
                .private_dns
                .iter()
                .map(|p| PrivateDnsNameItem {
                    private_dns_name: p.name.clone(),
                })
                .collect(),
            private_dns_name_verification_state: s.private_dns.as_ref().map(|p| p.state.as_str()),
        });
    }
    Ok(DescribeServicesResponse {
        service_names: list.iter().map(|s| s.name().to_owned()).collect(),
        service_details: details,
        next_token,
    })
}
