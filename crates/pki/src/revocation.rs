//! The live set of revoked serials every verifier consults, and reading serials out of a CRL.

use std::collections::HashSet;
use std::sync::{Arc, PoisonError, RwLock};

use rustls_pki_types::CertificateDer;
use x509_parser::prelude::{CertificateRevocationList, FromDer, X509Certificate};

use crate::error::PkiError;
use crate::serial::Serial;

/// Revoked serials, shared by every TLS config built with it.
///
/// Cloning is cheap and clones share the set: a [`RevocationSet::revoke`] applies to the next
/// handshake of every config holding a clone, without rebuilding any config. Tearing down
/// connections that are already up is the data plane's job ([`RevocationSet::is_revoked`]).
#[derive(Debug, Clone, Default)]
pub struct RevocationSet {
    inner: Arc<RwLock<HashSet<Serial>>>,
}

impl RevocationSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a serial; returns whether it was new.
    pub fn revoke(&self, serial: Serial) -> bool {
        self.write().insert(serial)
    }

    /// Adds many serials.
    pub fn revoke_all(&self, serials: impl IntoIterator<Item = Serial>) {
        self.write().extend(serials);
    }

    /// Replaces the whole set (as when a fresh list arrives from the control plane).
    pub fn replace(&self, serials: impl IntoIterator<Item = Serial>) {
        let fresh: HashSet<Serial> = serials.into_iter().collect();
        *self.write() = fresh;
    }

    /// Whether a serial is revoked.
    pub fn is_revoked(&self, serial: Serial) -> bool {
        self.read().contains(&serial)
    }

    /// How many serials are revoked.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no serial is revoked.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// The revoked serials, sorted.
    pub fn snapshot(&self) -> Vec<Serial> {
        let mut v: Vec<Serial> = self.read().iter().copied().collect();
        v.sort_unstable();
        v
    }

    // A panic while holding the lock cannot leave a half-updated HashSet behind (each update is
    // one call), so a poisoned lock is still safe to use.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashSet<Serial>> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashSet<Serial>> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Reads the serials out of a DER CRL after checking that `ca_cert` signed it.
pub fn serials_from_crl(
    crl_der: &[u8],
    ca_cert: &CertificateDer<'_>,
) -> Result<Vec<Serial>, PkiError> {
    let decode = |what, e: String| PkiError::Decode { what, detail: e };
    let (_, ca) =
        X509Certificate::from_der(ca_cert).map_err(|e| decode("CA certificate", e.to_string()))?;
    let (rest, crl) =
        CertificateRevocationList::from_der(crl_der).map_err(|e| decode("CRL", e.to_string()))?;
    if !rest.is_empty() {
        return Err(decode("CRL", "trailing bytes".into()));
    }
    if crl.issuer().as_raw() != ca.subject().as_raw() {
        return Err(decode("CRL", "not issued by this CA".into()));
    }
    crl.verify_signature(ca.public_key())
        .map_err(|_| decode("CRL", "signature does not verify with the CA's key".into()))?;
    crl.iter_revoked_certificates()
        .map(|r| Serial::from_der_integer(r.raw_serial()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_set() {
        let a = RevocationSet::new();
        let b = a.clone();
        let s = Serial::from(7);
        assert!(!b.is_revoked(s));
        assert!(a.revoke(s));
        assert!(!a.revoke(s));
        assert!(b.is_revoked(s));
        b.replace([Serial::from(9)]);
        assert!(!a.is_revoked(s));
        assert_eq!(a.snapshot(), vec![Serial::from(9)]);
    }

    #[test]
    fn shared_across_threads() {
        let set = RevocationSet::new();
        let handles: Vec<_> = (0..4u128)
            .map(|i| {
                let set = set.clone();
                std::thread::spawn(move || {
                    set.revoke_all((0..100).map(|j| Serial::from(i * 100 + j)))
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(set.len(), 400);
    }
}
