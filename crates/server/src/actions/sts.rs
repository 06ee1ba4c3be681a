//! STS `GetSessionToken`: temporary `ASIA…` credentials for the caller itself (a user, or an
//! account root), which authenticate as that same principal with its own policies, until they
//! expire or the user is deleted. Like AWS without MFA, such a session may not call IAM, and of
//! STS only `AssumeRole` and `GetCallerIdentity` ([`session_scope`]).

use serde::{Deserialize, Serialize};
use underpass_auth::credentials::{self, SessionTokenRequest};

use super::iam::ts;
use super::Ctx;
use crate::api::{ApiError, CallerInfo};

/// Refuses what a `GetSessionToken` session may not call: IAM actions (AWS answers
/// `InvalidClientTokenId` without MFA, and Underpass has no MFA devices) and STS actions other
/// than `AssumeRole` and `GetCallerIdentity` (`AccessDenied`).
pub(crate) fn session_scope(caller: &CallerInfo, action: &str) -> Result<(), ApiError> {
    if !caller.user_session {
        return Ok(());
    }
    match underpass_domain::api::service_of(action) {
        "iam" => Err(ApiError::client(
            "InvalidClientTokenId",
            "The security token included in the request is invalid: IAM calls with GetSessionToken credentials need MFA, which Underpass does not have; use a long-term key.",
        )
        .with_status(axum::http::StatusCode::FORBIDDEN)),
        "sts" if !matches!(action, "AssumeRole" | "GetCallerIdentity") => Err(ApiError::client(
            "AccessDenied",
            format!("Cannot call {action} with session credentials"),
        )
        .with_status(axum::http::StatusCode::FORBIDDEN)),
        _ => Ok(()),
    }
}

/// `GetSessionToken`. MFA parameters are refused: Underpass has no MFA devices.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub(crate) struct GetSessionTokenRequest {
    duration_seconds: Option<u32>,
    serial_number: Option<String>,
    token_code: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SessionCredentialsView {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetSessionTokenResponse {
    credentials: SessionCredentialsView,
}

pub(crate) async fn get_session_token(
    ctx: &mut Ctx<'_>,
    req: GetSessionTokenRequest,
) -> Result<GetSessionTokenResponse, ApiError> {
    // Like STS, this needs no permission; who may ask is the credentials crate's rule (users
    // and roots with their long-term keys).
    if ctx.caller.role_arn.is_some() || ctx.caller.user_session {
        return Err(ApiError::client(
            "AccessDenied",
            "Cannot call GetSessionToken with session credentials",
        )
        .with_status(axum::http::StatusCode::FORBIDDEN));
    }
    if req.serial_number.is_some() || req.token_code.is_some() {
        return Err(ApiError::client(
            "ValidationError",
            "Underpass has no MFA devices: leave out SerialNumber and TokenCode",
        ));
    }
    let caller_id = ctx
        .caller
        .userid
        .clone()
        .unwrap_or_else(|| ctx.caller.account.clone());
    let creds = credentials::get_session_token(
        &ctx.state.master,
        &SessionTokenRequest {
            caller: &ctx.caller.principal,
            caller_id: &caller_id,
            duration_secs: req.duration_seconds,
        },
        ctx.meta.now,
    )?;
    Ok(GetSessionTokenResponse {
        credentials: SessionCredentialsView {
            access_key_id: creds.access_key_id.to_string(),
            secret_access_key: creds.secret_access_key.expose().to_owned(),
            session_token: creds.session_token.expose().to_owned(),
            expiration: ts(creds.expiration),
        },
    })
}
