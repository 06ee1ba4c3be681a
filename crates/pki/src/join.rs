//! Join tokens: one-time secrets an operator hands to an agent so it can enroll.
//!
//! The text form is `upjt1.<16 hex id>.<43 base64url secret>`. The store keeps only a
//! [`StoredJoinToken`] (id, SHA-256 hash, scope, expiry, used flag), never the secret.
//!
//! **Single use is enforced by the store, not here.** [`StoredJoinToken::check`] only says
//! whether a presented token matches; the store must then consume it with one conditional
//! update, such as `UPDATE join_tokens SET used = 1 WHERE id = ? AND used = 0 AND expires > ?`,
//! and issue a certificate only if exactly one row changed. That is what makes two agents
//! racing with one token get exactly one certificate.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{digest, SHA256};
use time::OffsetDateTime;
use underpass_domain::{AccountId, VpcId};
use zeroize::Zeroizing;

use crate::base64;
use crate::error::PkiError;
use crate::identity::ZoneName;

/// The version prefix of the text form.
pub const JOIN_TOKEN_PREFIX: &str = "upjt1";

/// Longest text the parser looks at; anything longer is refused before parsing.
pub const MAX_JOIN_TOKEN_LEN: usize = 256;

const SECRET_LEN: usize = 32;
const ID_LEN: usize = 8;

/// What an enrolling holder of a token may become.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JoinRole {
    /// An agent in one VPC and zone.
    Agent,
}

impl fmt::Display for JoinRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Agent => "agent",
        })
    }
}

/// Where and as what a token lets its holder join.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JoinScope {
    /// The account that registered the VPC.
    pub account: AccountId,
    /// The VPC the agent will run in.
    pub vpc: VpcId,
    /// The agent's zone.
    pub zone: ZoneName,
    /// The role granted.
    pub role: JoinRole,
}

impl fmt::Display for JoinScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} in account {}, {}, zone {}",
            self.role, self.account, self.vpc, self.zone
        )
    }
}

/// The public half of a token: the key the store looks it up by.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JoinTokenId([u8; ID_LEN]);

impl fmt::Display for JoinTokenId {
    /// 16 lowercase hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for JoinTokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JoinTokenId({self})")
    }
}

impl FromStr for JoinTokenId {
    type Err = PkiError;
    /// Exactly 16 lowercase hex digits.
    fn from_str(s: &str) -> Result<Self, PkiError> {
        let bad = || PkiError::MalformedJoinToken("the id must be 16 lowercase hex digits");
        let hex = s.as_bytes();
        if hex.len() != ID_LEN * 2 {
            return Err(bad());
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut id = [0u8; ID_LEN];
        for (out, pair) in id.iter_mut().zip(hex.chunks_exact(2)) {
            *out = nibble(pair[0]).ok_or_else(bad)? << 4 | nibble(pair[1]).ok_or_else(bad)?;
        }
        Ok(Self(id))
    }
}

/// The text of a new token, to show the operator once; Debug never prints it.
pub struct JoinTokenText(Zeroizing<String>);

impl JoinTokenText {
    /// The token text (`upjt1.…`).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for JoinTokenText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JoinTokenText(***)")
    }
}

/// A parsed token as presented by an enrolling agent.
pub struct JoinToken {
    id: JoinTokenId,
    secret: Zeroizing<[u8; SECRET_LEN]>,
}

impl fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JoinToken({}.***)", self.id)
    }
}

fn token_hash(id: &JoinTokenId, secret: &[u8; SECRET_LEN]) -> [u8; 32] {
    let mut input = Zeroizing::new(Vec::with_capacity(
        JOIN_TOKEN_PREFIX.len() + ID_LEN + SECRET_LEN,
    ));
    input.extend_from_slice(JOIN_TOKEN_PREFIX.as_bytes());
    input.extend_from_slice(&id.0);
    input.extend_from_slice(secret);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, &input).as_ref());
    out
}

