//! Finding the caller's resources by id. A resource of another account answers exactly as a
//! missing one does (`…NotFound`), so ids reveal nothing across accounts.

use std::str::FromStr;

use underpass_domain::{EndpointId, ResourceIdError, SecurityGroupId, ServiceId, SubnetId, VpcId};
use underpass_store::records::{Endpoint, GroupName, SecurityGroup, Service, Subnet, Vpc};
use underpass_store::{network, services, StoreError};

use super::Ctx;
use crate::api::ApiError;

/// Parses an id, or fails with `<code>` (`InvalidVpcID.Malformed`, …).
pub(crate) fn parse_id<T: FromStr<Err = ResourceIdError>>(
    s: &str,
    code: &str,
) -> Result<T, ApiError> {
    s.parse()
        .map_err(|e: ResourceIdError| ApiError::client(code, e.to_string()))
}

/// The error a missing resource of `kind` gives (the store's mapping to EC2 codes).
pub(crate) fn missing(kind: &'static str, id: impl ToString) -> ApiError {
    ApiError::from(StoreError::NotFound {
        kind,
        id: id.to_string(),
    })
}

/// A stored resource that belongs to one account in one region.
pub(crate) trait Regional {
    /// The owner's account.
    fn account(&self) -> &str;
    /// Its region.
    fn region(&self) -> &str;
}

macro_rules! regional {
    ($($t:ty),* $(,)?) => {$(
        impl Regional for $t {
            fn account(&self) -> &str {
                &self.account
            }
            fn region(&self) -> &str {
                &self.region
            }
        }
    )*};
}

regional!(
    Vpc,
    Subnet,
    SecurityGroup,
    GroupName,
    Endpoint,
    Service,
    underpass_store::records::Eni,
    underpass_store::records::LoadBalancer,
    underpass_store::records::TargetGroup,
    underpass_store::routing::RouteTable,
    underpass_store::acls::NetworkAcl,
    underpass_store::gateway_endpoints::GatewayEndpoint,
    underpass_store::notifications::ConnectionNotification,
    underpass_store::flow_logs::FlowLog,
);

impl Ctx<'_> {
    /// Whether `item` is in the request's region (another region's resources are invisible,
    /// as in EC2, where each region is its own endpoint).
    pub(crate) fn here(&self, item: &impl Regional) -> bool {
        item.region() == self.region()
    }

    /// Whether `item` is the caller's and in the request's region.
    pub(crate) fn mine(&self, item: &impl Regional) -> bool {
        item.account() == self.caller.account && self.here(item)
    }
}

/// Turns "exists but belongs to someone else, or to another region" into "does not exist".
fn owned<T: Regional>(
    ctx: &Ctx<'_>,
    found: Result<T, StoreError>,
    kind: &'static str,
    id: &str,
) -> Result<T, ApiError> {
    let item = found?;
    if ctx.mine(&item) {
        Ok(item)
    } else {
        Err(missing(kind, id))
    }
}

/// The caller's VPC `id`.
pub(crate) async fn vpc(ctx: &mut Ctx<'_>, id: &str) -> Result<Vpc, ApiError> {
    let vid: VpcId = parse_id(id, "InvalidVpcID.Malformed")?;
    let found = network::get_vpc(&mut ctx.tx, &vid).await;
    owned(ctx, found, "vpc", id)
}

/// The caller's subnet `id`.
pub(crate) async fn subnet(ctx: &mut Ctx<'_>, id: &str) -> Result<Subnet, ApiError> {
    let sid: SubnetId = parse_id(id, "InvalidSubnetID.Malformed")?;
    let found = network::get_subnet(&mut ctx.tx, &sid).await;
    owned(ctx, found, "subnet", id)
}

/// The caller's security group `id`.
pub(crate) async fn group(ctx: &mut Ctx<'_>, id: &str) -> Result<SecurityGroup, ApiError> {
    let gid: SecurityGroupId = parse_id(id, "InvalidGroupId.Malformed")?;
    let found = network::get_group(&mut ctx.tx, &gid).await;
    owned(ctx, found, "security group", id)
}

/// The caller's security group `id`: its VPC and name, not its rules.
pub(crate) async fn group_name(ctx: &mut Ctx<'_>, id: &str) -> Result<GroupName, ApiError> {
    let gid: SecurityGroupId = parse_id(id, "InvalidGroupId.Malformed")?;
    let found = network::get_group_name(&mut ctx.tx, &gid).await;
    owned(ctx, found, "security group", id)
}

/// The caller's endpoint `id`.
pub(crate) async fn endpoint(ctx: &mut Ctx<'_>, id: &str) -> Result<Endpoint, ApiError> {
    let eid: EndpointId = parse_id(id, "InvalidVpcEndpointId.Malformed")?;
    let found = services::get_endpoint(&mut ctx.tx, &eid).await;
    owned(ctx, found, "endpoint", id)
}

/// The caller's endpoint service `id`.
pub(crate) async fn service(ctx: &mut Ctx<'_>, id: &str) -> Result<Service, ApiError> {
    let sid: ServiceId = parse_id(id, "InvalidVpcEndpointServiceId.Malformed")?;
    let found = services::get_service(&mut ctx.tx, &sid).await;
    owned(ctx, found, "endpoint service", id)
}

/// `arn:aws:ec2:<region>:<caller>:<kind>/<id>`.
pub(crate) fn ec2_arn(ctx: &Ctx<'_>, kind: &str, id: impl std::fmt::Display) -> String {
    ctx.arn("ec2", &format!("{kind}/{id}"))
}

/// Refuses a list with the same id twice.
pub(crate) fn no_duplicates(field: &str, ids: &[String]) -> Result<(), ApiError> {
    let mut seen = std::collections::BTreeSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(ApiError::client(
                "InvalidParameterValue",
                format!("{field} lists '{id}' more than once."),
            ));
        }
    }
    Ok(())
}

/// EC2's `{"Return": true}` answer.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReturnTrue {
    r#return: bool,
}

impl ReturnTrue {
    pub(crate) const YES: ReturnTrue = ReturnTrue { r#return: true };
}

/// A per-item failure of a batch action (`Unsuccessful` in EC2's answers).
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UnsuccessfulItem {
    pub(crate) resource_id: String,
    pub(crate) error: ItemError,
}

/// The error of one batch item.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ItemError {
    pub(crate) code: String,
    pub(crate) message: String,
}

impl UnsuccessfulItem {
    /// An item that failed with `e`.
    pub(crate) fn new(id: &str, e: ApiError) -> Self {
        Self {
            resource_id: id.chars().take(64).collect(),
            error: ItemError {
                code: e.code,
                message: e.message,
            },
        }
    }
}

/// RFC 3339 time, as EC2 prints timestamps.
pub(crate) use crate::rfc3339 as timestamp;
