//! Certificate serial numbers: random, positive, at most 128 bits.

use std::fmt;
use std::str::FromStr;

use crate::error::{truncated, PkiError};

/// A certificate serial number as this CA issues them: a random positive integer below 2^127.
///
/// Serials are drawn at random, so two CAs (as during a rotation) do not collide in practice and
/// one [`crate::RevocationSet`] can hold the serials of both.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Serial(u128);

impl Serial {
    /// Draws a new serial from the system's secure random number generator.
    pub fn random() -> Result<Self, PkiError> {
        let mut bytes = [0u8; 16];
        loop {
            crate::random_fill(&mut bytes)?;
            // Clear the top bit so the DER INTEGER is positive without a padding byte.
            let value = u128::from_be_bytes(bytes) >> 1;
            if value != 0 {
                return Ok(Self(value));
            }
        }
    }

    /// The serial as an integer.
    pub fn value(self) -> u128 {
        self.0
    }

    /// Reads the content octets of a DER INTEGER (as in a certificate or CRL).
    ///
    /// Refuses negative, zero-length and longer-than-128-bit values: this CA never issues them.
    pub fn from_der_integer(bytes: &[u8]) -> Result<Self, PkiError> {
        let bad = |detail: &str| PkiError::Decode {
            what: "serial number",
            detail: detail.to_owned(),
        };
        match bytes.first() {
            None => return Err(bad("empty")),
            Some(b) if b & 0x80 != 0 => return Err(bad("negative")),
            Some(_) => {}
        }
        let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
        let digits = &bytes[start..];
        if digits.len() > 16 {
            return Err(bad("longer than 128 bits"));
        }
        let mut be = [0u8; 16];
        be[16 - digits.len()..].copy_from_slice(digits);
        Ok(Self(u128::from_be_bytes(be)))
    }

    /// The big-endian bytes rcgen writes as the serial number.
    pub(crate) fn to_rcgen(self) -> rcgen::SerialNumber {
        rcgen::SerialNumber::from_slice(&self.0.to_be_bytes())
    }
}

impl From<u128> for Serial {
    fn from(v: u128) -> Self {
        Self(v)
    }
}

impl fmt::Display for Serial {
    /// 32 lowercase hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Serial({:032x})", self.0)
    }
}

impl FromStr for Serial {
    type Err = PkiError;
    /// 1 to 32 hex digits, as printed by `Display`.
    fn from_str(s: &str) -> Result<Self, PkiError> {
        let ok = (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit());
        let parsed = ok.then(|| u128::from_str_radix(s, 16).ok()).flatten();
        parsed.map(Self).ok_or_else(|| PkiError::Decode {
            what: "serial number",
            detail: format!("{:?} is not 1 to 32 hex digits", truncated(s)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_serials_are_positive_and_distinct() {
        let a = Serial::random().unwrap();
        let b = Serial::random().unwrap();
        assert_ne!(a, b);
        assert!(a.value() < 1 << 127 && a.value() > 0);
    }

    #[test]
    fn der_integer_forms() {
        assert_eq!(
            Serial::from_der_integer(&[0x00, 0x80]).unwrap().value(),
            0x80
        );
        assert_eq!(
            Serial::from_der_integer(&[0x01, 0x02]).unwrap().value(),
            0x102
        );
        assert!(Serial::from_der_integer(&[]).is_err());
        assert!(Serial::from_der_integer(&[0x80]).is_err());
        assert!(Serial::from_der_integer(&[0x01; 17]).is_err());
        assert!(Serial::from_der_integer(&[0x00; 20]).is_ok());
    }

    #[test]
    fn text_round_trip() {
        let s = Serial::random().unwrap();
        assert_eq!(s.to_string().parse::<Serial>().unwrap(), s);
        assert!("xyz".parse::<Serial>().is_err());
        assert!("0".repeat(33).parse::<Serial>().is_err());
    }
}
