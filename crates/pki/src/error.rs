//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong in the certificate authority, the TLS configs and join tokens.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// A SPIFFE id, trust domain or zone name that does not have the expected shape.
    #[error("invalid identity {input:?}: {reason}")]
    InvalidIdentity {
        /// The refused input (at most 128 characters of it).
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An install id that cannot name a CA.
    #[error("invalid install id {0:?}: use 1 to 48 characters of A-Z, a-z, 0-9, '.', '_' and '-'")]
    InvalidInstallId(String),
    /// A certificate signing request that cannot be parsed.
    #[error("malformed certificate signing request: {0}")]
    MalformedCsr(String),
    /// A CSR whose signature does not verify with the key it carries.
    #[error("certificate signing request signature does not verify: the request was not signed by the key it carries")]
    CsrSignature,
    /// An RSA key that is too short.
    #[error("RSA key of {bits} bits refused: at least 2048 bits are required")]
    WeakKey {
        /// The modulus length.
        bits: usize,
    },
    /// A public key of a type the CA does not issue for.
    #[error("unsupported public key type ({0}): use ECDSA P-256 or P-384, Ed25519, or RSA of 2048 to 8192 bits")]
    UnsupportedKey(String),
    /// DNS or IP subject alternative names asked for an identity that may not carry them.
    #[error("{0} certificates carry only their SPIFFE id; DNS and IP names are for server and service certificates")]
    SanNotAllowed(&'static str),
    /// A DNS name that is not a valid host name (wildcards are never issued).
    #[error("invalid DNS name {0:?} for a certificate: expected a host name without wildcards")]
    InvalidDnsName(String),
    /// A certificate lifetime outside the allowed range.
    #[error("certificate lifetime refused: {0}")]
    Lifetime(String),
    /// A CA certificate or key that cannot be used.
    #[error("unusable CA: {0}")]
    InvalidCa(String),
    /// PEM or DER input that could not be decoded.
    #[error("could not decode {what}: {detail}")]
    Decode {
        /// What was being decoded ("certificate", "private key", …).
        what: &'static str,
        /// Why it failed.
        detail: String,
    },
    /// An error from the certificate encoder.
    #[error("certificate encoding failed: {0}")]
    Encode(#[from] rcgen::Error),
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// A TLS configuration that rustls refused.
    #[error("TLS configuration refused: {0}")]
    Tls(#[from] rustls::Error),
    /// The TLS peer presented no certificate.
    #[error("the peer presented no certificate")]
    NoPeerCertificate,
    /// The peer's certificate carries no usable SPIFFE id.
    #[error("peer certificate has no usable identity: {0}")]
    PeerIdentity(String),
    /// The peer's certificate names someone other than the expected peer.
    #[error("peer identity {found} is not the expected {expected}")]
    WrongIdentity {
        /// The identity the caller asked for.
        expected: String,
        /// The identity the peer's certificate names.
        found: String,
    },
    /// A private key file that others can read.
    #[error(
        "private key file {path} has mode {mode:04o} and is readable by group or others; \
         run `chmod 600 {path}` (and `chmod 700` on its directory), then start again"
    )]
    KeyFilePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A key directory that others can write to.
    #[error("directory {path} has mode {mode:04o} and is writable by group or others; run `chmod 700 {path}`")]
    KeyDirPermissions {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("read", "write", …).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A join token whose text is not a join token (or is too long to be one).
    #[error("malformed join token: {0}")]
    MalformedJoinToken(&'static str),
    /// A join token whose secret does not match (tampered, or another token's id).
    #[error("join token is not valid")]
    JoinTokenInvalid,
    /// A join token past its expiry.
    #[error("join token expired")]
    JoinTokenExpired,
    /// A join token that was already used once.
    #[error("join token was already used")]
    JoinTokenUsed,
    /// A join token presented for a scope it was not issued for.
    #[error("join token was issued for {issued}, not for {requested}")]
    JoinTokenScope {
        /// The scope the token was issued for.
        issued: String,
        /// The scope it was presented for.
        requested: String,
    },
}

/// Cuts untrusted input down for an error message.
pub(crate) fn truncated(s: &str) -> String {
    s.chars().take(128).collect()
}
