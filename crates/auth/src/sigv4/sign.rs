//! The client-side signer (for our CLI and tests), built on the verifier's canonicalisation.

use std::fmt;

use time::OffsetDateTime;

use super::canonical::{
    sha256_hex, string_to_sign, CanonicalOptions, CanonicalRequest, SigningKey,
};
use super::date::format_amz_date;
use super::encode::{hex_lower, join_sorted, parse_query, uri_encode};
use super::header::{parse_expires, PRESIGN_PARAMS};
use super::{
    CredentialScope, HttpRequest, PathMode, SigV4Error, SignatureKind, ALGORITHM,
    MAX_PRESIGN_EXPIRES_SECS, UNSIGNED_PAYLOAD,
};

/// How the signer treats the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadSigning {
    /// Sign the SHA-256 of the body without sending it (what botocore does for most services).
    Hash,
    /// Sign the SHA-256 of the body and send it as `x-amz-content-sha256` (S3 style); for
    /// presigned URLs the same as [`PayloadSigning::Hash`].
    HashWithHeader,
    /// Leave the body unsigned: `UNSIGNED-PAYLOAD` (sent as `x-amz-content-sha256` when
    /// header-signing).
    Unsigned,
}

/// Who signs, for which scope, at what time.
///
/// `Debug` leaves out the secret and the session token.
#[derive(Clone, Copy)]
pub struct SigningParams<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// The secret access key.
    pub secret_access_key: &'a str,
    /// The session token of temporary credentials; it is signed.
    pub session_token: Option<&'a str>,
    /// The region of the scope.
    pub region: &'a str,
    /// The service of the scope.
    pub service: &'a str,
    /// The signing time (`X-Amz-Date`).
    pub time: OffsetDateTime,
    /// How the body is covered.
    pub payload: PayloadSigning,
    /// The canonical-URI rule; `None` picks [`PathMode::for_service`].
    pub path_mode: Option<PathMode>,
}

impl fmt::Debug for SigningParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningParams")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"***")
            .field("session_token", &self.session_token.map(|_| "***"))
            .field("region", &self.region)
            .field("service", &self.service)
            .field("time", &self.time)
            .field("payload", &self.payload)
            .field("path_mode", &self.path_mode)
            .finish()
    }
}

/// The outcome of [`sign_request`]: the headers to set, and the intermediate results.
///
/// `Debug` leaves out the signature and the session token.
#[derive(Clone)]
pub struct SignedRequest {
    headers: Vec<(String, String)>,
    canonical_request: String,
    string_to_sign: String,
    signature: String,
}

impl SignedRequest {
    /// The headers to set on the request, each replacing any header of the same name:
    /// `X-Amz-Date`, `X-Amz-Security-Token` and `X-Amz-Content-SHA256` when used, and
    /// `Authorization` last.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The canonical request that was signed.
    pub fn canonical_request(&self) -> &str {
        &self.canonical_request
    }

    /// The string to sign.
    pub fn string_to_sign(&self) -> &str {
        &self.string_to_sign
    }

    /// The signature, lower-case hex.
    pub fn signature(&self) -> &str {
        &self.signature
    }
}

impl fmt::Debug for SignedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("SignedRequest")
            .field("headers", &names)
            .finish_non_exhaustive()
    }
}

/// The outcome of [`presign_url`]: the new query string, and the intermediate results.
///
/// `Debug` leaves out the query (it holds the signature and any session token).
#[derive(Clone)]
pub struct PresignedUrl {
    query: String,
    canonical_request: String,
    string_to_sign: String,
    signature: String,
}

impl PresignedUrl {
    /// The query to send instead of the original one (without `?`), `X-Amz-Signature` last.
    pub fn query(&self) -> &str {
        &self.query
    }

    /// The canonical request that was signed.
    pub fn canonical_request(&self) -> &str {
        &self.canonical_request
    }

    /// The string to sign.
    pub fn string_to_sign(&self) -> &str {
        &self.string_to_sign
    }

    /// The signature, lower-case hex.
    pub fn signature(&self) -> &str {
        &self.signature
    }
}

impl fmt::Debug for PresignedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresignedUrl").finish_non_exhaustive()
    }
}

/// Headers the signer never signs (hop-by-hop ones and those proxies rewrite), as botocore.
const UNSIGNABLE: [&str; 12] = [
    "authorization",
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
];

/// The scope of `params`, and the signing time in UTC.
fn scope_of(params: &SigningParams<'_>) -> Result<(CredentialScope, OffsetDateTime), SigV4Error> {
    let key = params.access_key_id;
    if !(1..=128).contains(&key.len()) || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(SigV4Error::InvalidParameterValue(
            "The access key id must be 1 to 128 ASCII letters and digits.".to_owned(),
        ));
    }
    let utc = params
        .time
        .checked_to_offset(time::UtcOffset::UTC)
        .ok_or_else(|| {
            SigV4Error::InvalidParameterValue("The signing time is out of range in UTC.".to_owned())
        })?;
    Ok((
        CredentialScope::new(utc.date(), params.region, params.service)?,
        utc,
    ))
}

/// The sorted, unique, lower-case names of the signable headers; `host` must be among them.
fn signable_names(headers: &[(&str, &[u8])]) -> Result<Vec<String>, SigV4Error> {
    let mut names: Vec<String> = headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .filter(|n| !UNSIGNABLE.contains(&n.as_str()))
        .collect();
    names.sort_unstable();
    names.dedup();
    if !names.iter().any(|n| n == "host") {
        return Err(SigV4Error::InvalidParameterValue(
            "A request to sign needs a Host header.".to_owned(),
        ));
    }
    Ok(names)
}