impl JoinToken {
    /// Makes a new token for `scope`, valid until `expires`: the text for the operator and the
    /// record for the store.
    pub fn generate(
        scope: JoinScope,
        expires: OffsetDateTime,
    ) -> Result<(JoinTokenText, StoredJoinToken), PkiError> {
        let mut id = [0u8; ID_LEN];
        crate::random_fill(&mut id)?;
        let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
        crate::random_fill(secret.as_mut())?;
        let id = JoinTokenId(id);
        let encoded = Zeroizing::new(base64::encode_url(secret.as_ref()));
        let text = JoinTokenText(Zeroizing::new(format!(
            "{JOIN_TOKEN_PREFIX}.{id}.{}",
            encoded.as_str()
        )));
        let stored = StoredJoinToken {
            id,
            hash: token_hash(&id, &secret),
            scope,
            expires,
            used: false,
        };
        Ok((text, stored))
    }

    /// Parses the text form strictly: at most [`MAX_JOIN_TOKEN_LEN`] bytes (checked before
    /// anything else), surrounding ASCII whitespace ignored, then exactly
    /// `upjt1.<16 lowercase hex>.<43 canonical base64url>`.
    pub fn parse(text: &str) -> Result<Self, PkiError> {
        if text.len() > MAX_JOIN_TOKEN_LEN {
            return Err(PkiError::MalformedJoinToken("longer than 256 bytes"));
        }
        let rest = text
            .trim_ascii()
            .strip_prefix(JOIN_TOKEN_PREFIX)
            .and_then(|r| r.strip_prefix('.'))
            .ok_or(PkiError::MalformedJoinToken("expected the prefix upjt1."))?;
        let (id, secret) = rest
            .split_once('.')
            .ok_or(PkiError::MalformedJoinToken("expected upjt1.<id>.<secret>"))?;
        let id = id.parse()?;
        let secret = base64::decode_url_exact::<SECRET_LEN>(secret.as_bytes())
            .map(Zeroizing::new)
            .ok_or(PkiError::MalformedJoinToken(
                "the secret must be 43 characters of base64url",
            ))?;
        Ok(Self { id, secret })
    }

    /// The token's id, for looking up its [`StoredJoinToken`].
    pub fn id(&self) -> JoinTokenId {
        self.id
    }
}

/// What the store keeps about a token (the secret itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredJoinToken {
    /// The token's id.
    pub id: JoinTokenId,
    /// SHA-256 over the prefix, the id and the secret.
    pub hash: [u8; 32],
    /// What the token grants.
    pub scope: JoinScope,
    /// When it stops working.
    pub expires: OffsetDateTime,
    /// Whether it was already consumed.
    pub used: bool,
}

impl StoredJoinToken {
    /// Checks a presented token against this record and returns what it grants.
    ///
    /// The secret is compared in constant time, and before expiry and use are looked at, so
    /// only a holder of the secret learns those. This does not consume the token: see the
    /// module docs for the store's conditional update.
    pub fn check(&self, presented: &str, now: OffsetDateTime) -> Result<&JoinScope, PkiError> {
        let token = JoinToken::parse(presented)?;
        let hash = token_hash(&token.id, &token.secret);
        if token.id != self.id || verify_slices_are_equal(&hash, &self.hash).is_err() {
            return Err(PkiError::JoinTokenInvalid);
        }
        if now >= self.expires {
            return Err(PkiError::JoinTokenExpired);
        }
        if self.used {
            return Err(PkiError::JoinTokenUsed);
        }
        Ok(&self.scope)
    }

    /// Like [`StoredJoinToken::check`], and also refuses a token issued for another scope.
    pub fn check_for(
        &self,
        presented: &str,
        requested: &JoinScope,
        now: OffsetDateTime,
    ) -> Result<(), PkiError> {
        let scope = self.check(presented, now)?;
        if scope != requested {
            return Err(PkiError::JoinTokenScope {
                issued: scope.to_string(),
                requested: requested.to_string(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "join_tests.rs"]
mod tests;
