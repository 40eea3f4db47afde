//! [`CachedKeyStore`]: a bounded cache in front of any [`KeyStore`], and the
//! store's health.
//!
//! - **Found keys are cached** for `ttl` (the polling bound on a revocation
//!   made elsewhere); concurrent lookups of one key share one query, and
//!   queries in flight are bounded.
//! - **Unknown keys are not cached**, so a key created or imported is
//!   accepted on the very next request, even one refused moments before. A
//!   flood of distinct junk costs one indexed query per key either way (a
//!   negative cache only helps a junk key sent twice); what bounds it is the
//!   number of queries in flight, not memory.
//! - **Changes pushed by the store** ([`KeyStore::changes`], PostgreSQL's
//!   `LISTEN/NOTIFY`) and changes made through this cache end every cached
//!   answer at once: each belongs to an epoch, and a change starts a new one.
//! - **Fails fast**: after a failed query the store is marked down, and until
//!   a background probe reaches it again lookups answer at once (no query,
//!   no pool timeout), with the last good record of a key verified within
//!   `stale` if there is one.

use std::any::Any;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use moka::future::Cache;
use tokio::sync::Semaphore;

use super::{ApiKeyRecord, AuditEntry, ChangedBy, ImportSummary, KeyChange, KeyQuery, KeyStore, KeyUpdate, StoreError};
use crate::apikey::KeyDigest;
use crate::readiness::StoreReadiness;

/// Bounds of a [`CachedKeyStore`].
#[derive(Debug, Clone)]
pub struct CacheOptions {
    /// Most keys remembered. Default 10,000.
    pub max_entries: u64,
    /// How long a found key is reused without asking the store. The
    /// staleness bound of a revocation made elsewhere when the store
    /// cannot push changes (or its push connection is lost). Default 5 s.
    pub ttl: Duration,
    /// Most store queries in flight at once. Default 16.
    pub max_concurrent_lookups: usize,
    /// How long a key verified by the store keeps working while the store
    /// is unreachable. A revocation cannot be written to an unreachable
    /// store anyway; what this admits is a key revoked moments before the
    /// outage, and one whose store this instance alone cannot reach.
    /// `Duration::ZERO`: never. Default 5 min.
    pub stale: Duration,
    /// First wait between probes of a store that failed; doubles up to 2 s.
    /// Default 100 ms.
    pub probe_interval: Duration,
    /// Longest a request waits for one store query (a connection included):
    /// past it the query counts as failed and the store as down. Bounds
    /// what the requests in flight when an outage begins wait. Default 1 s.
    pub query_timeout: Duration,
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self {
            max_entries: 10_000,
            ttl: Duration::from_secs(5),
            max_concurrent_lookups: 16,
            stale: Duration::from_secs(300),
            probe_interval: Duration::from_millis(100),
            query_timeout: Duration::from_secs(1),
        }
    }
}

/// Longest wait between probes of a store that is down.
const MAX_PROBE_INTERVAL: Duration = Duration::from_secs(2);

/// Caches found keys by digest, bounded in entries and time, and tracks
/// the store's health; see the module documentation.
#[derive(Clone)]
pub struct CachedKeyStore {
    inner: Arc<dyn KeyStore>,
    shared: Arc<Shared>,
}

struct Shared {
    found: Cache<KeyDigest, Found>,
    /// Keys verified within `stale`, served only while the store is down.
    last_good: Option<moka::sync::Cache<KeyDigest, Arc<ApiKeyRecord>>>,
    epoch: RwLock<Arc<Epoch>>,
    health: Mutex<Health>,
    /// Woken when the store is found down.
    outage: tokio::sync::Notify,
    lookups: Semaphore,
    query_timeout: Duration,
    probe_interval: Duration,
}

/// What a cached answer lives with: a change to the store replaces it.
#[derive(Debug)]
pub(crate) struct Epoch;

#[derive(Clone)]
struct Found {
    record: Arc<ApiKeyRecord>,
    epoch: Weak<Epoch>,
}

#[derive(Default)]
struct Health {
    /// Why the store is down; `None` while it answers.
    down: Option<String>,
    probing: bool,
}

/// Why a lookup has no record.
enum Miss {
    Unknown,
    Failed(Arc<StoreError>),
}

impl CachedKeyStore {
    /// Puts a cache with `options` in front of `inner`, and follows the
    /// changes `inner` pushes, if it does.
    pub fn new(inner: Arc<dyn KeyStore>, options: CacheOptions) -> Self {
        let found = Cache::builder().max_capacity(options.max_entries).time_to_live(options.ttl).build();
        let last_good = (!options.stale.is_zero()).then(|| {
            moka::sync::Cache::builder().max_capacity(options.max_entries).time_to_live(options.stale).build()
        });
        let shared = Arc::new(Shared {
            found,
            last_good,
            epoch: RwLock::new(Arc::new(Epoch)),
            health: Mutex::new(Health::default()),
            outage: tokio::sync::Notify::new(),
            query_timeout: options.query_timeout,
            lookups: Semaphore::new(options.max_concurrent_lookups.max(1)),
            probe_interval: options.probe_interval.max(Duration::from_millis(1)),
        });
        if let (Some(changes), Ok(runtime)) = (inner.changes(), tokio::runtime::Handle::try_current()) {
            runtime.spawn(follow_changes(changes, Arc::downgrade(&shared)));
        }
        Self { inner, shared }
    }

