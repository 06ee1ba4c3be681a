//! Server-side verification: [`parse_request`] without the secret, then
//! [`ParsedRequest::verify`] with it.

use std::fmt;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use time::{Duration, OffsetDateTime};

use super::canonical::{
    sha256_hex, string_to_sign, CanonicalOptions, CanonicalRequest, SigningKey,
    SECURITY_TOKEN_HEADER, SECURITY_TOKEN_PARAM,
};
use super::date::{format_amz_date, format_scope_date, parse_amz_date, parse_http_date};
use super::derived::ScopedKey;
use super::encode::{parse_query, QueryParam};
use super::error::quoted;
use super::header::{is_presigned, parse_authorization_header, parse_presign_params, Credential};
use super::{
    CredentialScope, HttpRequest, PathMode, SigV4Error, SignatureKind, MAX_PRESIGN_EXPIRES_SECS,
    MAX_SESSION_TOKEN_LEN, UNSIGNED_PAYLOAD,
};

/// Server-side verification settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierConfig {
    /// The largest accepted distance between the request time and `now` (AWS: 15 minutes).
    pub max_skew: Duration,
    /// Accept `x-amz-content-sha256: UNSIGNED-PAYLOAD` (and S3-style presigned URLs, which never
    /// sign the body). Off by default: for Query-protocol APIs the body carries the action.
    pub allow_unsigned_payload: bool,
    /// The largest accepted `X-Amz-Expires` (capped at AWS's 604800, one week).
    pub max_presign_expires_secs: u32,
    /// The regions the credential scope may name; empty accepts any.
    pub regions: Vec<String>,
    /// Services whose scope may name any region: AWS's global services (IAM, STS), which SDKs
    /// sign for `us-east-1` or for the client's region.
    pub any_region_services: Vec<String>,
    /// The services the credential scope may name; empty accepts any.
    pub services: Vec<String>,
    /// The most query parameters parsed before the request is refused.
    pub max_query_params: usize,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        Self {
            max_skew: Duration::minutes(15),
            allow_unsigned_payload: false,
            max_presign_expires_secs: MAX_PRESIGN_EXPIRES_SECS,
            regions: Vec::new(),
            any_region_services: Vec::new(),
            services: Vec::new(),
            max_query_params: 1000,
        }
    }
}

/// A request whose signature parts have been read and checked, waiting for the secret.
///
/// `Debug` leaves out the provided signature and the session token.
#[derive(Clone)]
pub struct ParsedRequest {
    access_key_id: String,
    session_token: Option<String>,
    scope: CredentialScope,
    kind: SignatureKind,
    signed_headers: Vec<String>,
    request_time: OffsetDateTime,
    expires_secs: Option<u32>,
    body_signed: bool,
    signature: [u8; 32],
    canonical: CanonicalRequest,
    canonical_text: String,
    string_to_sign: String,
    max_skew: Duration,
}

/// Proof that a request's signature verified with the looked-up secret and its time was valid.
///
/// Only [`ParsedRequest::verify`] makes one. `Debug` leaves out the session token.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedRequest {
    access_key_id: String,
    session_token: Option<String>,
    scope: CredentialScope,
    kind: SignatureKind,
    signed_headers: Vec<String>,
    request_time: OffsetDateTime,
    body_signed: bool,
}

