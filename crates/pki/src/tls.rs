//! rustls configs for the data plane and the control plane, and reading the peer's identity.

use std::sync::Arc;

use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::NoServerSessionStorage;
use rustls::{
    CertificateError, ClientConfig, CommonState, Error, RootCertStore, ServerConfig,
    SupportedProtocolVersion,
};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::error::{truncated, PkiError};
use crate::identity::SpiffeId;
use crate::revocation::RevocationSet;
use crate::serial::Serial;
use crate::verify::{ClientVerifier, ServerNameCheck, ServerVerifier};

/// Which TLS versions a config speaks. Nothing older than 1.2 is ever offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsVersions {
    /// TLS 1.3 only (the default).
    #[default]
    Tls13Only,
    /// TLS 1.2 and 1.3, for peers that cannot do 1.3 (ECDHE + AEAD suites only).
    Tls12And13,
}

impl TlsVersions {
    fn rustls(self) -> &'static [&'static SupportedProtocolVersion] {
        static TLS13_ONLY: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
        static TLS12_AND_13: [&SupportedProtocolVersion; 2] =
            [&rustls::version::TLS13, &rustls::version::TLS12];
        match self {
            Self::Tls13Only => &TLS13_ONLY,
            Self::Tls12And13 => &TLS12_AND_13,
        }
    }
}

/// Whether a server demands a client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Every client must present a valid, unrevoked certificate from our CA (tunnels, agents).
    Required,
    /// No client certificate is asked for (the public API, enrollment with a join token).
    None,
}

/// Settings shared by server and client configs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// The TLS versions allowed.
    pub versions: TlsVersions,
    /// ALPN protocols, most preferred first; empty for none.
    pub alpn: Vec<Vec<u8>>,
}

/// A certificate chain (leaf first) and its private key.
#[derive(Debug)]
pub struct TlsCredentials {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl TlsCredentials {
    /// Credentials from a chain (leaf first) and its key.
    pub fn new(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Self {
        Self { chain, key }
    }

    /// Credentials from a PEM chain (leaf first) and a PEM private key.
    pub fn from_pem(chain_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let chain = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| PkiError::Decode {
                what: "certificate chain",
                detail: e.to_string(),
            })?;
        if chain.is_empty() {
            return Err(PkiError::Decode {
                what: "certificate chain",
                detail: "no CERTIFICATE block found".into(),
            });
        }
        let key =
            PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| PkiError::Decode {
                what: "private key",
                detail: e.to_string(),
            })?;
        Ok(Self { chain, key })
    }

    /// The certificate chain, leaf first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The chain and the key, for building a rustls config by hand.
    pub fn into_parts(self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        (self.chain, self.key)
    }
}

