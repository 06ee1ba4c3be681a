//! Signing keys derived from a secret, kept between requests (see [`DerivedKeys`]).

use std::fmt;
use std::sync::{Mutex, PoisonError};

use super::canonical::SigningKey;
use super::CredentialScope;

/// A signing key and the credential scope it was derived for; never printed.
#[derive(Clone)]
pub struct ScopedKey {
    pub(super) scope: CredentialScope,
    pub(super) key: SigningKey,
}

impl fmt::Debug for ScopedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedKey")
            .field("scope", &self.scope)
            .field("key", &"***")
            .finish()
    }
}

/// How many scopes [`DerivedKeys`] keeps a key for: a client signs for a region or two and a
/// service or two, and the date moves once a day.
const KEPT_SCOPES: usize = 4;

/// The signing keys derived from one secret, by scope, kept between its requests: a request
/// whose scope has one is checked with one HMAC, instead of the secret's unsealing and the
/// five HMACs of a derivation (the AWS SDK for Java keeps its derived keys the same way). Its holder ties it to
/// one secret, and drops it with the secret's record.
#[derive(Default)]
pub struct DerivedKeys {
    /// Newest last; at most [`KEPT_SCOPES`].
    keys: Mutex<Vec<ScopedKey>>,
}

impl DerivedKeys {
    /// The key kept for `scope`, if any.
    pub fn get(&self, scope: &CredentialScope) -> Option<ScopedKey> {
        let keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        keys.iter().rev().find(|k| &k.scope == scope).cloned()
    }

    /// Keeps `key`; the oldest goes when [`KEPT_SCOPES`] are kept.
    pub fn keep(&self, key: ScopedKey) {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        keys.retain(|k| k.scope != key.scope);
        if keys.len() >= KEPT_SCOPES {
            keys.remove(0);
        }
        keys.push(key);
    }

    /// How many scopes have a key kept.
    pub fn len(&self) -> usize {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no key is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for DerivedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DerivedKeys")
            .field("kept", &self.len())
            .finish()
    }
}
