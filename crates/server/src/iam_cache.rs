//! The IAM state every request needs, kept in memory between changes: a long-term access key
//! with its owner's user id, and a principal's parsed identity policies.
//!
//! Without it a call pays about six SQL statements (each a round trip to SQLite's worker
//! thread) before its action starts. Entries carry the IAM generation they were read at (a
//! counter that triggers move on every change to IAM tables, migration 0058) and are used only
//! while it is current. Knowing the current generation costs one read after this process
//! commits a write, and nothing otherwise (but once a second): only this process writes its
//! store, and every write it commits bumps [`IamCache::note_write`]. A change becomes visible to requests that start
//! after its commit, as without the cache; a request that began just before may still see the
//! state before it (AWS's IAM promises less: changes propagate in seconds).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use underpass_auth::credentials::AccessKeyRecord;
use underpass_auth::iam::NamedPolicy;
use underpass_auth::sigv4::DerivedKeys;
use underpass_store::{iam, Store, StoreError};

/// Most entries per map; past it the map starts over (entries are only made for keys and
/// principals that exist, so this bounds memory against many real ones, not against guesses).
const MAX_ENTRIES: usize = 10_000;

/// The longest a remembered generation is trusted without a write of this process.
const RECHECK: Duration = Duration::from_secs(1);

/// A long-term key as authentication needs it, parsed once per IAM generation.
#[derive(Debug)]
pub(crate) struct KeyFacts {
    /// The stored key.
    pub(crate) record: AccessKeyRecord,
    /// The owner's user id (`None` for an account root's key).
    pub(crate) user_id: Option<String>,
    /// The signing keys derived from this record's secret so far. They go with the record:
    /// any change to IAM (a key deactivated or deleted among them) starts a new generation,
    /// whose record starts with none.
    pub(crate) derived: DerivedKeys,
}

struct Entry<T> {
    gen: i64,
    value: T,
}

/// See the module docs.
#[derive(Default)]
pub(crate) struct IamCache {
    /// Write transactions this process committed.
    writes: AtomicU64,
    /// The generation read last, the write count it was read at, and when.
    current: Mutex<Option<(u64, i64, Instant)>>,
    keys: Mutex<HashMap<String, Entry<Arc<KeyFacts>>>>,
    policies: Mutex<HashMap<String, Entry<Arc<[NamedPolicy]>>>>,
}

/// A std mutex's guard, poisoned or not: the maps it guards stay valid after a panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl IamCache {
    /// After a write transaction of this process committed: the generation may have moved.
    pub(crate) fn note_write(&self) {
        self.writes.fetch_add(1, Ordering::AcqRel);
    }

    /// As [`IamCache::note_write`], for a write transaction that read the generation `gen` just
    /// before its commit: when that is the remembered generation, the write changed no IAM
    /// state and the remembered one stays current. (A write that changed IAM state read a
    /// generation above the one it began at, which is at least the remembered one, since that
    /// was read from committed state: it never matches.)
    pub(crate) fn note_commit(&self, gen: i64) {
        let remembered = lock(&self.current).map(|(_, g, _)| g);
        if remembered != Some(gen) {
            self.note_write();
        }
    }

    /// The current IAM generation: remembered until this process commits a write, then read;
    /// read at least every [`RECHECK`] whatever happens, so a write that did not tell the
    /// cache is seen within that time.
    pub(crate) async fn generation(&self, store: &Store) -> Result<i64, StoreError> {
        let writes = self.writes.load(Ordering::Acquire);
        if let Some((at, gen, read)) = *lock(&self.current) {
            if at == writes && read.elapsed() < RECHECK {
                return Ok(gen);
            }
        }
        // Read after loading the count: a write committed later bumps it and is seen next time.
        let gen = iam::generation_now(store).await?;
        *lock(&self.current) = Some((writes, gen, Instant::now()));
        Ok(gen)
    }

    /// The key `id` at generation `gen`, if remembered.
    pub(crate) fn key(&self, id: &str, gen: i64) -> Option<Arc<KeyFacts>> {
        lock(&self.keys)
            .get(id)
            .filter(|e| e.gen == gen)
            .map(|e| Arc::clone(&e.value))
    }

    /// Remembers a key read in a transaction at generation `gen`.
    pub(crate) fn put_key(&self, id: &str, gen: i64, value: Arc<KeyFacts>) {
        put(&self.keys, id, gen, value);
    }

    /// The identity policies of `owner` at generation `gen`, if remembered.
    pub(crate) fn policies(&self, owner: &str, gen: i64) -> Option<Arc<[NamedPolicy]>> {
        lock(&self.policies)
            .get(owner)
            .filter(|e| e.gen == gen)
            .map(|e| Arc::clone(&e.value))
    }

    /// Remembers `owner`'s policies read in a transaction at generation `gen`.
    pub(crate) fn put_policies(&self, owner: &str, gen: i64, value: Arc<[NamedPolicy]>) {
        put(&self.policies, owner, gen, value);
    }
}

fn put<T>(map: &Mutex<HashMap<String, Entry<T>>>, id: &str, gen: i64, value: T) {
    let mut m = lock(map);
    if m.len() >= MAX_ENTRIES && !m.contains_key(id) {
        m.clear();
    }
    m.insert(id.to_owned(), Entry { gen, value });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writes(c: &IamCache) -> u64 {
        c.writes.load(Ordering::Acquire)
    }

    #[test]
    fn a_commit_at_the_remembered_generation_keeps_it_current_and_any_other_does_not() {
        let c = IamCache::default();
        // Nothing remembered: any commit counts as a write.
        c.note_commit(5);
        assert_eq!(writes(&c), 1);
        *lock(&c.current) = Some((1, 5, Instant::now()));
        // A write that changed no IAM state read the remembered generation.
        c.note_commit(5);
        assert_eq!(writes(&c), 1, "the remembered generation stays current");
        // One that did read a later one.
        c.note_commit(6);
        assert_eq!(writes(&c), 2, "the next request reads the generation again");
        c.note_write();
        assert_eq!(writes(&c), 3);
    }
}
