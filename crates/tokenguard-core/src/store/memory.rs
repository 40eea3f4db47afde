//! [`MemoryKeyStore`].

use std::collections::HashMap;
use std::sync::RwLock;

use async_trait::async_trait;

use super::{ApiKeyRecord, KeyStore, StoreError};
use crate::apikey::KeyDigest;

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
        Ok(records.get(digest).filter(|record| record.digest.ct_eq(digest)).cloned())
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
        let mut records: Vec<_> = self.records.read().map_err(poisoned)?.values().cloned().collect();
        records.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(records)
    }

    async fn revoke(&self, id: &str, at: u64) -> Result<bool, StoreError> {
        let mut records = self.records.write().map_err(poisoned)?;
        let record = records.values_mut().find(|record| record.id == id);
        Ok(record.map(|record| record.revoked_at = Some(record.revoked_at.unwrap_or(at))).is_some())
    }

    async fn touch(&self, id: &str, at: u64) -> Result<(), StoreError> {
        let mut records = self.records.write().map_err(poisoned)?;
        if let Some(record) = records.values_mut().find(|record| record.id == id) {
            record.last_used_at = record.last_used_at.max(Some(at));
        }
        Ok(())
    }
}
