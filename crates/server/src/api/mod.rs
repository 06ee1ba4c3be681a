//! The HTTP API: `POST /api/{Action}` with a JSON body, and the AWS Query protocol on `/`
//! (`POST` form or `GET` query string, XML answers) for the AWS CLI and SDKs. Both front ends
//! take one path ([`execute`]): every request SigV4-authenticated, throttled and IAM-authorized
//! by the same handlers, every call written to the audit log.

mod authn;
pub mod error;
mod query;

pub(crate) use self::query::{Memo, XmlMemo};

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use time::OffsetDateTime;
use underpass_store::iam::AuditEntry;

pub use authn::CallerInfo;
pub use error::ApiError;

use crate::actions::{Answer, JsonAnswer};
use crate::state::AppState;

/// The largest request body accepted (RELIABILITY item 6).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Builds the API router.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/{action}", post(api_call))
        .route("/", post(query::query_call).get(query::query_call))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render() + &crate::metrics::render_fsyncs(&state.store.wal_fsync_times()),
    )
}

/// A fresh request id in AWS's shape (a UUID).
pub(crate) fn request_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut b = [0u8; 16];
    // A failing system RNG leaves zeros: a request id needs uniqueness for humans, not secrecy.
    let _ = aws_lc_rs::rand::fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    // Written digit by digit: a `format!` per byte was 1% of a CreateVpcEndpoint's CPU.
    let mut id = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            id.push('-');
        }
        id.push(char::from(HEX[usize::from(x >> 4)]));
        id.push(char::from(HEX[usize::from(x & 0x0f)]));
    }
    id
}

/// The HTTP facts of one request, as both front ends hand them to [`execute`].
pub(crate) struct HttpParts<'a> {
    /// The TCP peer.
    pub(crate) peer: SocketAddr,
    /// The method.
    pub(crate) method: &'a Method,
    /// The path and query.
    pub(crate) uri: &'a Uri,
    /// The headers.
    pub(crate) headers: &'a HeaderMap,
    /// The body.
    pub(crate) body: &'a [u8],
}

/// One call as a front end decoded it: the action, its JSON parameters, EC2's dry run, and how
/// the answer is to be written.
pub(crate) struct Invocation<'a, A> {
    /// The action name.
    pub(crate) action: String,
    /// The JSON parameters.
    pub(crate) body: Cow<'a, [u8]>,
    /// Authorize only, then answer `DryRunOperation`.
    pub(crate) dry_run: bool,
    /// The writer of the answer.
    pub(crate) answer: A,
}

/// What the shared path did with one call.
pub(crate) struct Outcome<T> {
    /// The request id (also in the audit log).
    pub(crate) request_id: String,
    /// The action as audited (cut to 64 characters).
    pub(crate) action: String,
    /// The authenticated caller, if authentication succeeded.
    pub(crate) caller: Option<CallerInfo>,
    /// The handler's answer or the error.
    pub(crate) result: Result<T, ApiError>,
}

