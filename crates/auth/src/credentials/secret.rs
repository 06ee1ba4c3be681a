//! Secret access keys, the master key, and sealing secrets for storage at rest.

use std::fmt;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::digest;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use zeroize::{Zeroize, Zeroizing};

use super::CredentialError;

/// Fills `buf` from the operating system's CSPRNG.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<(), CredentialError> {
    aws_lc_rs::rand::fill(buf).map_err(|_| CredentialError::Random)
}

/// A secret access key: 40 characters of base64 (30 random bytes), as AWS issues them.
///
/// `Debug` and `Display` never show it; [`SecretAccessKey::expose`] is the only way out, and the
/// memory is wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretAccessKey(Zeroizing<String>);

impl SecretAccessKey {
    /// Generates a fresh secret from the system CSPRNG.
    pub fn generate() -> Result<Self, CredentialError> {
        let mut raw = Zeroizing::new([0u8; 30]);
        fill_random(raw.as_mut())?;
        Ok(Self(Zeroizing::new(STANDARD.encode(raw.as_ref()))))
    }

    /// Wraps a secret that came from elsewhere (configuration, a test vector).
    pub fn new(secret: impl Into<String>) -> Self {
        Self(Zeroizing::new(secret.into()))
    }

    /// The secret itself, for signing or verification. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretAccessKey(***)")
    }
}

/// The 256-bit key that seals secrets and session tokens at rest.
///
/// The server reads it from its data dir or from an environment variable (base64); this type
/// only parses and uses it. `Debug` never shows it.
pub struct MasterKey {
    key: LessSafeKey,
    /// First 4 bytes of a hash of the key: tells "wrong master key" from "tampered data".
    key_id: [u8; 4],
}

impl MasterKey {
    /// Generates a new random master key; returns it with its base64 form to persist.
    pub fn generate() -> Result<(Self, Zeroizing<String>), CredentialError> {
        let mut raw = Zeroizing::new([0u8; 32]);
        fill_random(raw.as_mut())?;
        let text = Zeroizing::new(STANDARD.encode(raw.as_ref()));
        Ok((Self::from_bytes(raw.as_ref())?, text))
    }

    /// Builds the key from exactly 32 raw bytes.
    pub fn from_bytes(raw: &[u8]) -> Result<Self, CredentialError> {
        if raw.len() != 32 {
            return Err(CredentialError::BadMasterKey("wrong length"));
        }
        let unbound = UnboundKey::new(&AES_256_GCM, raw)
            .map_err(|_| CredentialError::BadMasterKey("rejected by AES-256-GCM"))?;
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(b"underpass/master-key-id/v1\0");
        ctx.update(raw);
        let hash = ctx.finish();
        let mut key_id = [0u8; 4];
        key_id.copy_from_slice(&hash.as_ref()[..4]);
        Ok(Self {
            key: LessSafeKey::new(unbound),
            key_id,
        })
    }

    /// Parses the base64 form (standard alphabet, surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Self, CredentialError> {
        let mut raw = STANDARD
            .decode(text.trim())
            .map_err(|_| CredentialError::BadMasterKey("not valid base64"))?;
        let key = Self::from_bytes(&raw);
        raw.zeroize();
        key
    }

    /// Encrypts `plaintext` bound to `label` and `context` (authenticated, not secret):
    /// the result is `v1.<key id hex>.<base64url(nonce ‖ ciphertext ‖ tag)>`.
    pub(crate) fn seal(
        &self,
        label: &str,
        context: &[u8],
        plaintext: &[u8],
    ) -> Result<String, CredentialError> {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce)?;
        let mut buf = Zeroizing::new(plaintext.to_vec());
        let aad = aad(label, context);
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&aad),
                &mut *buf,
            )
            .map_err(|_| CredentialError::Unseal("encryption failed"))?;
        let mut blob = Vec::with_capacity(NONCE_LEN + buf.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&buf);
        Ok(format!(
            "v1.{}.{}",
            hex4(&self.key_id),
            URL_SAFE_NO_PAD.encode(blob)
        ))
    }

    /// Decrypts what [`MasterKey::seal`] produced with the same `label` and `context`.
    pub(crate) fn open(
        &self,
        label: &str,
        context: &[u8],
        sealed: &str,
    ) -> Result<Zeroizing<Vec<u8>>, CredentialError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some("v1"), Some(kid), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CredentialError::Unseal("unknown format"));
        };
        if kid != hex4(&self.key_id) {
            return Err(CredentialError::Unseal(
                "sealed with a different master key",
            ));
        }
        let blob = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| CredentialError::Unseal("not valid base64"))?;
        if blob.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(CredentialError::Unseal("too short"));
        }
        let (nonce, ct) = blob.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| CredentialError::Unseal("bad nonce"))?;
        let mut buf = Zeroizing::new(ct.to_vec());
        let aad = aad(label, context);
        let len = self
            .key
            .open_in_place(nonce, Aad::from(&aad), &mut buf)
            .map_err(|_| CredentialError::Unseal("authentication failed"))?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey(id={}, ***)", hex4(&self.key_id))
    }
}

