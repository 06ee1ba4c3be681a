//! Parsing the `Authorization` header and the `X-Amz-*` query parameters of presigned URLs.
//!
//! Everything here is bounded before it is split, and returns an error rather than panicking on
//! any input: [`parse_authorization_header`] is a cargo-fuzz target.

use std::fmt;

use super::date::parse_scope_date;
use super::encode::{decode_hex32_lower, QueryParam};
use super::error::quoted;
use super::{
    CredentialScope, SigV4Error, ALGORITHM, MAX_AUTHORIZATION_LEN, MAX_CREDENTIAL_LEN,
    MAX_PRESIGN_EXPIRES_SECS, MAX_SESSION_TOKEN_LEN, MAX_SIGNED_HEADERS, SCOPE_TERMINATOR,
};

/// `<access key id>/<YYYYMMDD>/<region>/<service>/aws4_request`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The access key id, 1 to 128 ASCII letters and digits.
    pub access_key_id: String,
    /// The scope the signing key was derived for.
    pub scope: CredentialScope,
}

impl Credential {
    /// Parses the value of `Credential=` or `X-Amz-Credential`; `origin` names it in errors.
    pub(crate) fn parse(value: &str, origin: &str) -> Result<Self, SigV4Error> {
        if value.len() > MAX_CREDENTIAL_LEN {
            return Err(SigV4Error::IncompleteSignature(format!(
                "{origin} is longer than {MAX_CREDENTIAL_LEN} bytes."
            )));
        }
        let parts: Vec<&str> = value.split('/').collect();
        let [key, date, region, service, terminator] = parts.as_slice() else {
            return Err(SigV4Error::IncompleteSignature(format!(
                "{origin} must have the form '<access key id>/<YYYYMMDD>/<region>/<service>/{SCOPE_TERMINATOR}'; got {} '/'-separated parts.",
                parts.len()
            )));
        };
        if *terminator != SCOPE_TERMINATOR {
            return Err(SigV4Error::IncompleteSignature(format!(
                "Credential should be scoped with a valid terminator: '{SCOPE_TERMINATOR}'."
            )));
        }
        if !(1..=128).contains(&key.len()) || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(SigV4Error::AuthFailure);
        }
        let Some(date) = parse_scope_date(date) else {
            return Err(SigV4Error::IncompleteSignature(
                "Credential scope date must be a valid YYYYMMDD date.".to_owned(),
            ));
        };
        let scope = CredentialScope::new(date, region, service)?;
        Ok(Self {
            access_key_id: (*key).to_owned(),
            scope,
        })
    }
}

/// A parsed `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` value.
///
/// `Debug` leaves the signature out.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    /// The credential: access key id and scope.
    pub credential: Credential,
    /// The signed header names: lower-case, sorted, no duplicates, `host` not guaranteed.
    pub signed_headers: Vec<String>,
    signature: [u8; 32],
}

impl AuthorizationHeader {
    pub(crate) fn signature(&self) -> &[u8; 32] {
        &self.signature
    }
}

impl fmt::Debug for AuthorizationHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationHeader")
            .field("credential", &self.credential)
            .field("signed_headers", &self.signed_headers)
            .field("signature", &"***")
            .finish()
    }
}

/// Parses an `Authorization` header value. Parameters may come in any order, separated by `,`
/// with optional blanks; each must appear exactly once and no other is allowed.
pub fn parse_authorization_header(value: &str) -> Result<AuthorizationHeader, SigV4Error> {
    if value.len() > MAX_AUTHORIZATION_LEN {
        return Err(SigV4Error::IncompleteSignature(format!(
            "Authorization header is longer than {MAX_AUTHORIZATION_LEN} bytes."
        )));
    }
    let value = value.trim_matches([' ', '\t']);
    let (algorithm, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if algorithm != ALGORITHM {
        return Err(SigV4Error::IncompleteSignature(format!(
            "Unsupported AWS 'algorithm': {}; the only supported algorithm is '{ALGORITHM}'.",
            quoted(algorithm)
        )));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest
        .split(',')
        .map(|p| p.trim_matches([' ', '\t']))
        .filter(|p| !p.is_empty())
    {
        let Some((key, val)) = part.split_once('=') else {
            return Err(SigV4Error::IncompleteSignature(format!(
                "Authorization header parameter {} is not of the form key=value.",
                quoted(part)
            )));
        };
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => {
                return Err(SigV4Error::IncompleteSignature(format!(
                    "Authorization header has an unknown parameter {}.",
                    quoted(key)
                )))
            }
        };
        if slot.replace(val).is_some() {
            return Err(SigV4Error::IncompleteSignature(format!(
                "Authorization header repeats the '{key}' parameter."
            )));
        }
    }
    let missing: Vec<String> = [
        ("Credential", credential),
        ("SignedHeaders", signed_headers),
        ("Signature", signature),
    ]
    .iter()
    .filter(|(_, v)| v.is_none())
    .map(|(k, _)| format!("Authorization header requires '{k}' parameter."))
    .collect();
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(SigV4Error::IncompleteSignature(missing.join(" ")));
    };
    Ok(AuthorizationHeader {
        credential: Credential::parse(credential, "The Authorization header's Credential")?,
        signed_headers: parse_signed_headers(signed_headers)?,
        signature: parse_signature(signature)?,
    })
}

