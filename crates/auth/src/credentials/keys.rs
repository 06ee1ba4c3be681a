//! Long-term access keys and IAM's rules for them.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use underpass_domain::{AccessKeyId, AccessKeyKind, PrincipalArn};

use super::secret::{fill_random, MasterKey, SealedSecret, SecretAccessKey};
use super::CredentialError;

/// IAM's quota of access keys per user.
pub const MAX_KEYS_PER_USER: usize = 2;

/// Whether a key may sign requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyStatus {
    /// The key authenticates requests.
    Active,
    /// The key is kept but refused; it can be re-activated or deleted.
    Inactive,
}

impl KeyStatus {
    /// IAM's spelling: `Active` or `Inactive`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Inactive => "Inactive",
        }
    }
}

impl std::str::FromStr for KeyStatus {
    type Err = CredentialError;
    fn from_str(s: &str) -> Result<Self, CredentialError> {
        match s {
            "Active" => Ok(Self::Active),
            "Inactive" => Ok(Self::Inactive),
            _ => Err(CredentialError::Validation(format!(
                "1 validation error detected: Value '{}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]",
                s.chars().take(32).collect::<String>()
            ))),
        }
    }
}

/// When, and for which service and region, a key last authenticated a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastUsed {
    /// The time of the request.
    pub at: OffsetDateTime,
    /// The service from the request's credential scope.
    pub service: String,
    /// The region from the request's credential scope.
    pub region: String,
}

/// A stored access key: everything but the plain secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyRecord {
    /// The key id, `AKIA…`.
    pub id: AccessKeyId,
    /// The user (or account root) the key belongs to.
    pub owner: PrincipalArn,
    /// Active or inactive.
    pub status: KeyStatus,
    /// When the key was created.
    pub created: OffsetDateTime,
    /// The last request it authenticated, if any.
    pub last_used: Option<LastUsed>,
    /// The secret, sealed under the master key.
    pub sealed_secret: SealedSecret,
}

/// What `ListAccessKeys` shows: metadata only, never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyMeta {
    /// The key id.
    pub id: AccessKeyId,
    /// The owner's ARN.
    pub owner: PrincipalArn,
    /// Active or inactive.
    pub status: KeyStatus,
    /// When the key was created.
    pub created: OffsetDateTime,
}

/// A key just created: the only time its secret is ever returned.
#[derive(Debug)]
pub struct NewAccessKey {
    /// The stored form, to persist.
    pub record: AccessKeyRecord,
    /// The secret, to hand to the user once.
    pub secret: SecretAccessKey,
}

/// The set of long-term keys, with IAM's rules for changing it.
///
/// The store persists each [`AccessKeyRecord`]; the rules (quota, ownership, rotation) live here
/// so every front end applies the same ones.
#[derive(Debug, Default, Clone)]
pub struct KeyRing {
    keys: BTreeMap<AccessKeyId, AccessKeyRecord>,
}

impl KeyRing {
    /// An empty key ring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a record read back from storage.
    pub fn insert(&mut self, record: AccessKeyRecord) {
        self.keys.insert(record.id, record);
    }

    /// The record of `id`, if it exists.
    pub fn get(&self, id: &AccessKeyId) -> Option<&AccessKeyRecord> {
        self.keys.get(id)
    }