/// The one path every API call takes, whatever its wire format: authentication (SigV4 through
/// the auth crate), throttling, `decode` (the front end's parameters into an [`Invocation`],
/// once the caller and its scope are known), the scope's service check, the handler, metrics
/// and the audit log. `hint` names the action in the audit log when decoding fails.
pub(crate) async fn execute<'a, A: Answer>(
    state: &AppState,
    http: &HttpParts<'a>,
    hint: &str,
    decode: impl FnOnce(&CallerInfo, &str) -> Result<Invocation<'a, A>, ApiError>,
) -> Outcome<A::Out> {
    let request_id = request_id();
    let arrived = std::time::Instant::now();
    let now = OffsetDateTime::now_utc();
    let mut action = hint.to_owned();
    let result = async {
        let caller =
            authn::authenticate(state, http.method, http.uri, http.headers, http.body, now).await?;
        let with = |e: ApiError| (Some(caller.clone()), e);
        if !state.admit(&caller.access_key_id) {
            return Err(with(
                ApiError::client("RequestLimitExceeded", "Request limit exceeded.")
                    .with_status(StatusCode::SERVICE_UNAVAILABLE),
            ));
        }
        let call = decode(&caller, &request_id).map_err(with)?;
        action.clone_from(&call.action);
        // The signature's scope must name the action's service, as AWS checks.
        let expected = underpass_domain::api::service_of(&call.action);
        if crate::actions::is_known(&call.action)
            && !underpass_domain::api::serves(&caller.service, &call.action)
        {
            return Err(with(
                ApiError::client(
                    "SignatureDoesNotMatch",
                    format!("Credential should be scoped to correct service: '{expected}'."),
                )
                .with_status(StatusCode::FORBIDDEN),
            ));
        }
        crate::actions::session_scope(&caller, &call.action).map_err(with)?;
        let meta = crate::actions::Meta {
            source_ip: http.peer.ip(),
            now,
            dry_run: call.dry_run,
        };
        let out =
            crate::actions::dispatch(state, &caller, &call.action, &call.body, meta, &call.answer)
                .await;
        Ok::<_, (Option<CallerInfo>, ApiError)>((caller, out))
    }
    .await;
    let (caller, result) = match result {
        Ok((caller, out)) => (Some(caller), out),
        Err((caller, e)) => (caller, Err(e)),
    };
    let action: String = action.chars().take(64).collect();
    let error_code = result.as_ref().err().map(|e| e.code.clone());
    state
        .metrics
        .count(&action, error_code.as_deref(), arrived.elapsed());
    let entry = AuditEntry {
        at: now,
        request_id: request_id.clone(),
        principal: caller.as_ref().map(|c| c.arn.clone()),
        action: action.clone(),
        outcome: if error_code.is_none() {
            "Success".into()
        } else {
            "Failure".into()
        },
        error_code,
    };
    // Throttled calls are counted in the metrics; only one in a hundred reaches the audit log, so
    // a flood cannot turn into a flood of writes.
    let sampled_out = entry.error_code.as_deref() == Some("RequestLimitExceeded")
        && state
            .throttled
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % 100
            != 0;
    if !sampled_out {
        state.audit.record(entry).await;
    }
    if let Err(e) = &result {
        tracing::info!(request_id, action = %action, code = %e.code, "request refused");
    }
    Outcome {
        request_id,
        action,
        caller,
        result,
    }
}

/// `POST /api/{Action}`: the JSON front end.
async fn api_call(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(action): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let http = HttpParts {
        peer,
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &body,
    };
    let out = execute(&state, &http, &action, |_, _| {
        Ok(Invocation {
            action: action.clone(),
            body: Cow::Borrowed(&body),
            dry_run: false,
            answer: JsonAnswer,
        })
    })
    .await;
    match out.result {
        Ok(mut value) => {
            if let Some(obj) = value.as_object_mut() {
                obj.insert(
                    "RequestId".into(),
                    serde_json::Value::String(out.request_id),
                );
            }
            (StatusCode::OK, axum::Json(value)).into_response()
        }
        Err(e) => {
            let body = error::ErrorBody {
                error: error::ErrorDetail {
                    code: &e.code,
                    message: &e.message,
                },
                request_id: &out.request_id,
            };
            let mut r = (e.status, axum::Json(body)).into_response();
            if out.caller.is_none() && e.status == StatusCode::BAD_REQUEST {
                // Malformed before authentication: close, as the Query front end does.
                r.headers_mut().insert(
                    axum::http::header::CONNECTION,
                    axum::http::HeaderValue::from_static("close"),
                );
            }
            r
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_are_version_4_uuids_and_differ() {
        let a = super::request_id();
        let b = super::request_id();
        assert_ne!(a, b);
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12],
            "{a}"
        );
        assert!(a
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)));
        assert!(parts[2].starts_with('4'), "version 4: {a}");
        assert!(
            matches!(&parts[3][..1], "8" | "9" | "a" | "b"),
            "variant: {a}"
        );
    }
}