/// Reads the signature parts of `req` and builds its canonical request; needs no secret.
///
/// Header-signed when there is an `Authorization` header, presigned when the query carries
/// `X-Amz-Algorithm`, `X-Amz-Credential` or `X-Amz-Signature`; both at once is refused, neither
/// is `MissingAuthenticationToken`.
pub fn parse_request(
    req: &HttpRequest<'_>,
    cfg: &VerifierConfig,
) -> Result<ParsedRequest, SigV4Error> {
    refuse_repeated_headers(req)?;
    let query = parse_query(req.query, cfg.max_query_params)?;
    let authorization = header(req, "authorization");
    let presigned = is_presigned(&query);
    let auth = match (authorization, presigned) {
        (Some(_), true) => {
            return Err(SigV4Error::InvalidParameterValue(
                "Only one auth mechanism allowed: the Authorization header or the X-Amz-Algorithm query parameters, not both."
                    .to_owned(),
            ))
        }
        (None, false) => return Err(SigV4Error::MissingAuthenticationToken),
        (Some(value), false) => header_auth(req, value, &query)?,
        (None, true) => presigned_auth(req, &query, cfg)?,
    };
    check_scope(
        &auth.credential.scope,
        auth.request_time,
        &auth.amz_date,
        cfg,
    )?;
    check_signed_headers(req, &auth)?;
    let (payload_hash, body_signed) = payload_hash(req, &auth, cfg)?;
    let path_mode = PathMode::for_service(auth.credential.scope.service());
    let names: Vec<&str> = auth.signed_headers.iter().map(String::as_str).collect();
    let opts = CanonicalOptions {
        path_mode,
        signed_headers: &names,
        payload_hash: &payload_hash,
        kind: auth.kind,
    };
    let canonical = CanonicalRequest::build(req, &query, &opts)?;
    let canonical_text = canonical.render(false);
    let string_to_sign = string_to_sign(&canonical_text, auth.request_time, &auth.credential.scope);
    Ok(ParsedRequest {
        access_key_id: auth.credential.access_key_id,
        session_token: auth.session_token,
        scope: auth.credential.scope,
        kind: auth.kind,
        signed_headers: auth.signed_headers,
        request_time: auth.request_time,
        expires_secs: auth.expires_secs,
        body_signed,
        signature: auth.signature,
        canonical,
        canonical_text,
        string_to_sign,
        max_skew: cfg.max_skew,
    })
}

/// Two values of a header the verifier reads would make it ambiguous which one the server
/// acts on (header smuggling, RELIABILITY item 5): refused before any signature work.
fn refuse_repeated_headers(req: &HttpRequest<'_>) -> Result<(), SigV4Error> {
    const SINGLE: [&str; 7] = [
        "authorization",
        "host",
        "x-amz-date",
        "date",
        SECURITY_TOKEN_HEADER,
        "x-amz-content-sha256",
        "content-type",
    ];
    for name in SINGLE {
        if req
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
            > 1
        {
            return Err(SigV4Error::InvalidParameterValue(format!(
                "The request has more than one '{name}' header."
            )));
        }
    }
    Ok(())
}

/// What both kinds of authentication yield.
struct AuthParts {
    kind: SignatureKind,
    credential: Credential,
    signed_headers: Vec<String>,
    signature: [u8; 32],
    request_time: OffsetDateTime,
    /// The request time as the client wrote it, for messages.
    amz_date: String,
    /// The header that gave the request time, which must be signed (`None` for presigned).
    time_header: Option<&'static str>,
    expires_secs: Option<u32>,
    session_token: Option<String>,
}

/// The single value of header `name`, if present (duplicates were refused already).
fn header<'a>(req: &HttpRequest<'a>, name: &str) -> Option<&'a [u8]> {
    req.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

fn header_text<'a>(req: &HttpRequest<'a>, name: &str) -> Result<Option<&'a str>, SigV4Error> {
    header(req, name)
        .map(|v| {
            std::str::from_utf8(v)
                .map(|s| s.trim_matches([' ', '\t']))
                .map_err(|_| {
                    SigV4Error::InvalidParameterValue(format!(
                        "The value of header '{name}' is not valid UTF-8."
                    ))
                })
        })
        .transpose()
}

fn header_auth(
    req: &HttpRequest<'_>,
    value: &[u8],
    query: &[QueryParam],
) -> Result<AuthParts, SigV4Error> {
    let value = std::str::from_utf8(value).map_err(|_| {
        SigV4Error::IncompleteSignature("Authorization header is not valid UTF-8.".to_owned())
    })?;
    let auth = parse_authorization_header(value)?;
    let (time_header, amz_date, request_time) = if let Some(v) = header_text(req, "x-amz-date")? {
        let t = parse_amz_date(v).ok_or_else(|| {
            SigV4Error::IncompleteSignature(format!(
                "X-Amz-Date must be in ISO 8601 basic format (YYYYMMDD'T'HHMMSS'Z'), not {}.",
                quoted(v)
            ))
        })?;
        ("x-amz-date", v.to_owned(), t)
    } else if let Some(v) = header_text(req, "date")? {
        let t = parse_http_date(v).ok_or_else(|| {
            SigV4Error::IncompleteSignature(format!(
                "Date must be an HTTP date such as 'Sun, 30 Aug 2015 12:36:00 GMT', not {}.",
                quoted(v)
            ))
        })?;
        ("date", format_amz_date(t), t)
    } else {
        return Err(SigV4Error::IncompleteSignature(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                .to_owned(),
        ));
    };
    if query
        .iter()
        .any(|p| p.key == SECURITY_TOKEN_PARAM.as_bytes())
    {
        return Err(SigV4Error::InvalidParameterValue(
            "X-Amz-Security-Token belongs in a header when the Authorization header is used."
                .to_owned(),
        ));
    }
    let session_token = match header_text(req, SECURITY_TOKEN_HEADER)? {
        Some(t) if t.is_empty() || t.len() > MAX_SESSION_TOKEN_LEN => {
            return Err(SigV4Error::InvalidParameterValue(format!(
                "X-Amz-Security-Token must be 1 to {MAX_SESSION_TOKEN_LEN} bytes long."
            )))
        }
        t => t.map(str::to_owned),
    };
    let signature = *auth.signature();
    Ok(AuthParts {
        kind: SignatureKind::Header,
        credential: auth.credential,
        signed_headers: auth.signed_headers,
        signature,
        request_time,
        amz_date,
        time_header: Some(time_header),
        expires_secs: None,
        session_token,
    })
}