    /// Creates a new active key for `owner` (an IAM user or an account root).
    pub fn create(
        &mut self,
        master: &MasterKey,
        owner: &PrincipalArn,
        now: OffsetDateTime,
    ) -> Result<NewAccessKey, CredentialError> {
        if !matches!(owner, PrincipalArn::User { .. } | PrincipalArn::Root { .. }) {
            return Err(CredentialError::Validation(format!(
                "access keys belong to IAM users or account roots, not to {owner}"
            )));
        }
        let held = self.keys.values().filter(|k| &k.owner == owner).count();
        if held >= MAX_KEYS_PER_USER {
            return Err(CredentialError::LimitExceeded(MAX_KEYS_PER_USER));
        }
        let id = loop {
            let mut random = [0u8; 16];
            fill_random(&mut random)?;
            let id = AccessKeyId::from_random(AccessKeyKind::LongTerm, random);
            if !self.keys.contains_key(&id) {
                break id;
            }
        };
        let secret = SecretAccessKey::generate()?;
        let record = AccessKeyRecord {
            id,
            owner: owner.clone(),
            status: KeyStatus::Active,
            created: now,
            last_used: None,
            sealed_secret: SealedSecret::seal(master, id.as_str(), &secret)?,
        };
        self.keys.insert(id, record.clone());
        Ok(NewAccessKey { record, secret })
    }

    /// The keys of `owner`, oldest first.
    pub fn list(&self, owner: &PrincipalArn) -> Vec<AccessKeyMeta> {
        let mut out: Vec<_> = self
            .keys
            .values()
            .filter(|k| &k.owner == owner)
            .map(|k| AccessKeyMeta {
                id: k.id,
                owner: k.owner.clone(),
                status: k.status,
                created: k.created,
            })
            .collect();
        out.sort_by_key(|k| (k.created, k.id));
        out
    }

    /// Activates or deactivates `owner`'s key `id`.
    pub fn set_status(
        &mut self,
        owner: &PrincipalArn,
        id: &AccessKeyId,
        status: KeyStatus,
    ) -> Result<(), CredentialError> {
        self.owned_mut(owner, id)?.status = status;
        Ok(())
    }

    /// Deletes `owner`'s key `id` and returns what was removed.
    pub fn delete(
        &mut self,
        owner: &PrincipalArn,
        id: &AccessKeyId,
    ) -> Result<AccessKeyRecord, CredentialError> {
        self.owned_mut(owner, id)?;
        self.keys
            .remove(id)
            .ok_or_else(|| CredentialError::NoSuchEntity(id.to_string()))
    }

    /// Rotates `old`: creates a new active key and deactivates `old` in one step, so the user
    /// can switch over and then delete `old`. Fails, changing nothing, if the user already holds
    /// the maximum number of keys (delete the unused one first) or `old` is not theirs.
    pub fn rotate(
        &mut self,
        master: &MasterKey,
        owner: &PrincipalArn,
        old: &AccessKeyId,
        now: OffsetDateTime,
    ) -> Result<NewAccessKey, CredentialError> {
        self.owned_mut(owner, old)?;
        let new = self.create(master, owner, now)?;
        self.owned_mut(owner, old)?.status = KeyStatus::Inactive;
        Ok(new)
    }

    /// Records that `id` authenticated a request (for `GetAccessKeyLastUsed`).
    pub fn record_use(
        &mut self,
        id: &AccessKeyId,
        at: OffsetDateTime,
        service: &str,
        region: &str,
    ) {
        if let Some(k) = self.keys.get_mut(id) {
            k.last_used = Some(LastUsed {
                at,
                service: service.to_owned(),
                region: region.to_owned(),
            });
        }
    }

    /// The owner and last use of `id`.
    pub fn last_used(
        &self,
        id: &AccessKeyId,
    ) -> Result<(&PrincipalArn, Option<&LastUsed>), CredentialError> {
        let k = self
            .keys
            .get(id)
            .ok_or_else(|| CredentialError::NoSuchEntity(id.to_string()))?;
        Ok((&k.owner, k.last_used.as_ref()))
    }

