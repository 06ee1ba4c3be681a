//! The trust bundle as TLS configs: CA roots, revoked serials, tunnel client and server configs.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use underpass_pki::{
    client_config, server_config, trust_roots, ClientAuth, PkiError, RevocationSet, Serial,
    ServerNameCheck, TlsCredentials, TlsOptions, TlsVersions,
};
use underpass_proto::sync::TrustBundle;

use crate::error::DataplaneError;
use crate::mux::MUX_ALPN;

/// The ALPN protocol of a per-flow tunnel.
pub(crate) const TUNNEL_ALPN: &[u8] = b"underpass-tunnel/1";

/// A parsed trust bundle.
pub(crate) struct Trust {
    /// Our CA roots; `None` when the bundle lists no CA (nothing can be served then).
    pub(crate) roots: Option<Arc<RootCertStore>>,
    /// Revoked serials.
    pub(crate) revoked: Vec<Serial>,
}

impl Trust {
    /// Parses the bundle; any CA or serial that does not parse refuses the whole bundle.
    pub(crate) fn from_bundle(bundle: &TrustBundle) -> Result<Self, DataplaneError> {
        let mut cas: Vec<CertificateDer<'static>> = Vec::new();
        for (i, pem) in bundle.ca_pems.iter().enumerate() {
            let before = cas.len();
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| DataplaneError::Trust(format!("CA #{i}: {e}")))?;
                cas.push(cert);
            }
            if cas.len() == before {
                return Err(DataplaneError::Trust(format!(
                    "CA #{i} holds no CERTIFICATE block"
                )));
            }
        }
        let roots = if cas.is_empty() {
            None
        } else {
            Some(trust_roots(&cas).map_err(|e| DataplaneError::Trust(e.to_string()))?)
        };
        let revoked = bundle
            .revoked_serials
            .iter()
            .map(|s| s.parse::<Serial>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| DataplaneError::Trust(format!("revoked serial: {e}")))?;
        Ok(Self { roots, revoked })
    }

    /// The roots, or the error that explains why an item cannot be served without them.
    pub(crate) fn require_roots(&self, what: &str) -> Result<Arc<RootCertStore>, DataplaneError> {
        self.roots.clone().ok_or_else(|| DataplaneError::Tls {
            what: what.to_owned(),
            source: PkiError::InvalidCa("the trust bundle lists no CA certificate".into()),
        })
    }
}

fn options(alpn: &[&[u8]]) -> TlsOptions {
    TlsOptions {
        versions: TlsVersions::Tls13Only,
        alpn: alpn.iter().map(|p| p.to_vec()).collect(),
    }
}

/// The consumer's tunnel client config: the endpoint's certificate and the agent key; the
/// gateway's certificate chained to `roots` and not revoked; a multiplexed tunnel if
/// `multiplex`, else a per-flow one. The caller checks the gateway's SPIFFE id after the
/// handshake.
pub(crate) fn tunnel_client(
    what: &str,
    multiplex: bool,
    cert_pem: &str,
    key_pem: &str,
    roots: Arc<RootCertStore>,
    revocations: &RevocationSet,
) -> Result<Arc<ClientConfig>, DataplaneError> {
    let tls = |source| DataplaneError::Tls {
        what: what.to_owned(),
        source,
    };
    let creds = TlsCredentials::from_pem(cert_pem, key_pem).map_err(tls)?;
    let cfg = client_config(
        Some(creds),
        roots,
        revocations,
        ServerNameCheck::CallerChecksIdentity,
        &options(if multiplex {
            &[MUX_ALPN]
        } else {
            &[TUNNEL_ALPN]
        }),
    )
    .map_err(tls)?;
    Ok(Arc::new(cfg))
}

/// The gateway's tunnel server config: the service's certificate and the agent key; a client
/// certificate chained to `roots` and not revoked is required. Both tunnel kinds are accepted,
/// multiplexed first.
pub(crate) fn tunnel_server(
    what: &str,
    cert_pem: &str,
    key_pem: &str,
    roots: Arc<RootCertStore>,
    revocations: &RevocationSet,
) -> Result<Arc<ServerConfig>, DataplaneError> {
    let tls = |source| DataplaneError::Tls {
        what: what.to_owned(),
        source,
    };
    let creds = TlsCredentials::from_pem(cert_pem, key_pem).map_err(tls)?;
    let cfg = server_config(
        creds,
        roots,
        revocations,
        ClientAuth::Required,
        &options(&[MUX_ALPN, TUNNEL_ALPN]),
    )
    .map_err(tls)?;
    Ok(Arc::new(cfg))
}

/// Whether an I/O error from a TLS stream is a TLS failure (certificate, alert) rather than a
/// plain socket error.
pub(crate) fn is_tls_error(e: &std::io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}
