//! [`CachedKeyStore`]: a bounded cache in front of any [`KeyStore`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use moka::future::Cache;
use tokio::sync::Semaphore;

use super::{ApiKeyRecord, KeyStore, StoreError};
use crate::apikey::KeyDigest;

/// Bounds of a [`CachedKeyStore`].
#[derive(Debug, Clone)]
pub struct CacheOptions {
    /// Most digests remembered (found or not). Default 10,000.
    pub max_entries: u64,
    /// How long a lookup result is reused. This is the staleness bound: a
    /// key revoked in the store is refused by this instance within `ttl`.
    /// Default 5 s.
    pub ttl: Duration,
    /// Most store lookups in flight at once. Default 16.
    pub max_concurrent_lookups: usize,
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self { max_entries: 10_000, ttl: Duration::from_secs(5), max_concurrent_lookups: 16 }
    }
}

/// Caches lookups by digest, found and not found alike, with bounded entries
/// and a TTL; concurrent lookups of one digest share one store query; store
/// queries in flight are bounded. Records `last_used_at` lazily: once per
/// cache load, in the background.
pub struct CachedKeyStore {
    inner: Arc<dyn KeyStore>,
    cache: Cache<KeyDigest, Option<Arc<ApiKeyRecord>>>,
    lookups: Arc<Semaphore>,
}

impl CachedKeyStore {
    /// Puts a cache with `options` in front of `inner`.
    pub fn new(inner: Arc<dyn KeyStore>, options: CacheOptions) -> Self {
        let cache = Cache::builder().max_capacity(options.max_entries).time_to_live(options.ttl).build();
        let lookups = Arc::new(Semaphore::new(options.max_concurrent_lookups.max(1)));
        Self { inner, cache, lookups }
    }

    /// Entries currently cached (after pending evictions are applied).
    pub async fn entry_count(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.entry_count()
    }
}

impl std::fmt::Debug for CachedKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedKeyStore").field("entries", &self.cache.entry_count()).finish_non_exhaustive()
    }
}

#[async_trait]
impl KeyStore for CachedKeyStore {
    async fn find_by_digest(&self, digest: &KeyDigest) -> Result<Option<ApiKeyRecord>, StoreError> {
        let load = async {
            let _permit = self.lookups.acquire().await.map_err(|_| StoreError("lookups closed".into()))?;
            let record = self.inner.find_by_digest(digest).await?;
            let runtime = tokio::runtime::Handle::try_current().ok();
            if let (Some(record), Some(runtime)) = (record.as_ref().filter(|r| r.revoked_at.is_none()), runtime) {
                let (store, id, now) =
                    (self.inner.clone(), record.id.clone(), crate::time::Clock::system().unix_seconds());
                runtime.spawn(async move {
                    if let Err(error) = store.touch(&id, now).await {
                        tracing::debug!(%error, key_id = %id, "could not record last use");
                    }
                });
            }
            Ok::<_, StoreError>(record.map(Arc::new))
        };
        let cached = self.cache.try_get_with(*digest, load).await.map_err(|error| StoreError(error.0.clone()))?;
        Ok(cached.map(|record| (*record).clone()))
    }

    async fn insert(&self, record: ApiKeyRecord) -> Result<(), StoreError> {
        self.cache.invalidate(&record.digest).await;
        self.inner.insert(record).await
    }

    async fn list(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.inner.list().await
    }

    async fn revoke(&self, id: &str, at: u64) -> Result<bool, StoreError> {
        // Revocation is rare and ids are not cache keys: forget everything.
        self.cache.invalidate_all();
        self.inner.revoke(id, at).await
    }

    async fn touch(&self, id: &str, at: u64) -> Result<(), StoreError> {
        self.inner.touch(id, at).await
    }
}