    fn owned_mut(
        &mut self,
        owner: &PrincipalArn,
        id: &AccessKeyId,
    ) -> Result<&mut AccessKeyRecord, CredentialError> {
        match self.keys.get_mut(id) {
            // Another user's key is reported exactly like a missing one: no probing across users.
            Some(k) if &k.owner == owner => Ok(k),
            _ => Err(CredentialError::NoSuchEntity(id.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn user(name: &str) -> PrincipalArn {
        format!("arn:aws:iam::111122223333:user/{name}")
            .parse()
            .unwrap()
    }

    #[test]
    fn lifecycle() {
        let m = MasterKey::from_bytes(&[1; 32]).unwrap();
        let mut ring = KeyRing::new();
        let t0 = datetime!(2026-01-01 0:00 UTC);
        let alice = user("alice");
        let k1 = ring.create(&m, &alice, t0).unwrap();
        assert_eq!(k1.record.id.kind(), AccessKeyKind::LongTerm);
        assert!(k1.record.id.as_str().starts_with("AKIA"));
        assert_eq!(
            k1.record
                .sealed_secret
                .open(&m, k1.record.id.as_str())
                .unwrap(),
            k1.secret
        );
        let k2 = ring
            .create(&m, &alice, t0 + time::Duration::SECOND)
            .unwrap();
        assert!(matches!(
            ring.create(&m, &alice, t0),
            Err(CredentialError::LimitExceeded(2))
        ));
        // The quota is per user.
        ring.create(&m, &user("bob"), t0).unwrap();
        let listed: Vec<_> = ring.list(&alice).into_iter().map(|k| k.id).collect();
        assert_eq!(listed, vec![k1.record.id, k2.record.id]);

        ring.set_status(&alice, &k1.record.id, KeyStatus::Inactive)
            .unwrap();
        assert_eq!(ring.get(&k1.record.id).unwrap().status, KeyStatus::Inactive);
        // Bob cannot touch Alice's key, and learns nothing more than "not found".
        let err = ring.delete(&user("bob"), &k1.record.id).unwrap_err();
        assert_eq!(err.code(), "NoSuchEntity");
        ring.delete(&alice, &k1.record.id).unwrap();
        assert!(ring.get(&k1.record.id).is_none());
        assert_eq!(
            ring.delete(&alice, &k1.record.id).unwrap_err().code(),
            "NoSuchEntity"
        );
    }

    #[test]
    fn rotate_swaps_atomically_or_not_at_all() {
        let m = MasterKey::from_bytes(&[1; 32]).unwrap();
        let mut ring = KeyRing::new();
        let t0 = datetime!(2026-01-01 0:00 UTC);
        let alice = user("alice");
        let old = ring.create(&m, &alice, t0).unwrap().record.id;
        let new = ring.rotate(&m, &alice, &old, t0).unwrap();
        assert_eq!(ring.get(&old).unwrap().status, KeyStatus::Inactive);
        assert_eq!(new.record.status, KeyStatus::Active);
        // A second rotation would exceed the quota: refused, and nothing changed.
        let before = ring.list(&alice);
        assert_eq!(
            ring.rotate(&m, &alice, &new.record.id, t0)
                .unwrap_err()
                .code(),
            "LimitExceeded"
        );
        assert_eq!(ring.list(&alice), before);
        assert_eq!(ring.get(&new.record.id).unwrap().status, KeyStatus::Active);
    }

    #[test]
    fn last_used_and_owners() {
        let m = MasterKey::from_bytes(&[1; 32]).unwrap();
        let mut ring = KeyRing::new();
        let t0 = datetime!(2026-01-01 0:00 UTC);
        let id = ring.create(&m, &user("alice"), t0).unwrap().record.id;
        assert_eq!(ring.last_used(&id).unwrap().1, None);
        ring.record_use(&id, t0, "ec2", "us-east-1");
        let used = ring.last_used(&id).unwrap().1.unwrap();
        assert_eq!(
            (used.service.as_str(), used.region.as_str()),
            ("ec2", "us-east-1")
        );
        let role: PrincipalArn = "arn:aws:iam::111122223333:role/r".parse().unwrap();
        assert_eq!(
            ring.create(&m, &role, t0).unwrap_err().code(),
            "ValidationError"
        );
        assert_eq!(
            "active".parse::<KeyStatus>().unwrap_err().code(),
            "ValidationError"
        );
    }
}
