//! [`SqliteKeyStore`]: the embedded default.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use tokio::sync::OnceCell;

use super::sql::{self, impl_sql_key_store, store_error};
use super::{ApiKeyRecord, KeyStore, StoreError};
use crate::apikey::KeyDigest;

/// API keys in a SQLite file (`sqlite://PATH`), created with its schema when
/// absent. WAL mode lets the CLI write while servers read.
#[derive(Debug, Clone)]
pub struct SqliteKeyStore {
    pool: SqlitePool,
    schema: Arc<OnceCell<()>>,
}

impl SqliteKeyStore {
    /// Opens (or creates) the store at `url` (`sqlite://PATH`).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|_| StoreError("malformed sqlite:// URL".into()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5));
        // No idle timeout nor maximum lifetime: a connection to a local file
        // costs nothing to keep, and either would make sqlx keep a timer in
        // the runtime for its reaper, which every park of a worker then
        // recomputes (measured in BENCHMARKS.md).
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(3))
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(store_error)?;
        let store = Self { pool, schema: Arc::default() };
        store.ready().await?;
        Ok(store)
    }
}

// SQLite serialises writers itself; `BEGIN IMMEDIATE` takes the write lock up
// front, so a concurrent writer makes it wait (busy_timeout) instead of failing.
impl_sql_key_store!(
    SqliteKeyStore,
    database = sqlx::Sqlite,
    digest_type = "BLOB",
    serial_type = "INTEGER PRIMARY KEY AUTOINCREMENT",
    begin = "BEGIN IMMEDIATE",
    migration_lock = None,
    dialect_migrations = &[]
);

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::dpop::ReplayCache;

    #[tokio::test]
    async fn used_proofs_are_refused_until_their_record_expires() {
        let dir = std::env::temp_dir().join(format!("tg-replay-{}-{:?}.db", std::process::id(), Instant::now()));
        let store = SqliteKeyStore::open(&format!("sqlite://{}", dir.display())).await.unwrap();
        let minute = Duration::from_secs(60);
        assert_eq!(store.first_use([1; 32], minute).await, Ok(true));
        assert_eq!(store.first_use([1; 32], minute).await, Ok(false));
        assert_eq!(store.first_use([2; 32], minute).await, Ok(true));
        // An expired record is renewed, not refused: poll until it has expired.
        let instant = Duration::from_millis(1);
        assert_eq!(store.first_use([3; 32], instant).await, Ok(true));
        let deadline = Instant::now() + Duration::from_secs(5);
        while store.first_use([3; 32], instant).await == Ok(false) {
            assert!(Instant::now() < deadline, "the record never expired");
            tokio::task::yield_now().await;
        }
        drop(store);
        let _ = std::fs::remove_file(&dir);
    }
}
