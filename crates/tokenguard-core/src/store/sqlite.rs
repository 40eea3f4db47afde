//! [`SqliteKeyStore`]: the embedded default.

use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

use super::sql::{self, impl_sql_key_store, store_error};
use super::{ApiKeyRecord, KeyStore, StoreError};
use crate::apikey::KeyDigest;

/// API keys in a SQLite file (`sqlite://PATH`), created with its schema when
/// absent. WAL mode lets the CLI write while servers read.
#[derive(Debug, Clone)]
pub struct SqliteKeyStore {
    pool: SqlitePool,
}

impl SqliteKeyStore {
    /// Opens (or creates) the store at `url` (`sqlite://PATH`).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|_| StoreError("malformed sqlite:// URL".into()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(options)
            .await
            .map_err(store_error)?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }
}

// SQLite serialises writers itself; `BEGIN IMMEDIATE` takes the write lock up
// front, so a concurrent writer makes it wait (busy_timeout) instead of failing.
impl_sql_key_store!(SqliteKeyStore, digest_type = "BLOB", begin = "BEGIN IMMEDIATE", migration_lock = None);
