//! Agent enrollment and revocation (Underpass actions: `underpass:*`).

use serde::{Deserialize, Serialize};
use underpass_domain::VpcId;
use underpass_pki::{JoinRole, JoinScope, JoinToken};
use underpass_store::{agents, network};

use super::Ctx;
use crate::api::ApiError;

/// Longest a join token may live.
const MAX_TOKEN_SECS: i64 = 7 * 24 * 3600;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct CreateJoinTokenRequest {
    vpc_id: String,
    availability_zone: String,
    expires_in_seconds: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateJoinTokenResponse {
    join_token: String,
    token_id: String,
    expiration: String,
}

/// `CreateAgentJoinToken`: a one-time token that lets one agent enroll in a VPC and zone.
pub(crate) async fn create_join_token(
    ctx: &mut Ctx<'_>,
    req: CreateJoinTokenRequest,
) -> Result<CreateJoinTokenResponse, ApiError> {
    let vpc_id: VpcId = req.vpc_id.parse()?;
    let vpc = network::get_vpc(&mut ctx.tx, &vpc_id).await?;
    if vpc.account != ctx.caller.account || vpc.region != ctx.region() {
        return Err(ApiError::not_found(
            "InvalidVpcID.NotFound",
            format!("The vpc ID '{vpc_id}' does not exist"),
        ));
    }
    ctx.authorize(
        "underpass:CreateAgentJoinToken",
        &ctx.arn("ec2", &format!("vpc/{vpc_id}")),
    )
    .await?;
    if !ctx.zones().contains(&req.availability_zone) {
        return Err(ApiError::invalid(format!(
            "Value ({}) for parameter availabilityZone is invalid. Zones: {}",
            req.availability_zone.chars().take(64).collect::<String>(),
            ctx.zones().join(", ")
        )));
    }
    let secs = req.expires_in_seconds.unwrap_or(3600);
    if !(60..=MAX_TOKEN_SECS).contains(&secs) {
        return Err(ApiError::invalid(format!(
            "ExpiresInSeconds must be between 60 and {MAX_TOKEN_SECS}"
        )));
    }
    let expires = ctx.meta.now + time::Duration::seconds(secs);
    let scope = JoinScope {
        account: vpc.account.parse()?,
        vpc: vpc_id,
        zone: req
            .availability_zone
            .parse()
            .map_err(|e| ApiError::invalid(format!("{e}")))?,
        role: JoinRole::Agent,
    };
    let (text, stored) = JoinToken::generate(scope, expires).map_err(ApiError::internal)?;
    agents::insert_join_token(
        &mut ctx.tx,
        &agents::JoinTokenRow {
            token_id: stored.id.to_string(),
            hash_hex: stored.hash.iter().map(|b| format!("{b:02x}")).collect(),
            account: vpc.account.clone(),
            vpc: vpc_id.to_string(),
            zone: req.availability_zone.clone(),
            expires,
            used: None,
        },
    )
    .await?;
    Ok(CreateJoinTokenResponse {
        join_token: text.expose().to_owned(),
        token_id: stored.id.to_string(),
        expiration: crate::rfc3339(expires),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoParams {}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AgentView {
    agent_id: String,
    vpc_id: String,
    availability_zone: String,
    enrolled: String,
    last_seen: Option<String>,
    revoked: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeAgentsResponse {
    agents: Vec<AgentView>,
}

/// `DescribeAgents`: the caller's enrolled agents.
pub(crate) async fn describe_agents(
    ctx: &mut Ctx<'_>,
    _req: NoParams,
) -> Result<DescribeAgentsResponse, ApiError> {
    ctx.authorize("underpass:DescribeAgents", "*").await?;
    let account = ctx.caller.account.clone();
    let rows = agents::list_agents(&mut ctx.tx, Some(&account)).await?;
    let ts = crate::rfc3339;
    Ok(DescribeAgentsResponse {
        agents: rows
            .into_iter()
            .map(|a| AgentView {
                agent_id: a.agent_id,
                vpc_id: a.vpc,
                availability_zone: a.zone,
                enrolled: ts(a.enrolled),
                last_seen: a.last_seen.map(ts),
                revoked: a.revoked,
            })
            .collect(),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct RevokeAgentRequest {
    agent_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RevokeAgentResponse {
    revoked_certificates: usize,
}

/// `RevokeAgent`: refuses the agent's certificates from now on (new handshakes fail at once;
/// gateways cut the live tunnels of revoked certificates when their state arrives).
pub(crate) async fn revoke_agent(
    ctx: &mut Ctx<'_>,
    req: RevokeAgentRequest,
) -> Result<RevokeAgentResponse, ApiError> {
    let missing = || {
        ApiError::not_found(
            "InvalidAgentId.NotFound",
            format!(
                "The agent '{}' does not exist",
                req.agent_id.chars().take(64).collect::<String>()
            ),
        )
    };
    let agent = agents::get_agent(&mut ctx.tx, &req.agent_id)
        .await?
        .ok_or_else(missing)?;
    if agent.account != ctx.caller.account {
        return Err(missing());
    }
    ctx.authorize(
        "underpass:RevokeAgent",
        &ctx.arn("underpass", &format!("agent/{}", agent.agent_id)),
    )
    .await?;
    let n = agents::revoke_agent(&mut ctx.tx, &agent.agent_id, "RevokeAgent", ctx.meta.now).await?;
    // The serials are applied to the live verifier as soon as the transaction commits; applying
    // them a moment early is harmless (a refused handshake retries).
    let serials = agents::revoked_serials(&mut ctx.tx).await?;
    ctx.state
        .revocations
        .revoke_all(serials.iter().filter_map(|s| s.parse().ok()));
    Ok(RevokeAgentResponse {
        revoked_certificates: n,
    })
}