fn presigned_auth(
    req: &HttpRequest<'_>,
    query: &[QueryParam],
    cfg: &VerifierConfig,
) -> Result<AuthParts, SigV4Error> {
    let p = parse_presign_params(query, cfg.max_presign_expires_secs)?;
    let request_time = parse_amz_date(&p.amz_date).ok_or_else(|| {
        SigV4Error::IncompleteSignature(
            "X-Amz-Date must be in ISO 8601 basic format (YYYYMMDD'T'HHMMSS'Z').".to_owned(),
        )
    })?;
    if header(req, SECURITY_TOKEN_HEADER).is_some() && p.session_token.is_some() {
        return Err(SigV4Error::InvalidParameterValue(
            "The session token was sent both as a header and as the X-Amz-Security-Token query parameter.".to_owned(),
        ));
    }
    Ok(AuthParts {
        kind: SignatureKind::Presigned,
        credential: p.credential,
        signed_headers: p.signed_headers,
        signature: p.signature,
        request_time,
        amz_date: p.amz_date,
        time_header: None,
        expires_secs: Some(p.expires_secs),
        session_token: p.session_token,
    })
}

/// The scope's day must be the request's day; region and service must be the configured ones.
fn check_scope(
    scope: &CredentialScope,
    time: OffsetDateTime,
    amz_date: &str,
    cfg: &VerifierConfig,
) -> Result<(), SigV4Error> {
    if scope.date() != time.date() {
        return Err(SigV4Error::ScopeMismatch(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from {}.",
            format_scope_date(scope.date()),
            format_scope_date(time.date()),
            quoted(amz_date)
        )));
    }
    let region_ok = cfg.regions.is_empty()
        || cfg.regions.iter().any(|r| r == scope.region())
        || cfg.any_region_services.iter().any(|s| s == scope.service());
    if !region_ok {
        return Err(SigV4Error::ScopeMismatch(format!(
            "Credential should be scoped to a valid region, not '{}'.",
            scope.region()
        )));
    }
    if !cfg.services.is_empty() && !cfg.services.iter().any(|s| s == scope.service()) {
        return Err(SigV4Error::ScopeMismatch(format!(
            "Credential should be scoped to correct service: {}, not '{}'.",
            cfg.services
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(" or "),
            scope.service()
        )));
    }
    Ok(())
}

/// `host` always, and every header the server acts on whenever it is present, must be signed.
fn check_signed_headers(req: &HttpRequest<'_>, auth: &AuthParts) -> Result<(), SigV4Error> {
    let signed = |name: &str| auth.signed_headers.iter().any(|h| h == name);
    if signed("authorization") {
        return Err(SigV4Error::IncompleteSignature(
            "SignedHeaders must not name 'authorization'.".to_owned(),
        ));
    }
    if !signed("host") {
        return Err(SigV4Error::IncompleteSignature(
            "SignedHeaders must include 'host'.".to_owned(),
        ));
    }
    let must = [
        "x-amz-date",
        SECURITY_TOKEN_HEADER,
        "x-amz-content-sha256",
        "content-type",
    ];
    for name in must.into_iter().chain(auth.time_header) {
        if header(req, name).is_some() && !signed(name) {
            return Err(SigV4Error::IncompleteSignature(format!(
                "The '{name}' header is present but not signed: SignedHeaders must include it."
            )));
        }
    }
    Ok(())
}

