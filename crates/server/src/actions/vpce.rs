//! PrivateLink, the consumer's side: interface endpoints (and, through `vpce_gateway.rs`, the
//! gateway endpoints that share their actions).
//!
//! An endpoint gets one ENI per subnet, with the lowest free address of the subnet; running out
//! of addresses fails the whole call (`InsufficientFreeAddressesInSubnet`) and leaves neither
//! the endpoint nor any address behind. Its connection starts `pendingAcceptance` when the
//! service requires acceptance, otherwise it is provisioned at once and is `available` when the
//! call returns. Every state change goes through the store's `transition`, which records only
//! legal moves.
//!
//! Security groups: EC2 falls back to the VPC's default group; Underpass VPCs have none, so at
//! least one group is required (an endpoint without groups would silently admit nothing).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use underpass_auth::iam::{Policy, PolicyKind};
use underpass_domain::dns::{random_token, regional_endpoint_name, ENDPOINT_TOKEN_LEN};
use underpass_domain::net::NetError;
use underpass_domain::{ConnEvent, ConnState, EndpointId, EniId, SecurityGroupId};
use underpass_store::gateway_endpoints::{self, GatewayEndpoint};
use underpass_store::iam::{self as iam_store, TokenLookup};
use underpass_store::records::{Endpoint, Eni, EniKind, Service, Subnet};
use underpass_store::services::{self, EndpointFilter};
use underpass_store::{network, tags as tag_store, StoreError};

use super::describe::{
    check_client_token, fingerprint, paginate, scope, Cursor, Filter, Filters, PageRequest,
    PageStyle,
};
use super::enis::GroupRef;
use super::lookup::{
    self, ec2_arn, no_duplicates, parse_id, timestamp, ReturnTrue, UnsuccessfulItem,
};
use super::tags::{self, TagSpecification, TagView};
use super::vpce_dns::verified_name;
use super::vpce_gateway;
use super::vpce_items::{Item, ViewInputs};
use super::vpce_permissions::{invalid_service_name, visible_to};
use super::vpce_services::{invalid_parameter, mismatch, service_zones, UnsuccessfulResponse};
use super::Ctx;
use crate::api::{ApiError, Memo};

/// The policy an endpoint has when none was given: full access, as in AWS.
const DEFAULT_POLICY: &str = r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;

#[derive(Serialize)]
#[cfg_attr(test, derive(Default))]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DnsEntry {
    dns_name: String,
    hosted_zone_id: String,
}

#[derive(Serialize)]
#[cfg_attr(test, derive(Default))]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EndpointView {
    vpc_endpoint_id: String,
    vpc_endpoint_type: String,
    vpc_id: String,
    service_name: String,
    state: String,
    policy_document: String,
    route_table_ids: Vec<String>,
    subnet_ids: Vec<String>,
    groups: Vec<GroupRef>,
    ip_address_type: &'static str,
    private_dns_enabled: bool,
    requester_managed: bool,
    network_interface_ids: Vec<String>,
    dns_entries: Vec<DnsEntry>,
    creation_timestamp: String,
    owner_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<TagView>,
}

/// `DnsEntries`: the regional name, one zonal name per zone, and the service's private DNS
/// name when private DNS is on and the name verified (the order EC2 lists them in).
fn dns_entries(ctx: &Ctx<'_>, e: &Endpoint, private_name: Option<&str>) -> Vec<DnsEntry> {
    let cfg = &ctx.state.cfg;
    let zone = crate::dns_names::hosted_zone_id(cfg, &e.region);
    let mut out: Vec<DnsEntry> = crate::dns_names::endpoint_names(cfg, e)
        .into_iter()
        .map(|(dns_name, _)| DnsEntry {
            dns_name,
            hosted_zone_id: zone.clone(),
        })
        .collect();
    if e.private_dns_enabled {
        if let Some(name) = private_name {
            out.push(DnsEntry {
                dns_name: name.to_owned(),
                hosted_zone_id: zone,
            });
        }
    }
    out
}

/// The checks `PrivateDnsEnabled=true` must pass (EC2's): the service has a verified private
/// DNS name, the VPC has DNS support and hostnames on, and no other live endpoint of the VPC
/// already serves the name.
async fn check_private_dns(
    ctx: &mut Ctx<'_>,
    vpc: &underpass_store::records::Vpc,
    service: &Service,
    except: Option<EndpointId>,
) -> Result<(), ApiError> {
    let Some(name) = verified_name(service) else {
        return Err(invalid_parameter(match &service.private_dns {
            None => format!(
                "Private DNS can't be enabled because the service {} does not provide a private DNS name.",
                service.name
            ),
            Some(p) => format!(
                "Private DNS can't be enabled because the private DNS name {} of service {} is not verified ({}).",
                p.name, service.name, p.state
            ),
        }));
    };
    if !(vpc.dns_support && vpc.dns_hostnames) {
        return Err(invalid_parameter(format!(
            "Enabling private DNS requires both enableDnsHostnames and enableDnsSupport VPC attributes set to true for {}",
            vpc.id
        )));
    }
    let others = services::list_endpoints(
        &mut ctx.tx,
        &EndpointFilter {
            vpc: Some(vpc.id),
            ..EndpointFilter::default()
        },
    )
    .await?;
    for other in others {
        if Some(other.id) == except
            || !other.private_dns_enabled
            || !matches!(
                other.state,
                ConnState::PendingAcceptance | ConnState::Pending | ConnState::Available
            )
        {
            continue;
        }
        let theirs = services::get_service(&mut ctx.tx, &other.service).await?;
        if verified_name(&theirs) == Some(name) {
            return Err(invalid_parameter(format!(
                "private-dns-enabled cannot be set because there is already a conflicting DNS domain for {name} in the VPC {}",
                vpc.id
            )));
        }
    }
    Ok(())
}

