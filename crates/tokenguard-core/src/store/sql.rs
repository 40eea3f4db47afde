//! What the SQL stores share: schema, migrations, statements and row mapping.
//!
//! The statements use `$N` placeholders, which both PostgreSQL and SQLite
//! (through sqlx) understand, so both stores run the very same SQL: the
//! [`impl_sql_key_store`] macro writes their `KeyStore` implementation once.

use super::{ApiKeyRecord, StoreError};
use crate::apikey::KeyDigest;
use crate::scope::Scopes;

/// One row: `(id, digest, subject, scopes, name, created_at, expires_at, revoked_at, last_used_at)`.
pub(super) type Row = (String, Vec<u8>, String, String, Option<String>, i64, Option<i64>, Option<i64>, Option<i64>);

/// The schema, as numbered idempotent migrations. `{digest_type}` is `BLOB`
/// (SQLite) or `BYTEA` (PostgreSQL). Applied in order, each recorded in
/// `tokenguard_schema_migrations`, so instances starting together converge.
pub(super) const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE IF NOT EXISTS tokenguard_api_keys (
            id TEXT PRIMARY KEY,
            digest {digest_type} NOT NULL UNIQUE,
            subject TEXT NOT NULL,
            scopes TEXT NOT NULL,
            name TEXT,
            created_at BIGINT NOT NULL,
            expires_at BIGINT,
            revoked_at BIGINT,
            last_used_at BIGINT
        )",
    ),
    // DPoP proofs already used (the store's `ReplayCache`), until `expires_at` (Unix ms).
    (
        2,
        "CREATE TABLE IF NOT EXISTS tokenguard_dpop_proofs (
            id {digest_type} PRIMARY KEY,
            expires_at BIGINT NOT NULL
        )",
    ),
];

/// PostgreSQL only: every change to a key that matters to a verifier is
/// announced on [`CHANGES_CHANNEL`] with the key's digest (hex), whoever
/// makes it (a server, the CLI, plain SQL) — not the lazy `last_used_at`.
#[cfg(feature = "postgres")]
pub(super) const POSTGRES_MIGRATIONS: &[(i64, &str)] = &[
    (
        1001,
        "CREATE OR REPLACE FUNCTION tokenguard_api_keys_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                PERFORM pg_notify('tokenguard_api_keys', encode(OLD.digest, 'hex'));
            ELSE
                PERFORM pg_notify('tokenguard_api_keys', encode(NEW.digest, 'hex'));
            END IF;
            RETURN NULL;
        END $$",
    ),
    (
        1002,
        "CREATE TRIGGER tokenguard_api_keys_changed \
         AFTER INSERT OR DELETE OR UPDATE OF digest, subject, scopes, name, expires_at, revoked_at \
         ON tokenguard_api_keys FOR EACH ROW EXECUTE FUNCTION tokenguard_api_keys_notify()",
    ),
];

/// The `LISTEN/NOTIFY` channel of key changes (PostgreSQL).
#[cfg(feature = "postgres")]
pub(super) const CHANGES_CHANNEL: &str = "tokenguard_api_keys";

/// Records a proof unless a live record of it exists (an expired one is
/// renewed): one row affected means first use.
pub(super) const RECORD_PROOF: &str = "INSERT INTO tokenguard_dpop_proofs (id, expires_at) VALUES ($1, $2) \
     ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at WHERE tokenguard_dpop_proofs.expires_at <= $3";
pub(super) const PURGE_PROOFS: &str = "DELETE FROM tokenguard_dpop_proofs WHERE expires_at <= $1";

/// Expired proof records are deleted once every this many records, so the
/// table holds the live proofs and at most this many dead ones per instance.
const PURGE_EVERY: u64 = 1024;

pub(super) fn purge_due() -> bool {
    static RECORDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    RECORDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % PURGE_EVERY == PURGE_EVERY - 1
}

pub(super) fn unix_millis() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

pub(super) const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS tokenguard_schema_migrations (
    version BIGINT PRIMARY KEY,
    applied_at BIGINT NOT NULL
)";

pub(super) fn to_row(record: &ApiKeyRecord) -> Row {
    (
        record.id.clone(),
        record.digest.as_bytes().to_vec(),
        record.subject.clone(),
        record.scopes.iter().collect::<Vec<_>>().join(" "),
        record.name.clone(),
        to_i64(record.created_at),
        record.expires_at.map(to_i64),
        record.revoked_at.map(to_i64),
        record.last_used_at.map(to_i64),
    )
}