    /// Entries currently cached (after pending evictions are applied).
    pub async fn entry_count(&self) -> u64 {
        self.shared.found.run_pending_tasks().await;
        self.shared.found.entry_count()
    }

    /// Whether the store answered its last query.
    pub fn health(&self) -> StoreReadiness {
        let down = self.shared.down();
        StoreReadiness { ready: down.is_none(), error: down }
    }

    /// Asks the store whether it answers ([`KeyStore::ping`]), and records
    /// the answer in [`CachedKeyStore::health`].
    pub async fn probe(&self) -> Result<(), StoreError> {
        match self.inner.ping().await {
            Ok(()) => {
                self.shared.recovered();
                Ok(())
            }
            Err(error) => {
                self.fail(&error);
                Err(error)
            }
        }
    }

    /// The epoch a lookup starting now belongs to: answers derived from it
    /// must die with it (`Weak::strong_count` reaches 0 on a change).
    pub(crate) fn epoch(&self) -> Arc<Epoch> {
        self.shared.current_epoch()
    }

    /// The record of `digest`: cached, else from the store, else — while the
    /// store is down — the last good record of a recently verified key.
    pub(crate) async fn lookup(&self, digest: &KeyDigest) -> Result<Option<Arc<ApiKeyRecord>>, StoreError> {
        let shared = &self.shared;
        if let Some(found) = shared.found.get(digest).await {
            if found.epoch.strong_count() > 0 {
                return Ok(Some(found.record));
            }
            shared.found.invalidate(digest).await;
        }
        if let Some(reason) = shared.down() {
            return self.last_good(digest).ok_or(StoreError(reason));
        }
        match shared.found.try_get_with(*digest, self.query(digest)).await {
            Ok(found) => Ok(Some(found.record)),
            Err(miss) => match &*miss {
                Miss::Unknown => Ok(None),
                Miss::Failed(error) => self.last_good(digest).ok_or_else(|| StoreError(error.0.clone())),
            },
        }
    }

    async fn query(&self, digest: &KeyDigest) -> Result<Found, Miss> {
        let epoch = self.epoch();
        let _permit = self.shared.lookups.acquire().await.map_err(|_| Miss::Unknown)?;
        // Whichever query finds the store down first answers every other
        // query in flight too: none keeps waiting for a connection.
        let outage = self.shared.outage.notified();
        tokio::pin!(outage);
        outage.as_mut().enable();
        if let Some(reason) = self.shared.down() {
            return Err(Miss::Failed(Arc::new(StoreError(reason))));
        }
        let started = std::time::Instant::now();
        let found = tokio::select! {
            found = tokio::time::timeout(self.shared.query_timeout, self.inner.find_by_digest(digest)) => {
                found.unwrap_or_else(|_| Err(StoreError("no answer within the query timeout".into())))
            }
            () = &mut outage => {
                let reason = self.shared.down().unwrap_or_default();
                return Err(Miss::Failed(Arc::new(StoreError(reason))));
            }
        };
        crate::observe::key_store_query(started.elapsed(), found.is_err());
        let record = match found {
            Ok(Some(record)) => Arc::new(record),
            Ok(None) => return Err(Miss::Unknown),
            Err(error) => {
                self.fail(&error);
                return Err(Miss::Failed(Arc::new(error)));
            }
        };
        if let Some(last_good) = &self.shared.last_good {
            match record.revoked_at {
                None => last_good.insert(*digest, record.clone()),
                Some(_) => last_good.invalidate(digest),
            }
        }
        let now = crate::time::Clock::system().unix_seconds();
        if !record.is_revoked_at(now) {
            self.touch_later(&record.id, now);
        }
        Ok(Found { record, epoch: Arc::downgrade(&epoch) })
    }

    fn last_good(&self, digest: &KeyDigest) -> Option<Option<Arc<ApiKeyRecord>>> {
        let record = self.shared.last_good.as_ref()?.get(digest)?;
        tracing::debug!(key_id = %record.id, "key store down: serving a recently verified key");
        Some(Some(record))
    }

