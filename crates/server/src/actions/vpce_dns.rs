//! PrivateLink private DNS names, as EC2 has them: a provider sets a name on its service
//! (`PrivateDnsName` on Create/ModifyVpcEndpointServiceConfiguration) and gets a TXT record to
//! publish; `StartVpcEndpointServicePrivateDnsVerification` looks the record up and moves the
//! name to `verified` or `failed`. Consumers' endpoints with private DNS enabled then resolve
//! the name inside their VPC.
//!
//! RELIABILITY items 85 and 86: the name must be a plain hostname, outside the endpoint-name
//! domain; the TXT name and value are random per service; a name verified by one account is
//! refused to every other (the first verified owner wins) and stays with its owner.

use serde::{Deserialize, Serialize};
use underpass_domain::dns::{
    check_private_dns_name, is_within, random_token, verification_record, PrivateDnsState,
    MAX_NAME_LEN,
};
use underpass_domain::ServiceId;
use underpass_store::records::{PrivateDns, Service};
use underpass_store::services;

use super::lookup::{self, ec2_arn, parse_id};
use super::vpce_services::invalid_parameter;
use super::Ctx;
use crate::api::ApiError;

/// Random characters in the TXT record's name label and value.
const TXT_TOKEN_LEN: usize = 20;

/// EC2's `PrivateDnsNameConfiguration`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PrivateDnsNameConfiguration {
    state: &'static str,
    r#type: &'static str,
    value: String,
    name: String,
}

impl PrivateDnsNameConfiguration {
    pub(crate) fn of(p: &PrivateDns) -> Self {
        Self {
            state: p.state.as_str(),
            r#type: "TXT",
            value: p.txt_value.clone(),
            name: p.txt_name.clone(),
        }
    }
}

/// Checks `input` and claims it for one of the caller's services: a fresh TXT record, state
/// `pendingVerification`. Refused if another account has verified the name.
pub(crate) async fn claim(ctx: &mut Ctx<'_>, input: &str) -> Result<PrivateDns, ApiError> {
    let name = check_private_dns_name(input)?;
    let domain = ctx.state.cfg.dns_domain.clone();
    if is_within(&name, &domain) || is_within(&domain, &name) {
        return Err(invalid_parameter(format!(
            "The private DNS name '{name}' overlaps the endpoint DNS domain {domain}"
        )));
    }
    check_owner(ctx, &name).await?;
    let (txt_name, txt_value) = verification_record(
        &name,
        &random_token(ctx.random()?, TXT_TOKEN_LEN),
        &random_token(ctx.random()?, TXT_TOKEN_LEN),
    );
    if txt_name.len() > MAX_NAME_LEN {
        return Err(invalid_parameter(format!(
            "The private DNS name '{name}' is too long: its verification record {} would exceed {MAX_NAME_LEN} characters",
            txt_name.len()
        )));
    }
    Ok(PrivateDns {
        name,
        state: PrivateDnsState::PendingVerification,
        txt_name,
        txt_value,
    })
}

/// Refuses `name` (checked, lowercase) when an account other than the caller's has verified
/// it.
pub(crate) async fn check_owner(ctx: &mut Ctx<'_>, name: &str) -> Result<(), ApiError> {
    let owners = services::verified_private_dns_owners(&mut ctx.tx, name).await?;
    if owners.iter().any(|(_, owner)| *owner != ctx.caller.account) {
        return Err(invalid_parameter(format!(
            "The private DNS name '{name}' is already verified by another account"
        )));
    }
    Ok(())
}

/// The service's private DNS name if it is verified.
pub(crate) fn verified_name(s: &Service) -> Option<&str> {
    s.private_dns
        .as_ref()
        .filter(|p| p.state == PrivateDnsState::Verified)
        .map(|p| p.name.as_str())
}

/// `StartVpcEndpointServicePrivateDnsVerification`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct StartVerificationRequest {
    service_id: String,
}

/// `{"ReturnValue": true}`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ReturnValue {
    return_value: bool,
}

/// Looks the service's TXT record up through the configured resolvers and records the
/// outcome: `verified` when a record has exactly the value, `failed` otherwise (no record, a
/// wrong value, no answer in time). The lookup runs without the write lock (a read action
/// upgraded afterwards); a name changed meanwhile is left as it is. Like EC2, the call
/// answers `true` either way: the outcome is in `DescribeVpcEndpointServiceConfigurations`.
pub(crate) async fn start_vpc_endpoint_service_private_dns_verification(
    ctx: &mut Ctx<'_>,
    req: StartVerificationRequest,
) -> Result<ReturnValue, ApiError> {
    let sid: ServiceId = parse_id(&req.service_id, "InvalidVpcEndpointServiceId.Malformed")?;
    ctx.authorize(
        "ec2:StartVpcEndpointServicePrivateDnsVerification",
        &ec2_arn(ctx, "vpc-endpoint-service", sid),
    )
    .await?;
    let s = lookup::service(ctx, &req.service_id).await?;
    let Some(p) = s.private_dns.clone() else {
        return Err(invalid_parameter(format!(
            "The service {sid} has no private DNS name to verify"
        )));
    };
    if p.state == PrivateDnsState::Verified {
        return Ok(ReturnValue { return_value: true });
    }
    let cfg = &ctx.state.cfg;
    let check = underpass_dns::check_txt(
        &cfg.dns_verification_resolver,
        &p.txt_name,
        &p.txt_value,
        cfg.dns_verification_timeout,
    )
    .await;
    ctx.upgrade_to_write().await?;
    let mut now = services::get_service(&mut ctx.tx, &sid).await?;
    let same = now
        .private_dns
        .as_ref()
        .is_some_and(|q| q.name == p.name && q.txt_name == p.txt_name);
    if !same {
        return Ok(ReturnValue { return_value: true });
    }
    let taken = services::verified_private_dns_owners(&mut ctx.tx, &p.name)
        .await?
        .into_iter()
        .any(|(_, owner)| owner != now.account);
    let state = if check.is_verified() && !taken {
        PrivateDnsState::Verified
    } else {
        PrivateDnsState::Failed
    };
    tracing::info!(service = %sid, name = %p.name, outcome = %check.describe(), taken, %state, "private DNS name verification");
    if let Some(q) = now.private_dns.as_mut() {
        q.state = state;
    }
    services::update_service(&mut ctx.tx, &now).await?;
    Ok(ReturnValue { return_value: true })
}