impl Clone for TlsCredentials {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

/// A root store holding our CA certificates (two of them while a CA rotation overlaps).
pub fn trust_roots<'a>(
    ca_certs: impl IntoIterator<Item = &'a CertificateDer<'static>>,
) -> Result<Arc<RootCertStore>, PkiError> {
    let mut roots = RootCertStore::empty();
    for cert in ca_certs {
        roots.add(cert.clone())?;
    }
    if roots.is_empty() {
        return Err(PkiError::InvalidCa("no CA certificate to trust".into()));
    }
    Ok(Arc::new(roots))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A server config: our certificate, client certificates checked against `roots` and the live
/// `revocations` (if required), only the allowed TLS versions, and no session resumption.
///
/// Resumption is off so that every connection runs the full certificate check: a resumed
/// session would skip it, letting a revoked or expired client back in.
pub fn server_config(
    credentials: TlsCredentials,
    roots: Arc<RootCertStore>,
    revocations: &RevocationSet,
    client_auth: ClientAuth,
    options: &TlsOptions,
) -> Result<ServerConfig, PkiError> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(options.versions.rustls())?;
    let builder = match client_auth {
        ClientAuth::Required => builder.with_client_cert_verifier(ClientVerifier::new(
            roots,
            revocations.clone(),
            provider,
        )?),
        ClientAuth::None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(credentials.chain, credentials.key)?;
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    config.alpn_protocols = options.alpn.clone();
    Ok(config)
}

/// A client config: the server checked against `roots`, `name_check` and the live
/// `revocations`; our certificate if given; only the allowed TLS versions; no resumption.
pub fn client_config(
    credentials: Option<TlsCredentials>,
    roots: Arc<RootCertStore>,
    revocations: &RevocationSet,
    name_check: ServerNameCheck,
    options: &TlsOptions,
) -> Result<ClientConfig, PkiError> {
    let provider = provider();
    let verifier = ServerVerifier::new(roots, revocations.clone(), name_check, &provider);
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(options.versions.rustls())?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match credentials {
        Some(c) => builder.with_client_auth_cert(c.chain, c.key)?,
        None => builder.with_no_client_auth(),
    };
    config.resumption = Resumption::disabled();
    config.alpn_protocols = options.alpn.clone();
    Ok(config)
}

/// The SPIFFE id and serial of a leaf certificate.
///
/// The certificate must carry exactly one URI SAN, and it must be a SPIFFE id we issue.
pub fn cert_identity(cert: &CertificateDer<'_>) -> Result<(SpiffeId, Serial), PkiError> {
    let (_, x509) = X509Certificate::from_der(cert)
        .map_err(|e| PkiError::PeerIdentity(format!("certificate does not parse: {e}")))?;
    let san = x509
        .subject_alternative_name()
        .map_err(|e| PkiError::PeerIdentity(format!("bad subjectAltName: {e}")))?
        .ok_or_else(|| PkiError::PeerIdentity("no subjectAltName extension".into()))?;
    let mut uris = san.value.general_names.iter().filter_map(|n| match n {
        GeneralName::URI(u) => Some(*u),
        _ => None,
    });
    let uri = uris
        .next()
        .ok_or_else(|| PkiError::PeerIdentity("no URI SAN".into()))?;
    if uris.next().is_some() {
        return Err(PkiError::PeerIdentity("more than one URI SAN".into()));
    }
    let id = uri
        .parse::<SpiffeId>()
        .map_err(|e| PkiError::PeerIdentity(format!("URI SAN {:?}: {e}", truncated(uri))))?;
    Ok((id, Serial::from_der_integer(x509.raw_serial())?))
}

/// The identity and serial of the peer's leaf certificate on a completed handshake.
pub fn peer_identity(conn: &CommonState) -> Result<(SpiffeId, Serial), PkiError> {
    let leaf = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or(PkiError::NoPeerCertificate)?;
    cert_identity(leaf)
}

/// The peer's serial if its certificate names exactly `expected`; otherwise an error naming both.
pub fn expect_identity(conn: &CommonState, expected: &SpiffeId) -> Result<Serial, PkiError> {
    let (found, serial) = peer_identity(conn)?;
    if &found != expected {
        return Err(PkiError::WrongIdentity {
            expected: expected.to_string(),
            found: found.to_string(),
        });
    }
    Ok(serial)
}

/// A sentence for an operator explaining a certificate failure, naming clock skew where the
/// certificate's validity window is the cause.
pub fn handshake_failure_hint(err: &Error) -> Option<&'static str> {
    let Error::InvalidCertificate(cert) = err else {
        return None;
    };
    Some(match cert {
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "the certificate is not valid yet: this host's clock is behind the issuer's by more \
             than the 5-minute backdate (clock skew); fix time synchronisation"
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "the certificate has expired: renewal failed, or this host's clock is ahead \
             (clock skew)"
        }
        CertificateError::Revoked => "the certificate was revoked by the control plane",
        CertificateError::UnknownIssuer => {
            "the certificate was not issued by a CA this install trusts (wrong CA or self-signed)"
        }
        _ => return None,
    })
}