    /// Records the last use in the background: never on a request's time.
    /// Its failure tells of an outage as a lookup's would.
    fn touch_later(&self, id: &str, now: u64) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let (this, id) = (self.clone(), id.to_owned());
        runtime.spawn(async move {
            if let Err(error) = this.inner.touch(&id, now).await {
                tracing::debug!(%error, key_id = %id, "could not record last use");
                this.fail(&error);
            }
        });
    }

    /// A record named by id changed: ids are not cache keys, so every cached
    /// answer goes, stale-serving ones too.
    fn changed_by_id(&self) {
        if let Some(last_good) = &self.shared.last_good {
            last_good.invalidate_all();
        }
        self.shared.changed(&KeyChange::Unknown);
    }

    /// Marks the store down and, unless one runs, starts a probe that marks
    /// it up once it answers.
    fn fail(&self, error: &StoreError) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let start_probe = {
            let mut health = self.shared.lock_health();
            if health.down.is_none() {
                tracing::warn!(%error, "API key store unavailable: keys get 503 (or their last good record) until it answers");
            }
            health.down = Some(error.0.clone());
            !std::mem::replace(&mut health.probing, true)
        };
        self.shared.outage.notify_waiters();
        if start_probe {
            runtime.spawn(probe_until_up(self.inner.clone(), Arc::downgrade(&self.shared)));
        }
    }
}

impl Shared {
    fn lock_health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn down(&self) -> Option<String> {
        self.lock_health().down.clone()
    }

    fn current_epoch(&self) -> Arc<Epoch> {
        self.epoch.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Ends every cached answer: they may predate `change`.
    fn changed(&self, change: &KeyChange) {
        *self.epoch.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(Epoch);
        self.found.invalidate_all();
        if let (Some(last_good), KeyChange::Key(digest)) = (&self.last_good, change) {
            last_good.invalidate(digest);
        }
    }

    fn recovered(&self) {
        let was_down = {
            let mut health = self.lock_health();
            health.probing = false;
            health.down.take().is_some()
        };
        if was_down {
            tracing::info!("API key store reachable again");
            // Changes made during the outage were not pushed to us.
            self.changed(&KeyChange::Unknown);
        }
    }
}

async fn probe_until_up(store: Arc<dyn KeyStore>, shared: Weak<Shared>) {
    let Some(mut interval) = shared.upgrade().map(|shared| shared.probe_interval) else { return };
    loop {
        tokio::time::sleep(interval).await;
        let result = store.ping().await;
        let Some(shared) = shared.upgrade() else { return };
        match result {
            Ok(()) => return shared.recovered(),
            Err(error) => shared.lock_health().down = Some(error.0),
        }
        interval = (interval * 2).min(MAX_PROBE_INTERVAL);
    }
}

async fn follow_changes(mut changes: tokio::sync::broadcast::Receiver<KeyChange>, shared: Weak<Shared>) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        // Wake up now and then to let go of the store once the cache is gone.
        let received = tokio::time::timeout(Duration::from_secs(5), changes.recv()).await;
        let Some(shared) = shared.upgrade() else { return };
        match received {
            Ok(Ok(change)) => shared.changed(&change),
            Ok(Err(RecvError::Lagged(_))) => shared.changed(&KeyChange::Unknown),
            Ok(Err(RecvError::Closed)) => return,
            Err(_) => {}
        }
    }
}

/// A cached answer's witness, as the token cache holds it.
pub(crate) fn witness(epoch: &Arc<Epoch>) -> Weak<dyn Any + Send + Sync> {
    Arc::downgrade(epoch) as Weak<dyn Any + Send + Sync>
}

impl std::fmt::Debug for CachedKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedKeyStore").field("entries", &self.shared.found.entry_count()).finish_non_exhaustive()
    }
}

/// Changes made through the cache are seen by it at once, whether or not
/// the store pushes them.
#[async_trait]
impl KeyStore for CachedKeyStore {
    async fn find_by_digest(&self, digest: &KeyDigest) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(self.lookup(digest).await?.map(|record| (*record).clone()))
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.inner.find_by_id(id).await
    }

    async fn insert(&self, record: ApiKeyRecord, by: &ChangedBy) -> Result<bool, StoreError> {
        let digest = record.digest;
        let result = self.inner.insert(record, by).await;
        self.shared.changed(&KeyChange::Key(digest));
        result
    }

    async fn import(&self, records: Vec<ApiKeyRecord>, by: &ChangedBy) -> Result<ImportSummary, StoreError> {
        let result = self.inner.import(records, by).await;
        self.shared.changed(&KeyChange::Unknown);
        result
    }

    async fn list(&self, query: &KeyQuery) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.inner.list(query).await
    }

    async fn update(&self, id: &str, update: &KeyUpdate, by: &ChangedBy) -> Result<Option<ApiKeyRecord>, StoreError> {
        let result = self.inner.update(id, update, by).await;
        self.changed_by_id();
        result
    }

    async fn revoke(&self, id: &str, by: &ChangedBy) -> Result<bool, StoreError> {
        let result = self.inner.revoke(id, by).await;
        self.changed_by_id();
        result
    }

    async fn rotate(&self, replacement: ApiKeyRecord, until: u64, by: &ChangedBy) -> Result<bool, StoreError> {
        let result = self.inner.rotate(replacement, until, by).await;
        self.changed_by_id();
        result
    }

    async fn touch(&self, id: &str, at: u64) -> Result<(), StoreError> {
        self.inner.touch(id, at).await
    }

    async fn audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        self.inner.audit(entry).await
    }

    async fn audit_log(&self, key_id: Option<&str>) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.audit_log(key_id).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.probe().await
    }
}
