//! API actions, named and shaped after their EC2, ELBv2, IAM and STS originals so the AWS
//! Query-protocol front end can be a thin codec over the same handlers.
//!
//! Every action runs in one store transaction (write actions take the write lock up front) and
//! authorizes itself through [`Ctx::authorize`] with the IAM action name AWS uses
//! (`ec2:CreateVpcEndpoint`, …) before it changes anything.

mod agents;
mod authz;
mod iam;
mod util;

use std::net::IpAddr;

use serde::de::DeserializeOwned;
use serde::Serialize;
use time::OffsetDateTime;

use crate::api::{ApiError, CallerInfo};
use crate::state::AppState;
pub(crate) use authz::Ctx;

/// Per-request facts the handlers need.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    /// The TCP peer's address (`aws:SourceIp`); never a forwarded header.
    pub(crate) source_ip: IpAddr,
    /// The time the request arrived.
    pub(crate) now: OffsetDateTime,
}

/// Parses a JSON request body; an empty body is an empty object.
fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| ApiError::client("InvalidParameterValue", format!("invalid request: {e}")))
}

fn to_value<R: Serialize>(r: R) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(r).map_err(ApiError::internal)
}

macro_rules! actions {
    ($( $kind:ident $name:literal => $handler:path ),* $(,)?) => {
        /// Every action name the API knows.
        pub const KNOWN: &[&str] = &[$($name),*];

        /// Runs `action` for `caller`.
        pub(crate) async fn dispatch(
            state: &AppState,
            caller: &CallerInfo,
            action: &str,
            body: &[u8],
            meta: Meta,
        ) -> Result<serde_json::Value, ApiError> {
            match action {
                $( $name => {
                    let req = parse_body(body)?;
                    let mut ctx = Ctx::$kind(state, caller, meta).await?;
                    let resp = $handler(&mut ctx, req).await?;
                    ctx.finish().await?;
                    to_value(resp)
                } )*
                _ => Err(ApiError::client(
                    "InvalidAction",
                    format!("The action {} is not valid for this web service.", action.chars().take(64).collect::<String>()),
                )),
            }
        }
    };
}

/// Whether `name` is a known action.
pub(crate) fn is_known(name: &str) -> bool {
    KNOWN.contains(&name)
}

actions! {
    write "CreateAccount" => iam::create_account,
    write "CreateUser" => iam::create_user,
    write "DeleteUser" => iam::delete_user,
    write "PutUserPolicy" => iam::put_user_policy,
    write "DeleteUserPolicy" => iam::delete_user_policy,
    write "CreateAccessKey" => iam::create_access_key,
    read "ListAccessKeys" => iam::list_access_keys,
    write "UpdateAccessKey" => iam::update_access_key,
    write "DeleteAccessKey" => iam::delete_access_key,
    write "RotateAccessKey" => iam::rotate_access_key,
    read "GetAccessKeyLastUsed" => iam::get_access_key_last_used,
    write "CreateRole" => iam::create_role,
    write "DeleteRole" => iam::delete_role,
    write "UpdateAssumeRolePolicy" => iam::update_assume_role_policy,
    write "PutRolePolicy" => iam::put_role_policy,
    write "AssumeRole" => iam::assume_role,
    read "GetCallerIdentity" => iam::get_caller_identity,
    write "CreateAgentJoinToken" => agents::create_join_token,
    read "DescribeAgents" => agents::describe_agents,
    write "RevokeAgent" => agents::revoke_agent,
}
