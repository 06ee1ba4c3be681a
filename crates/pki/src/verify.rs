//! rustls certificate verifiers: the usual webpki chain check against our CA roots, then a
//! lookup of the leaf's serial in the live [`RevocationSet`].

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, RootCertStore,
    SignatureScheme,
};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::error::PkiError;
use crate::revocation::RevocationSet;
use crate::serial::Serial;

/// How a client checks the server's certificate beyond the chain and revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerNameCheck {
    /// The certificate must name the host the client dialled as a DNS or IP SAN
    /// (the control plane's API, agents enrolling).
    Hostname,
    /// No host-name match: the server is named by its SPIFFE URI SAN (agent-to-gateway
    /// tunnels). The caller MUST check the identity with [`crate::expect_identity`] after the
    /// handshake and before sending any data.
    CallerChecksIdentity,
}

/// The serial of a DER certificate.
pub(crate) fn leaf_serial(cert: &CertificateDer<'_>) -> Result<Serial, PkiError> {
    let (_, x509) = X509Certificate::from_der(cert).map_err(|e| PkiError::Decode {
        what: "certificate",
        detail: e.to_string(),
    })?;
    Serial::from_der_integer(x509.raw_serial())
}

fn check_not_revoked(
    revoked: &RevocationSet,
    end_entity: &CertificateDer<'_>,
) -> Result<(), Error> {
    let serial = leaf_serial(end_entity)
        .map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))?;
    if revoked.is_revoked(serial) {
        return Err(Error::InvalidCertificate(CertificateError::Revoked));
    }
    Ok(())
}

/// Verifies client certificates: webpki's chain, validity and clientAuth checks against the
/// roots, then refuses serials in the live revocation set.
#[derive(Debug)]
pub struct ClientVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    revoked: RevocationSet,
}

impl ClientVerifier {
    /// A verifier that requires a client certificate chaining to `roots`.
    pub fn new(
        roots: Arc<RootCertStore>,
        revoked: RevocationSet,
        provider: Arc<rustls::crypto::CryptoProvider>,
    ) -> Result<Arc<Self>, PkiError> {
        let inner = WebPkiClientVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| PkiError::InvalidCa(format!("no usable trust roots: {e}")))?;
        Ok(Arc::new(Self { inner, revoked }))
    }
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        check_not_revoked(&self.revoked, end_entity)?;
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Verifies server certificates: webpki's chain, validity and serverAuth checks against the
/// roots, the host name if asked, then refuses serials in the live revocation set.
#[derive(Debug)]
pub struct ServerVerifier {
    roots: Arc<RootCertStore>,
    revoked: RevocationSet,
    name_check: ServerNameCheck,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerVerifier {
    /// A verifier for servers whose certificates chain to `roots`.
    pub fn new(
        roots: Arc<RootCertStore>,
        revoked: RevocationSet,
        name_check: ServerNameCheck,
        provider: &rustls::crypto::CryptoProvider,
    ) -> Arc<Self> {
        Arc::new(Self {
            roots,
            revoked,
            name_check,
            algorithms: provider.signature_verification_algorithms,
        })
    }
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        if self.name_check == ServerNameCheck::Hostname {
            verify_server_name(&cert, server_name)?;
        }
        check_not_revoked(&self.revoked, end_entity)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
