//! Shared server state: the store, the master key, verification settings, metrics.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use underpass_auth::credentials::MasterKey;
use underpass_auth::sigv4::VerifierConfig;
use underpass_pki::{CertificateAuthority, RevocationSet};
use underpass_store::{iam, Store};

use crate::config::ServerConfig;
use crate::iam_cache::lock;
pub use crate::metrics::Metrics;

/// Everything a request handler needs.
pub struct AppState {
    /// The state database.
    pub store: Store,
    /// Seals secrets and session tokens.
    pub master: MasterKey,
    /// Server settings.
    pub cfg: ServerConfig,
    /// SigV4 settings.
    pub verifier: VerifierConfig,
    /// Request counters.
    pub metrics: Metrics,
    /// Tells agent long-polls that the revision moved.
    pub revision: tokio::sync::watch::Sender<i64>,
    /// The certificate authority.
    pub ca: CertificateAuthority,
    /// Revoked serials, checked on every agent handshake.
    pub revocations: RevocationSet,
    agent_addr: OnceLock<SocketAddr>,
    key_use: Arc<Mutex<HashMap<String, Instant>>>,
    /// Held shared by each key-use write in flight (see `note_key_use`); `settle_key_use`
    /// takes it whole.
    key_use_writes: Arc<tokio::sync::RwLock<()>>,
    buckets: Mutex<HashMap<String, Bucket>>,
    /// Throttled calls so far (the audit log samples them).
    pub(crate) throttled: std::sync::atomic::AtomicU64,
    /// The audit log's writer.
    pub audit: crate::audit::AuditLog,
    /// Access keys and identity policies between IAM changes.
    pub(crate) iam_cache: Arc<crate::iam_cache::IamCache>,
    /// `DescribeVpcEndpoints`' items between changes of their endpoints.
    pub(crate) endpoint_items: crate::actions::vpce_items::EndpointItems,
    /// The bits of new resources' ids, in creation order.
    pub(crate) ids: underpass_domain::IdClock,
}

/// A token bucket: `tokens` refill at the key's rate up to twice the rate.
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Most access keys tracked by the rate limiter before idle ones are forgotten.
const MAX_BUCKETS: usize = 100_000;

/// How often a key's last-used time is written back (per key).
const KEY_USE_WRITE_INTERVAL: Duration = Duration::from_secs(60);

impl AppState {
    /// Builds the state.
    pub fn new(
        store: Store,
        master: MasterKey,
        ca: CertificateAuthority,
        revocations: RevocationSet,
        cfg: ServerConfig,
        revision: i64,
        audit: crate::audit::AuditLog,
    ) -> Self {
        let verifier = VerifierConfig {
            regions: cfg.regions.iter().map(|r| r.name.clone()).collect(),
            any_region_services: ["iam", "sts"].map(String::from).to_vec(),
            services: ["ec2", "elasticloadbalancing", "iam", "sts", "underpass"]
                .map(String::from)
                .to_vec(),
            ..VerifierConfig::default()
        };
        Self {
            store,
            master,
            cfg,
            verifier,
            metrics: Metrics::default(),
            revision: tokio::sync::watch::channel(revision).0,
            ca,
            revocations,
            agent_addr: OnceLock::new(),
            key_use: Arc::default(),
            key_use_writes: Arc::default(),
            buckets: Mutex::new(HashMap::new()),
            throttled: std::sync::atomic::AtomicU64::new(0),
            audit,
            iam_cache: Arc::default(),
            endpoint_items: Default::default(),
            ids: underpass_domain::IdClock::default(),
        }
    }

    /// Where the agent listener is bound, once it is.
    pub fn agent_addr(&self) -> Option<SocketAddr> {
        self.agent_addr.get().copied()
    }

    pub(crate) fn set_agent_addr(&self, addr: SocketAddr) {
        let _ = self.agent_addr.set(addr);
    }

    /// Takes one request from `key`'s bucket; false when the key is over its rate
    /// (RELIABILITY item 18: one noisy key cannot starve the others).
    pub(crate) fn admit(&self, key: &str) -> bool {
        let rate = f64::from(self.cfg.rate_per_key.max(1));
        let burst = rate * 2.0;
        let now = Instant::now();
        let mut m = lock(&self.buckets);
        if m.len() >= MAX_BUCKETS && !m.contains_key(key) {
            // Full buckets are the default state: dropping them forgets nothing that matters.
            m.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
        }
        let b = m.entry(key.to_owned()).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Records a key's use, writing to the store at most once a minute per key. The write runs
    /// in a task of its own, so no call waits for it: with the database locked by another
    /// process, the first call of each minute per key, reads included, would otherwise wait
    /// out the busy timeout first (RELIABILITY item 40). Readers of the last-used time call
    /// [`Self::settle_key_use`] first.
    pub(crate) async fn note_key_use(
        &self,
        key: &str,
        now: OffsetDateTime,
        service: &str,
        region: &str,
    ) {
        let due = {
            let mut m = lock(&self.key_use);
            let due = m
                .get(key)
                .is_none_or(|t| t.elapsed() >= KEY_USE_WRITE_INTERVAL);
            if due {
                m.insert(key.to_owned(), Instant::now());
            }
            due
        };
        if !due {
            return;
        }
        // Taken before the task starts, so that a settle begun after this call returns waits
        // for this write. Only while a settle is waiting does this wait, behind it.
        let in_flight = match self.key_use_writes.clone().try_read_owned() {
            Ok(g) => g,
            Err(_) => self.key_use_writes.clone().read_owned().await,
        };
        let (store, cache, key_use) = (
            self.store.clone(),
            self.iam_cache.clone(),
            self.key_use.clone(),
        );
        let (key, service, region) = (key.to_owned(), service.to_owned(), region.to_owned());
        tokio::spawn(async move {
            let r = async {
                let mut tx = store.begin().await?;
                iam::touch_key(&mut tx, &key, now, &service, &region).await?;
                tx.commit().await?;
                cache.note_write();
                Ok::<_, underpass_store::StoreError>(())
            }
            .await;
            if let Err(e) = r {
                tracing::warn!(error = %e, "could not record key use");
                // The key's next call tries again.
                lock(&key_use).remove(&key);
            }
            drop(in_flight);
        });
    }

    /// Waits until every key-use write started so far has ended.
    pub(crate) async fn settle_key_use(&self) {
        drop(self.key_use_writes.write().await);
    }

    /// Tells agent long-polls about revision `rev`, read by a write that just committed. The
    /// writes of one batch publish in any order: the highest stands.
    pub(crate) fn publish_revision(&self, rev: i64) {
        self.revision.send_if_modified(|cur| {
            let newer = rev > *cur;
            if newer {
                *cur = rev;
            }
            newer
        });
    }
}