async fn endpoint_view(ctx: &mut Ctx<'_>, e: &Endpoint) -> Result<EndpointView, ApiError> {
    let tag_list = tag_store::of(&mut ctx.tx, &e.id.to_string()).await?;
    endpoint_view_with(ctx, &mut Lookups::default(), e, &tag_list).await
}

/// Services and security-group names read once per request: a page of endpoints mostly
/// shares a few of each.
#[derive(Default)]
struct Lookups {
    services: HashMap<underpass_domain::ServiceId, Service, foldhash::fast::RandomState>,
    groups: HashMap<SecurityGroupId, String, foldhash::fast::RandomState>,
}

impl Lookups {
    /// Reads what `e`'s view shows of its service and groups, where not read already.
    async fn load(&mut self, ctx: &mut Ctx<'_>, e: &Endpoint) -> Result<(), ApiError> {
        self.service(ctx, &e.service).await?;
        for g in &e.security_groups {
            if !self.groups.contains_key(g) {
                self.group_name(ctx, g).await?;
            }
        }
        Ok(())
    }

    /// Whether `inputs` is what `e`'s view shows now, from what [`Lookups::load`] read (an
    /// entry not read counts as a change).
    fn shows(&self, e: &Endpoint, inputs: &ViewInputs) -> bool {
        let Some(service) = self.services.get(&e.service) else {
            return false;
        };
        service.name == inputs.service_name
            && verified_name(service) == inputs.private_name.as_deref()
            && e.security_groups.len() == inputs.group_names.len()
            && e.security_groups
                .iter()
                .zip(&inputs.group_names)
                .all(|(g, name)| self.groups.get(g) == Some(name))
    }

    async fn service(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: &underpass_domain::ServiceId,
    ) -> Result<&Service, ApiError> {
        if !self.services.contains_key(id) {
            let s = services::get_service(&mut ctx.tx, id).await?;
            self.services.insert(*id, s);
        }
        self.services
            .get(id)
            .ok_or_else(|| ApiError::internal("service cache"))
    }

    async fn group_name(
        &mut self,
        ctx: &mut Ctx<'_>,
        g: &SecurityGroupId,
    ) -> Result<String, ApiError> {
        if let Some(name) = self.groups.get(g) {
            return Ok(name.clone());
        }
        // The name alone: a group's rules are read for nothing here (a tenth of a listing
        // page's time in the store when they were).
        let name = match network::get_group_name(&mut ctx.tx, g).await {
            Ok(g) => g.name,
            Err(StoreError::NotFound { .. }) => String::new(),
            Err(err) => return Err(err.into()),
        };
        self.groups.insert(*g, name.clone());
        Ok(name)
    }
}

/// What `e`'s view shows of its service and groups, as they are now.
async fn view_inputs(
    ctx: &mut Ctx<'_>,
    lookups: &mut Lookups,
    e: &Endpoint,
) -> Result<ViewInputs, ApiError> {
    let service = lookups.service(ctx, &e.service).await?;
    let service_name = service.name.clone();
    let private_name = verified_name(service).map(str::to_owned);
    let mut group_names = Vec::with_capacity(e.security_groups.len());
    for g in &e.security_groups {
        group_names.push(lookups.group_name(ctx, g).await?);
    }
    Ok(ViewInputs {
        service_name,
        private_name,
        group_names,
    })
}

/// As [`endpoint_view`], with the endpoint's tags already read and the request's lookups of
/// services and group names.
async fn endpoint_view_with(
    ctx: &mut Ctx<'_>,
    lookups: &mut Lookups,
    e: &Endpoint,
    tag_list: &[(String, String)],
) -> Result<EndpointView, ApiError> {
    let inputs = view_inputs(ctx, lookups, e).await?;
    Ok(build_view(ctx, e, tag_list, &inputs))
}

/// `e`'s view, with `tag_list` and what `inputs` says of its service and groups.
fn build_view(
    ctx: &Ctx<'_>,
    e: &Endpoint,
    tag_list: &[(String, String)],
    inputs: &ViewInputs,
) -> EndpointView {
    EndpointView {
        vpc_endpoint_id: e.id.to_string(),
        vpc_endpoint_type: e.endpoint_type.clone(),
        vpc_id: e.vpc.to_string(),
        service_name: inputs.service_name.clone(),
        state: e.state.as_str().to_owned(),
        policy_document: e
            .policy
            .clone()
            .unwrap_or_else(|| DEFAULT_POLICY.to_owned()),
        route_table_ids: vec![],
        subnet_ids: e.enis.iter().map(|n| n.subnet.to_string()).collect(),
        groups: e
            .security_groups
            .iter()
            .zip(&inputs.group_names)
            .map(|(g, name)| GroupRef {
                group_id: g.to_string(),
                group_name: name.clone(),
            })
            .collect(),
        ip_address_type: "ipv4",
        private_dns_enabled: e.private_dns_enabled,
        requester_managed: false,
        network_interface_ids: e.enis.iter().map(|n| n.id.to_string()).collect(),
        dns_entries: dns_entries(ctx, e, inputs.private_name.as_deref()),
        creation_timestamp: timestamp(e.created),
        owner_id: e.account.clone(),
        tags: tags::view(tag_list),
    }
}

