//! Verifying a presented API key against a [`KeyStore`].

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::apikey::{FormatCheck, KeyDigest, check_format};
use crate::error::AuthError;
use crate::principal::{Parts, Principal, PrincipalKind};
use crate::store::{CacheOptions, CachedKeyStore, Epoch, KeyStore};
use crate::time::Clock;

/// Checks API keys: format and checksum first (no I/O), then the store,
/// through a bounded [`CachedKeyStore`].
#[derive(Clone)]
pub struct ApiKeyVerifier {
    store: Arc<CachedKeyStore>,
    prefix: Arc<str>,
    clock: Clock,
}

impl ApiKeyVerifier {
    /// Keys with `prefix` are checked for format and checksum; other keys
    /// (legacy, imported) are looked up by digest only. Lookups are cached
    /// with [`CacheOptions::default`] (a revoked key is refused within 5 s, at once when the store
    /// pushes changes).
    pub fn new(store: Arc<dyn KeyStore>, prefix: impl Into<Arc<str>>) -> Self {
        Self::with_cache(store, prefix, CacheOptions::default())
    }

    /// Like [`ApiKeyVerifier::new`], with explicit cache bounds.
    pub fn with_cache(store: Arc<dyn KeyStore>, prefix: impl Into<Arc<str>>, cache: CacheOptions) -> Self {
        Self { store: Arc::new(CachedKeyStore::new(store, cache)), prefix: prefix.into(), clock: Clock::system() }
    }

    /// Reads key expiry from `clock` (the authenticator's).
    pub(crate) fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The cache in front of the store.
    pub fn cache(&self) -> &CachedKeyStore {
        &self.store
    }

    /// The prefix of this deployment's keys.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether `token` carries this deployment's key prefix.
    pub fn has_prefix(&self, token: &str) -> bool {
        check_format(token, &self.prefix) != FormatCheck::Foreign
    }

    /// Verifies `key` and returns its principal.
    pub async fn verify(&self, key: &str) -> Result<Principal, AuthError> {
        self.find(key).await?.ok_or(AuthError::InvalidToken("unknown API key"))
    }

    /// Like [`ApiKeyVerifier::verify`], but a key the store does not know is
    /// `Ok(None)`, so the caller may try another verifier (an opaque bearer
    /// token that is not one of our keys goes to introspection).
    pub async fn find(&self, key: &str) -> Result<Option<Principal>, AuthError> {
        Ok(self.find_witnessed(key).await?.map(|(principal, _)| principal))
    }

    /// Like [`ApiKeyVerifier::find`], with what the principal's validity
    /// hangs on: it dies when the store reports a change made since.
    pub(crate) async fn find_witnessed(&self, key: &str) -> Result<Option<(Principal, Arc<Epoch>)>, AuthError> {
        if check_format(key, &self.prefix) == FormatCheck::Corrupt {
            return Err(AuthError::InvalidToken("malformed API key"));
        }
        let digest = KeyDigest::of(key);
        let epoch = self.store.epoch();
        let record = self.store.lookup(&digest).await.map_err(|error| {
            tracing::debug!(%error, "API key store unavailable");
            AuthError::Unavailable { reason: "the key store is unavailable", retry_after: Duration::from_secs(1) }
        })?;
        let Some(record) = record else {
            return Ok(None);
        };
        let now = self.clock.unix_seconds();
        if record.is_revoked_at(now) {
            tracing::debug!(key_id = %record.id, "revoked API key presented");
            return Err(AuthError::InvalidToken("API key revoked"));
        }
        if record.is_expired_at(now) {
            return Err(AuthError::InvalidToken("API key expired"));
        }
        let mut claims = Map::new();
        claims.insert("key_id".into(), Value::String(record.id.clone()));
        if let Some(name) = &record.name {
            claims.insert("name".into(), Value::String(name.clone()));
        }
        if !record.metadata.is_empty() {
            claims.insert("metadata".into(), Value::Object(record.metadata.clone()));
        }
        // A key rotated with a grace period stops working when it ends:
        // for the principal (and every cache holding it), that is its expiry.
        let ends = [record.expires_at, record.revoked_at].into_iter().flatten().min();
        let principal = Principal::new(Parts {
            subject: record.subject.clone(),
            kind: PrincipalKind::ApiKey,
            issuer: None,
            client_id: None,
            scopes: record.scopes.clone(),
            roles: record.roles.clone(),
            expires_at: ends,
            claims,
        });
        Ok(Some((principal, epoch)))
    }
}
