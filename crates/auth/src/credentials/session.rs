//! Temporary credentials: `AssumeRole`, `GetSessionToken`, and the sealed session tokens they
//! hand out.
//!
//! A session token carries its own claims (role, session, expiry and the session's secret),
//! sealed under the master key and bound to its `ASIA…` key id. The server keeps no row per
//! session, as with AWS STS; a token cannot be paired with another session's key, and it stops
//! working at its expiry or when the role it names is deleted and re-created (the role id in the
//! claims no longer matches).
//!
//! `GetSessionToken` sessions are a user's (or an account root's) own: no role, the same
//! principal and policies as the long-term key that asked for them. Their claims name the user
//! and its unique id at issue time, so a deleted (and re-created) user's sessions die too.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use underpass_domain::{AccessKeyId, AccessKeyKind, PrincipalArn};
use zeroize::Zeroizing;

use super::secret::{fill_random, MasterKey, SecretAccessKey};
use super::CredentialError;

/// The shortest session AWS allows, in seconds.
pub const MIN_SESSION_SECS: u32 = 900;
/// The session length when none is asked for, in seconds.
pub const DEFAULT_SESSION_SECS: u32 = 3600;
/// The longest role-chained session (a role session assuming a role), in seconds.
const MAX_CHAINED_SESSION_SECS: u32 = 3600;
/// The longest session token we will even try to open; real ones are well under 1 KiB.
pub const MAX_SESSION_TOKEN_LEN: usize = 4096;

const TOKEN_LABEL: &str = "underpass/session-token/v1";

/// What a session token says, once opened.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionClaims {
    /// The temporary key id the token belongs to.
    pub access_key_id: String,
    /// The session's secret access key.
    secret: String,
    /// The role's ARN.
    pub role_arn: String,
    /// The role's unique id at issue time (a re-created role gets a new one).
    pub role_id: String,
    /// The session name given to AssumeRole.
    pub session_name: String,
    /// Who assumed the role.
    pub source: String,
    /// Issue time, Unix seconds.
    pub issued: i64,
    /// Expiry time, Unix seconds.
    pub expires: i64,
    /// For a `GetSessionToken` session: the unique id of the user whose own session this is
    /// (the account id for the root), named by `source`; the role fields are then empty.
    /// `None` for role sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

impl SessionClaims {
    /// The session's secret access key.
    pub fn secret(&self) -> SecretAccessKey {
        SecretAccessKey::new(self.secret.clone())
    }

    /// The expiry time.
    pub fn expiration(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.expires).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

impl std::fmt::Debug for SessionClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionClaims")
            .field("access_key_id", &self.access_key_id)
            .field("secret", &"***")
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .field("user_id", &self.user_id)
            .field("expires", &self.expires)
            .finish()
    }
}

impl Drop for SessionClaims {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret);
    }
}

/// A session token as sent in `X-Amz-Security-Token`.
pub struct SessionToken(String);

impl SessionToken {
    /// Seals `claims` into a token.
    pub fn seal(master: &MasterKey, claims: &SessionClaims) -> Result<Self, CredentialError> {
        let json = Zeroizing::new(
            serde_json::to_vec(claims)
                .map_err(|_| CredentialError::Unseal("claims did not serialize"))?,
        );
        master
            .seal(TOKEN_LABEL, claims.access_key_id.as_bytes(), &json)
            .map(Self)
    }

    /// Opens the token that came with `access_key_id`. Any failure is `InvalidClientTokenId`:
    /// the caller learns nothing about why.
    pub fn open(
        master: &MasterKey,
        access_key_id: &str,
        token: &str,
    ) -> Result<SessionClaims, CredentialError> {
        if token.len() > MAX_SESSION_TOKEN_LEN {
            return Err(CredentialError::InvalidClientTokenId);
        }
        let raw = master
            .open(TOKEN_LABEL, access_key_id.as_bytes(), token)
            .map_err(|_| CredentialError::InvalidClientTokenId)?;
        let claims: SessionClaims =
            serde_json::from_slice(&raw).map_err(|_| CredentialError::InvalidClientTokenId)?;
        if claims.access_key_id != access_key_id {
            return Err(CredentialError::InvalidClientTokenId);
        }
        Ok(claims)
    }