/// Signs `req` with an `Authorization` header.
pub fn sign_request(
    req: &HttpRequest<'_>,
    params: &SigningParams<'_>,
) -> Result<SignedRequest, SigV4Error> {
    let (scope, time) = scope_of(params)?;
    let amz_date = format_amz_date(time);
    let payload_hash = match params.payload {
        PayloadSigning::Unsigned => UNSIGNED_PAYLOAD.to_owned(),
        PayloadSigning::Hash | PayloadSigning::HashWithHeader => sha256_hex(req.body),
    };
    let mut added: Vec<(String, String)> = vec![("X-Amz-Date".to_owned(), amz_date)];
    if let Some(token) = params.session_token {
        added.push(("X-Amz-Security-Token".to_owned(), token.to_owned()));
    }
    if params.payload != PayloadSigning::Hash {
        added.push(("X-Amz-Content-SHA256".to_owned(), payload_hash.clone()));
    }
    let mut headers: Vec<(&str, &[u8])> = req
        .headers
        .iter()
        .filter(|(n, _)| {
            !n.eq_ignore_ascii_case("authorization")
                && !added.iter().any(|(a, _)| a.eq_ignore_ascii_case(n))
        })
        .copied()
        .collect();
    headers.extend(added.iter().map(|(n, v)| (n.as_str(), v.as_bytes())));
    let names = signable_names(&headers)?;
    let names_ref: Vec<&str> = names.iter().map(String::as_str).collect();
    let path_mode = params
        .path_mode
        .unwrap_or_else(|| PathMode::for_service(params.service));
    let opts = CanonicalOptions {
        path_mode,
        signed_headers: &names_ref,
        payload_hash: &payload_hash,
        kind: SignatureKind::Header,
    };
    let signing_req = HttpRequest {
        headers: &headers,
        ..*req
    };
    let query = parse_query(req.query, usize::MAX)?;
    let canonical_request = CanonicalRequest::build(&signing_req, &query, &opts)?.render(false);
    let string_to_sign = string_to_sign(&canonical_request, time, &scope);
    let signature =
        hex_lower(&SigningKey::derive(params.secret_access_key, &scope).sign(&string_to_sign));
    added.push((
        "Authorization".to_owned(),
        format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
            params.access_key_id,
            names.join(";")
        ),
    ));
    Ok(SignedRequest {
        headers: added,
        canonical_request,
        string_to_sign,
        signature,
    })
}

/// Presigns `req` for `expires_secs` (1 to 604800): the authentication goes into the query.
///
/// The body is covered by its hash (or `UNSIGNED-PAYLOAD` with [`PayloadSigning::Unsigned`]);
/// every signable header of `req`, `host` included, is signed and must be sent as is.
pub fn presign_url(
    req: &HttpRequest<'_>,
    params: &SigningParams<'_>,
    expires_secs: u32,
) -> Result<PresignedUrl, SigV4Error> {
    let (scope, time) = scope_of(params)?;
    let expires = parse_expires(&expires_secs.to_string(), MAX_PRESIGN_EXPIRES_SECS)?;
    let original = parse_query(req.query, usize::MAX)?;
    if original.iter().any(|p| {
        PRESIGN_PARAMS
            .iter()
            .any(|n| n.as_bytes() == p.key.as_slice())
    }) {
        return Err(SigV4Error::InvalidParameterValue(
            "The query to presign already carries X-Amz-* authentication parameters.".to_owned(),
        ));
    }
    let names = signable_names(req.headers)?;
    let credential = format!("{}/{scope}", params.access_key_id);
    let mut auth = vec![
        ("X-Amz-Algorithm", ALGORITHM.to_owned()),
        ("X-Amz-Credential", credential),
        ("X-Amz-Date", format_amz_date(time)),
        ("X-Amz-Expires", expires.to_string()),
        ("X-Amz-SignedHeaders", names.join(";")),
    ];
    if let Some(token) = params.session_token {
        auth.push(("X-Amz-Security-Token", token.to_owned()));
    }
    let auth: Vec<(&str, String)> = auth
        .into_iter()
        .map(|(k, v)| (k, uri_encode(v.as_bytes(), false)))
        .collect();
    let query = join_sorted(
        original
            .iter()
            .map(|p| (p.enc_key.as_str(), p.enc_value.as_str()))
            .chain(auth.iter().map(|(k, v)| (*k, v.as_str()))),
    );
    let payload_hash = match params.payload {
        PayloadSigning::Unsigned => UNSIGNED_PAYLOAD.to_owned(),
        PayloadSigning::Hash | PayloadSigning::HashWithHeader => sha256_hex(req.body),
    };
    let names_ref: Vec<&str> = names.iter().map(String::as_str).collect();
    let path_mode = params
        .path_mode
        .unwrap_or_else(|| PathMode::for_service(params.service));
    let opts = CanonicalOptions {
        path_mode,
        signed_headers: &names_ref,
        payload_hash: &payload_hash,
        kind: SignatureKind::Presigned,
    };
    let signing_req = HttpRequest {
        query: &query,
        ..*req
    };
    let parsed = parse_query(&query, usize::MAX)?;
    let canonical_request = CanonicalRequest::build(&signing_req, &parsed, &opts)?.render(false);
    let string_to_sign = string_to_sign(&canonical_request, time, &scope);
    let signature =
        hex_lower(&SigningKey::derive(params.secret_access_key, &scope).sign(&string_to_sign));
    let query = if query.is_empty() {
        format!("X-Amz-Signature={signature}")
    } else {
        format!("{query}&X-Amz-Signature={signature}")
    };
    Ok(PresignedUrl {
        query,
        canonical_request,
        string_to_sign,
        signature,
    })
}
