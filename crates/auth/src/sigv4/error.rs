//! The one error type of SigV4 verification and signing, with AWS's codes and statuses.

/// Why a request was refused (or could not be signed).
///
/// Messages follow AWS's wording where AWS has one. None of them, and no `Debug` output, carries
/// the computed or provided signature, a signing key, a secret or a session token: the canonical
/// request in [`SigV4Error::SignatureDoesNotMatch`] has the token replaced by `<redacted>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigV4Error {
    /// Neither an `Authorization` header nor presigned `X-Amz-*` query parameters.
    #[error("Request is missing Authentication Token")]
    MissingAuthenticationToken,
    /// A part of the signature is missing or malformed, or a header that must be signed is not;
    /// the message names the part.
    #[error("{0}")]
    IncompleteSignature(String),
    /// The signature does not match the one computed with the looked-up secret.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'{canonical_request}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
    )]
    SignatureDoesNotMatch {
        /// The canonical request the server computed (session token redacted).
        canonical_request: String,
        /// The string to sign the server computed.
        string_to_sign: String,
    },
    /// The credential scope names the wrong day, region or service (AWS answers these with
    /// `SignatureDoesNotMatch` and a specific message).
    #[error("{0}")]
    ScopeMismatch(String),
    /// The access key id is not known; returned by [`super::ParsedRequest::reject_unknown_key`].
    #[error("The security token included in the request is invalid.")]
    InvalidClientTokenId,
    /// The access key id is not even well formed (EC2's `AuthFailure`).
    #[error("AWS was not able to validate the provided access credentials")]
    AuthFailure,
    /// The request time is too far from the server's clock, or a presigned URL has expired.
    #[error("Request has expired. {0}")]
    RequestExpired(String),
    /// `x-amz-content-sha256` is not the SHA-256 of the body that arrived.
    #[error(
        "The provided 'x-amz-content-sha256' header does not match what was computed. Client computed: {claimed}, server computed: \"{computed}\"."
    )]
    ContentSha256Mismatch {
        /// The header's value.
        claimed: String,
        /// The SHA-256 of the received body, lower-case hex.
        computed: String,
    },
    /// A malformed parameter: a bad `X-Amz-Expires`, a broken `%` escape, a repeated
    /// authentication parameter, a control character in a signed header, a limit passed.
    #[error("{0}")]
    InvalidParameterValue(String),
}

impl SigV4Error {
    /// The AWS error code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationToken",
            Self::IncompleteSignature(_) => "IncompleteSignature",
            Self::SignatureDoesNotMatch { .. } | Self::ScopeMismatch(_) => "SignatureDoesNotMatch",
            Self::InvalidClientTokenId => "InvalidClientTokenId",
            Self::AuthFailure => "AuthFailure",
            Self::RequestExpired(_) => "RequestExpired",
            Self::ContentSha256Mismatch { .. } => "XAmzContentSHA256Mismatch",
            Self::InvalidParameterValue(_) => "InvalidParameterValue",
        }
    }

    /// The HTTP status to answer with.
    ///
    /// `RequestExpired` is 403 as RELIABILITY item 1 asks (AWS's common-errors page says 400);
    /// `AuthFailure` is 401 as in EC2.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::MissingAuthenticationToken
            | Self::SignatureDoesNotMatch { .. }
            | Self::ScopeMismatch(_)
            | Self::InvalidClientTokenId
            | Self::RequestExpired(_) => 403,
            Self::AuthFailure => 401,
            Self::IncompleteSignature(_)
            | Self::ContentSha256Mismatch { .. }
            | Self::InvalidParameterValue(_) => 400,
        }
    }
}

/// Quotes attacker-controlled text for a message: escaped and cut to 64 characters.
///
/// Only for text that cannot hold a secret: parts of the `Authorization` header and the values
/// of `X-Amz-Date`, `Date` and `x-amz-content-sha256` headers. Query text is never echoed (one
/// `&` changed and a parameter absorbs its neighbour, the session token), nor are other header
/// values (one of them is the token).
pub(crate) fn quoted(s: &str) -> String {
    const MAX: usize = 64;
    let mut cut: String = s.chars().take(MAX).collect();
    if cut.len() < s.len() {
        cut.push('…');
    }
    format!("{cut:?}")
}
