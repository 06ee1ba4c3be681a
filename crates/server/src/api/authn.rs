//! From an HTTP request to an authenticated caller, through the auth crate.

use std::sync::Arc;

use axum::http::{HeaderMap, Method, Uri};
use time::OffsetDateTime;
use underpass_auth::credentials::{
    authenticate_keeping as auth_caller, AccessKeyRecord, CallerKind, KeyStatus, SealedSecret,
};
use underpass_auth::sigv4::{parse_request, DerivedKeys, HttpRequest};
use underpass_domain::{AccessKeyKind, PrincipalArn};
use underpass_store::iam;

use super::ApiError;
use crate::iam_cache::KeyFacts;
use crate::state::AppState;

/// Who is calling, once authenticated.
#[derive(Debug, Clone)]
pub struct CallerInfo {
    /// The principal: user, root or role session.
    pub principal: PrincipalArn,
    /// Its ARN as text.
    pub arn: String,
    /// Its account.
    pub account: String,
    /// For role sessions, the role's ARN (whose policies apply).
    pub role_arn: Option<String>,
    /// `aws:userid`.
    pub userid: Option<String>,
    /// The scope's service.
    pub service: String,
    /// The scope's region: the region the request acts in.
    pub region: String,
    /// The access key that signed.
    pub access_key_id: String,
    /// Signed with `GetSessionToken` credentials (the principal's own session): no IAM calls,
    /// and of STS only `AssumeRole` and `GetCallerIdentity`, as in AWS without MFA.
    pub user_session: bool,
}

/// Authenticates one request; on failure returns the error (and no caller).
pub(super) async fn authenticate(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<CallerInfo, (Option<CallerInfo>, ApiError)> {
    let fail = |e: ApiError| (None, e);
    let header_list: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let req = HttpRequest {
        method: method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers: &header_list,
        body,
    };
    let parsed = parse_request(&req, &state.verifier).map_err(|e| fail(e.into()))?;
    let key_id = parsed.access_key_id().to_owned();
    // A long-term key and its owner's user id come from the IAM cache while IAM is unchanged.
    let facts = if key_id.starts_with("AKIA") {
        long_term_key(state, &key_id).await.map_err(fail)?
    } else {
        None
    };
    let record = facts.as_deref().map(|f| (&f.record, Some(&f.derived)));
    let caller = auth_caller(&parsed, record, &state.master, now).map_err(|e| fail(e.into()))?;
    let account = caller.principal.account().to_string();
    let (role_arn, userid) = match &caller.kind {
        CallerKind::Session {
            role_arn, role_id, ..
        } => {
            // A session dies with its role: a deleted (or deleted and re-created) role's
            // sessions are refused, whatever their expiry.
            let mut tx = state.store.read().await.map_err(|e| fail(e.into()))?;
            let role = iam::get_role(&mut tx, &role_arn.to_string())
                .await
                .map_err(|e| fail(e.into()))?;
            match role {
                Some(r) if &r.role_id == role_id => {}
                _ => {
                    return Err(fail(ApiError::from(
                        underpass_auth::credentials::CredentialError::InvalidClientTokenId,
                    )))
                }
            }
            let session = match &caller.principal {
                PrincipalArn::AssumedRole { session_name, .. } => session_name.clone(),
                _ => String::new(),
            };
            (
                Some(role_arn.to_string()),
                Some(format!("{role_id}:{session}")),
            )
        }
        CallerKind::UserSession { user_id, .. } => {
            // A session dies with its user: a deleted (or deleted and re-created) user's
            // sessions are refused, whatever their expiry.
            let mut tx = state.store.read().await.map_err(|e| fail(e.into()))?;
            let alive = match &caller.principal {
                PrincipalArn::User { .. } => {
                    iam::user_id(&mut tx, &caller.principal.to_string())
                        .await
                        .map_err(|e| fail(e.into()))?
                        .as_ref()
                        == Some(user_id)
                }
                PrincipalArn::Root { .. } => {
                    user_id == &account
                        && iam::account_exists(&mut tx, &account)
                            .await
                            .map_err(|e| fail(e.into()))?
                }
                _ => false,
            };
            if !alive {
                return Err(fail(ApiError::from(
                    underpass_auth::credentials::CredentialError::InvalidClientTokenId,
                )));
            }
            (None, Some(user_id.clone()))
        }
        CallerKind::LongTerm => {
            let uid = facts.and_then(|f| f.user_id.clone());
            (
                None,
                uid.or_else(|| {
                    matches!(caller.principal, PrincipalArn::Root { .. }).then(|| account.clone())
                }),
            )
        }
    };
    let user_session = matches!(caller.kind, CallerKind::UserSession { .. });
    if caller.access_key_id.kind() == AccessKeyKind::LongTerm {
        state
            .note_key_use(
                &key_id,
                now,
                parsed.scope().service(),
                parsed.scope().region(),
            )
            .await;
    }
    Ok(CallerInfo {
        arn: caller.principal.to_string(),
        principal: caller.principal,
        account,
        role_arn,
        userid,
        service: parsed.scope().service().to_owned(),
        region: parsed.scope().region().to_owned(),
        access_key_id: key_id,
        user_session,
    })
}

/// The long-term key `id` and its owner's user id: remembered, or read (and remembered) when IAM
/// changed since. `None` for a key that does not exist.
async fn long_term_key(state: &AppState, id: &str) -> Result<Option<Arc<KeyFacts>>, ApiError> {
    let gen = state.iam_cache.generation(&state.store).await?;
    if let Some(f) = state.iam_cache.key(id, gen) {
        return Ok(Some(f));
    }
    let mut tx = state.store.read().await?;
    let gen = iam::generation(&mut tx).await?;
    let Some(row) = iam::get_key(&mut tx, id).await? else {
        return Ok(None);
    };
    // Looked up by the principal's ARN as authentication prints it.
    let principal: PrincipalArn = row.owner_arn.parse().map_err(ApiError::internal)?;
    let user_id = iam::user_id(&mut tx, &principal.to_string()).await?;
    drop(tx);
    let facts = Arc::new(KeyFacts {
        record: to_record(&row)?,
        user_id,
        derived: DerivedKeys::default(),
    });
    state.iam_cache.put_key(id, gen, Arc::clone(&facts));
    Ok(Some(facts))
}

fn to_record(row: &iam::KeyRow) -> Result<AccessKeyRecord, ApiError> {
    Ok(AccessKeyRecord {
        id: row.access_key_id.parse().map_err(ApiError::internal)?,
        owner: row.owner_arn.parse().map_err(ApiError::internal)?,
        status: if row.status == "Active" {
            KeyStatus::Active
        } else {
            KeyStatus::Inactive
        },
        created: row.created,
        last_used: None,
        sealed_secret: SealedSecret::from_stored(row.sealed_secret.clone()),
    })
}
