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

mod audit;
mod cached;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod record;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

pub use audit::{AuditEntry, ChangedBy};
pub use cached::{CacheOptions, CachedKeyStore};
pub(crate) use cached::{Epoch, witness};
pub use memory::MemoryKeyStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresKeyStore;
pub use record::{ApiKeyRecord, ImportSummary, KeyCursor, KeyQuery, KeyUpdate};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteKeyStore;

use crate::apikey::KeyDigest;
use crate::dpop::{MemoryReplayCache, ReplayCache};

/// Why a store operation failed. Only for logs: clients see 503.
#[derive(Debug, thiserror::Error)]
#[error("key store error: {0}")]
pub struct StoreError(pub String);

/// A store of API key records.
///
/// Verifying keys needs [`find_by_digest`](KeyStore::find_by_digest) and
/// [`touch`](KeyStore::touch); administering them the rest. Every change
/// takes a [`ChangedBy`] and is written to the store's audit log with it.
/// The methods with a default body are optional for a custom store: they
/// answer "not supported", or do without a transaction.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// The record whose digest equals `digest`, revoked or not.
    async fn find_by_digest(&self, digest: &KeyDigest) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// The record with id `id`, revoked or not.
    async fn find_by_id(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(self.list(&KeyQuery::all()).await?.into_iter().find(|record| record.id == id))
    }
    /// Adds a record; `false` (and nothing changed) if a key with the same
    /// digest or id is already stored.
    async fn insert(&self, record: ApiKeyRecord, by: &ChangedBy) -> Result<bool, StoreError>;
    /// Adds every record whose key is not stored yet, in one transaction:
    /// all or nothing, and running it twice changes nothing the second time.
    async fn import(&self, records: Vec<ApiKeyRecord>, by: &ChangedBy) -> Result<ImportSummary, StoreError> {
        let mut summary = ImportSummary::default();
        for record in records {
            match self.insert(record, by).await? {
                true => summary.imported += 1,
                false => summary.existing += 1,
            }
        }
        Ok(summary)
    }
    /// The records `query` selects, by creation time, then id.
    async fn list(&self, query: &KeyQuery) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Changes the record `id`; `None` if there is no such key.
    async fn update(&self, id: &str, update: &KeyUpdate, by: &ChangedBy) -> Result<Option<ApiKeyRecord>, StoreError> {
        let _ = (id, update, by);
        Err(StoreError("this key store cannot update keys".into()))
    }
    /// Marks the key `id` revoked (at `by.at`); `false` if there is no such key.
    async fn revoke(&self, id: &str, by: &ChangedBy) -> Result<bool, StoreError>;
    /// Adds `replacement` (a [`ApiKeyRecord::successor`]) and revokes the
    /// key it replaces from `until` on, in one transaction; `false` (and
    /// nothing changed) if the replaced key does not exist or is revoked.
    async fn rotate(&self, replacement: ApiKeyRecord, until: u64, by: &ChangedBy) -> Result<bool, StoreError> {
        let _ = (replacement, until, by);
        Err(StoreError("this key store cannot rotate keys".into()))
    }
    /// Records that key `id` was used at `at` (called lazily, not per request).
    async fn touch(&self, id: &str, at: u64) -> Result<(), StoreError>;
    /// Writes `entry` to the audit log: what is not a change — a read, a
    /// refused attempt — but still someone's use of the keys. Changes are
    /// logged by the methods that make them.
    async fn audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        let _ = entry;
        Err(StoreError("this key store keeps no audit log".into()))
    }
    /// The audit log, oldest first: every entry, or those of key `key_id`.
    async fn audit_log(&self, key_id: Option<&str>) -> Result<Vec<AuditEntry>, StoreError> {
        let _ = key_id;
        Err(StoreError("this key store keeps no audit log".into()))
    }
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
/// `postgres://…` (also `postgresql://…`), and fails when it cannot be
/// reached (what a command-line tool wants; servers use
/// [`open_with_replay_cache`]).
pub async fn open(url: &str) -> Result<Arc<dyn KeyStore>, StoreError> {
    #[cfg(feature = "postgres")]
    if is_postgres(url) {
        return Ok(Arc::new(PostgresKeyStore::open(url).await?));
    }
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
    if is_postgres(url) {
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

/// Whether `url` names a PostgreSQL store.
fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}
