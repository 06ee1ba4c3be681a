//! `DescribeNetworkInterfaces`: the addresses endpoints and load-balancer nodes hold in the
//! caller's subnets.

use serde::{Deserialize, Serialize};
use underpass_domain::EniId;
use underpass_store::records::{Eni, EniKind};
use underpass_store::services::EndpointFilter;
use underpass_store::{network, services, StoreError};

use super::describe::{paginate, scope, Filter, Filters, PageRequest, PageStyle};
use super::lookup::{no_duplicates, parse_id};
use super::Ctx;
use crate::api::ApiError;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GroupRef {
    pub(crate) group_id: String,
    pub(crate) group_name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PrivateIp {
    private_ip_address: String,
    primary: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EniView {
    network_interface_id: String,
    interface_type: &'static str,
    description: String,
    subnet_id: String,
    vpc_id: String,
    availability_zone: String,
    private_ip_address: String,
    private_ip_addresses: Vec<PrivateIp>,
    groups: Vec<GroupRef>,
    owner_id: String,
    requester_managed: bool,
    status: &'static str,
}

/// `DescribeNetworkInterfaces`: the caller's endpoint ENIs and load-balancer nodes.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DescribeEnisRequest {
    #[serde(default)]
    network_interface_ids: Vec<String>,
    #[serde(default)]
    filters: Vec<Filter>,
    #[serde(skip_serializing)]
    max_results: Option<i64>,
    #[serde(skip_serializing)]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeEnisResponse {
    network_interfaces: Vec<EniView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

const ENI_FILTERS: &[&str] = &[
    "network-interface-id",
    "vpc-id",
    "subnet-id",
    "availability-zone",
    "private-ip-address",
    "addresses.private-ip-address",
    "owner-id",
    "interface-type",
    "requester-managed",
    "group-id",
    "description",
    "status",
];

fn eni_type(e: &Eni) -> &'static str {
    match e.kind {
        EniKind::Endpoint => "vpc_endpoint",
        EniKind::LoadBalancer => "network_load_balancer",
    }
}

fn eni_description(e: &Eni) -> String {
    match e.kind {
        EniKind::Endpoint => format!("VPC Endpoint Interface {}", e.owner),
        EniKind::LoadBalancer => format!(
            "ELB {}",
            e.owner.split_once(":loadbalancer/").map_or("", |(_, r)| r)
        ),
    }
}

pub(crate) async fn describe_network_interfaces(
    ctx: &mut Ctx<'_>,
    req: DescribeEnisRequest,
) -> Result<DescribeEnisResponse, ApiError> {
    ctx.authorize("ec2:DescribeNetworkInterfaces", "*").await?;
    let filters = Filters::new(&req.filters, ENI_FILTERS)?;
    no_duplicates("NetworkInterfaceIds", &req.network_interface_ids)?;
    let account = ctx.caller.account.clone();
    let mut all = network::list_enis(&mut ctx.tx, Some(&account)).await?;
    all.retain(|x| ctx.here(x));
    let enis: Vec<Eni> = if req.network_interface_ids.is_empty() {
        all
    } else {
        let mut out = Vec::with_capacity(req.network_interface_ids.len());
        for id in &req.network_interface_ids {
            let eid: EniId = parse_id(id, "InvalidNetworkInterfaceID.Malformed")?;
            let e = all.iter().find(|e| e.id == eid).ok_or_else(|| {
                ApiError::client(
                    "InvalidNetworkInterfaceID.NotFound",
                    format!("The networkInterface ID '{eid}' does not exist"),
                )
            })?;
            out.push(e.clone());
        }
        out
    };
    // The security groups of endpoint ENIs are those of their endpoint.
    let endpoints = services::list_endpoints(
        &mut ctx.tx,
        &EndpointFilter {
            account: Some(account),
            ..EndpointFilter::default()
        },
    )
    .await?;
    let mut views = Vec::new();
    let mut kept = Vec::new();
    for e in enis {
        let groups: Vec<String> = endpoints
            .iter()
            .find(|ep| ep.id.to_string() == e.owner)
            .map(|ep| ep.security_groups.iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        let ok = filters.matches(|name| match name {
            "network-interface-id" => vec![e.id.to_string()],
            "vpc-id" => vec![e.vpc.to_string()],
            "subnet-id" => vec![e.subnet.to_string()],
            "availability-zone" => vec![e.zone.clone()],
            "private-ip-address" | "addresses.private-ip-address" => vec![e.ip.to_string()],
            "owner-id" => vec![e.account.clone()],
            "interface-type" => vec![eni_type(&e).into()],
            "requester-managed" => vec!["true".into()],
            "group-id" => groups.clone(),
            "description" => vec![eni_description(&e)],
            "status" => vec!["in-use".into()],
            _ => vec![],
        });
        if ok {
            kept.push((e, groups));
        }
    }
    let page = PageRequest {
        size: req.max_results,
        token: req.next_token.as_deref(),
        scope: scope("DescribeNetworkInterfaces", &req),
        style: PageStyle::Ec2,
    };
    let (kept, next_token) = paginate(ctx, &page, kept, |(e, _)| e.id.to_string())?;
    for (e, groups) in kept {
        let mut refs = Vec::with_capacity(groups.len());
        for g in &groups {
            // Ids come from the store, so they parse; a group deleted meanwhile has no name.
            let name = match g.parse() {
                Ok(gid) => match network::get_group(&mut ctx.tx, &gid).await {
                    Ok(g) => g.name,
                    Err(StoreError::NotFound { .. }) => String::new(),
                    Err(e) => return Err(e.into()),
                },
                Err(_) => String::new(),
            };
            refs.push(GroupRef {
                group_id: g.clone(),
                group_name: name,
            });
        }
        views.push(EniView {
            network_interface_id: e.id.to_string(),
            interface_type: eni_type(&e),
            description: eni_description(&e),
            subnet_id: e.subnet.to_string(),
            vpc_id: e.vpc.to_string(),
            availability_zone: e.zone.clone(),
            private_ip_address: e.ip.to_string(),
            private_ip_addresses: vec![PrivateIp {
                private_ip_address: e.ip.to_string(),
                primary: true,
            }],
            groups: refs,
            owner_id: e.account.clone(),
            requester_managed: true,
            status: "in-use",
        });
    }
    Ok(DescribeEnisResponse {
        network_interfaces: views,
        next_token,
    })
}
