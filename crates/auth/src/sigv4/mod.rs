//! SigV4 (AWS4-HMAC-SHA256) request verification, server side, and the matching client signer.
//!
//! Verification is sans-IO and happens in two steps so the caller can look the secret up in
//! between:
//!
//! 1. [`parse_request`] reads the `Authorization` header (or the `X-Amz-*` query parameters of a
//!    presigned URL), checks everything that needs no secret (algorithm, credential scope,
//!    which headers are signed, the date, the payload hash) and builds the canonical request
//!    and the string to sign.
//! 2. [`ParsedRequest::verify`] derives the signing key from the secret, compares signatures in
//!    constant time, then checks the request time against `now`. For an access key that does
//!    not exist, [`ParsedRequest::reject_unknown_key`] spends the same HMAC work and refuses.
//!
//! The canonicalisation follows AWS's published rules and test suite. Paths are normalised
//! (`.`/`..` removed, repeated slashes collapsed) and every byte except the unreserved set is
//! percent-encoded again, so an already encoded path is encoded twice; for `s3` the path is
//! neither normalised nor double-encoded ([`PathMode`]). The query is decoded (`%XX` only, `+` is
//! a literal plus), strictly re-encoded and sorted by encoded key, then value.
//!
//! Hard rules on top of AWS's: `host` must always be signed; `x-amz-date`, `date` (when it gives
//! the request time), `x-amz-security-token`, `x-amz-content-sha256` and `content-type` must be
//! signed whenever present (the server acts on them); a header named in `SignedHeaders` but
//! absent from the request is an `IncompleteSignature`, not a hash mismatch; `UNSIGNED-PAYLOAD`
//! is refused unless [`VerifierConfig::allow_unsigned_payload`] is set. No error message and no
//! `Debug` output carries a signature, a signing key, a secret or a session token.

mod canonical;
mod date;
mod derived;
mod encode;
mod error;
mod header;
mod sign;
mod verify;

#[cfg(test)]
mod tests;

use std::fmt;

pub use canonical::{canonical_request, string_to_sign, CanonicalOptions};
pub use derived::{DerivedKeys, ScopedKey};
pub use encode::{canonical_query_string, canonical_uri, uri_encode};
pub use error::SigV4Error;
pub use header::{parse_authorization_header, AuthorizationHeader, Credential};
pub use sign::{
    presign_url, sign_request, PayloadSigning, PresignedUrl, SignedRequest, SigningParams,
};
pub use verify::{parse_request, ParsedRequest, VerifiedRequest, VerifierConfig};

/// The only signing algorithm accepted and produced.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The payload hash a client sends when it does not sign the body.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// The fixed last element of every credential scope.
pub const SCOPE_TERMINATOR: &str = "aws4_request";
/// The longest `X-Amz-Expires` AWS allows for a presigned URL: seven days.
pub const MAX_PRESIGN_EXPIRES_SECS: u32 = 604_800;
/// The longest `Authorization` header value parsed; longer ones are refused before any work.
pub const MAX_AUTHORIZATION_LEN: usize = 8 * 1024;
/// The longest `X-Amz-Credential` / `Credential=` value parsed.
pub const MAX_CREDENTIAL_LEN: usize = 512;
/// The most header names one `SignedHeaders` list may carry.
pub const MAX_SIGNED_HEADERS: usize = 128;
/// The longest session token accepted (STS tokens are a few KiB at most).
pub const MAX_SESSION_TOKEN_LEN: usize = 16 * 1024;

/// An HTTP request as it arrived, borrowed from the server's own request type.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    /// The method, e.g. `GET`.
    pub method: &'a str,
    /// The raw path as on the wire (still percent-encoded), without the query.
    pub path: &'a str,
    /// The raw query as on the wire, without the leading `?` (empty when there is none).
    pub query: &'a str,
    /// Every header in arrival order, duplicates kept, names in any case.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The body exactly as received.
    pub body: &'a [u8],
}

/// Where the signature travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureKind {
    /// In the `Authorization` header.
    Header,
    /// In the query string (`X-Amz-Signature`): a presigned URL.
    Presigned,
}

/// How the canonical URI is derived from the path on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PathMode {
    /// Remove `.` and `..` segments and collapse repeated slashes first.
    pub normalize: bool,
    /// Percent-encode every byte of the wire path again (so `%20` becomes `%2520`); when false,
    /// `%XX` escapes are decoded and the result encoded once.
    pub double_encode: bool,
}

impl PathMode {
    /// What every AWS service except S3 does: normalise, then encode the wire path again.
    pub const STANDARD: Self = Self {
        normalize: true,
        double_encode: true,
    };
    /// What S3 does: the path as sent, encoded once.
    pub const S3: Self = Self {
        normalize: false,
        double_encode: false,
    };

    /// The mode AWS uses for `service` (the service name of the credential scope).
    pub fn for_service(service: &str) -> Self {
        if service == "s3" {
            Self::S3
        } else {
            Self::STANDARD
        }
    }
}

/// The credential scope: the day, region and service a signing key is valid for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CredentialScope {
    date: time::Date,
    region: String,
    service: String,
}

impl CredentialScope {
    /// A scope; `region` and `service` must be 1 to 64 characters of `[A-Za-z0-9._-]`.
    pub fn new(date: time::Date, region: &str, service: &str) -> Result<Self, SigV4Error> {
        for (what, value) in [("region", region), ("service", service)] {
            if !is_scope_name(value) {
                return Err(SigV4Error::IncompleteSignature(format!(
                    "Credential scope {what} must be 1 to 64 characters of letters, digits, '.', '_' or '-'."
                )));
            }
        }
        Ok(Self {
            date,
            region: region.to_owned(),
            service: service.to_owned(),
        })
    }

    /// The day the scope is valid for.
    pub fn date(&self) -> time::Date {
        self.date
    }

    /// The region, e.g. `us-east-1`.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The service name, e.g. `ec2`.
    pub fn service(&self) -> &str {
        &self.service
    }
}

impl fmt::Display for CredentialScope {
    /// `YYYYMMDD/region/service/aws4_request`, as it appears in the string to sign.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{SCOPE_TERMINATOR}",
            date::format_scope_date(self.date),
            self.region,
            self.service
        )
    }
}

fn is_scope_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