/// `e`'s listing item (read at `version`, `None`: read by id), kept for later pages when it
/// has a version.
async fn new_item(
    ctx: &mut Ctx<'_>,
    lookups: &mut Lookups,
    e: Endpoint,
    version: Option<i64>,
    tags: Vec<(String, String)>,
) -> Result<Arc<Item>, ApiError> {
    let inputs = view_inputs(ctx, lookups, &e).await?;
    Ok(made_item(ctx, e, version, tags, inputs))
}

/// The item of `e` (read at `version`) with its view made from `tags` and `inputs`, kept when
/// it has a version.
fn made_item(
    ctx: &Ctx<'_>,
    e: Endpoint,
    version: Option<i64>,
    tags: Vec<(String, String)>,
    inputs: ViewInputs,
) -> Arc<Item> {
    let view = build_view(ctx, &e, &tags, &inputs);
    let item = Arc::new(Item {
        version,
        endpoint: e,
        tags,
        inputs,
        view,
        xml: Arc::default(),
    });
    ctx.state.endpoint_items.put(item.clone());
    item
}

/// A kept item as it stands now: itself, or, when its service or a group changed what the view
/// shows of them, a new one made from its record.
async fn current_item(
    ctx: &mut Ctx<'_>,
    lookups: &mut Lookups,
    item: Arc<Item>,
) -> Result<Arc<Item>, ApiError> {
    // Compared in place: building the inputs to compare (a copy of each name) for every item of
    // every page cost more than the comparison.
    lookups.load(ctx, &item.endpoint).await?;
    if lookups.shows(&item.endpoint, &item.inputs) {
        return Ok(item);
    }
    let inputs = view_inputs(ctx, lookups, &item.endpoint).await?;
    Ok(made_item(
        ctx,
        item.endpoint.clone(),
        item.version,
        item.tags.clone(),
        inputs,
    ))
}

/// The listing items of the endpoints `versions` names, in its order: kept ones read at the
/// version named, the others read now (in one statement for all of them) and kept.
async fn items(
    ctx: &mut Ctx<'_>,
    lookups: &mut Lookups,
    account: &str,
    versions: &[(EndpointId, i64)],
) -> Result<Vec<Arc<Item>>, ApiError> {
    let mut found = ctx.state.endpoint_items.get_all(versions);
    for slot in &mut found {
        // A kept item is checked against the services and groups it shows as they are now; one
        // read below was made with them and needs no check.
        if let Some(item) = slot.take() {
            *slot = Some(current_item(ctx, lookups, item).await?);
        }
    }
    let missing: Vec<String> = versions
        .iter()
        .zip(&found)
        .filter(|(_, f)| f.is_none())
        .map(|((id, _), _)| id.to_string())
        .collect();
    let kept = versions.len() - missing.len();
    ctx.state
        .metrics
        .listing_items(kept as u64, missing.len() as u64);
    if !missing.is_empty() {
        let read = services::endpoints_by_ids(&mut ctx.tx, &missing).await?;
        let mut all_tags = tag_store::by_resources(&mut ctx.tx, account, &missing).await?;
        let mut made: HashMap<EndpointId, Arc<Item>> = HashMap::with_capacity(read.len());
        for (e, version) in read {
            let t = all_tags.remove(&e.id.to_string()).unwrap_or_default();
            let item = new_item(ctx, lookups, e, Some(version), t).await?;
            made.insert(item.endpoint.id, item);
        }
        for ((id, _), slot) in versions.iter().zip(found.iter_mut()) {
            if slot.is_none() {
                *slot = made.remove(id);
            }
        }
    }
    // Every id was read in this transaction's snapshot: none is missing from the second read.
    Ok(found.into_iter().flatten().collect())
}

/// `CreateVpcEndpoint` (see the module documentation).
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateEndpointRequest {
    vpc_endpoint_type: Option<String>,
    vpc_id: String,
    service_name: String,
    #[serde(default)]
    subnet_ids: Vec<String>,
    #[serde(default)]
    security_group_ids: Vec<String>,
    #[serde(default)]
    route_table_ids: Vec<String>,
    policy_document: Option<String>,
    private_dns_enabled: Option<bool>,
    ip_address_type: Option<String>,
    #[serde(default)]
    tag_specifications: Vec<TagSpecification>,
    #[serde(skip_serializing)]
    client_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateEndpointResponse {
    vpc_endpoint: EndpointView,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_token: Option<String>,
}

const CREATE_ENDPOINT: &str = "CreateVpcEndpoint";

/// Checks the subnets: the caller's, in `vpc`, one per zone, in zones the service serves.
async fn endpoint_subnets(
    ctx: &mut Ctx<'_>,
    ids: &[String],
    vpc: &underpass_store::records::Vpc,
    zones: &[String],
) -> Result<Vec<Subnet>, ApiError> {
    if ids.is_empty() {
        return Err(ApiError::missing("SubnetIds"));
    }
    no_duplicates("SubnetIds", ids)?;
    let mut out: Vec<Subnet> = Vec::with_capacity(ids.len());
    for id in ids {
        let s = lookup::subnet(ctx, id).await?;
        if s.vpc != vpc.id {
            return Err(ApiError::invalid(format!(
                "The subnet '{}' does not belong to VPC '{}'",
                s.id, vpc.id
            )));
        }
        if let Some(other) = out.iter().find(|o| o.zone == s.zone) {
            return Err(invalid_parameter(format!(
                "DuplicateSubnetsInSameZone: subnets '{}' and '{}' are both in zone {}; an endpoint takes at most one subnet per Availability Zone",
                other.id, s.id, s.zone
            )));
        }
        if !zones.contains(&s.zone) {
            return Err(invalid_parameter(format!(
                "The VPC endpoint service does not serve the Availability Zone of subnet '{}' ({}); it serves: {}",
                s.id,
                s.zone,
                zones.join(", ")
            )));
        }
        out.push(s);
    }
    Ok(out)
}

/// Checks security groups: the caller's, in `vpc`. Returns their ids and names.
async fn endpoint_groups(
    ctx: &mut Ctx<'_>,
    ids: &[String],
    vpc: &underpass_store::records::Vpc,
) -> Result<Vec<(SecurityGroupId, String)>, ApiError> {
    no_duplicates("SecurityGroupIds", ids)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let g = lookup::group_name(ctx, id).await?;
        if g.vpc != vpc.id {
            return Err(invalid_parameter(format!(
                "The security group '{}' belongs to VPC '{}', not to '{}'",
                g.id, g.vpc, vpc.id
            )));
        }
        out.push((g.id, g.name));
    }
    Ok(out)
}