/// The associated data: a purpose label and the value the ciphertext is bound to.
fn aad(label: &str, context: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(label.len() + 1 + context.len());
    v.extend_from_slice(label.as_bytes());
    v.push(0);
    v.extend_from_slice(context);
    v
}

fn hex4(b: &[u8; 4]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

const SECRET_LABEL: &str = "underpass/access-key-secret/v1";

/// A secret access key sealed under the master key and bound to its access key id: the form
/// stored in the database. Swapping two rows' sealed secrets makes both fail to open.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret(String);

impl SealedSecret {
    /// Seals `secret` for the key `access_key_id`.
    pub fn seal(
        master: &MasterKey,
        access_key_id: &str,
        secret: &SecretAccessKey,
    ) -> Result<Self, CredentialError> {
        master
            .seal(
                SECRET_LABEL,
                access_key_id.as_bytes(),
                secret.expose().as_bytes(),
            )
            .map(Self)
    }

    /// Opens the secret of `access_key_id`.
    pub fn open(
        &self,
        master: &MasterKey,
        access_key_id: &str,
    ) -> Result<SecretAccessKey, CredentialError> {
        let raw = master.open(SECRET_LABEL, access_key_id.as_bytes(), &self.0)?;
        let text = std::str::from_utf8(&raw).map_err(|_| CredentialError::Unseal("not UTF-8"))?;
        Ok(SecretAccessKey::new(text))
    }

    /// Restores a sealed value read back from storage.
    pub fn from_stored(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The text to store.
    pub fn as_stored(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealedSecret(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master() -> MasterKey {
        MasterKey::from_bytes(&[7u8; 32]).unwrap()
    }

    #[test]
    fn generated_secrets_have_aws_shape_and_differ() {
        let a = SecretAccessKey::generate().unwrap();
        let b = SecretAccessKey::generate().unwrap();
        assert_eq!(a.expose().len(), 40);
        assert_ne!(a, b);
        assert_eq!(format!("{a:?}"), "SecretAccessKey(***)");
    }

    #[test]
    fn seal_round_trips_and_binds_key_id() {
        let m = master();
        let secret = SecretAccessKey::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
        let sealed = SealedSecret::seal(&m, "AKIAIOSFODNN7EXAMPLE", &secret).unwrap();
        assert!(!sealed.as_stored().contains("wJalr"));
        assert_eq!(sealed.open(&m, "AKIAIOSFODNN7EXAMPLE").unwrap(), secret);
        // Bound to the key id: a swapped row does not open.
        assert!(matches!(
            sealed.open(&m, "AKIAIOSFODNN7EXAMPLF"),
            Err(CredentialError::Unseal(_))
        ));
        // Two seals of the same secret differ (random nonce).
        let again = SealedSecret::seal(&m, "AKIAIOSFODNN7EXAMPLE", &secret).unwrap();
        assert_ne!(sealed, again);
    }

    #[test]
    fn wrong_master_key_and_tampering_are_told_apart() {
        let m = master();
        let other = MasterKey::from_bytes(&[8u8; 32]).unwrap();
        let sealed =
            SealedSecret::seal(&m, "AKIAIOSFODNN7EXAMPLE", &SecretAccessKey::new("s")).unwrap();
        let err = sealed.open(&other, "AKIAIOSFODNN7EXAMPLE").unwrap_err();
        assert!(err.to_string().contains("different master key"), "{err}");
        // Flip one character of the body: authentication fails.
        let mut text = sealed.as_stored().to_owned();
        let last = text.pop().unwrap();
        text.push(if last == 'A' { 'B' } else { 'A' });
        let err = SealedSecret::from_stored(text)
            .open(&m, "AKIAIOSFODNN7EXAMPLE")
            .unwrap_err();
        assert!(matches!(err, CredentialError::Unseal(_)), "{err}");
        for junk in ["", "v1", "v1..", "v2.00000000.AAAA", "v1.zz.AAAA"] {
            assert!(SealedSecret::from_stored(junk).open(&m, "x").is_err());
        }
    }

    #[test]
    fn master_key_parsing() {
        let (k, text) = MasterKey::generate().unwrap();
        let again = MasterKey::from_base64(&format!(" {} \n", text.as_str())).unwrap();
        let sealed = k.seal("l", b"c", b"hello").unwrap();
        assert_eq!(again.open("l", b"c", &sealed).unwrap().as_slice(), b"hello");
        assert!(!format!("{k:?}").contains(text.as_str()));
        assert!(MasterKey::from_base64("not base64!").is_err());
        assert!(MasterKey::from_base64(&STANDARD.encode([1u8; 31])).is_err());
        // A different label (purpose) does not open.
        assert!(again.open("other", b"c", &sealed).is_err());
    }
}
