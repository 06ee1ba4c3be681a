//! Underpass PKI: the control plane's certificate authority (issue, renew, revoke, CRLs), SPIFFE
//! identities, join tokens, and the rustls configs the data plane uses. No async runtime, no
//! network I/O; file I/O only in [`fs`].
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod base64;
mod ca;
mod error;
#[cfg(unix)]
pub mod fs;
mod identity;
mod issue;
mod join;
mod revocation;
mod serial;
mod tls;
mod verify;

pub use ca::{CertificateAuthority, Crl, RevokedCert, BACKDATE, CA_VALIDITY};
pub use error::PkiError;
pub use identity::{SpiffeId, TrustDomain, ZoneName, DEFAULT_TRUST_DOMAIN, MAX_SPIFFE_ID_LEN};
pub use issue::{
    renew_at, IssuedCert, LeafKey, LeafSpec, DEFAULT_LEAF_LIFETIME, MAX_CSR_LEN, MAX_LEAF_LIFETIME,
};
pub use join::{
    JoinRole, JoinScope, JoinToken, JoinTokenId, JoinTokenText, StoredJoinToken, JOIN_TOKEN_PREFIX,
    MAX_JOIN_TOKEN_LEN,
};
pub use revocation::{serials_from_crl, RevocationSet};
pub use serial::Serial;
pub use tls::{
    cert_identity, client_config, expect_identity, handshake_failure_hint, peer_identity,
    server_config, trust_roots, ClientAuth, TlsCredentials, TlsOptions, TlsVersions,
};
pub use verify::{ClientVerifier, ServerNameCheck, ServerVerifier};

/// Fills `buf` from the system's secure random number generator.
pub(crate) fn random_fill(buf: &mut [u8]) -> Result<(), PkiError> {
    aws_lc_rs::rand::fill(buf).map_err(|_| PkiError::Random)
}
