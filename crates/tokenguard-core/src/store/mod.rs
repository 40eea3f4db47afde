//! [`KeyStore`]: where API key records live, by digest only.
//!
//! - [`MemoryKeyStore`] (`memory:`): one process, nothing persisted.
//! - `SqliteKeyStore` (`sqlite://PATH`, feature `sqlite`): the embedded
//!   default; the file and schema are created when absent.
//! - `PostgresKeyStore` (`postgres://…`, feature `postgres`): keys shared by a
//!   fleet of instances.
//! - [`CachedKeyStore`]: the bounded cache every verifier puts in front.
//!
//! [`open`] picks one from a URL.

mod cached;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

pub use cached::{CacheOptions, CachedKeyStore};
pub(crate) use cached::{Epoch, witness};
pub use memory::MemoryKeyStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresKeyStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteKeyStore;

use crate::apikey::KeyDigest;
use crate::dpop::{MemoryReplayCache, ReplayCache};
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

impl ApiKeyRecord {
    /// A fresh record for `key` (which is digested here, never stored),
    /// created now and not revoked.
    pub fn for_key(
        key: &crate::Secret,
        subject: impl Into<String>,
        scopes: Scopes,
        name: Option<String>,
        expires_at: Option<u64>,
    ) -> Self {
        let digest = KeyDigest::of(key.expose());
        Self {
            id: digest.key_id(),
            digest,
            subject: subject.into(),
            scopes,
            name,
            created_at: crate::time::Clock::system().unix_seconds(),
            expires_at,
            revoked_at: None,
            last_used_at: None,
        }
    }
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
    /// Records that key `id` was used at `at` (called lazily, not per request).
    async fn touch(&self, id: &str, at: u64) -> Result<(), StoreError>;
    /// Whether the store answers, for readiness probes and for finding out
    /// that a store which failed is back. Default: always.
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Changes made to the store by anyone (another instance, the CLI),
    /// for stores that can push them; [`CachedKeyStore`] follows them so a
    /// revocation is seen at once. Default: none (caches expire instead).
    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<KeyChange>> {
        None
    }
}

/// A change a [`KeyStore`] pushes to its readers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChange {
    /// The record of this key was created, changed or deleted.
    Key(KeyDigest),
    /// Some records may have changed (notifications were lost).
    Unknown,
}

/// Opens the store named by `url`: `memory:`, `sqlite://PATH` or
/// `postgres://…` (also `postgresql://…`).
pub async fn open(url: &str) -> Result<Arc<dyn KeyStore>, StoreError> {
    Ok(open_with_replay_cache(url).await?.0)
}

/// Like [`open`], for servers: a PostgreSQL store is connected lazily
/// ([`PostgresKeyStore::connect_lazy`]), so a server starts while the
/// database is down. With the DPoP [`ReplayCache`] that fits the store: the
/// PostgreSQL store itself, so that a fleet sharing keys shares replay
/// protection; a [`MemoryReplayCache`] (one process) for the others.
pub async fn open_with_replay_cache(url: &str) -> Result<(Arc<dyn KeyStore>, Arc<dyn ReplayCache>), StoreError> {
    let in_process = || Arc::new(MemoryReplayCache::default()) as Arc<dyn ReplayCache>;
    if url == "memory:" {
        return Ok((Arc::new(MemoryKeyStore::new()), in_process()));
    }
    if url.starts_with("sqlite:") {
        #[cfg(feature = "sqlite")]
        return Ok((Arc::new(SqliteKeyStore::open(url).await?), in_process()));
        #[cfg(not(feature = "sqlite"))]
        return Err(StoreError("this build has no SQLite support (feature `sqlite`)".into()));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        {
            let store = Arc::new(PostgresKeyStore::connect_lazy(url)?);
            return Ok((store.clone(), store));
        }
        #[cfg(not(feature = "postgres"))]
        return Err(StoreError("this build has no PostgreSQL support (feature `postgres`)".into()));
    }
    Err(StoreError("unknown key store URL: use memory:, sqlite://PATH or postgres://…".into()))
}