/// `host;x-amz-date`: lower-case header names, sorted, unique, separated by `;`.
pub(crate) fn parse_signed_headers(value: &str) -> Result<Vec<String>, SigV4Error> {
    let bad = |why: &str| SigV4Error::IncompleteSignature(format!("SignedHeaders {why}."));
    if value.is_empty() {
        return Err(bad("must name at least the 'host' header"));
    }
    let mut names: Vec<String> = Vec::new();
    for name in value.split(';') {
        if names.len() >= MAX_SIGNED_HEADERS {
            return Err(bad(&format!(
                "names more than {MAX_SIGNED_HEADERS} headers"
            )));
        }
        if name.is_empty() || !name.bytes().all(is_lower_token_byte) {
            return Err(bad("must be lower-case header names separated by ';'"));
        }
        if names.last().is_some_and(|prev| prev.as_str() >= name) {
            return Err(bad("must be sorted and free of duplicates"));
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

/// An RFC 9110 token byte that is not an upper-case letter.
fn is_lower_token_byte(b: u8) -> bool {
    b.is_ascii_lowercase()
        || b.is_ascii_digit()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

fn parse_signature(value: &str) -> Result<[u8; 32], SigV4Error> {
    decode_hex32_lower(value).ok_or_else(|| {
        SigV4Error::IncompleteSignature(
            "Signature must be 64 lower-case hexadecimal characters.".to_owned(),
        )
    })
}

/// The authentication parameters of a presigned URL.
#[derive(Clone)]
pub(crate) struct PresignParams {
    pub(crate) credential: Credential,
    pub(crate) amz_date: String,
    pub(crate) expires_secs: u32,
    pub(crate) signed_headers: Vec<String>,
    pub(crate) signature: [u8; 32],
    pub(crate) session_token: Option<String>,
}

/// The query parameters that carry presigned authentication.
pub(crate) const PRESIGN_PARAMS: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
];

/// Whether the query carries presigned authentication (any of the identifying parameters).
pub(crate) fn is_presigned(query: &[QueryParam]) -> bool {
    query.iter().any(|p| {
        [
            &b"X-Amz-Algorithm"[..],
            b"X-Amz-Credential",
            b"X-Amz-Signature",
        ]
        .contains(&p.key.as_slice())
    })
}

/// Reads and checks the `X-Amz-*` parameters of a presigned URL.
pub(crate) fn parse_presign_params(
    query: &[QueryParam],
    max_expires: u32,
) -> Result<PresignParams, SigV4Error> {
    let mut found: [Option<&str>; 7] = [None; 7];
    for p in query {
        let Some(i) = PRESIGN_PARAMS
            .iter()
            .position(|n| n.as_bytes() == p.key.as_slice())
        else {
            continue;
        };
        let value = std::str::from_utf8(&p.value).map_err(|_| {
            SigV4Error::InvalidParameterValue(format!(
                "Query parameter {} is not valid UTF-8.",
                PRESIGN_PARAMS[i]
            ))
        })?;
        if found[i].replace(value).is_some() {
            return Err(SigV4Error::InvalidParameterValue(format!(
                "Query parameter {} appears more than once.",
                PRESIGN_PARAMS[i]
            )));
        }
    }
    let [algorithm, credential, date, expires, signed_headers, signature, token] = found;
    let missing: Vec<&str> = PRESIGN_PARAMS[..6]
        .iter()
        .zip(&found[..6])
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| *k)
        .collect();
    let (
        Some(algorithm),
        Some(credential),
        Some(date),
        Some(expires),
        Some(signed_headers),
        Some(signature),
    ) = (
        algorithm,
        credential,
        date,
        expires,
        signed_headers,
        signature,
    )
    else {
        return Err(SigV4Error::IncompleteSignature(format!(
            "Query-string authentication requires the {} parameter(s).",
            missing.join(", ")
        )));
    };
    if algorithm != ALGORITHM {
        return Err(SigV4Error::IncompleteSignature(format!(
            "X-Amz-Algorithm only supports '{ALGORITHM}'."
        )));
    }
    let session_token = match token {
        Some(t) if t.is_empty() || t.len() > MAX_SESSION_TOKEN_LEN => {
            return Err(SigV4Error::InvalidParameterValue(format!(
                "X-Amz-Security-Token must be 1 to {MAX_SESSION_TOKEN_LEN} bytes long."
            )))
        }
        t => t.map(str::to_owned),
    };
    Ok(PresignParams {
        credential: Credential::parse(credential, "X-Amz-Credential")?,
        amz_date: date.to_owned(),
        expires_secs: parse_expires(expires, max_expires)?,
        signed_headers: parse_signed_headers(signed_headers)?,
        signature: parse_signature(signature)?,
        session_token,
    })
}

/// `X-Amz-Expires`: a whole number of seconds from 1 to `max` (at most one week).
pub(crate) fn parse_expires(value: &str, max: u32) -> Result<u32, SigV4Error> {
    let max = max.min(MAX_PRESIGN_EXPIRES_SECS);
    if value.is_empty() || value.len() > 10 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SigV4Error::InvalidParameterValue(format!(
            "X-Amz-Expires must be a whole number of seconds from 1 to {max}."
        )));
    }
    match value.parse::<u64>() {
        Ok(n) if n >= 1 && n <= u64::from(max) => {
            u32::try_from(n).map_err(|_| expires_range(max, n))
        }
        Ok(n) => Err(expires_range(max, n)),
        Err(_) => Err(expires_range(max, u64::MAX)),
    }
}

fn expires_range(max: u32, got: u64) -> SigV4Error {
    SigV4Error::InvalidParameterValue(format!(
        "X-Amz-Expires must be from 1 to {max} seconds (a week is {MAX_PRESIGN_EXPIRES_SECS}), not {got}."
    ))
}
