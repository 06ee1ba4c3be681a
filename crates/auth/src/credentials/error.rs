//! Errors of credential management and authentication.

use crate::sigv4::SigV4Error;

/// Everything that can go wrong with credentials, each with the AWS error code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The SigV4 layer refused the request.
    #[error(transparent)]
    Signature(#[from] SigV4Error),
    /// The access key id is unknown, malformed or inactive (the caller learns no more than that).
    #[error("The security token included in the request is invalid.")]
    InvalidClientTokenId,
    /// A temporary (`ASIA…`) key was used without `X-Amz-Security-Token`, or a long-term key with one.
    #[error("The security token included in the request is invalid: {0}")]
    SessionTokenMismatch(&'static str),
    /// The session token has passed its expiry time.
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// A user already holds the maximum number of access keys.
    #[error("Cannot exceed quota for AccessKeysPerUser: {0}")]
    LimitExceeded(usize),
    /// No such access key (for this user).
    #[error("The Access Key with id {0} cannot be found.")]
    NoSuchEntity(String),
    /// A parameter is out of range or malformed.
    #[error("{0}")]
    Validation(String),
    /// The trust policy of the role does not allow the caller to assume it.
    #[error("User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role}")]
    AccessDenied {
        /// The caller's ARN.
        caller: String,
        /// The role's ARN.
        role: String,
    },
    /// `GetSessionToken` was called with credentials that may not ask for a session (a role
    /// session, or a session itself).
    #[error("{0}")]
    SessionNotAllowed(String),
    /// A sealed value could not be opened: wrong master key, or tampered data.
    #[error("sealed credential could not be opened: {0}")]
    Unseal(&'static str),
    /// The master key given in configuration is not 32 bytes of base64.
    #[error("master key must be 32 bytes, base64-encoded: {0}")]
    BadMasterKey(&'static str),
    /// The operating system's random generator failed.
    #[error("the system random generator failed")]
    Random,
}

impl CredentialError {
    /// The AWS error code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Signature(e) => e.code(),
            Self::InvalidClientTokenId | Self::SessionTokenMismatch(_) => "InvalidClientTokenId",
            Self::ExpiredToken => "ExpiredToken",
            Self::LimitExceeded(_) => "LimitExceeded",
            Self::NoSuchEntity(_) => "NoSuchEntity",
            Self::Validation(_) => "ValidationError",
            Self::AccessDenied { .. } | Self::SessionNotAllowed(_) => "AccessDenied",
            Self::Unseal(_) | Self::BadMasterKey(_) | Self::Random => "InternalFailure",
        }
    }

    /// The HTTP status AWS answers this error with.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Signature(e) => e.http_status(),
            Self::InvalidClientTokenId
            | Self::SessionTokenMismatch(_)
            | Self::ExpiredToken
            | Self::AccessDenied { .. }
            | Self::SessionNotAllowed(_) => 403,
            Self::LimitExceeded(_) | Self::Validation(_) => 400,
            Self::NoSuchEntity(_) => 404,
            Self::Unseal(_) | Self::BadMasterKey(_) | Self::Random => 500,
        }
    }
}
