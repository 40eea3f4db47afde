//! [`PostgresKeyStore`]: keys shared by a fleet of instances.

use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::sql::{self, impl_sql_key_store, store_error};
use super::{ApiKeyRecord, KeyStore, StoreError};
use crate::apikey::KeyDigest;

/// API keys in PostgreSQL (`postgres://…`). The schema is created when
/// absent, in the connection's `search_path` (set it with
/// `?options=-c%20search_path%3Dmy_schema` to keep keys in their own schema).
#[derive(Debug, Clone)]
pub struct PostgresKeyStore {
    pool: PgPool,
}

impl PostgresKeyStore {
    /// Connects to `url` and creates the schema if needed.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        // The URL may carry a password: never echo it.
        let options = PgConnectOptions::from_str(url).map_err(|_| StoreError("malformed postgres:// URL".into()))?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(options)
            .await
            .map_err(store_error)?;
        let store = Self { pool };
        store.migrate().await?;
        Ok(store)
    }
}

// Instances starting together would race on CREATE TABLE: serialise them.
impl_sql_key_store!(
    PostgresKeyStore,
    digest_type = "BYTEA",
    begin = "BEGIN",
    migration_lock = Some("SELECT pg_advisory_xact_lock(7417316611)")
);
