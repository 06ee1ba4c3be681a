//! ELBv2 actions on network load balancers (the provider gateway) and their attributes, and
//! the helpers the other ELBv2 files share. Listeners are in `listeners.rs`, target groups in
//! `target_groups.rs`, targets in `targets.rs`.
//!
//! Only what Underpass runs is accepted: `Type` network (the default here, where ELBv2 defaults
//! to application), `Scheme` internal (the default here; ELBv2 defaults to internet-facing),
//! IPv4, TCP listeners forwarding to one target group.

use serde::{Deserialize, Serialize};
use underpass_domain::net::NetError;
use underpass_domain::EniId;
use underpass_store::records::{Eni, EniKind, LoadBalancer, TargetGroup};
use underpass_store::{network, services, StoreError};

use super::describe::{paginate, scope, PageRequest, PageStyle};
use super::lookup;
use super::Ctx;
use crate::api::ApiError;

/// ELBv2's `ValidationError`.
pub(crate) fn validation(message: impl Into<String>) -> ApiError {
    ApiError::client("ValidationError", message)
}

/// An empty ELBv2 answer.
#[derive(Serialize)]
pub(crate) struct Empty {}

/// ELBv2 names (load balancers, target groups): 1-32 alphanumerics and hyphens, not starting
/// or ending with a hyphen.
pub(crate) fn check_name(kind: &str, name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(validation(format!(
            "{kind} name '{}' is invalid: use 1-32 alphanumeric characters or hyphens, not beginning or ending with a hyphen",
            name.chars().take(64).collect::<String>()
        )))
    }
}

/// 16 random hex digits, the last component of ELBv2 ARNs.
pub(crate) fn hex16(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    Ok(format!("{:016x}", ctx.random()? as u64))
}

/// `arn:aws:elasticloadbalancing:<region>:<caller>:<resource>`.
pub(crate) fn elb_arn(ctx: &Ctx<'_>, resource: &str) -> String {
    ctx.arn("elasticloadbalancing", resource)
}

pub(crate) fn check_arn(arn: &str, kind: &str) -> Result<(), ApiError> {
    let ok = arn.len() <= 512
        && arn.starts_with("arn:")
        && arn.contains(&format!(":{kind}/"))
        && arn.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(validation(format!(
            "'{}' is not a valid {kind} ARN",
            arn.chars().take(64).collect::<String>()
        )))
    }
}