/// The payload-hash line of the canonical request, and whether it covers the body.
///
/// With `x-amz-content-sha256`, its value (which must be the body's hash, or `UNSIGNED-PAYLOAD`
/// when allowed). Without it: `UNSIGNED-PAYLOAD` for presigned S3 URLs (as botocore signs them),
/// else the body's hash (botocore's presigned URLs for other services sign the hash of the body,
/// empty after it moved the parameters to the query).
fn payload_hash(
    req: &HttpRequest<'_>,
    auth: &AuthParts,
    cfg: &VerifierConfig,
) -> Result<(String, bool), SigV4Error> {
    let unsigned_refused = || {
        SigV4Error::IncompleteSignature(format!(
            "{UNSIGNED_PAYLOAD} is not accepted here: the request body must be signed."
        ))
    };
    match header_text(req, "x-amz-content-sha256")? {
        Some(UNSIGNED_PAYLOAD) if cfg.allow_unsigned_payload => {
            Ok((UNSIGNED_PAYLOAD.to_owned(), false))
        }
        Some(UNSIGNED_PAYLOAD) => Err(unsigned_refused()),
        Some(claimed) => {
            let computed = sha256_hex(req.body);
            let well_formed = claimed.len() == 64 && claimed.bytes().all(|b| b.is_ascii_hexdigit());
            if !well_formed || !claimed.eq_ignore_ascii_case(&computed) {
                return Err(SigV4Error::ContentSha256Mismatch {
                    claimed: quoted(claimed),
                    computed,
                });
            }
            Ok((claimed.to_owned(), true))
        }
        None if auth.kind == SignatureKind::Presigned
            && auth.credential.scope.service() == "s3" =>
        {
            if cfg.allow_unsigned_payload {
                Ok((UNSIGNED_PAYLOAD.to_owned(), false))
            } else {
                Err(unsigned_refused())
            }
        }
        None => Ok((sha256_hex(req.body), true)),
    }
}

/// A fixed secret for [`ParsedRequest::reject_unknown_key`]: only its HMAC cost matters.
const DUMMY_SECRET: &str = "UnderpassUnknownAccessKeyDummySecret0000";

impl ParsedRequest {
    /// The access key id to look the secret up by.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The session token (`X-Amz-Security-Token`), if any; always covered by the signature.
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    /// The credential scope: day, region and service.
    pub fn scope(&self) -> &CredentialScope {
        &self.scope
    }

    /// Header-signed or presigned.
    pub fn kind(&self) -> SignatureKind {
        self.kind
    }

    /// The signed header names, lower-case and sorted.
    pub fn signed_headers(&self) -> &[String] {
        &self.signed_headers
    }

    /// The request time (`X-Amz-Date`, or the `Date` header).
    pub fn request_time(&self) -> OffsetDateTime {
        self.request_time
    }

    /// The canonical request the server computed (it contains the session token, if any).
    pub fn canonical_request(&self) -> &str {
        &self.canonical_text
    }

    /// The string to sign the server computed.
    pub fn string_to_sign(&self) -> &str {
        &self.string_to_sign
    }

    fn signature_matches(&self, secret: &str) -> bool {
        self.key_matches(&SigningKey::derive(secret, &self.scope))
    }

    fn key_matches(&self, key: &SigningKey) -> bool {
        let computed = key.sign(&self.string_to_sign);
        verify_slices_are_equal(&computed, &self.signature).is_ok()
    }

    /// The signing key for this request's scope, derived from `secret_access_key`: what
    /// [`Self::verify_with_key`] takes, and what [`DerivedKeys`] keeps.
    pub fn signing_key(&self, secret_access_key: &str) -> ScopedKey {
        ScopedKey {
            scope: self.scope.clone(),
            key: SigningKey::derive(secret_access_key, &self.scope),
        }
    }

    /// As [`Self::verify`], with a signing key derived before (by [`Self::signing_key`]). A key
    /// of another scope does not match.
    pub fn verify_with_key(
        &self,
        key: &ScopedKey,
        now: OffsetDateTime,
    ) -> Result<VerifiedRequest, SigV4Error> {
        if key.scope != self.scope || !self.key_matches(&key.key) {
            return Err(self.mismatch());
        }
        self.verified(now)
    }

    fn mismatch(&self) -> SigV4Error {
        SigV4Error::SignatureDoesNotMatch {
            canonical_request: self.canonical.render(true),
            string_to_sign: self.string_to_sign.clone(),
        }
    }