/// The VPC's `default` security group (every VPC gets one at creation).
async fn default_group(
    ctx: &mut Ctx<'_>,
    vpc: &underpass_store::records::Vpc,
) -> Result<(SecurityGroupId, String), ApiError> {
    for id in
        underpass_store::network::list_group_ids(&mut ctx.tx, Some(&vpc.account), Some(&vpc.id))
            .await?
    {
        let g = underpass_store::network::get_group_name(&mut ctx.tx, &id).await?;
        if g.name == super::ec2::DEFAULT_GROUP {
            return Ok((id, g.name));
        }
    }
    Err(ApiError::missing(
        "SecurityGroupIds (the VPC has no default security group)",
    ))
}

pub(crate) async fn create_vpc_endpoint(
    ctx: &mut Ctx<'_>,
    req: CreateEndpointRequest,
) -> Result<CreateEndpointResponse, ApiError> {
    let id = EndpointId::from_bits(ctx.new_id()?);
    let arn = ec2_arn(ctx, "vpc-endpoint", id);
    ctx.authorize("ec2:CreateVpcEndpoint", &arn).await?;
    let account = ctx.caller.account.clone();
    // The request's hash is kept with its ClientToken, and only then needed.
    let hash = match &req.client_token {
        Some(_) => fingerprint(&req)?,
        None => String::new(),
    };
    if let Some(token) = &req.client_token {
        check_client_token(token)?;
        match iam_store::client_token(&mut ctx.tx, &account, CREATE_ENDPOINT, token, &hash).await? {
            TokenLookup::New => {}
            TokenLookup::Replay(existing) => {
                let eid: EndpointId = parse_id(&existing, "InvalidVpcEndpointId.Malformed")?;
                let vpc_endpoint = match vpce_gateway::find(ctx, &eid).await? {
                    Some(g) => {
                        let t = tag_store::of(&mut ctx.tx, &existing).await?;
                        gateway_view(&g, &t)
                    }
                    None => {
                        let e = lookup::endpoint(ctx, &existing).await?;
                        endpoint_view(ctx, &e).await?
                    }
                };
                return Ok(CreateEndpointResponse {
                    vpc_endpoint,
                    client_token: req.client_token.clone(),
                });
            }
            TokenLookup::Mismatch => return Err(mismatch()),
        }
    }
    match req.vpc_endpoint_type.as_deref() {
        Some("Interface") => {}
        // EC2's default type is Gateway.
        None | Some("Gateway") => return create_gateway(ctx, req, id, &arn, &hash).await,
        Some(t) => {
            return Err(invalid_parameter(format!(
                "VpcEndpointType '{}' is not supported: use Interface or Gateway",
                t.chars().take(32).collect::<String>()
            )))
        }
    }
    if !req.route_table_ids.is_empty() {
        return Err(invalid_parameter(
            "RouteTableIds apply to Gateway endpoints, not to Interface endpoints",
        ));
    }
    if !matches!(req.ip_address_type.as_deref(), None | Some("ipv4")) {
        return Err(invalid_parameter("Only the ipv4 address type is supported"));
    }
    let tag_list = tags::on_create(ctx, &req.tag_specifications, "vpc-endpoint", &arn).await?;
    let vpc = lookup::vpc(ctx, &req.vpc_id).await?;
    let service = match services::find_service_by_name(&mut ctx.tx, &req.service_name).await {
        // A service of another region is not offered here (no cross-region PrivateLink).
        Ok(s) if ctx.here(&s) && visible_to(&s, ctx.caller) => s,
        Ok(_) | Err(StoreError::NotFound { .. }) => {
            return Err(invalid_service_name(&req.service_name))
        }
        Err(e) => return Err(e.into()),
    };
    let zones = service_zones(ctx, &service).await?;
    let subnets = endpoint_subnets(ctx, &req.subnet_ids, &vpc, &zones).await?;
    // Without SecurityGroupIds, EC2 puts the VPC's default security group on the endpoint.
    let named_groups = if req.security_group_ids.is_empty() {
        vec![default_group(ctx, &vpc).await?]
    } else {
        endpoint_groups(ctx, &req.security_group_ids, &vpc).await?
    };
    let groups: Vec<SecurityGroupId> = named_groups.iter().map(|(g, _)| *g).collect();
    if let Some(doc) = &req.policy_document {
        Policy::parse(doc, PolicyKind::Endpoint)?;
    }
    // EC2 turns private DNS on by default for AWS services only; for endpoint services it is
    // asked for explicitly.
    let private_dns_enabled = req.private_dns_enabled.unwrap_or(false);
    if private_dns_enabled {
        check_private_dns(ctx, &vpc, &service, None).await?;
    }
    let dns_name = regional_endpoint_name(
        &id,
        &random_token(ctx.random()?, ENDPOINT_TOKEN_LEN),
        &service.id,
        &vpc.region,
        &ctx.state.cfg.dns_domain,
    );
    let state = ConnState::initial(service.acceptance_required);
    let endpoint = Endpoint {
        id,
        account: account.clone(),
        region: vpc.region.clone(),
        vpc: vpc.id,
        service: service.id,
        endpoint_type: "Interface".into(),
        state,
        policy: req.policy_document.clone(),
        security_groups: groups,
        enis: vec![],
        private_dns_enabled,
        dns_name: Some(dns_name),
        created: ctx.meta.now,
    };
    let actor = ctx.caller.arn.clone();
    // Accepted without asking: provisioned in the same writes (the ENIs below are in the same
    // transaction, so no one sees the endpoint available without them).
    let then = (state == ConnState::Pending).then_some(ConnEvent::Provisioned);
    // The interfaces first: each insert of an endpoint's interface moves the endpoint's version
    // (migration 0061), which costs an update of its row once the row exists.
    let mut enis = Vec::with_capacity(subnets.len());
    for s in &subnets {
        let ip = network::lowest_free_ip(&mut ctx.tx, &s.id, &s.cidr)
            .await?
            .ok_or_else(|| NetError::InsufficientAddresses(s.cidr.to_string()))?;
        let eni = Eni {
            id: EniId::from_bits(ctx.new_id()?),
            account: account.clone(),
            region: vpc.region.clone(),
            vpc: vpc.id,
            subnet: s.id,
            zone: s.zone.clone(),
            ip,
            kind: EniKind::Endpoint,
            owner: id.to_string(),
        };
        network::insert_eni(&mut ctx.tx, &eni).await?;
        enis.push(eni);
    }
    let final_state =
        services::insert_endpoint_then(&mut ctx.tx, &endpoint, then, &actor, ctx.meta.now)
            .await?
            .map_err(ApiError::internal)?;
    let mut created = endpoint;
    created.state = final_state;
    created.enis = enis;
    // The order the store reads them in.
    created
        .enis
        .sort_by(|a, b| (&a.zone, a.id.to_string()).cmp(&(&b.zone, b.id.to_string())));
    tags::save_new(ctx, &id.to_string(), "vpc-endpoint", &tag_list).await?;
    // Accepted without asking: the service's watchers hear the acceptance too.
    let events: &[&'static str] = if state == ConnState::Pending {
        &["Connect", "Accept"]
    } else {
        &["Connect"]
    };
    super::vpce_notifications::notify_all(ctx, &created, events).await?;
    if let Some(token) = &req.client_token {
        iam_store::save_client_token(
            &mut ctx.tx,
            &account,
            CREATE_ENDPOINT,
            token,
            &hash,
            &id.to_string(),
            ctx.meta.now,
        )
        .await?;
    }
    // The answer from what was just written, not read back: the service and group names are
    // known from the checks above.
    let mut lookups = Lookups::default();
    lookups.services.insert(service.id, service);
    lookups.groups.extend(named_groups);
    Ok(CreateEndpointResponse {
        vpc_endpoint: endpoint_view_with(ctx, &mut lookups, &created, &tag_list).await?,
        client_token: req.client_token,
    })
}

