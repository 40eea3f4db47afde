//! API key verification through the bounded cache, with a store that counts
//! its queries.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokenguard_core::apikey::{self, KeyDigest};
use tokenguard_core::store::ApiKeyRecord;
use tokenguard_core::store::CacheOptions;
use tokenguard_core::store::StoreError;
use tokenguard_core::store::{ChangedBy, KeyQuery};
use tokenguard_core::{ApiKeyVerifier, AuthError, KeyStore, MemoryKeyStore, Scopes, Secret};

#[derive(Default)]
struct CountingStore {
    inner: MemoryKeyStore,
    lookups: AtomicUsize,
}

#[async_trait]
impl KeyStore for CountingStore {
    async fn find_by_digest(&self, digest: &KeyDigest) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.find_by_digest(digest).await
    }
    async fn insert(&self, record: ApiKeyRecord, by: &ChangedBy) -> Result<bool, StoreError> {
        self.inner.insert(record, by).await
    }
    async fn list(&self, query: &KeyQuery) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.inner.list(query).await
    }
    async fn revoke(&self, id: &str, by: &ChangedBy) -> Result<bool, StoreError> {
        self.inner.revoke(id, by).await
    }
    async fn touch(&self, id: &str, at: u64) -> Result<(), StoreError> {
        self.inner.touch(id, at).await
    }
}

fn verifier(store: &Arc<CountingStore>, options: CacheOptions) -> ApiKeyVerifier {
    ApiKeyVerifier::with_cache(store.clone(), "tg", options)
}

async fn add_key(store: &CountingStore, scope: &str) -> (Secret, String) {
    let key = apikey::generate("tg");
    let record = ApiKeyRecord::for_key(&key, "svc", Scopes::from_space_separated(scope), None, None);
    let id = record.id.clone();
    store.insert(record, &ChangedBy::now("test")).await.unwrap();
    (key, id)
}

#[tokio::test]
async fn corrupt_keys_never_reach_the_store() {
    let store = Arc::new(CountingStore::default());
    let verifier = verifier(&store, CacheOptions::default());
    let (key, _) = add_key(&store, "read").await;
    let mut typo = key.expose().to_owned();
    typo.replace_range(10..11, if &typo[10..11] == "x" { "y" } else { "x" });
    for _ in 0..10_000 {
        assert_eq!(verifier.verify(&typo).await.unwrap_err(), AuthError::InvalidToken("malformed API key"));
    }
    assert_eq!(verifier.verify("tg_short").await.unwrap_err(), AuthError::InvalidToken("malformed API key"));
    assert_eq!(store.lookups.load(Ordering::SeqCst), 0);
    assert!(verifier.verify(key.expose()).await.is_ok());
    assert_eq!(store.lookups.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn found_keys_are_cached_unknown_ones_are_not() {
    let store = Arc::new(CountingStore::default());
    let verifier = verifier(&store, CacheOptions::default());
    let (key, _) = add_key(&store, "read").await;
    let unknown = apikey::generate("tg");
    for _ in 0..1_000 {
        assert!(verifier.verify(key.expose()).await.is_ok());
    }
    assert_eq!(store.lookups.load(Ordering::SeqCst), 1);
    for _ in 0..10 {
        assert_eq!(verifier.verify(unknown.expose()).await.unwrap_err(), AuthError::InvalidToken("unknown API key"));
    }
    assert_eq!(store.lookups.load(Ordering::SeqCst), 11, "one query per attempt with an unknown key");
}

#[tokio::test]
async fn a_key_refused_as_unknown_then_imported_is_accepted_on_the_next_request() {
    let store = Arc::new(CountingStore::default());
    let verifier = verifier(&store, CacheOptions::default());
    // A Django REST Framework token: 40 hex digits, no prefix.
    let legacy = Secret::new("9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b");
    assert_eq!(verifier.verify(legacy.expose()).await.unwrap_err(), AuthError::InvalidToken("unknown API key"));
    let record = ApiKeyRecord::for_key(&legacy, "legacy", Scopes::from_space_separated("read"), None, None);
    // Imported behind the cache's back, as the CLI does.
    store.inner.insert(record, &ChangedBy::now("test")).await.unwrap();
    assert_eq!(verifier.verify(legacy.expose()).await.unwrap().subject(), "legacy");
}

#[tokio::test]
async fn a_flood_of_unknown_keys_stays_within_the_bound() {
    let store = Arc::new(CountingStore::default());
    let options = CacheOptions { max_entries: 100, ..CacheOptions::default() };
    let verifier = verifier(&store, options);
    for _ in 0..5_000 {
        let unknown = apikey::generate("tg");
        assert!(verifier.verify(unknown.expose()).await.is_err());
    }
    let entries = verifier.cache().entry_count().await;
    assert!(entries <= 100, "{entries} entries");
    // Each distinct well-formed key costs exactly one query, never more.
    assert_eq!(store.lookups.load(Ordering::SeqCst), 5_000);
}

#[tokio::test]
async fn revocation_is_seen_within_the_ttl() {
    let store = Arc::new(CountingStore::default());
    let options = CacheOptions { ttl: Duration::from_millis(300), ..CacheOptions::default() };
    let verifier = verifier(&store, options);
    let (key, id) = add_key(&store, "read").await;
    assert!(verifier.verify(key.expose()).await.is_ok());
    // Revoked directly in the store, behind the cache's back (as another instance would).
    assert!(store.inner.revoke(&id, &ChangedBy::now("test")).await.unwrap());
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut result = verifier.verify(key.expose()).await;
    while result.is_ok() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        result = verifier.verify(key.expose()).await;
    }
    assert_eq!(result.unwrap_err(), AuthError::InvalidToken("API key revoked"));
}
