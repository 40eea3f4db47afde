//! [`Down`]: a key store that is down, for tests of what an outage looks like.

use async_trait::async_trait;
use tokenguard_core::KeyStore;
use tokenguard_core::apikey::KeyDigest;
use tokenguard_core::store::{ApiKeyRecord, ChangedBy, KeyQuery, StoreError};

/// Every operation fails as a refused connection would.
pub struct Down;

fn refused<T>() -> Result<T, StoreError> {
    Err(StoreError("connection refused".into()))
}

#[async_trait]
impl KeyStore for Down {
    async fn find_by_digest(&self, _: &KeyDigest) -> Result<Option<ApiKeyRecord>, StoreError> {
        refused()
    }
    async fn insert(&self, _: ApiKeyRecord, _: &ChangedBy) -> Result<bool, StoreError> {
        refused()
    }
    async fn list(&self, _: &KeyQuery) -> Result<Vec<ApiKeyRecord>, StoreError> {
        refused()
    }
    async fn revoke(&self, _: &str, _: &ChangedBy) -> Result<bool, StoreError> {
        refused()
    }
    async fn touch(&self, _: &str, _: u64) -> Result<(), StoreError> {
        refused()
    }
}