/// The gateway half of `CreateVpcEndpoint` (see `vpce_gateway.rs`).
async fn create_gateway(
    ctx: &mut Ctx<'_>,
    req: CreateEndpointRequest,
    id: EndpointId,
    arn: &str,
    hash: &str,
) -> Result<CreateEndpointResponse, ApiError> {
    let tag_list = tags::on_create(ctx, &req.tag_specifications, "vpc-endpoint", arn).await?;
    let vpc = lookup::vpc(ctx, &req.vpc_id).await?;
    let g = vpce_gateway::create(
        ctx,
        vpce_gateway::NewGateway {
            id,
            vpc,
            service_name: &req.service_name,
            route_table_ids: &req.route_table_ids,
            policy: req.policy_document.as_deref(),
            interface_fields: !req.subnet_ids.is_empty()
                || !req.security_group_ids.is_empty()
                || req.private_dns_enabled == Some(true),
        },
    )
    .await?;
    tags::save_new(ctx, &id.to_string(), "vpc-endpoint", &tag_list).await?;
    if let Some(token) = &req.client_token {
        let account = ctx.caller.account.clone();
        iam_store::save_client_token(
            &mut ctx.tx,
            &account,
            CREATE_ENDPOINT,
            token,
            hash,
            &id.to_string(),
            ctx.meta.now,
        )
        .await?;
    }
    Ok(CreateEndpointResponse {
        vpc_endpoint: gateway_view(&g, &tag_list),
        client_token: req.client_token,
    })
}

