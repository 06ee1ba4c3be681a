//! The two base64 forms the PKI needs, through the `base64` crate: standard with padding (PEM)
//! and URL-safe without padding (join-token secrets), decoded strictly.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use zeroize::Zeroizing;

/// Standard alphabet, padded (RFC 4648 section 4).
pub(crate) fn encode_std(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// URL-safe alphabet, unpadded (RFC 4648 section 5).
pub(crate) fn encode_url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded URL-safe base64 that must yield exactly `N` bytes; anything else
/// (padding, other alphabets, non-canonical trailing bits, wrong length) is `None`.
pub(crate) fn decode_url_exact<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    let bytes = Zeroizing::new(URL_SAFE_NO_PAD.decode(text).ok()?);
    <[u8; N]>::try_from(bytes.as_slice()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        for (raw, std) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode_std(raw.as_bytes()), std);
        }
        assert_eq!(encode_url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn strict_decoding() {
        let raw = [7u8; 32];
        let text = encode_url(&raw);
        assert_eq!(text.len(), 43);
        assert_eq!(decode_url_exact::<32>(text.as_bytes()), Some(raw));
        assert_eq!(decode_url_exact::<31>(text.as_bytes()), None);
        assert_eq!(decode_url_exact::<32>(format!("{text}=").as_bytes()), None);
        assert_eq!(
            decode_url_exact::<32>(text.replace('H', "+").as_bytes()),
            None
        );
        // Non-canonical trailing bits are refused (one secret, one text).
        let mut bytes = text.into_bytes();
        let last = bytes.len() - 1;
        bytes[last] = if bytes[last] == b'c' { b'd' } else { b'c' };
        assert_eq!(decode_url_exact::<32>(&bytes), None);
    }
}
