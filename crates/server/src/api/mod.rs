//! The HTTP API: `POST /api/{Action}` with a JSON body, every request SigV4-authenticated and
//! IAM-authorized, every call written to the audit log.

mod authn;
pub mod error;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use time::OffsetDateTime;
use underpass_store::iam::{audit, AuditEntry};

pub use authn::CallerInfo;
pub use error::ApiError;

use crate::state::AppState;

/// The largest request body accepted (RELIABILITY item 6).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Builds the API router.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/{action}", post(api_call))
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
        state.metrics.render(),
    )
}

/// A fresh request id in AWS's shape (a UUID).
pub(crate) fn request_id() -> String {
    let mut b = [0u8; 16];
    // A failing system RNG leaves zeros: a request id needs uniqueness for humans, not secrecy.
    let _ = aws_lc_rs::rand::fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

async fn api_call(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(action): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = request_id();
    let now = OffsetDateTime::now_utc();
    let result = async {
        let caller = authn::authenticate(&state, &method, &uri, &headers, &body, now).await?;
        if !state.admit(&caller.access_key_id) {
            return Err((
                Some(caller.clone()),
                ApiError::client("RequestLimitExceeded", "Request limit exceeded.")
                    .with_status(StatusCode::SERVICE_UNAVAILABLE),
            ));
        }
        // The signature's scope must name the action's service, as AWS checks.
        let expected = underpass_domain::api::service_of(&action);
        if crate::actions::is_known(&action) && caller.service != expected {
            return Err((
                Some(caller.clone()),
                ApiError::client(
                    "SignatureDoesNotMatch",
                    format!("Credential should be scoped to correct service: '{expected}'."),
                )
                .with_status(StatusCode::FORBIDDEN),
            ));
        }
        let meta = crate::actions::Meta {
            source_ip: peer.ip(),
            now,
        };
        let out = crate::actions::dispatch(&state, &caller, &action, &body, meta).await;
        Ok::<_, (Option<CallerInfo>, ApiError)>((caller.clone(), out))
    }
    .await;
    let (principal, outcome) = match result {
        Ok((caller, out)) => (Some(caller.arn), out),
        Err((caller, e)) => (caller.map(|c| c.arn), Err(e)),
    };
    let error_code = outcome.as_ref().err().map(|e| e.code.clone());
    state.metrics.count(&action, error_code.as_deref());
    let entry = AuditEntry {
        at: now,
        request_id: request_id.clone(),
        principal,
        action: action.chars().take(64).collect(),
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
    if sampled_out {
    } else if let Err(e) = audit(state.store.pool(), &entry).await {
        tracing::warn!(error = %e, "audit log write failed");
    }
    match outcome {
        Ok(mut value) => {
            if let Some(obj) = value.as_object_mut() {
                obj.insert("RequestId".into(), serde_json::Value::String(request_id));
            }
            (StatusCode::OK, axum::Json(value)).into_response()
        }
        Err(e) => {
            tracing::info!(request_id, action = %entry.action, code = %e.code, "request refused");
            let body = error::ErrorBody {
                error: error::ErrorDetail {
                    code: &e.code,
                    message: &e.message,
                },
                request_id: &request_id,
            };
            (e.status, axum::Json(body)).into_response()
        }
    }
}