/// A gateway endpoint as `DescribeVpcEndpoints` shows it.
fn gateway_view(g: &GatewayEndpoint, tag_list: &[(String, String)]) -> EndpointView {
    EndpointView {
        vpc_endpoint_id: g.id.to_string(),
        vpc_endpoint_type: "Gateway".into(),
        vpc_id: g.vpc.to_string(),
        service_name: g.service_name.clone(),
        state: "available".into(),
        policy_document: g
            .policy
            .clone()
            .unwrap_or_else(|| DEFAULT_POLICY.to_owned()),
        route_table_ids: g.route_tables.iter().map(ToString::to_string).collect(),
        subnet_ids: vec![],
        groups: vec![],
        ip_address_type: "ipv4",
        private_dns_enabled: false,
        requester_managed: false,
        network_interface_ids: vec![],
        dns_entries: vec![],
        creation_timestamp: timestamp(g.created),
        owner_id: g.account.clone(),
        tags: tags::view(tag_list),
    }
}

/// An endpoint of either type, with its tags, for listings.
enum Listed {
    Interface(Arc<Item>),
    Gateway(GatewayEndpoint, Vec<(String, String)>),
}

impl Listed {
    fn id(&self) -> EndpointId {
        match self {
            Self::Interface(i) => i.endpoint.id,
            Self::Gateway(g, _) => g.id,
        }
    }

    fn tags(&self) -> &[(String, String)] {
        match self {
            Self::Interface(i) => &i.tags,
            Self::Gateway(_, t) => t,
        }
    }
}

/// An endpoint in a listing's answer: an interface endpoint's kept view (and its XML, once
/// written), shared, or a gateway endpoint's, made for this answer.
pub(crate) enum ListedView {
    Kept(Arc<Item>),
    Made(Box<EndpointView>),
}

impl Serialize for ListedView {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Kept(i) => Memo {
                memo: &i.xml,
                value: &i.view,
            }
            .serialize(s),
            Self::Made(v) => v.serialize(s),
        }
    }
}

/// `DescribeVpcEndpoints`: the caller's endpoints.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DescribeEndpointsRequest {
    #[serde(default)]
    vpc_endpoint_ids: Vec<String>,
    #[serde(default)]
    filters: Vec<Filter>,
    #[serde(skip_serializing)]
    max_results: Option<i64>,
    #[serde(skip_serializing)]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeEndpointsResponse {
    vpc_endpoints: Vec<ListedView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

const ENDPOINT_FILTERS: &[&str] = &[
    "vpc-endpoint-id",
    "vpc-id",
    "service-name",
    "vpc-endpoint-state",
    "vpc-endpoint-type",
    "tag-key",
];

pub(crate) async fn describe_vpc_endpoints(
    ctx: &mut Ctx<'_>,
    req: DescribeEndpointsRequest,
) -> Result<DescribeEndpointsResponse, ApiError> {
    ctx.authorize("ec2:DescribeVpcEndpoints", "*").await?;
    let filters = Filters::new(&req.filters, ENDPOINT_FILTERS)?;
    no_duplicates("VpcEndpointIds", &req.vpc_endpoint_ids)?;
    let account = ctx.caller.account.clone();
    let page = PageRequest {
        size: req.max_results,
        token: req.next_token.as_deref(),
        scope: scope("DescribeVpcEndpoints", &req),
        style: PageStyle::Ec2,
    };
    let mut lookups = Lookups::default();
    let (list, next_token) = if req.vpc_endpoint_ids.is_empty() {
        let cursor = Cursor::new(ctx, &page)?;
        keyset_page(ctx, &mut lookups, &cursor, &filters, &account).await?
    } else {
        let mut found = Vec::with_capacity(req.vpc_endpoint_ids.len());
        for id in &req.vpc_endpoint_ids {
            let eid: EndpointId = parse_id(id, "InvalidVpcEndpointId.Malformed")?;
            match vpce_gateway::find(ctx, &eid).await? {
                Some(g) => found.push(Ok(g)),
                None => found.push(Err(lookup::endpoint(ctx, id).await?)),
            }
        }
        let ids: Vec<String> = found
            .iter()
            .map(|f| match f {
                Ok(g) => g.id.to_string(),
                Err(e) => e.id.to_string(),
            })
            .collect();
        let mut all_tags = tag_store::by_resources(&mut ctx.tx, &account, &ids).await?;
        let mut kept = Vec::with_capacity(found.len());
        for (f, id) in found.into_iter().zip(&ids) {
            // A repeated id is refused above, so each id's tags are taken once.
            let t = all_tags.remove(id).unwrap_or_default();
            let l = match f {
                Ok(g) => Listed::Gateway(g, t),
                // Read outside a version read: made for this answer, not kept.
                Err(e) => Listed::Interface(new_item(ctx, &mut lookups, e, None, t).await?),
            };
            if keeps(&filters, &l) {
                kept.push(l);
            }
        }
        paginate(ctx, &page, kept, |l| l.id().to_string())?
    };
    let vpc_endpoints = list
        .into_iter()
        .map(|l| match l {
            Listed::Interface(i) => ListedView::Kept(i),
            Listed::Gateway(g, t) => ListedView::Made(Box::new(gateway_view(&g, &t))),
        })
        .collect();
    Ok(DescribeEndpointsResponse {
        vpc_endpoints,
        next_token,
    })
}

