//! [`KeyStore`]: where API key records live, by digest only.

use std::collections::HashMap;
use std::sync::RwLock;

use async_trait::async_trait;

use crate::apikey::KeyDigest;
use crate::scope::Scopes;

/// One API key, as stored. The key itself is never stored, only its digest.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    /// Public identifier (see [`KeyDigest::key_id`]).
    pub id: String,
    /// SHA-256 of the key.
    pub digest: KeyDigest,
    /// Who the key acts as.
    pub subject: String,
    /// What the key may do.
    pub scopes: Scopes,
    /// A human label.
    pub name: Option<String>,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
    /// Seconds since the Unix epoch, if the key expires.
    pub expires_at: Option<u64>,
    /// Seconds since the Unix epoch, once revoked.
    pub revoked_at: Option<u64>,
    /// Seconds since the Unix epoch, updated lazily.
    pub last_used_at: Option<u64>,
}

/// Why a store operation failed. Only for logs: clients see 503.
#[derive(Debug, thiserror::Error)]
#[error("key store error: {0}")]
pub struct StoreError(pub String);

/// A store of API key records.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// The record whose digest equals `digest`, revoked or not.
    async fn find_by_digest(&self, digest: &KeyDigest) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// Adds a record.
    async fn insert(&self, record: ApiKeyRecord) -> Result<(), StoreError>;
    /// All records.
    async fn list(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Marks the key `id` revoked at `at`; `false` if there is no such key.
    async fn revoke(&self, id: &str, at: u64) -> Result<bool, StoreError>;
}

/// An in-memory store (`memory:`): for tests, demos and single-process setups.
#[derive(Debug, Default)]
pub struct MemoryKeyStore {
    records: RwLock<HashMap<KeyDigest, ApiKeyRecord>>,
}

impl MemoryKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError("memory store lock poisoned".into())
}

#[async_trait]
impl KeyStore for MemoryKeyStore {
    async fn find_by_digest(&self, digest: &KeyDigest) -> Result<Option<ApiKeyRecord>, StoreError> {
        let records = self.records.read().map_err(poisoned)?;
        Ok(records
            .get(digest)
            .filter(|record| record.digest.ct_eq(digest))
            .cloned())
    }

    async fn insert(&self, record: ApiKeyRecord) -> Result<(), StoreError> {
        let mut records = self.records.write().map_err(poisoned)?;
        if records.contains_key(&record.digest) {
            return Err(StoreError("a key with this digest already exists".into()));
        }
        records.insert(record.digest, record);
        Ok(())
    }

    async fn list(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let mut records: Vec<_> = self
            .records
            .read()
            .map_err(poisoned)?
            .values()
            .cloned()
            .collect();
        records.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(records)
    }

    async fn revoke(&self, id: &str, at: u64) -> Result<bool, StoreError> {
        let mut records = self.records.write().map_err(poisoned)?;
        let record = records.values_mut().find(|record| record.id == id);
        Ok(record
            .map(|record| record.revoked_at = Some(record.revoked_at.unwrap_or(at)))
            .is_some())
    }
}
