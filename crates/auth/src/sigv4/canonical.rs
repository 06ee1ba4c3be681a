//! The canonical request, the string to sign and the signing key.

use aws_lc_rs::{digest, hmac};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::date::{format_amz_date, format_scope_date};
use super::encode::{canonical_uri, hex_lower, join_sorted, parse_query, QueryParam};
use super::{
    CredentialScope, HttpRequest, PathMode, SigV4Error, SignatureKind, ALGORITHM, SCOPE_TERMINATOR,
};

pub(crate) const SECURITY_TOKEN_HEADER: &str = "x-amz-security-token";
pub(crate) const SECURITY_TOKEN_PARAM: &str = "X-Amz-Security-Token";
pub(crate) const SIGNATURE_PARAM: &str = "X-Amz-Signature";
const REDACTED: &str = "<redacted>";

/// What, besides the request itself, the canonical request is built from.
#[derive(Debug, Clone, Copy)]
pub struct CanonicalOptions<'a> {
    /// How the path becomes the canonical URI.
    pub path_mode: PathMode,
    /// The signed header names: lower-case, sorted, no duplicates.
    pub signed_headers: &'a [&'a str],
    /// The payload hash line: hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
    pub payload_hash: &'a str,
    /// [`SignatureKind::Presigned`] leaves `X-Amz-Signature` out of the canonical query.
    pub kind: SignatureKind,
}

/// A canonical request kept in parts, so it can be rendered with the session token redacted.
#[derive(Debug, Clone)]
pub(crate) struct CanonicalRequest {
    method: String,
    uri: String,
    /// Encoded `(key, value)` pairs, sorted.
    query: Vec<(String, String)>,
    /// `(name, canonical value)` in signed-header order.
    headers: Vec<(String, String)>,
    payload_hash: String,
}

impl CanonicalRequest {
    /// Builds the canonical request of `req`, reusing an already parsed query.
    pub(crate) fn build(
        req: &HttpRequest<'_>,
        query: &[QueryParam],
        opts: &CanonicalOptions<'_>,
    ) -> Result<Self, SigV4Error> {
        let uri = canonical_uri(req.path, opts.path_mode)?;
        let mut pairs: Vec<(String, String)> = query
            .iter()
            .filter(|p| {
                !(opts.kind == SignatureKind::Presigned && p.key == SIGNATURE_PARAM.as_bytes())
            })
            .map(|p| (p.enc_key.clone(), p.enc_value.clone()))
            .collect();
        pairs.sort_unstable();
        let mut headers = Vec::with_capacity(opts.signed_headers.len());
        for &name in opts.signed_headers {
            headers.push((name.to_owned(), canonical_header_value(req.headers, name)?));
        }
        Ok(Self {
            method: req.method.to_owned(),
            uri,
            query: pairs,
            headers,
            payload_hash: opts.payload_hash.to_owned(),
        })
    }

    /// The canonical request text; with `redact`, session-token values become `<redacted>`.
    pub(crate) fn render(&self, redact: bool) -> String {
        let query = join_sorted(self.query.iter().map(|(k, v)| {
            let v = if redact && k == SECURITY_TOKEN_PARAM {
                REDACTED
            } else {
                v.as_str()
            };
            (k.as_str(), v)
        }));
        let mut out = String::with_capacity(256 + query.len());
        for part in [&self.method, &self.uri, &query] {
            out.push_str(part);
            out.push('\n');
        }
        for (name, value) in &self.headers {
            let value = if redact && name == SECURITY_TOKEN_HEADER {
                REDACTED
            } else {
                value.as_str()
            };
            out.push_str(name);
            out.push(':');
            out.push_str(value);
            out.push('\n');
        }
        out.push('\n');
        for (i, (name, _)) in self.headers.iter().enumerate() {
            if i > 0 {
                out.push(';');
            }
            out.push_str(name);
        }
        out.push('\n');
        out.push_str(&self.payload_hash);
        out
    }
}

/// The canonical request of `req` as text.
pub fn canonical_request(
    req: &HttpRequest<'_>,
    opts: &CanonicalOptions<'_>,
) -> Result<String, SigV4Error> {
    let query = parse_query(req.query, usize::MAX)?;
    Ok(CanonicalRequest::build(req, &query, opts)?.render(false))
}

/// All values of header `name` (lower-case) in arrival order, each trimmed and with runs of
/// blanks and obs-fold line breaks folded into one space, joined with `,`.
pub(crate) fn canonical_header_value(
    headers: &[(&str, &[u8])],
    name: &str,
) -> Result<String, SigV4Error> {
    let mut out = String::new();
    let mut found = false;
    for (_, value) in headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)) {
        if found {
            out.push(',');
        }
        found = true;
        fold_value(&mut out, value, name)?;
    }
    if !found {
        return Err(SigV4Error::IncompleteSignature(format!(
            "SignedHeaders names '{name}' but the request has no such header."
        )));
    }
    Ok(out)
}