/// One page of the account's endpoints (interface and gateway, in id order) that pass
/// `filters`, read by keyset from where `cursor` says: chunks of the page's size plus one from
/// each table, merged by id, until the page is full or both are exhausted. A page therefore
/// reads about its own rows, not the account's every endpoint, and of its interface endpoints
/// only the ids and versions when their items are kept (see `vpce_items.rs`).
async fn keyset_page(
    ctx: &mut Ctx<'_>,
    lookups: &mut Lookups,
    cursor: &Cursor,
    filters: &Filters,
    account: &str,
) -> Result<(Vec<Listed>, Option<String>), ApiError> {
    let chunk = i64::try_from(cursor.size.saturating_add(1)).unwrap_or(i64::MAX);
    let full = |n: usize| i64::try_from(n).unwrap_or(i64::MAX) >= chunk;
    let mut after = cursor.after.clone();
    let mut kept: Vec<Listed> = Vec::new();
    loop {
        let region = ctx.region().to_owned();
        let versions = services::page_endpoint_versions(
            &mut ctx.tx,
            account,
            &region,
            after.as_deref(),
            chunk,
        )
        .await?;
        let gateways =
            gateway_endpoints::page(&mut ctx.tx, account, &region, after.as_deref(), chunk).await?;
        // Past the last id of a table that filled its chunk, that table may hold ids that sort
        // before the other's: only ids up to the smallest such last id are certain this round.
        // Ids order as their text does (one prefix, then hex digits of one width).
        let horizon = [
            full(versions.len())
                .then(|| versions.last().map(|(id, _)| *id))
                .flatten(),
            full(gateways.len())
                .then(|| gateways.last().map(|g| g.id))
                .flatten(),
        ]
        .into_iter()
        .flatten()
        .min();
        let interfaces = items(ctx, lookups, account, &versions).await?;
        let gateway_ids: Vec<String> = gateways.iter().map(|g| g.id.to_string()).collect();
        let mut gateway_tags = tag_store::by_resources(&mut ctx.tx, account, &gateway_ids).await?;
        let mut merged: Vec<Listed> = interfaces
            .into_iter()
            .map(Listed::Interface)
            .chain(gateways.into_iter().zip(gateway_ids).map(|(g, id)| {
                let t = gateway_tags.remove(&id).unwrap_or_default();
                Listed::Gateway(g, t)
            }))
            .filter(|l| horizon.is_none_or(|h| l.id() <= h))
            .collect();
        // Two runs already in order: the stable sort merges them in one pass.
        merged.sort_by_key(Listed::id);
        for l in merged {
            // Both reads above are of the request's region only.
            if keeps(filters, &l) {
                if kept.len() == cursor.size {
                    // One more passes: the page is full, and the next one starts after it.
                    let next = kept
                        .last()
                        .map(|last| cursor.token_after(&last.id().to_string()))
                        .transpose()?;
                    return Ok((kept, next));
                }
                kept.push(l);
            }
        }
        match horizon {
            Some(h) => after = Some(h.to_string()),
            None => return Ok((kept, None)),
        }
    }
}

/// Whether `l` passes `filters`. An interface endpoint's item is current (see [`items`]), so
/// the service name it holds is the service's name now.
fn keeps(filters: &Filters, l: &Listed) -> bool {
    filters.matches(|name| {
        if let Some(values) = tags::filter_values(name, l.tags()) {
            return values;
        }
        match (name, l) {
            ("vpc-endpoint-id", _) => vec![l.id().to_string()],
            ("vpc-id", Listed::Interface(i)) => vec![i.endpoint.vpc.to_string()],
            ("vpc-id", Listed::Gateway(g, _)) => vec![g.vpc.to_string()],
            ("service-name", Listed::Interface(i)) => vec![i.inputs.service_name.clone()],
            ("service-name", Listed::Gateway(g, _)) => vec![g.service_name.clone()],
            ("vpc-endpoint-state", Listed::Interface(i)) => {
                vec![i.endpoint.state.as_str().to_owned()]
            }
            ("vpc-endpoint-state", Listed::Gateway(..)) => vec!["available".into()],
            ("vpc-endpoint-type", Listed::Interface(i)) => vec![i.endpoint.endpoint_type.clone()],
            ("vpc-endpoint-type", Listed::Gateway(..)) => vec!["Gateway".into()],
            _ => vec![],
        }
    })
}

/// `ModifyVpcEndpoint`: the policy (`PolicyDocument`, or `ResetPolicy` back to full access)
/// and the security groups (at least one must remain).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct ModifyEndpointRequest {
    vpc_endpoint_id: String,
    policy_document: Option<String>,
    reset_policy: Option<bool>,
    #[serde(default)]
    add_security_group_ids: Vec<String>,
    #[serde(default)]
    remove_security_group_ids: Vec<String>,
    #[serde(default)]
    add_route_table_ids: Vec<String>,
    #[serde(default)]
    remove_route_table_ids: Vec<String>,
    private_dns_enabled: Option<bool>,
}