    /// The token text, to hand to the client. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(***)")
    }
}

/// The shortest `GetSessionToken` session, in seconds.
pub const MIN_USER_SESSION_SECS: u32 = 900;
/// A user's `GetSessionToken` session when no length is asked for: 12 hours.
pub const DEFAULT_USER_SESSION_SECS: u32 = 43_200;
/// The longest user session: 36 hours.
pub const MAX_USER_SESSION_SECS: u32 = 129_600;
/// The longest (and default) root session: one hour.
pub const MAX_ROOT_SESSION_SECS: u32 = 3600;

/// A `GetSessionToken` call.
#[derive(Debug)]
pub struct SessionTokenRequest<'a> {
    /// The authenticated caller: a user or an account root, with its long-term key.
    pub caller: &'a PrincipalArn,
    /// The caller's unique id (`AIDA…`; the account id for the root).
    pub caller_id: &'a str,
    /// `DurationSeconds`: 900..=129600 for users (default 43200), 900..=3600 for the root
    /// (default 3600).
    pub duration_secs: Option<u32>,
}

/// What `GetSessionToken` returns.
#[derive(Debug)]
pub struct SessionCredentials {
    /// The `ASIA…` key id.
    pub access_key_id: AccessKeyId,
    /// The session's secret.
    pub secret_access_key: SecretAccessKey,
    /// The session token to send as `X-Amz-Security-Token`.
    pub session_token: SessionToken,
    /// When the credentials stop working.
    pub expiration: OffsetDateTime,
}

/// Issues temporary credentials for the caller itself (STS `GetSessionToken`): the session
/// authenticates as the same user (or root), with its policies. Refused for role sessions and
/// for sessions themselves (a session cannot renew itself into a longer one): only a user or
/// an account root may ask.
pub fn get_session_token(
    master: &MasterKey,
    req: &SessionTokenRequest<'_>,
    now: OffsetDateTime,
) -> Result<SessionCredentials, CredentialError> {
    let max = match req.caller {
        PrincipalArn::User { .. } => MAX_USER_SESSION_SECS,
        PrincipalArn::Root { .. } => MAX_ROOT_SESSION_SECS,
        other => {
            return Err(CredentialError::SessionNotAllowed(format!(
                "Cannot call GetSessionToken with session credentials ({other})"
            )))
        }
    };
    let duration = req
        .duration_secs
        .unwrap_or(DEFAULT_USER_SESSION_SECS.min(max));
    if !(MIN_USER_SESSION_SECS..=max).contains(&duration) {
        return Err(CredentialError::Validation(format!(
            "The requested DurationSeconds ({duration}) is outside the allowed range {MIN_USER_SESSION_SECS}..={max}."
        )));
    }
    let mut random = [0u8; 16];
    fill_random(&mut random)?;
    let access_key_id = AccessKeyId::from_random(AccessKeyKind::Temporary, random);
    let secret = SecretAccessKey::generate()?;
    let expiration = now + time::Duration::seconds(i64::from(duration));
    let claims = SessionClaims {
        access_key_id: access_key_id.to_string(),
        secret: secret.expose().to_owned(),
        role_arn: String::new(),
        role_id: String::new(),
        session_name: String::new(),
        source: req.caller.to_string(),
        issued: now.unix_timestamp(),
        expires: expiration.unix_timestamp(),
        user_id: Some(req.caller_id.to_owned()),
    };
    Ok(SessionCredentials {
        access_key_id,
        secret_access_key: secret,
        session_token: SessionToken::seal(master, &claims)?,
        expiration,
    })
}

/// The role being assumed, as the store knows it.
#[derive(Debug)]
pub struct RoleInfo<'a> {
    /// The role's ARN (`arn:aws:iam::ACCOUNT:role/…`).
    pub arn: &'a PrincipalArn,
    /// The role's unique id (`AROA…`).
    pub role_id: &'a str,
    /// The role's trust policy, already parsed and validated.
    pub trust_policy: &'a crate::iam::Policy,
    /// The role's maximum session duration, 3600..=43200 seconds.
    pub max_session_secs: u32,
}

