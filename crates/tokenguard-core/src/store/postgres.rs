//! [`PostgresKeyStore`]: keys shared by a fleet of instances.

use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::{OnceCell, broadcast};

use super::sql::{self, impl_sql_key_store, store_error};
use super::{ApiKeyRecord, KeyChange, KeyStore, StoreError};
use crate::apikey::KeyDigest;

/// API keys in PostgreSQL (`postgres://…`). The schema is created when
/// absent, in the connection's `search_path` (set it with
/// `?options=-c%20search_path%3Dmy_schema` to keep keys in their own schema).
///
/// Every change to a key is announced with `NOTIFY` (by a trigger, whoever
/// writes), and [`KeyStore::changes`] follows them on a connection of its
/// own, reconnecting when it is lost: instances sharing the store see a
/// revocation at once instead of when their caches expire.
#[derive(Debug, Clone)]
pub struct PostgresKeyStore {
    pool: PgPool,
    schema: Arc<OnceCell<()>>,
    changes: Arc<OnceLock<broadcast::Sender<KeyChange>>>,
}

/// The URL may carry a password: never echo it.
fn options(url: &str) -> Result<PgConnectOptions, StoreError> {
    PgConnectOptions::from_str(url).map_err(|_| StoreError("malformed postgres:// URL".into()))
}

impl PostgresKeyStore {
    /// Connects to `url` and creates the schema if needed: fails when the
    /// database does not answer (what a command-line tool wants).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        // One direct connection first: its error says why (refused, bad
        // password…) where the pool's would only say it timed out.
        let connection = sqlx::ConnectOptions::connect(&options(url)?).await.map_err(store_error)?;
        let _ = sqlx::Connection::close(connection).await;
        let store = Self::connect_lazy(url)?;
        store.ready().await?;
        Ok(store)
    }

    /// A store that connects (and creates its schema) on first use, so a
    /// server starts while the database is down. Fails only on a malformed URL.
    pub fn connect_lazy(url: &str) -> Result<Self, StoreError> {
        let options = options(url)?;
        // A dead connection fails its query at once instead of being
        // replaced under a pool timeout: the cache in front then knows
        // the store is down and stops asking until a probe succeeds.
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(2))
            .test_before_acquire(false)
            .connect_lazy_with(options);
        Ok(Self { pool, schema: Arc::default(), changes: Arc::default() })
    }

    fn subscribe(&self) -> Option<broadcast::Receiver<KeyChange>> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let mut first = None;
        let sender = self.changes.get_or_init(|| {
            // The first receiver exists before the listener starts: it stops
            // as soon as it sees nobody subscribed.
            let (sender, receiver) = broadcast::channel(256);
            first = Some(receiver);
            runtime.spawn(listen(self.clone(), sender.downgrade()));
            sender
        });
        Some(first.unwrap_or_else(|| sender.subscribe()))
    }
}

/// Forwards the store's notifications until nobody subscribes any more.
/// A lost connection may have lost notifications: that is reported as
/// [`KeyChange::Unknown`], and the connection is made again with a back-off.
async fn listen(store: PostgresKeyStore, sender: broadcast::WeakSender<KeyChange>) {
    let mut listener: Option<PgListener> = None;
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(sender) = sender.upgrade().filter(|sender| sender.receiver_count() > 0) else { return };
        let connected = match listener.as_mut() {
            Some(connected) => connected,
            None => match subscribe_to_changes(&store).await {
                Ok(connected) => {
                    backoff = Duration::from_millis(100);
                    // Changes made while we were not listening were missed.
                    let _ = sender.send(KeyChange::Unknown);
                    listener.insert(connected)
                }
                Err(error) => {
                    tracing::debug!(%error, "cannot listen for key changes; polling bound applies");
                    drop(sender);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            },
        };
        // Wake up now and then to notice that nobody listens any more.
        match tokio::time::timeout(Duration::from_secs(5), connected.try_recv()).await {
            Ok(Ok(Some(notification))) => {
                let _ = sender.send(parse_change(notification.payload()));
            }
            Ok(Ok(None)) => {
                tracing::info!("key change notifications interrupted; reconnecting");
                let _ = sender.send(KeyChange::Unknown);
                listener = None;
            }
            Ok(Err(error)) => {
                tracing::debug!(error = %store_error(error), "key change notifications failed");
                let _ = sender.send(KeyChange::Unknown);
                listener = None;
            }
            Err(_) => {}
        }
    }
}

async fn subscribe_to_changes(store: &PostgresKeyStore) -> Result<PgListener, StoreError> {
    store.ready().await?;
    let mut listener = PgListener::connect_with(&store.pool).await.map_err(store_error)?;
    listener.listen(sql::CHANGES_CHANNEL).await.map_err(store_error)?;
    Ok(listener)
}

/// The digest (hex) a notification names.
fn parse_change(payload: &str) -> KeyChange {
    let bytes: Option<Vec<u8>> = (payload.len() == 64)
        .then(|| {
            (0..32).map(|i| payload.get(2 * i..2 * i + 2).and_then(|hex| u8::from_str_radix(hex, 16).ok())).collect()
        })
        .flatten();
    match bytes.and_then(|bytes| <[u8; 32]>::try_from(bytes).ok()) {
        Some(digest) => KeyChange::Key(KeyDigest::from_bytes(digest)),
        None => KeyChange::Unknown,
    }
}

// Instances starting together would race on CREATE TABLE: serialise them.
impl_sql_key_store!(
    PostgresKeyStore,
    database = sqlx::Postgres,
    digest_type = "BYTEA",
    serial_type = "BIGSERIAL PRIMARY KEY",
    begin = "BEGIN",
    migration_lock = Some("SELECT pg_advisory_xact_lock(7417316611)"),
    dialect_migrations = sql::POSTGRES_MIGRATIONS,
    changes = subscribe
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_names_a_digest_or_anything() {
        let digest = KeyDigest::of("tg_example");
        let hex: String = digest.as_bytes().iter().map(|byte| format!("{byte:02x}")).collect();
        assert_eq!(parse_change(&hex), KeyChange::Key(digest));
        assert_eq!(parse_change("zz"), KeyChange::Unknown);
        assert_eq!(parse_change(&"é".repeat(32)), KeyChange::Unknown);
    }
}
