//! From a parsed SigV4 request and the stored key to an authenticated caller.

use time::OffsetDateTime;
use underpass_domain::{AccessKeyId, AccessKeyKind, PrincipalArn};

use super::keys::{AccessKeyRecord, KeyStatus};
use super::secret::MasterKey;
use super::session::SessionToken;
use super::CredentialError;
use crate::sigv4::{DerivedKeys, ParsedRequest, VerifiedRequest};

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerKind {
    /// With a long-term `AKIA…` key of a user or account root.
    LongTerm,
    /// With temporary `ASIA…` credentials from AssumeRole.
    Session {
        /// The role whose session this is.
        role_arn: PrincipalArn,
        /// The role's unique id when the session was issued: the server must check the role
        /// still exists with this id, so a deleted-and-recreated role's old sessions die.
        role_id: String,
        /// Who assumed the role.
        source: String,
        /// When the session was issued (for `aws:TokenIssueTime`).
        issued: OffsetDateTime,
        /// When the session expires.
        expires: OffsetDateTime,
    },
    /// With temporary `ASIA…` credentials from GetSessionToken: the user's (or root's) own
    /// session, with its own policies.
    UserSession {
        /// The user's unique id when the session was issued (the account id for the root): the
        /// server must check the user still exists with this id.
        user_id: String,
        /// When the session was issued.
        issued: OffsetDateTime,
        /// When the session expires.
        expires: OffsetDateTime,
    },
}

/// An authenticated caller: who, with which key, and what the signature covered.
#[derive(Debug)]
pub struct Caller {
    /// The principal: a user, an account root, or an assumed-role session.
    pub principal: PrincipalArn,
    /// The access key id that signed the request.
    pub access_key_id: AccessKeyId,
    /// Long-term key or role session.
    pub kind: CallerKind,
    /// What the verified signature covered (scope, signed headers, time).
    pub request: VerifiedRequest,
}

/// Authenticates `parsed`.
///
/// The caller looks up `parsed.access_key_id()` in its store first and passes the record (or
/// `None`); temporary keys need no record, their session token carries the claims. Unknown,
/// malformed and inactive keys all give `InvalidClientTokenId` after the same amount of HMAC
/// work as a real verification, so response time does not tell which keys exist. A temporary
/// key without a session token, or a long-term key with one, is refused: there is no fallback
/// from one kind of credential to the other.
pub fn authenticate(
    parsed: &ParsedRequest,
    record: Option<&AccessKeyRecord>,
    master: &MasterKey,
    now: OffsetDateTime,
) -> Result<Caller, CredentialError> {
    authenticate_keeping(parsed, record.map(|r| (r, None)), master, now)
}

/// As [`authenticate`], for a long-term key whose record comes with the signing keys derived
/// from its secret so far (`DerivedKeys`, which must be this record's and no other's): a key
/// kept for the request's scope spares the unsealing and the derivation, and a key derived
/// here is kept once a signature verifies with it (so forged requests cannot fill it). A
/// refusal still spends a derivation's HMAC work, kept key or not.
pub fn authenticate_keeping(
    parsed: &ParsedRequest,
    record: Option<(&AccessKeyRecord, Option<&DerivedKeys>)>,
    master: &MasterKey,
    now: OffsetDateTime,
) -> Result<Caller, CredentialError> {
    let (record, derived) = match record {
        Some((r, d)) => (Some(r), d),
        None => (None, None),
    };
    let Ok(key_id) = parsed.access_key_id().parse::<AccessKeyId>() else {
        return Err(unknown(parsed));
    };
    match key_id.kind() {
        AccessKeyKind::Temporary => {
            let Some(token) = parsed.session_token() else {
                let _ = parsed.reject_unknown_key();
                return Err(CredentialError::SessionTokenMismatch(
                    "temporary credentials need X-Amz-Security-Token",
                ));
            };
            let claims = match SessionToken::open(master, key_id.as_str(), token) {
                Ok(c) => c,
                Err(_) => return Err(unknown(parsed)),
            };
            let expires = claims.expiration();
            // The signature is checked before expiry so an attacker without the secret cannot
            // learn whether a captured token has expired.
            let request = parsed.verify(claims.secret().expose(), now)?;
            if now >= expires {
                return Err(CredentialError::ExpiredToken);
            }
            let issued = OffsetDateTime::from_unix_timestamp(claims.issued)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
            if let Some(user_id) = &claims.user_id {
                // A GetSessionToken session: the user (or root) itself.
                let principal: PrincipalArn = claims
                    .source
                    .parse()
                    .map_err(|_| CredentialError::InvalidClientTokenId)?;
                if !matches!(
                    principal,
                    PrincipalArn::User { .. } | PrincipalArn::Root { .. }
                ) {
                    return Err(CredentialError::InvalidClientTokenId);
                }
                return Ok(Caller {
                    principal,
                    access_key_id: key_id,
                    kind: CallerKind::UserSession {
                        user_id: user_id.clone(),
                        issued,
                        expires,
                    },
                    request,
                });
            }
            let role_arn: PrincipalArn = claims
                .role_arn
                .parse()
                .map_err(|_| CredentialError::InvalidClientTokenId)?;
            let PrincipalArn::Role { account, name, .. } = &role_arn else {
                return Err(CredentialError::InvalidClientTokenId);
            };
            Ok(Caller {
                principal: PrincipalArn::AssumedRole {
                    account: *account,
                    role_name: name.clone(),
                    session_name: claims.session_name.clone(),
                },
                access_key_id: key_id,
                kind: CallerKind::Session {
                    role_id: claims.role_id.clone(),
                    source: claims.source.clone(),
                    issued,
                    expires,
                    role_arn,
                },
                request,
            })
        }
        AccessKeyKind::LongTerm => {
            let Some(record) = record.filter(|r| r.id == key_id && r.status == KeyStatus::Active)
            else {
                return Err(unknown(parsed));
            };
            if parsed.session_token().is_some() {
                let _ = parsed.reject_unknown_key();
                return Err(CredentialError::SessionTokenMismatch(
                    "a session token was sent with a long-term access key",
                ));
            }
            let request = match derived.and_then(|d| d.get(parsed.scope())) {
                Some(key) => parsed.verify_with_key(&key, now).inspect_err(|_| {
                    std::hint::black_box(parsed.signing_key(std::hint::black_box("")));
                })?,
                None => {
                    let secret = record.sealed_secret.open(master, key_id.as_str())?;
                    let key = parsed.signing_key(secret.expose());
                    let request = parsed.verify_with_key(&key, now)?;
                    if let Some(d) = derived {
                        d.keep(key);
                    }
                    request
                }
            };
            Ok(Caller {
                principal: record.owner.clone(),
                access_key_id: key_id,
                kind: CallerKind::LongTerm,
                request,
            })
        }
    }
}

/// Spends the same HMAC work as a verification, then refuses.
fn unknown(parsed: &ParsedRequest) -> CredentialError {
    let _ = parsed.reject_unknown_key();
    CredentialError::InvalidClientTokenId
}
