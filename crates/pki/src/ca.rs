//! The control plane's certificate authority: create or load it, and sign CRLs.

use std::fmt;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType, IsCa, Issuer,
    KeyIdMethod, KeyPair, KeyUsagePurpose, PublicKeyData, RevokedCertParams, SerialNumber,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, X509Certificate};
use zeroize::Zeroizing;

use crate::error::{truncated, PkiError};
use crate::serial::Serial;

/// How long a new CA certificate is valid.
pub const CA_VALIDITY: Duration = Duration::days(3650);

/// How far certificates are backdated, so that clocks a few minutes behind still accept them.
pub const BACKDATE: Duration = Duration::minutes(5);

/// The certificate authority: an ECDSA P-256 key and its self-signed certificate.
pub struct CertificateAuthority {
    pub(crate) issuer: Issuer<'static, KeyPair>,
    cert_der: CertificateDer<'static>,
    cert_pem: String,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

/// A revoked certificate as listed in a CRL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokedCert {
    /// The certificate's serial.
    pub serial: Serial,
    /// When the CA revoked it.
    pub revoked_at: OffsetDateTime,
}

/// A signed certificate revocation list.
#[derive(Debug, Clone)]
pub struct Crl {
    /// The CRL as PEM (`-----BEGIN X509 CRL-----`).
    pub pem: String,
    /// The CRL as DER.
    pub der: CertificateRevocationListDer<'static>,
}

/// Drops the sub-second part: X.509 times have whole seconds.
pub(crate) fn whole_seconds(t: OffsetDateTime) -> OffsetDateTime {
    t - Duration::nanoseconds(i64::from(t.nanosecond()))
}

impl CertificateAuthority {
    /// Creates a new CA named `Underpass CA <install_id>`, valid for ten years from `now`.
    ///
    /// The certificate is CA:TRUE with pathlen 0 (it signs leaves only) and the key usages
    /// keyCertSign and cRLSign.
    pub fn generate(install_id: &str, now: OffsetDateTime) -> Result<Self, PkiError> {
        let id_ok = (1..=48).contains(&install_id.len())
            && install_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !id_ok {
            return Err(PkiError::InvalidInstallId(truncated(install_id)));
        }
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let now = whole_seconds(now);
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Underpass");
        params
            .distinguished_name
            .push(DnType::CommonName, format!("Underpass CA {install_id}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = now - BACKDATE;
        params.not_after = now + CA_VALIDITY;
        params.serial_number = Some(Serial::random()?.to_rcgen());
        params.key_identifier_method = KeyIdMethod::Sha256;
        let cert = params.self_signed(&key)?;
        Ok(Self {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            not_before: params.not_before,
            not_after: params.not_after,
            issuer: Issuer::new(params, key),
        })
    }

    /// Loads a CA from its certificate and PKCS#8 private key, both PEM.
    ///
    /// Refuses a certificate that is not a CA allowed to sign certificates, or a key that is
    /// not the certificate's key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let cert_der =
            CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|e| PkiError::Decode {
                what: "CA certificate",
                detail: e.to_string(),
            })?;
        let key = KeyPair::from_pem(key_pem).map_err(|e| PkiError::Decode {
            what: "CA private key",
            detail: e.to_string(),
        })?;
        let (rest, x509) = X509Certificate::from_der(&cert_der)
            .map_err(|e| PkiError::InvalidCa(format!("certificate does not parse: {e}")))?;
        if !rest.is_empty() {
            return Err(PkiError::InvalidCa(
                "trailing bytes after the certificate".into(),
            ));
        }
        if !x509.is_ca() {
            return Err(PkiError::InvalidCa(
                "the certificate is not a CA (basicConstraints CA:TRUE is missing)".into(),
            ));
        }
        let can_sign = x509
            .key_usage()
            .ok()
            .flatten()
            .is_some_and(|ku| ku.value.key_cert_sign());
        if !can_sign {
            return Err(PkiError::InvalidCa(
                "the certificate's key usage does not allow keyCertSign".into(),
            ));
        }
        if x509.public_key().raw != key.subject_public_key_info().as_slice() {
            return Err(PkiError::InvalidCa(
                "the private key does not belong to the certificate".into(),
            ));
        }
        let validity = x509.validity();
        let (not_before, not_after) = (
            validity.not_before.to_datetime(),
            validity.not_after.to_datetime(),
        );
        let issuer = Issuer::from_ca_cert_der(&cert_der, key)?;
        Ok(Self {
            cert_pem: cert_pem.trim().to_owned() + "\n",
            cert_der: cert_der.clone(),
            not_before,
            not_after,
            issuer,
        })
    }

    /// The CA certificate, DER (the trust anchor every peer needs).
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA private key as PKCS#8 PEM; wiped from memory when dropped.
    pub fn key_pem(&self) -> Zeroizing<String> {
        Zeroizing::new(self.issuer.key().serialize_pem())
    }

    /// When the CA certificate became valid.
    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    /// When the CA certificate expires; no leaf may outlive it.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// Signs a CRL listing `revoked`, issued at `now` and superseded by `next_update`.
    ///
    /// `crl_number` must grow with every CRL this CA signs (RFC 5280 §5.2.3); the store's
    /// revocation sequence is a good source.
    pub fn crl(
        &self,
        revoked: &[RevokedCert],
        crl_number: u64,
        now: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<Crl, PkiError> {
        let params = CertificateRevocationListParams {
            this_update: whole_seconds(now),
            next_update: whole_seconds(next_update),
            crl_number: SerialNumber::from(crl_number),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|r| RevokedCertParams {
                    serial_number: r.serial.to_rcgen(),
                    revocation_time: whole_seconds(r.revoked_at),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(&self.issuer)?;
        Ok(Crl {
            pem: crl.pem()?,
            der: crl.der().clone(),
        })
    }
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}