/// Appends the trimmed, folded form of one header value. Values must be UTF-8 without control
/// characters other than tab; a CR LF (or LF) is allowed only as an obs-fold, followed by a
/// space or tab.
fn fold_value(out: &mut String, value: &[u8], name: &str) -> Result<(), SigV4Error> {
    let text = std::str::from_utf8(value).map_err(|_| {
        SigV4Error::InvalidParameterValue(format!(
            "The value of header '{name}' is not valid UTF-8."
        ))
    })?;
    // The value is not echoed: it may be the session token.
    let bad = || {
        SigV4Error::InvalidParameterValue(format!(
            "The value of header '{name}' contains a control character."
        ))
    };
    let start = out.len();
    let mut blank = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => blank = true,
            '\r' | '\n' => {
                if c == '\r' && chars.next() != Some('\n') {
                    return Err(bad());
                }
                if !matches!(chars.peek(), Some(' ' | '\t')) {
                    return Err(bad());
                }
                blank = true;
            }
            c if c.is_ascii_control() => return Err(bad()),
            c => {
                if blank && out.len() > start {
                    out.push(' ');
                }
                blank = false;
                out.push(c);
            }
        }
    }
    Ok(())
}

/// Lower-case hex SHA-256 of `data`.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex_lower(digest::digest(&digest::SHA256, data).as_ref())
}

/// The string to sign: algorithm, request time, scope and the hash of the canonical request.
pub fn string_to_sign(
    canonical_request: &str,
    request_time: OffsetDateTime,
    scope: &CredentialScope,
) -> String {
    format!(
        "{ALGORITHM}\n{}\n{scope}\n{}",
        format_amz_date(request_time),
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The derived signing key; never printed.
#[derive(Clone)]
pub(crate) struct SigningKey(hmac::Key);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

impl SigningKey {
    /// kSecret = "AWS4" + secret, then HMAC over date, region, service and `aws4_request`.
    pub(crate) fn derive(secret: &str, scope: &CredentialScope) -> Self {
        let mut k = Zeroizing::new(Vec::with_capacity(4 + secret.len()));
        k.extend_from_slice(b"AWS4");
        k.extend_from_slice(secret.as_bytes());
        let date = format_scope_date(scope.date());
        for part in [
            date.as_str(),
            scope.region(),
            scope.service(),
            SCOPE_TERMINATOR,
        ] {
            let key = hmac::Key::new(hmac::HMAC_SHA256, &k);
            let tag = hmac::sign(&key, part.as_bytes());
            k.clear();
            k.extend_from_slice(tag.as_ref());
        }
        Self(hmac::Key::new(hmac::HMAC_SHA256, &k))
    }

    /// The raw 32-byte signature of `string_to_sign`.
    pub(crate) fn sign(&self, string_to_sign: &str) -> [u8; 32] {
        let tag = hmac::sign(&self.0, string_to_sign.as_bytes());
        let mut out = [0u8; 32];
        for (o, t) in out.iter_mut().zip(tag.as_ref()) {
            *o = *t;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(v: &str) -> Result<String, SigV4Error> {
        let mut out = String::new();
        fold_value(&mut out, v.as_bytes(), "x").map(|()| out)
    }

    #[test]
    fn header_values_are_trimmed_and_folded() {
        assert_eq!(fold("  a   b\t\tc  ").unwrap(), "a b c");
        assert_eq!(
            fold("value1\r\n  value2\n\tvalue3").unwrap(),
            "value1 value2 value3"
        );
        assert_eq!(fold("\"a   b   c\"").unwrap(), "\"a b c\"");
        assert_eq!(fold("").unwrap(), "");
        assert_eq!(fold("   ").unwrap(), "");
    }

    #[test]
    fn header_values_refuse_injection() {
        for v in ["a\r\nb", "a\rb", "a\nb", "a\0b", "a\r\n", "a\x7f", "a\x0bb"] {
            assert_eq!(
                fold(v).unwrap_err().code(),
                "InvalidParameterValue",
                "{v:?}"
            );
        }
        let mut out = String::new();
        assert!(fold_value(&mut out, b"\xff", "x").is_err());
    }

    #[test]
    fn repeated_headers_join_in_arrival_order() {
        let headers: [(&str, &[u8]); 4] = [
            ("My-Header1", b"value4"),
            ("x", b"y"),
            ("my-header1", b" value1 "),
            ("MY-HEADER1", b""),
        ];
        assert_eq!(
            canonical_header_value(&headers, "my-header1").unwrap(),
            "value4,value1,"
        );
        assert_eq!(
            canonical_header_value(&headers, "absent")
                .unwrap_err()
                .code(),
            "IncompleteSignature"
        );
    }

    #[test]
    fn signing_key_matches_aws_documentation_example() {
        // The worked example of AWS's "Examples of how to derive a signing key for SigV4".
        let date = time::macros::date!(2012 - 02 - 15);
        let scope = CredentialScope::new(date, "us-east-1", "iam").unwrap();
        let key = SigningKey::derive("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &scope);
        // Sign the empty string and compare with an independent derivation done by hand.
        let mut k = b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_vec();
        for part in ["20120215", "us-east-1", "iam", "aws4_request"] {
            k = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &k), part.as_bytes())
                .as_ref()
                .to_vec();
        }
        assert_eq!(
            hex_lower(&k),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
        let direct = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &k), b"");
        assert_eq!(key.sign("").as_slice(), direct.as_ref());
    }
}