/// The caller's load balancer `arn`, or `LoadBalancerNotFound`.
pub(crate) async fn own_lb(ctx: &mut Ctx<'_>, arn: &str) -> Result<LoadBalancer, ApiError> {
    check_arn(arn, "loadbalancer")?;
    match services::get_lb(&mut ctx.tx, arn).await {
        Ok(lb) if ctx.mine(&lb) => Ok(lb),
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(ApiError::client(
            "LoadBalancerNotFound",
            format!("Load balancer '{arn}' not found"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// The caller's target group `arn`, or `TargetGroupNotFound`.
pub(crate) async fn own_tg(ctx: &mut Ctx<'_>, arn: &str) -> Result<TargetGroup, ApiError> {
    check_arn(arn, "targetgroup")?;
    match services::get_tg(&mut ctx.tx, arn).await {
        Ok(tg) if ctx.mine(&tg) => Ok(tg),
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(ApiError::client(
            "TargetGroupNotFound",
            format!("Target groups '{arn}' not found"),
        )),
        Err(e) => Err(e.into()),
    }
}

#[derive(Serialize)]
pub(crate) struct LbAddress {
    #[serde(rename = "PrivateIPv4Address")]
    private_ipv4_address: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LbZone {
    zone_name: String,
    subnet_id: String,
    load_balancer_addresses: Vec<LbAddress>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LbState {
    code: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LbView {
    load_balancer_arn: String,
    load_balancer_name: String,
    scheme: &'static str,
    #[serde(rename = "Type")]
    kind: &'static str,
    vpc_id: String,
    state: LbState,
    availability_zones: Vec<LbZone>,
    ip_address_type: &'static str,
}

impl From<&LoadBalancer> for LbView {
    fn from(lb: &LoadBalancer) -> Self {
        Self {
            load_balancer_arn: lb.arn.clone(),
            load_balancer_name: lb.name.clone(),
            scheme: "internal",
            kind: "network",
            vpc_id: lb.vpc.to_string(),
            state: LbState {
                code: lb.state.clone(),
            },
            availability_zones: lb
                .nodes
                .iter()
                .map(|n| LbZone {
                    zone_name: n.zone.clone(),
                    subnet_id: n.subnet.to_string(),
                    load_balancer_addresses: vec![LbAddress {
                        private_ipv4_address: n.ip.to_string(),
                    }],
                })
                .collect(),
            ip_address_type: "ipv4",
        }
    }
}

/// `CreateLoadBalancer`: one node (an ENI with an address of the subnet) per subnet, at most
/// one subnet per zone, all in one VPC.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateLbRequest {
    name: String,
    #[serde(default)]
    subnets: Vec<String>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    scheme: Option<String>,
    ip_address_type: Option<String>,
    #[serde(default)]
    tags: Vec<super::elb_tags::ElbTag>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LbsResponse {
    load_balancers: Vec<LbView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
}

pub(crate) async fn create_load_balancer(
    ctx: &mut Ctx<'_>,
    req: CreateLbRequest,
) -> Result<LbsResponse, ApiError> {
    check_name("Load balancer", &req.name)?;
    if req.name.starts_with("internal-") {
        return Err(validation(
            "Load balancer names cannot begin with 'internal-'",
        ));
    }
    let arn = elb_arn(
        ctx,
        &format!("loadbalancer/net/{}/{}", req.name, hex16(ctx)?),
    );
    ctx.authorize("elasticloadbalancing:CreateLoadBalancer", &arn)
        .await?;
    if !matches!(req.kind.as_deref(), None | Some("network")) {
        return Err(validation(
            "Underpass runs network load balancers only: Type must be 'network'",
        ));
    }
    if !matches!(req.scheme.as_deref(), None | Some("internal")) {
        return Err(validation(
            "Underpass load balancers are private: Scheme must be 'internal'",
        ));
    }
    if !matches!(req.ip_address_type.as_deref(), None | Some("ipv4")) {
        return Err(validation("IpAddressType must be 'ipv4'"));
    }
    if req.subnets.is_empty() {
        return Err(validation("At least one subnet must be specified"));
    }
    let tag_list = super::elb_tags::check(&req.tags)?;
    lookup::no_duplicates("Subnets", &req.subnets).map_err(|e| validation(e.message))?;
    let mut subnets = Vec::with_capacity(req.subnets.len());
    for id in &req.subnets {
        let s = lookup::subnet(ctx, id).await.map_err(|_| {
            ApiError::client(
                "SubnetNotFound",
                format!(
                    "The subnet ID '{}' is not valid",
                    id.chars().take(64).collect::<String>()
                ),
            )
        })?;
        if let Some(first) = subnets
            .first()
            .map(|f: &underpass_store::records::Subnet| f.vpc)
        {
            if s.vpc != first {
                return Err(ApiError::client(
                    "InvalidConfigurationRequest",
                    "All subnets of a load balancer must belong to the same VPC",
                ));
            }
        }
        if subnets.iter().any(|o| o.zone == s.zone) {
            return Err(ApiError::client(
                "InvalidConfigurationRequest",
                format!("A load balancer cannot be attached to multiple subnets in the same Availability Zone ({})", s.zone),
            ));
        }
        subnets.push(s);
    }
    let vpc = subnets
        .first()
        .map(|s| s.vpc)
        .ok_or_else(|| validation("no subnets"))?;
    let lb = LoadBalancer {
        arn: arn.clone(),
        account: ctx.caller.account.clone(),
        region: ctx.region().to_owned(),
        name: req.name.clone(),
        vpc,
        cross_zone: false,
        state: "active".into(),
        nodes: vec![],
    };
    services::insert_lb(&mut ctx.tx, &lb, ctx.meta.now)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => ApiError::client("DuplicateLoadBalancerName", m),
            e => e.into(),
        })?;
    for s in &subnets {
        let ip = network::lowest_free_ip(&mut ctx.tx, &s.id, &s.cidr)
            .await?
            .ok_or_else(|| {
                ApiError::client(
                    "InvalidSubnet",
                    NetError::InsufficientAddresses(s.cidr.to_string()).to_string(),
                )
            })?;
        let eni_id = EniId::from_bits(ctx.new_id()?);
        network::insert_eni(
            &mut ctx.tx,
            &Eni {
                id: eni_id,
                account: ctx.caller.account.clone(),
                region: lb.region.clone(),
                vpc,
                subnet: s.id,
                zone: s.zone.clone(),
                ip,
                kind: EniKind::LoadBalancer,
                owner: arn.clone(),
            },
        )
        .await?;
    }
    super::elb_tags::save_new(ctx, &arn, "loadbalancer", &tag_list).await?;
    let lb = services::get_lb(&mut ctx.tx, &arn).await?;
    Ok(LbsResponse {
        load_balancers: vec![LbView::from(&lb)],
        next_marker: None,
    })
}

/// `DescribeLoadBalancers`.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DescribeLbsRequest {
    #[serde(default)]
    load_balancer_arns: Vec<String>,
    #[serde(default)]
    names: Vec<String>,
    #[serde(skip_serializing)]
    marker: Option<String>,
    #[serde(skip_serializing)]
    page_size: Option<i64>,
}

pub(crate) async fn describe_load_balancers(
    ctx: &mut Ctx<'_>,
    req: DescribeLbsRequest,
) -> Result<LbsResponse, ApiError> {
    ctx.authorize("elasticloadbalancing:DescribeLoadBalancers", "*")
        .await?;
    if !req.load_balancer_arns.is_empty() && !req.names.is_empty() {
        return Err(validation(
            "Specify either LoadBalancerArns or Names, not both",
        ));
    }
    let lbs = if !req.load_balancer_arns.is_empty() {
        let mut out = Vec::new();
        for arn in &req.load_balancer_arns {
            out.push(own_lb(ctx, arn).await?);
        }
        out
    } else {
        let account = ctx.caller.account.clone();
        let mut all = services::list_lbs(&mut ctx.tx, Some(&account)).await?;
        all.retain(|x| ctx.here(x));
        for n in &req.names {
            if !all.iter().any(|lb| &lb.name == n) {
                return Err(ApiError::client(
                    "LoadBalancerNotFound",
                    format!(
                        "Load balancers '[{}]' not found",
                        n.chars().take(64).collect::<String>()
                    ),
                ));
            }
        }
        all.into_iter()
            .filter(|lb| req.names.is_empty() || req.names.contains(&lb.name))
            .collect()
    };
    let page = PageRequest {
        size: req.page_size,
        token: req.marker.as_deref(),
        scope: scope("DescribeLoadBalancers", &req),
        style: PageStyle::Elb,
    };
    let (lbs, next_marker) = paginate(ctx, &page, lbs, |lb| lb.arn.clone())?;
    Ok(LbsResponse {
        load_balancers: lbs.iter().map(LbView::from).collect(),
        next_marker,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct LbArnRequest {
    load_balancer_arn: String,
}

/// `DeleteLoadBalancer`: as in ELBv2, deleting one that does not exist succeeds. Refused while
/// deletion protection is on (`OperationNotPermitted`) or an endpoint service uses it
/// (`ResourceInUse`). Its listeners go with it; its node addresses return to their subnets.
pub(crate) async fn delete_load_balancer(
    ctx: &mut Ctx<'_>,
    req: LbArnRequest,
) -> Result<Empty, ApiError> {
    check_arn(&req.load_balancer_arn, "loadbalancer")?;
    ctx.authorize(
        "elasticloadbalancing:DeleteLoadBalancer",
        &req.load_balancer_arn,
    )
    .await?;
    let lb = match own_lb(ctx, &req.load_balancer_arn).await {
        Ok(lb) => lb,
        Err(e) if e.code == "LoadBalancerNotFound" => return Ok(Empty {}),
        Err(e) => return Err(e),
    };
    if services::lb_deletion_protection(&mut ctx.tx, &lb.arn).await? {
        return Err(ApiError::client(
            "OperationNotPermitted",
            format!(
                "Load balancer '{}' cannot be deleted because deletion protection is enabled",
                lb.arn
            ),
        ));
    }
    services::delete_lb(&mut ctx.tx, &lb.arn)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => ApiError::client("ResourceInUse", m),
            e => e.into(),
        })?;
    underpass_store::tags::remove_all(&mut ctx.tx, &lb.arn).await?;
    Ok(Empty {})
}

/// One `{"Key": …, "Value": …}` attribute.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct Attribute {
    pub(crate) key: String,
    pub(crate) value: String,
}

/// Parses `true` / `false`.
pub(crate) fn bool_attr(a: &Attribute) -> Result<bool, ApiError> {
    match a.value.as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        v => Err(validation(format!(
            "Attribute '{}' takes 'true' or 'false', not '{}'",
            a.key,
            v.chars().take(32).collect::<String>()
        ))),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AttributesResponse {
    pub(crate) attributes: Vec<Attribute>,
}

async fn lb_attributes(
    ctx: &mut Ctx<'_>,
    lb: &LoadBalancer,
) -> Result<AttributesResponse, ApiError> {
    let protected = services::lb_deletion_protection(&mut ctx.tx, &lb.arn).await?;
    Ok(AttributesResponse {
        attributes: vec![
            Attribute {
                key: "deletion_protection.enabled".into(),
                value: protected.to_string(),
            },
            Attribute {
                key: "load_balancing.cross_zone.enabled".into(),
                value: lb.cross_zone.to_string(),
            },
        ],
    })
}

pub(crate) async fn describe_load_balancer_attributes(
    ctx: &mut Ctx<'_>,
    req: LbArnRequest,
) -> Result<AttributesResponse, ApiError> {
    check_arn(&req.load_balancer_arn, "loadbalancer")?;
    ctx.authorize("elasticloadbalancing:DescribeLoadBalancerAttributes", "*")
        .await?;
    let lb = own_lb(ctx, &req.load_balancer_arn).await?;
    lb_attributes(ctx, &lb).await
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct ModifyLbAttributesRequest {
    load_balancer_arn: String,
    #[serde(default)]
    attributes: Vec<Attribute>,
}

/// `ModifyLoadBalancerAttributes`: `load_balancing.cross_zone.enabled`,
/// `deletion_protection.enabled`. Every attribute is checked before any is changed.
pub(crate) async fn modify_load_balancer_attributes(
    ctx: &mut Ctx<'_>,
    req: ModifyLbAttributesRequest,
) -> Result<AttributesResponse, ApiError> {
    check_arn(&req.load_balancer_arn, "loadbalancer")?;
    ctx.authorize(
        "elasticloadbalancing:ModifyLoadBalancerAttributes",
        &req.load_balancer_arn,
    )
    .await?;
    let lb = own_lb(ctx, &req.load_balancer_arn).await?;
    if req.attributes.is_empty() {
        return Err(validation("At least one attribute must be specified"));
    }
    let (mut cross, mut protect) = (None, None);
    for a in &req.attributes {
        match a.key.as_str() {
            "load_balancing.cross_zone.enabled" => cross = Some(bool_attr(a)?),
            "deletion_protection.enabled" => protect = Some(bool_attr(a)?),
            k => {
                return Err(validation(format!(
                    "Load balancer attribute key '{}' is not recognized",
                    k.chars().take(64).collect::<String>()
                )))
            }
        }
    }
    if let Some(on) = cross {
        services::set_lb_cross_zone(&mut ctx.tx, &lb.arn, on).await?;
    }
    if let Some(on) = protect {
        services::set_lb_deletion_protection(&mut ctx.tx, &lb.arn, on).await?;
    }
    let lb = services::get_lb(&mut ctx.tx, &lb.arn).await?;
    lb_attributes(ctx, &lb).await
}
