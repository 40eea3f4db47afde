//! What the SQL stores share: schema, migrations, statements and row mapping.
//!
//! The statements use `$N` placeholders, which both PostgreSQL and SQLite
//! (through sqlx) understand, so both stores run the very same SQL: the
//! [`impl_sql_key_store`] macro writes their `KeyStore` implementation once.

use super::{ApiKeyRecord, AuditEntry, StoreError};
use crate::apikey::KeyDigest;
use crate::scope::Scopes;

/// One row, in [`COLUMNS`] order.
pub(super) type Row = (
    String,
    Vec<u8>,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

/// The columns of [`Row`].
macro_rules! columns {
    () => {
        "id, digest, subject, scopes, roles, name, metadata, created_at, expires_at, revoked_at, last_used_at, replaces"
    };
}

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
    // Space-separated, like `scopes`.
    (3, "ALTER TABLE tokenguard_api_keys ADD COLUMN roles TEXT NOT NULL DEFAULT ''"),
    // A JSON object, or NULL for none.
    (4, "ALTER TABLE tokenguard_api_keys ADD COLUMN metadata TEXT"),
    // The id of the key this one replaced when rotated.
    (5, "ALTER TABLE tokenguard_api_keys ADD COLUMN replaces TEXT"),
    (6, "CREATE INDEX IF NOT EXISTS tokenguard_api_keys_by_subject ON tokenguard_api_keys (subject, created_at, id)"),
    (
        7,
        "CREATE TABLE IF NOT EXISTS tokenguard_key_audit (
            seq {serial_type},
            at BIGINT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            key_id TEXT,
            detail TEXT
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
    // Roles and metadata reach the principal too (migrations 3 and 4).
    (1003, "DROP TRIGGER tokenguard_api_keys_changed ON tokenguard_api_keys"),
    (
        1004,
        "CREATE TRIGGER tokenguard_api_keys_changed \
         AFTER INSERT OR DELETE OR UPDATE OF digest, subject, scopes, roles, name, metadata, expires_at, revoked_at \
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
        record.scopes.as_str().to_owned(),
        record.roles.as_str().to_owned(),
        record.name.clone(),
        metadata_text(&record.metadata),
        to_i64(record.created_at),
        record.expires_at.map(to_i64),
        record.revoked_at.map(to_i64),
        record.last_used_at.map(to_i64),
        record.replaces.clone(),
    )
}

/// Metadata as stored: NULL for none.
pub(super) fn metadata_text(metadata: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    (!metadata.is_empty()).then(|| serde_json::Value::Object(metadata.clone()).to_string())
}

pub(super) fn from_row(row: Row) -> Result<ApiKeyRecord, StoreError> {
    let (
        id,
        digest,
        subject,
        scopes,
        roles,
        name,
        metadata,
        created_at,
        expires_at,
        revoked_at,
        last_used_at,
        replaces,
    ) = row;
    let digest: [u8; 32] = digest.try_into().map_err(|_| StoreError(format!("key {id} has a malformed digest")))?;
    let metadata = match metadata {
        None => serde_json::Map::new(),
        Some(text) => {
            serde_json::from_str(&text).map_err(|_| StoreError(format!("key {id} has malformed metadata")))?
        }
    };
    Ok(ApiKeyRecord {
        id,
        digest: KeyDigest::from_bytes(digest),
        subject,
        scopes: Scopes::from_space_separated(&scopes),
        roles: Scopes::from_space_separated(&roles),
        name,
        metadata,
        created_at: to_u64(created_at),
        expires_at: expires_at.map(to_u64),
        revoked_at: revoked_at.map(to_u64),
        last_used_at: last_used_at.map(to_u64),
        replaces,
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
pub(super) const FIND_BY_DIGEST: &str = concat!("SELECT ", columns!(), " FROM tokenguard_api_keys WHERE digest = $1");
pub(super) const FIND_BY_ID: &str = concat!("SELECT ", columns!(), " FROM tokenguard_api_keys WHERE id = $1");
/// Adds a key unless its id or digest is stored: no row affected then.
pub(super) const INSERT: &str = concat!(
    "INSERT INTO tokenguard_api_keys (",
    columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING"
);
/// `$1` subject or NULL; after (`$2` created_at, `$3` id); at most `$4`.
pub(super) const LIST: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM tokenguard_api_keys WHERE ($1 IS NULL OR subject = $1) \
     AND (created_at > $2 OR (created_at = $2 AND id > $3)) ORDER BY created_at, id LIMIT $4"
);
pub(super) const UPDATE: &str = "UPDATE tokenguard_api_keys SET scopes = COALESCE($1, scopes), \
     roles = COALESCE($2, roles), name = COALESCE($3, name), metadata = COALESCE($4, metadata), \
     expires_at = COALESCE($5, expires_at) WHERE id = $6";
/// Revoked from `$1` on (or earlier, if it already was).
pub(super) const REVOKE: &str = "UPDATE tokenguard_api_keys \
     SET revoked_at = CASE WHEN revoked_at IS NULL OR revoked_at > $1 THEN $1 ELSE revoked_at END WHERE id = $2";
/// Like [`REVOKE`], only for a key still working at `$3`.
pub(super) const RETIRE: &str = "UPDATE tokenguard_api_keys \
     SET revoked_at = CASE WHEN revoked_at IS NULL OR revoked_at > $1 THEN $1 ELSE revoked_at END \
     WHERE id = $2 AND (revoked_at IS NULL OR revoked_at > $3)";
pub(super) const TOUCH: &str = "UPDATE tokenguard_api_keys SET last_used_at = $1 \
     WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)";
pub(super) const LOG: &str =
    "INSERT INTO tokenguard_key_audit (at, actor, action, key_id, detail) VALUES ($1, $2, $3, $4, $5)";
pub(super) const AUDIT_LOG: &str = "SELECT at, actor, action, key_id, detail FROM tokenguard_key_audit \
     WHERE ($1 IS NULL OR key_id = $1) ORDER BY seq";

/// One audit row: `(at, actor, action, key_id, detail)`.
pub(super) type AuditRow = (i64, String, String, Option<String>, Option<String>);

pub(super) fn from_audit_row((at, actor, action, key_id, detail): AuditRow) -> AuditEntry {
    AuditEntry { at: to_u64(at), actor, action, key_id, detail }
}

/// Implements `migrate`, [`KeyStore`](super::KeyStore) and
/// [`ReplayCache`](crate::dpop::ReplayCache) for a store with `pool` and
/// `schema` fields, using the shared statements above; `changes = method`
/// names the store's own method that follows pushed changes, if it has one.
macro_rules! impl_sql_key_store {
    (
        $store:ty,
        database = $db:ty,
        digest_type = $digest_type:literal,
        serial_type = $serial_type:literal,
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
                    let statement =
                        statement.replace("{digest_type}", $digest_type).replace("{serial_type}", $serial_type);
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

        impl $store {
            async fn begin(&self) -> Result<sqlx::Transaction<'static, $db>, StoreError> {
                self.ready().await?;
                self.pool.begin_with($begin).await.map_err(store_error)
            }

            /// Inserts `record` unless stored, and logs it: whether it was new.
            async fn insert_in(
                transaction: &mut sqlx::Transaction<'static, $db>,
                record: &ApiKeyRecord,
                by: &super::ChangedBy,
            ) -> Result<bool, StoreError> {
                let row = sql::to_row(record);
                let inserted = sqlx::query(sql::INSERT)
                    .bind(row.0)
                    .bind(row.1)
                    .bind(row.2)
                    .bind(row.3)
                    .bind(row.4)
                    .bind(row.5)
                    .bind(row.6)
                    .bind(row.7)
                    .bind(row.8)
                    .bind(row.9)
                    .bind(row.10)
                    .bind(row.11)
                    .execute(&mut **transaction)
                    .await
                    .map_err(store_error)?
                    .rows_affected()
                    == 1;
                if inserted {
                    Self::log(transaction, super::audit::created(record, by)).await?;
                }
                Ok(inserted)
            }

            async fn log(
                transaction: &mut sqlx::Transaction<'static, $db>,
                entry: super::AuditEntry,
            ) -> Result<(), StoreError> {
                sqlx::query(sql::LOG)
                    .bind(sql::to_i64(entry.at))
                    .bind(entry.actor)
                    .bind(entry.action)
                    .bind(entry.key_id)
                    .bind(entry.detail)
                    .execute(&mut **transaction)
                    .await
                    .map_err(store_error)?;
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

            async fn find_by_id(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
                self.ready().await?;
                let row: Option<sql::Row> = sqlx::query_as(sql::FIND_BY_ID)
                    .bind(id.to_owned())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(store_error)?;
                row.map(sql::from_row).transpose()
            }

            async fn insert(&self, record: ApiKeyRecord, by: &super::ChangedBy) -> Result<bool, StoreError> {
                let mut transaction = self.begin().await?;
                let inserted = Self::insert_in(&mut transaction, &record, by).await?;
                transaction.commit().await.map_err(store_error)?;
                Ok(inserted)
            }

            async fn import(
                &self,
                records: Vec<ApiKeyRecord>,
                by: &super::ChangedBy,
            ) -> Result<super::ImportSummary, StoreError> {
                let mut transaction = self.begin().await?;
                let mut summary = super::ImportSummary::default();
                for record in &records {
                    match Self::insert_in(&mut transaction, record, by).await? {
                        true => summary.imported += 1,
                        false => summary.existing += 1,
                    }
                }
                transaction.commit().await.map_err(store_error)?;
                Ok(summary)
            }

            async fn list(&self, query: &super::KeyQuery) -> Result<Vec<ApiKeyRecord>, StoreError> {
                self.ready().await?;
                let (created_at, id) = query.after.as_ref().map_or((-1, String::new()), |after| {
                    (sql::to_i64(after.created_at), after.id.clone())
                });
                let rows: Vec<sql::Row> = sqlx::query_as(sql::LIST)
                    .bind(query.subject.clone())
                    .bind(created_at)
                    .bind(id)
                    .bind(i64::try_from(query.limit).unwrap_or(i64::MAX))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(store_error)?;
                rows.into_iter().map(sql::from_row).collect()
            }

            async fn update(
                &self,
                id: &str,
                update: &super::KeyUpdate,
                by: &super::ChangedBy,
            ) -> Result<Option<ApiKeyRecord>, StoreError> {
                let mut transaction = self.begin().await?;
                let updated = sqlx::query(sql::UPDATE)
                    .bind(update.scopes.as_ref().map(|scopes| scopes.as_str().to_owned()))
                    .bind(update.roles.as_ref().map(|roles| roles.as_str().to_owned()))
                    .bind(update.name.clone())
                    .bind(update.metadata.as_ref().map(|metadata| serde_json::Value::Object(metadata.clone()).to_string()))
                    .bind(update.expires_at.map(sql::to_i64))
                    .bind(id.to_owned())
                    .execute(&mut *transaction)
                    .await
                    .map_err(store_error)?;
                if updated.rows_affected() == 0 {
                    return Ok(None);
                }
                Self::log(&mut transaction, super::audit::updated(id, update, by)).await?;
                let row: sql::Row = sqlx::query_as(sql::FIND_BY_ID)
                    .bind(id.to_owned())
                    .fetch_one(&mut *transaction)
                    .await
                    .map_err(store_error)?;
                transaction.commit().await.map_err(store_error)?;
                sql::from_row(row).map(Some)
            }

            async fn revoke(&self, id: &str, by: &super::ChangedBy) -> Result<bool, StoreError> {
                let mut transaction = self.begin().await?;
                let revoked = sqlx::query(sql::REVOKE)
                    .bind(sql::to_i64(by.at))
                    .bind(id.to_owned())
                    .execute(&mut *transaction)
                    .await
                    .map_err(store_error)?;
                if revoked.rows_affected() == 0 {
                    return Ok(false);
                }
                Self::log(&mut transaction, super::audit::revoked(id, by)).await?;
                transaction.commit().await.map_err(store_error)?;
                Ok(true)
            }

            async fn rotate(&self, replacement: ApiKeyRecord, until: u64, by: &super::ChangedBy) -> Result<bool, StoreError> {
                let Some(old_id) = replacement.replaces.clone() else { return Ok(false) };
                let mut transaction = self.begin().await?;
                let retired = sqlx::query(sql::RETIRE)
                    .bind(sql::to_i64(until))
                    .bind(old_id.clone())
                    .bind(sql::to_i64(by.at))
                    .execute(&mut *transaction)
                    .await
                    .map_err(store_error)?;
                if retired.rows_affected() == 0 {
                    return Ok(false);
                }
                // Dropping the transaction rolls the retirement back.
                if !Self::insert_in(&mut transaction, &replacement, by).await? {
                    return Err(StoreError("the replacement key is already stored".into()));
                }
                Self::log(&mut transaction, super::audit::rotated(&old_id, &replacement.id, until, by)).await?;
                transaction.commit().await.map_err(store_error)?;
                Ok(true)
            }

            async fn audit(&self, entry: super::AuditEntry) -> Result<(), StoreError> {
                let mut transaction = self.begin().await?;
                Self::log(&mut transaction, entry).await?;
                transaction.commit().await.map_err(store_error)
            }

            async fn audit_log(&self, key_id: Option<&str>) -> Result<Vec<super::AuditEntry>, StoreError> {
                self.ready().await?;
                let rows: Vec<sql::AuditRow> = sqlx::query_as(sql::AUDIT_LOG)
                    .bind(key_id.map(str::to_owned))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(store_error)?;
                Ok(rows.into_iter().map(sql::from_audit_row).collect())
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