pub(crate) async fn modify_vpc_endpoint(
    ctx: &mut Ctx<'_>,
    req: ModifyEndpointRequest,
) -> Result<ReturnTrue, ApiError> {
    let eid: EndpointId = parse_id(&req.vpc_endpoint_id, "InvalidVpcEndpointId.Malformed")?;
    ctx.authorize("ec2:ModifyVpcEndpoint", &ec2_arn(ctx, "vpc-endpoint", eid))
        .await?;
    if let Some(g) = vpce_gateway::find(ctx, &eid).await? {
        let change = vpce_gateway::GatewayChange {
            add: &req.add_route_table_ids,
            remove: &req.remove_route_table_ids,
            policy: req.policy_document.as_deref(),
            reset: req.reset_policy.unwrap_or(false),
            interface_fields: !req.add_security_group_ids.is_empty()
                || !req.remove_security_group_ids.is_empty()
                || req.private_dns_enabled.is_some(),
        };
        vpce_gateway::modify(ctx, &g, change).await?;
        return Ok(ReturnTrue::YES);
    }
    let e = lookup::endpoint(ctx, &req.vpc_endpoint_id).await?;
    if !req.add_route_table_ids.is_empty() || !req.remove_route_table_ids.is_empty() {
        return Err(invalid_parameter(
            "Route tables apply to Gateway endpoints, not to Interface endpoints",
        ));
    }
    if matches!(e.state, ConnState::Deleting | ConnState::Deleted) {
        return Err(ApiError::client(
            "IncorrectState",
            format!("Endpoint {} is {} and cannot be modified", e.id, e.state),
        ));
    }
    let reset = req.reset_policy.unwrap_or(false);
    if reset && req.policy_document.is_some() {
        return Err(ApiError::client(
            "InvalidParameterCombination",
            "Specify either PolicyDocument or ResetPolicy, not both.",
        ));
    }
    if let Some(on) = req
        .private_dns_enabled
        .filter(|on| *on != e.private_dns_enabled)
    {
        if on {
            let vpc = network::get_vpc(&mut ctx.tx, &e.vpc).await?;
            let service = services::get_service(&mut ctx.tx, &e.service).await?;
            check_private_dns(ctx, &vpc, &service, Some(e.id)).await?;
        }
        services::set_endpoint_private_dns(&mut ctx.tx, &e.id, on, ctx.meta.now).await?;
    }
    if let Some(doc) = &req.policy_document {
        Policy::parse(doc, PolicyKind::Endpoint)?;
        services::set_endpoint_policy(&mut ctx.tx, &e.id, Some(doc), ctx.meta.now).await?;
    } else if reset {
        services::set_endpoint_policy(&mut ctx.tx, &e.id, None, ctx.meta.now).await?;
    }
    if !req.add_security_group_ids.is_empty() || !req.remove_security_group_ids.is_empty() {
        let vpc = network::get_vpc(&mut ctx.tx, &e.vpc).await?;
        let add = endpoint_groups(ctx, &req.add_security_group_ids, &vpc).await?;
        let mut groups: Vec<SecurityGroupId> = e.security_groups.clone();
        for (g, _) in add {
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        no_duplicates("RemoveSecurityGroupIds", &req.remove_security_group_ids)?;
        for id in &req.remove_security_group_ids {
            let gid: SecurityGroupId = parse_id(id, "InvalidGroupId.Malformed")?;
            if !groups.contains(&gid) {
                return Err(invalid_parameter(format!(
                    "The security group '{gid}' is not associated with endpoint {}",
                    e.id
                )));
            }
            groups.retain(|g| *g != gid);
        }
        if groups.is_empty() {
            return Err(invalid_parameter(
                "An endpoint must keep at least one security group",
            ));
        }
        services::set_endpoint_security_groups(&mut ctx.tx, &e.id, &groups, ctx.meta.now).await?;
    }
    Ok(ReturnTrue::YES)
}

/// `DeleteVpcEndpoints`: Delete then Removed for each endpoint, freeing its addresses; each
/// failure is an `Unsuccessful` item.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct DeleteEndpointsRequest {
    #[serde(default)]
    vpc_endpoint_ids: Vec<String>,
}

pub(crate) async fn delete_vpc_endpoints(
    ctx: &mut Ctx<'_>,
    req: DeleteEndpointsRequest,
) -> Result<UnsuccessfulResponse, ApiError> {
    if req.vpc_endpoint_ids.is_empty() {
        return Err(ApiError::missing("VpcEndpointIds"));
    }
    for id in &req.vpc_endpoint_ids {
        let arn = ec2_arn(ctx, "vpc-endpoint", id);
        ctx.authorize("ec2:DeleteVpcEndpoints", &arn).await?;
    }
    let actor = ctx.caller.arn.clone();
    let mut seen = BTreeSet::new();
    let mut unsuccessful = Vec::new();
    for id in &req.vpc_endpoint_ids {
        if !seen.insert(id) {
            continue;
        }
        if let Ok(eid) = id.parse::<EndpointId>() {
            if vpce_gateway::find(ctx, &eid).await?.is_some() {
                gateway_endpoints::delete(&mut ctx.tx, &eid).await?;
                tag_store::remove_all(&mut ctx.tx, id).await?;
                continue;
            }
        }
        let e = match lookup::endpoint(ctx, id).await {
            Ok(e) => e,
            Err(err) => {
                unsuccessful.push(UnsuccessfulItem::new(id, err));
                continue;
            }
        };
        match services::transition(&mut ctx.tx, &e.id, ConnEvent::Delete, &actor, ctx.meta.now)
            .await?
        {
            Ok(_) => {}
            Err(illegal) => {
                unsuccessful.push(UnsuccessfulItem::new(id, illegal.into()));
                continue;
            }
        }
        let enis: Vec<String> = e.enis.iter().map(|n| n.id.to_string()).collect();
        super::flow_logs::delete_on(ctx, &enis).await?;
        network::delete_enis_of(&mut ctx.tx, &e.id.to_string()).await?;
        services::transition(&mut ctx.tx, &e.id, ConnEvent::Removed, &actor, ctx.meta.now)
            .await?
            .map_err(ApiError::internal)?;
        super::vpce_notifications::notify(ctx, &e, "Delete").await?;
        tag_store::remove_all(&mut ctx.tx, &e.id.to_string()).await?;
    }
    Ok(UnsuccessfulResponse { unsuccessful })
}