pub(super) fn from_row(row: Row) -> Result<ApiKeyRecord, StoreError> {
    let (id, digest, subject, scopes, name, created_at, expires_at, revoked_at, last_used_at) = row;
    let digest: [u8; 32] = digest.try_into().map_err(|_| StoreError(format!("key {id} has a malformed digest")))?;
    Ok(ApiKeyRecord {
        id,
        digest: KeyDigest::from_bytes(digest),
        subject,
        scopes: Scopes::from_space_separated(&scopes),
        name,
        created_at: to_u64(created_at),
        expires_at: expires_at.map(to_u64),
        revoked_at: revoked_at.map(to_u64),
        last_used_at: last_used_at.map(to_u64),
    })
}

pub(super) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Database errors go to logs only; their text never holds a key (we bind
/// digests, never keys) and never the connection URL.
pub(super) fn store_error(error: sqlx::Error) -> StoreError {
    StoreError(error.to_string())
}

pub(super) const INSERT_MIGRATION: &str =
    "INSERT INTO tokenguard_schema_migrations (version, applied_at) VALUES ($1, $2) ON CONFLICT DO NOTHING";
pub(super) const MIGRATION_APPLIED: &str = "SELECT version FROM tokenguard_schema_migrations WHERE version = $1";
pub(super) const FIND_BY_DIGEST: &str = "SELECT id, digest, subject, scopes, name, created_at, expires_at, revoked_at, last_used_at \
     FROM tokenguard_api_keys WHERE digest = $1";
pub(super) const INSERT: &str = "INSERT INTO tokenguard_api_keys \
     (id, digest, subject, scopes, name, created_at, expires_at, revoked_at, last_used_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
pub(super) const LIST: &str = "SELECT id, digest, subject, scopes, name, created_at, expires_at, revoked_at, \
     last_used_at FROM tokenguard_api_keys ORDER BY created_at, id";
pub(super) const REVOKE: &str = "UPDATE tokenguard_api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2";
pub(super) const TOUCH: &str = "UPDATE tokenguard_api_keys SET last_used_at = $1 \
     WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)";

/// Implements `migrate`, [`KeyStore`](super::KeyStore) and
/// [`ReplayCache`](crate::dpop::ReplayCache) for a store with `pool` and
/// `schema` fields, using the shared statements above; `changes = method`
/// names the store's own method that follows pushed changes, if it has one.
macro_rules! impl_sql_key_store {
    (
        $store:ty,
        digest_type = $digest_type:literal,
        begin = $begin:literal,
        migration_lock = $lock:expr,
        dialect_migrations = $dialect:expr
        $(, changes = $changes:ident)?
    ) => {
        impl $store {
            /// Creates the schema on first use: a store opened while the
            /// database is down starts working once it answers.
            async fn ready(&self) -> Result<(), StoreError> {
                self.schema.get_or_try_init(|| self.migrate()).await.map(|_| ())
            }

            async fn migrate(&self) -> Result<(), StoreError> {
                let dialect: &[(i64, &str)] = $dialect;
                for (version, statement) in sql::MIGRATIONS.iter().chain(dialect) {
                    let statement = statement.replace("{digest_type}", $digest_type);
                    // Already applied (the usual case): open read-only, so a CLI
                    // opening the store never contends with running servers.
                    // A database error here is the migrations table not existing yet;
                    // any other (the server unreachable) is the answer.
                    let applied: Option<(i64,)> = match sqlx::query_as(sql::MIGRATION_APPLIED)
                        .bind(version)
                        .fetch_optional(&self.pool)
                        .await
                    {
                        Ok(applied) => applied,
                        Err(sqlx::Error::Database(_)) => None,
                        Err(error) => return Err(store_error(error)),
                    };
                    if applied.is_some() {
                        continue;
                    }
                    let mut transaction = self.pool.begin_with($begin).await.map_err(store_error)?;
                    let lock: Option<&'static str> = $lock;
                    if let Some(lock) = lock {
                        sqlx::query(lock).execute(&mut *transaction).await.map_err(store_error)?;
                    }
                    sqlx::query(sql::CREATE_MIGRATIONS_TABLE).execute(&mut *transaction).await.map_err(store_error)?;
                    // Another instance may have applied it while we waited for the lock.
                    let applied: Option<(i64,)> = sqlx::query_as(sql::MIGRATION_APPLIED)
                        .bind(version)
                        .fetch_optional(&mut *transaction)
                        .await
                        .map_err(store_error)?;
                    if applied.is_some() {
                        transaction.commit().await.map_err(store_error)?;
                        continue;
                    }
                    sqlx::query(sqlx::AssertSqlSafe(statement))
                        .execute(&mut *transaction)
                        .await
                        .map_err(store_error)?;
                    sqlx::query(sql::INSERT_MIGRATION)
                        .bind(version)
                        .bind(sql::to_i64(crate::time::Clock::system().unix_seconds()))
                        .execute(&mut *transaction)
                        .await
                        .map_err(store_error)?;
                    transaction.commit().await.map_err(store_error)?;
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl KeyStore for $store {
            async fn find_by_digest(&self, digest: &KeyDigest) -> Result<Option<ApiKeyRecord>, StoreError> {
                self.ready().await?;
                let row: Option<sql::Row> = sqlx::query_as(sql::FIND_BY_DIGEST)
                    .bind(digest.as_bytes().to_vec())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(store_error)?;
                let record = row.map(sql::from_row).transpose()?;
                Ok(record.filter(|record| record.digest.ct_eq(digest)))
            }

            async fn insert(&self, record: ApiKeyRecord) -> Result<(), StoreError> {
                self.ready().await?;
                let row = sql::to_row(&record);
                sqlx::query(sql::INSERT)
                    .bind(row.0)
                    .bind(row.1)
                    .bind(row.2)
                    .bind(row.3)
                    .bind(row.4)
                    .bind(row.5)
                    .bind(row.6)
                    .bind(row.7)
                    .bind(row.8)
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                Ok(())
            }

            async fn list(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
                self.ready().await?;
                let rows: Vec<sql::Row> = sqlx::query_as(sql::LIST).fetch_all(&self.pool).await.map_err(store_error)?;
                rows.into_iter().map(sql::from_row).collect()
            }

            async fn revoke(&self, id: &str, at: u64) -> Result<bool, StoreError> {
                self.ready().await?;
                let result = sqlx::query(sql::REVOKE)
                    .bind(sql::to_i64(at))
                    .bind(id.to_owned())
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                Ok(result.rows_affected() > 0)
            }

            async fn touch(&self, id: &str, at: u64) -> Result<(), StoreError> {
                self.ready().await?;
                sqlx::query(sql::TOUCH)
                    .bind(sql::to_i64(at))
                    .bind(id.to_owned())
                    .execute(&self.pool)
                    .await
                    .map_err(store_error)?;
                Ok(())
            }

            async fn ping(&self) -> Result<(), StoreError> {
                self.ready().await?;
                sqlx::query("SELECT 1").execute(&self.pool).await.map_err(store_error)?;
                Ok(())
            }

            $(
                fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<super::KeyChange>> {
                    self.$changes()
                }
            )?
        }

        /// Instances sharing this store share DPoP replay protection: a
        /// proof used at one is refused at every other.
        #[async_trait::async_trait]
        impl crate::dpop::ReplayCache for $store {
            async fn first_use(
                &self,
                id: crate::dpop::ProofId,
                ttl: std::time::Duration,
            ) -> Result<bool, crate::dpop::ReplayCacheError> {
                let unavailable = |error: sqlx::Error| {
                    tracing::warn!(error = %store_error(error), "DPoP replay cache query failed");
                    crate::dpop::ReplayCacheError::Unavailable
                };
                self.ready().await.map_err(|error| {
                    tracing::warn!(%error, "DPoP replay cache unavailable");
                    crate::dpop::ReplayCacheError::Unavailable
                })?;
                let now = sql::unix_millis();
                if sql::purge_due() {
                    sqlx::query(sql::PURGE_PROOFS).bind(now).execute(&self.pool).await.map_err(unavailable)?;
                }
                let ttl = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
                let recorded = sqlx::query(sql::RECORD_PROOF)
                    .bind(id.to_vec())
                    .bind(now.saturating_add(ttl))
                    .bind(now)
                    .execute(&self.pool)
                    .await
                    .map_err(unavailable)?;
                Ok(recorded.rows_affected() == 1)
            }
        }
    };
}

pub(super) use impl_sql_key_store;