    /// Checks the signature with `secret` (in constant time), then the request time against
    /// `now`: within `max_skew` for header-signed requests; for presigned ones not after
    /// `X-Amz-Date + X-Amz-Expires` and not more than `max_skew` in the future.
    pub fn verify(
        &self,
        secret_access_key: &str,
        now: OffsetDateTime,
    ) -> Result<VerifiedRequest, SigV4Error> {
        if !self.signature_matches(secret_access_key) {
            return Err(self.mismatch());
        }
        self.verified(now)
    }

    /// The signature matched: checks the time, and says what was verified.
    fn verified(&self, now: OffsetDateTime) -> Result<VerifiedRequest, SigV4Error> {
        self.check_time(now)?;
        Ok(VerifiedRequest {
            access_key_id: self.access_key_id.clone(),
            session_token: self.session_token.clone(),
            scope: self.scope.clone(),
            kind: self.kind,
            signed_headers: self.signed_headers.clone(),
            request_time: self.request_time,
            body_signed: self.body_signed,
        })
    }

    fn check_time(&self, now: OffsetDateTime) -> Result<(), SigV4Error> {
        let (t, skew) = (self.request_time, self.max_skew);
        let stamp = format_amz_date;
        if t - now > skew {
            return Err(SigV4Error::RequestExpired(format!(
                "Request time {} is more than {} seconds after server time {}.",
                stamp(t),
                skew.whole_seconds(),
                stamp(now)
            )));
        }
        match self.expires_secs {
            None if now - t > skew => Err(SigV4Error::RequestExpired(format!(
                "Request time {} is more than {} seconds before server time {}.",
                stamp(t),
                skew.whole_seconds(),
                stamp(now)
            ))),
            Some(secs) => match t.checked_add(Duration::seconds(i64::from(secs))) {
                Some(end) if now > end => Err(SigV4Error::RequestExpired(format!(
                    "Presigned at {} for {secs} seconds, it expired at {}; server time is {}.",
                    stamp(t),
                    stamp(end),
                    stamp(now)
                ))),
                _ => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// For an access key id the store does not know: spends the same HMAC work as
    /// [`Self::verify`] with a dummy secret, so known and unknown keys take the same time, then
    /// returns `InvalidClientTokenId`.
    pub fn reject_unknown_key(&self) -> SigV4Error {
        std::hint::black_box(self.signature_matches(std::hint::black_box(DUMMY_SECRET)));
        // What verify spends on building its SignatureDoesNotMatch, so neither refusal is faster.
        drop(std::hint::black_box(self.canonical.render(true)));
        SigV4Error::InvalidClientTokenId
    }
}

impl fmt::Debug for ParsedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedRequest")
            .field("access_key_id", &self.access_key_id)
            .field("session_token", &self.session_token.as_ref().map(|_| "***"))
            .field("scope", &self.scope)
            .field("kind", &self.kind)
            .field("signed_headers", &self.signed_headers)
            .field("request_time", &self.request_time)
            .field("expires_secs", &self.expires_secs)
            .field("body_signed", &self.body_signed)
            .finish_non_exhaustive()
    }
}

impl VerifiedRequest {
    /// The access key id that signed the request.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The session token, if any (covered by the signature).
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }

    /// The credential scope: day, region and service.
    pub fn scope(&self) -> &CredentialScope {
        &self.scope
    }

    /// Header-signed or presigned.
    pub fn kind(&self) -> SignatureKind {
        self.kind
    }

    /// The signed header names, lower-case and sorted.
    pub fn signed_headers(&self) -> &[String] {
        &self.signed_headers
    }

    /// The request time the signature covers.
    pub fn request_time(&self) -> OffsetDateTime {
        self.request_time
    }

    /// Whether the signature covers the body (false only for an allowed `UNSIGNED-PAYLOAD`).
    pub fn body_signed(&self) -> bool {
        self.body_signed
    }
}

impl fmt::Debug for VerifiedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedRequest")
            .field("access_key_id", &self.access_key_id)
            .field("session_token", &self.session_token.as_ref().map(|_| "***"))
            .field("scope", &self.scope)
            .field("kind", &self.kind)
            .field("signed_headers", &self.signed_headers)
            .field("request_time", &self.request_time)
            .field("body_signed", &self.body_signed)
            .finish()
    }
}
