//! The AWS Query protocol (`POST /` with a form body, or `GET /?Action=…`), as the AWS CLI and
//! the SDKs speak it for EC2, ELBv2, IAM and STS: a thin codec over the same handlers as the
//! JSON API, driven by the botocore service models (`models/*.json`).
//!
//! The service is the SigV4 credential scope's (`ec2`, `elasticloadbalancing`, `iam`, `sts`);
//! its model says which actions exist there, how their parameters are flattened ([`decode`]),
//! and how answers and errors are written ([`encode`]). Authentication, throttling, the audit
//! log and dispatch are [`super::execute`], shared with the JSON API. Nothing here reads a
//! header that is not signed: the Authorization header's claimed scope only picks the shape of
//! an authentication error.

mod decode;
mod encode;
mod form;
mod model;
mod serialize;

pub(crate) use self::serialize::{Memo, XmlMemo};

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use underpass_auth::sigv4::parse_authorization_header;

use self::decode::Errors;
use self::form::{printable, FormError, Params};
use self::model::{Model, Protocol};
use super::{execute, ApiError, HttpParts, Invocation};
use crate::actions::Answer;
use crate::state::AppState;

/// `/`: one Query-protocol call.
pub(crate) async fn query_call(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Parameters come from the query string and, for POST, the form body (whatever the
    // Content-Type says: the body is signed, the Content-Type header need not be).
    let mut params = Params::default();
    let parsed = (|| -> Result<(), FormError> {
        if method == Method::POST {
            form::parse_into(&body, false, &mut params)?;
        }
        form::parse_into(uri.query().unwrap_or("").as_bytes(), true, &mut params)
    })();
    let hint = params.get("Action").map(printable).unwrap_or_default();
    let malformed = AtomicBool::new(false);
    let http = HttpParts {
        peer,
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &body,
    };
    let out = execute(&state, &http, &hint, |caller, request_id| {
        let model = model::for_service(&caller.service).ok_or_else(|| invalid_action(&hint))?;
        let errors = Errors(model.protocol());
        if let Err(e) = &parsed {
            malformed.store(true, Ordering::Relaxed);
            return Err(errors.invalid(e.to_string()));
        }
        invocation(model, errors, &params, request_id)
    })
    .await;
    let model = out
        .caller
        .as_ref()
        .and_then(|c| model::for_service(&c.service))
        .or_else(|| claimed_service(&headers, &uri).and_then(model::for_service))
        .or_else(|| model::for_action(&out.action));
    let xml = |status: StatusCode, text: String| {
        let mut r = (status, text).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/xml;charset=UTF-8"),
        );
        r
    };
    match (out.result, model) {
        (Ok(document), Some(_)) => xml(StatusCode::OK, document),
        (Ok(_), None) => {
            let e = ApiError::internal("answer for a service without a model");
            xml(e.status, encode::error(None, &e, &out.request_id))
        }
        (Err(e), model) => {
            let e = in_dialect(e, model);
            let mut r = xml(e.status, encode::error(model, &e, &out.request_id));
            if malformed.load(Ordering::Relaxed)
                || (out.caller.is_none() && e.status == StatusCode::BAD_REQUEST)
            {
                // A request we could not read or authenticate: do not trust the connection's
                // framing either (RELIABILITY items 5 and 20).
                r.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            r
        }
    }
}

fn invalid_action(action: &str) -> ApiError {
    ApiError::client(
        "InvalidAction",
        format!(
            "The action {} is not valid for this web service.",
            printable(action)
        ),
    )
}

/// How a Query call's answer is written: straight to XML, per the operation's output shape,
/// the whole document at once (envelope and request id around the members, in one buffer).
struct XmlAnswer {
    model: &'static Model,
    request_id: String,
}

impl Answer for XmlAnswer {
    type Out = String;

    fn write<R: Serialize>(&self, action: &str, answer: &R) -> Result<String, ApiError> {
        encode::response(self.model, action, answer, &self.request_id).map_err(ApiError::internal)
    }
}

/// `Action` and `Version` checked against the model, the rest decoded per the input shape.
fn invocation<'a>(
    model: &'static Model,
    errors: Errors,
    params: &Params,
    request_id: &str,
) -> Result<Invocation<'a, XmlAnswer>, ApiError> {
    let action = params.get("Action").ok_or_else(|| {
        ApiError::client(
            "MissingAction",
            "The request must contain the parameter Action",
        )
    })?;
    if !model.operations.contains_key(action) {
        return Err(invalid_action(action));
    }
    match params.get("Version") {
        None => match errors.0 {
            Protocol::Ec2 => return Err(ApiError::missing("Version")),
            Protocol::Query => {
                return Err(errors.invalid("The request must contain the parameter Version"))
            }
        },
        Some(v) if v != model.metadata.api_version => {
            return Err(ApiError::client(
                "NoSuchVersion",
                format!(
                    "The requested version ({}) of service {} does not exist.",
                    printable(v),
                    model.metadata.endpoint_prefix
                ),
            ))
        }
        Some(_) => {}
    }
    let decoded = decode::decode(model, action, params)?;
    let body = serde_json::to_vec(&decoded.params).map_err(ApiError::internal)?;
    Ok(Invocation {
        action: action.to_owned(),
        body: Cow::Owned(body),
        dry_run: decoded.dry_run,
        answer: XmlAnswer {
            model,
            request_id: request_id.to_owned(),
        },
    })
}

/// The service an unauthenticated request's credential claims (for the error's shape only).
fn claimed_service<'h>(headers: &'h HeaderMap, uri: &'h Uri) -> Option<&'static str> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_authorization_header(v).ok())
        .map(|a| a.credential.scope.service().to_owned());
    let from_query = || {
        let mut p = Params::default();
        form::parse_into(uri.query().unwrap_or("").as_bytes(), false, &mut p).ok()?;
        let cred = p.get("X-Amz-Credential")?;
        cred.split('/').nth(3).map(str::to_owned)
    };
    let service = from_header.or_else(from_query)?;
    ["ec2", "elasticloadbalancing", "iam", "sts"]
        .into_iter()
        .find(|s| *s == service)
}

/// Codes of the shared path that a service spells differently: EC2 has no
/// `InvalidClientTokenId` (an unknown key is `AuthFailure`, 401, as EC2 answers), and IAM,
/// STS and ELBv2 refuse an unauthorized call with `AccessDenied` where EC2 says
/// `UnauthorizedOperation` (both 403).
fn in_dialect(e: ApiError, model: Option<&Model>) -> ApiError {
    match model.map(Model::protocol) {
        Some(Protocol::Ec2) if e.code == "InvalidClientTokenId" => ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "AuthFailure".into(),
            message: "AWS was not able to validate the provided access credentials".into(),
        },
        Some(Protocol::Query) if e.code == "UnauthorizedOperation" => ApiError {
            code: "AccessDenied".into(),
            ..e
        },
        _ => e,
    }
}
