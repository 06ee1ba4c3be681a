//! Account ids and access key ids in AWS's shapes.

use std::fmt;
use std::str::FromStr;

/// Why an id string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// An account id that is not exactly 12 decimal digits.
    #[error("account id {0:?} must be exactly 12 digits")]
    AccountId(String),
    /// An access key id that is not `AKIA`/`ASIA` followed by 16 of `A-Z2-7`.
    #[error("access key id {0:?} must be AKIA or ASIA followed by 16 characters of A-Z and 2-7")]
    AccessKeyId(String),
}

/// A 12-digit account id, such as `123456789012`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId([u8; 12]);

impl AccountId {
    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored (checked in `from_str`).
        std::str::from_utf8(&self.0).unwrap_or("000000000000")
    }
}

impl FromStr for AccountId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let raw: [u8; 12] = s
            .as_bytes()
            .try_into()
            .map_err(|_| IdError::AccountId(truncated(s)))?;
        if !raw.iter().all(u8::is_ascii_digit) {
            return Err(IdError::AccountId(truncated(s)));
        }
        Ok(Self(raw))
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId({})", self.as_str())
    }
}

/// Whether a key is long-term (`AKIA…`) or part of temporary credentials (`ASIA…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessKeyKind {
    /// A long-term user key, `AKIA…`.
    LongTerm,
    /// A temporary key from AssumeRole, `ASIA…`; it needs a session token.
    Temporary,
}

impl AccessKeyKind {
    /// The four-letter prefix AWS uses for this kind.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::LongTerm => "AKIA",
            Self::Temporary => "ASIA",
        }
    }
}

/// The alphabet AWS access key ids draw their 16 random characters from (RFC 4648 base32).
pub const KEY_ID_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// An access key id: `AKIA` or `ASIA` and 16 characters of `A-Z2-7`, 20 in all.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccessKeyId([u8; 20]);

impl AccessKeyId {
    /// Builds an id of `kind` from 16 random bytes (each reduced into the base32 alphabet).
    pub fn from_random(kind: AccessKeyKind, random: [u8; 16]) -> Self {
        let mut raw = [0u8; 20];
        raw[..4].copy_from_slice(kind.prefix().as_bytes());
        for (dst, r) in raw[4..].iter_mut().zip(random) {
            // 256 is a multiple of 32, so the reduction is unbiased.
            *dst = KEY_ID_ALPHABET[usize::from(r) % 32];
        }
        Self(raw)
    }

    /// The kind this id's prefix names.
    pub fn kind(&self) -> AccessKeyKind {
        if self.0.starts_with(b"ASIA") {
            AccessKeyKind::Temporary
        } else {
            AccessKeyKind::LongTerm
        }
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (checked in `from_str` and `from_random`).
        std::str::from_utf8(&self.0).unwrap_or("AKIA????????????????")
    }
}

impl FromStr for AccessKeyId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let raw: [u8; 20] = s
            .as_bytes()
            .try_into()
            .map_err(|_| IdError::AccessKeyId(truncated(s)))?;
        let prefix_ok = raw.starts_with(b"AKIA") || raw.starts_with(b"ASIA");
        if !prefix_ok || !raw[4..].iter().all(|b| KEY_ID_ALPHABET.contains(b)) {
            return Err(IdError::AccessKeyId(truncated(s)));
        }
        Ok(Self(raw))
    }
}

impl fmt::Display for AccessKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for AccessKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessKeyId({})", self.as_str())
    }
}

/// Echoes at most 64 characters of refused input, so errors stay bounded.
pub(crate) fn truncated(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids() {
        let id: AccountId = "123456789012".parse().unwrap();
        assert_eq!(id.to_string(), "123456789012");
        for bad in [
            "",
            "12345678901",
            "1234567890123",
            "12345678901a",
            "１２３４５６７８９０１２",
        ] {
            assert!(bad.parse::<AccountId>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn access_key_ids() {
        let id: AccessKeyId = "AKIAIOSFODNN7EXAMPLE".parse().unwrap();
        assert_eq!(id.kind(), AccessKeyKind::LongTerm);
        let t: AccessKeyId = "ASIAIOSFODNN7EXAMPLE".parse().unwrap();
        assert_eq!(t.kind(), AccessKeyKind::Temporary);
        for bad in [
            "AKIAIOSFODNN7EXAMPL",
            "AKIDIOSFODNN7EXAMPLE",
            "AKIAIOSFODNN7EXAMPL1",
            "akiaiosfodnn7example",
        ] {
            assert!(bad.parse::<AccessKeyId>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn generated_ids_parse_back() {
        for seed in 0u8..=255 {
            let id = AccessKeyId::from_random(AccessKeyKind::Temporary, [seed; 16]);
            assert_eq!(id.as_str().parse::<AccessKeyId>().unwrap(), id);
            assert_eq!(id.kind(), AccessKeyKind::Temporary);
        }
    }

    #[test]
    fn long_input_is_truncated_in_errors() {
        let long = "9".repeat(10_000);
        let msg = long.parse::<AccountId>().unwrap_err().to_string();
        assert!(msg.len() < 200, "{msg}");
    }
}