/// An `AssumeRole` call.
#[derive(Debug)]
pub struct AssumeRoleRequest<'a> {
    /// The authenticated caller.
    pub caller: &'a PrincipalArn,
    /// The role to assume.
    pub role: RoleInfo<'a>,
    /// `RoleSessionName`: 2-64 characters of `[\w+=,.@-]`.
    pub session_name: &'a str,
    /// `DurationSeconds`, or the default of 3600.
    pub duration_secs: Option<u32>,
}

/// What `AssumeRole` returns.
#[derive(Debug)]
pub struct TemporaryCredentials {
    /// The `ASIA…` key id.
    pub access_key_id: AccessKeyId,
    /// The session's secret.
    pub secret_access_key: SecretAccessKey,
    /// The session token to send as `X-Amz-Security-Token`.
    pub session_token: SessionToken,
    /// When the credentials stop working.
    pub expiration: OffsetDateTime,
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub assumed_role_arn: PrincipalArn,
    /// `ROLEID:SESSION`, as STS's `AssumedRoleId`.
    pub assumed_role_id: String,
}

fn validate_session_name(name: &str) -> Result<(), CredentialError> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if !(2..=64).contains(&name.len()) || !ok_chars {
        return Err(CredentialError::Validation(format!(
            "1 validation error detected: Value '{}' at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64 and match [\\w+=,.@-]*",
            name.chars().take(64).filter(|c| !c.is_control()).collect::<String>()
        )));
    }
    Ok(())
}

/// Issues temporary credentials for `req.role` if its trust policy lets `req.caller` assume it.
///
/// `context` supplies the request's condition keys (`aws:SourceIp`, `aws:CurrentTime`, …) for
/// the trust policy; the principal keys are filled in from `req.caller`.
pub fn assume_role(
    master: &MasterKey,
    req: &AssumeRoleRequest<'_>,
    context: crate::iam::RequestContext,
    now: OffsetDateTime,
) -> Result<TemporaryCredentials, CredentialError> {
    let PrincipalArn::Role {
        account,
        name: role_name,
        ..
    } = req.role.arn
    else {
        return Err(CredentialError::Validation(format!(
            "{} is not a role ARN",
            req.role.arn
        )));
    };
    validate_session_name(req.session_name)?;
    let chained = matches!(req.caller, PrincipalArn::AssumedRole { .. });
    let max = if chained {
        MAX_CHAINED_SESSION_SECS
    } else {
        req.role.max_session_secs.clamp(3600, 43_200)
    };
    let duration = req.duration_secs.unwrap_or(DEFAULT_SESSION_SECS.min(max));
    if !(MIN_SESSION_SECS..=max).contains(&duration) {
        return Err(CredentialError::Validation(format!(
            "The requested DurationSeconds ({duration}) is outside the allowed range {MIN_SESSION_SECS}..={max} for this role{}.",
            if chained { " when chaining roles" } else { "" }
        )));
    }
    let decision = crate::iam::evaluate_trust(req.role.trust_policy, &context);
    if !decision.is_allowed() {
        return Err(CredentialError::AccessDenied {
            caller: req.caller.to_string(),
            role: req.role.arn.to_string(),
        });
    }

    let mut random = [0u8; 16];
    fill_random(&mut random)?;
    let access_key_id = AccessKeyId::from_random(AccessKeyKind::Temporary, random);
    let secret = SecretAccessKey::generate()?;
    let expiration = now + time::Duration::seconds(i64::from(duration));
    let claims = SessionClaims {
        access_key_id: access_key_id.to_string(),
        secret: secret.expose().to_owned(),
        role_arn: req.role.arn.to_string(),
        role_id: req.role.role_id.to_owned(),
        session_name: req.session_name.to_owned(),
        source: req.caller.to_string(),
        issued: now.unix_timestamp(),
        expires: expiration.unix_timestamp(),
        user_id: None,
    };
    Ok(TemporaryCredentials {
        access_key_id,
        secret_access_key: secret,
        session_token: SessionToken::seal(master, &claims)?,
        expiration,
        assumed_role_arn: PrincipalArn::AssumedRole {
            account: *account,
            role_name: role_name.clone(),
            session_name: req.session_name.to_owned(),
        },
        assumed_role_id: format!("{}:{}", req.role.role_id, req.session_name),
    })
}
