//! [`JwksCache`]: an issuer's signing keys, fetched lazily and shared.
//!
//! - **Lazy, single flight**: the first request that needs keys fetches them
//!   (discovery first, when configured with an issuer); concurrent requests
//!   wait for that one fetch.
//! - **Polite**: a token with an unknown `kid` triggers a refresh at most once
//!   per cool-down (default 30 s), so a flood of random `kid`s costs at most
//!   one extra fetch per cool-down. Requests for an unknown `kid` that arrive
//!   while a refresh is in flight wait for it (a burst of tokens signed
//!   with a newly published key all pass).
//! - **Fresh**: keys live for the issuer's `Cache-Control: max-age`, clamped to
//!   `[min_ttl, max_ttl]` (default 5 min when the issuer says nothing).
//! - **Resilient**: when a refresh fails, the last good keys keep serving
//!   (up to `max_stale`); a token they cannot verify (nothing cached, or a
//!   `kid` they lack) gets a 503 with `Retry-After`, since it may be signed
//!   with a key published during the outage, and the next attempt waits
//!   only `retry_backoff` (not the cool-down).
//!
//! Staleness bound: a key removed by the issuer keeps verifying on this
//! instance until the cached set expires (at most `max_ttl`, or the issuer's
//! `max-age`).

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::Algorithm;
use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;

pub use crate::discovery::ProviderMetadata;
use crate::discovery::discovery_url;
use crate::error::AuthError;
use crate::fetch::{FetchError, Fetcher, HttpOptions, check_url};
use crate::keys::DEFAULT_ALGORITHMS;
use crate::keys::VerificationKey;
use crate::observe;
use crate::readiness::IssuerReadiness;

/// Largest number of usable keys kept from one JWKS document.
pub const MAX_KEYS: usize = 64;

impl std::fmt::Display for JwksSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwksSource::Discovery { issuer } => write!(f, "issuer {issuer}"),
            JwksSource::Uri(url) => write!(f, "JWKS {url}"),
        }
    }
}

impl JwksSource {
    /// The issuer, or the JWKS URL when there is no discovery: a metric label.
    fn label(&self) -> &str {
        match self {
            JwksSource::Discovery { issuer } => issuer,
            JwksSource::Uri(url) => url.as_str(),
        }
    }
}

/// How the key set is found.
#[derive(Debug, Clone)]
pub(crate) enum JwksSource {
    /// Through `{issuer}/.well-known/openid-configuration`.
    Discovery {
        /// The issuer identifier.
        issuer: String,
    },
    /// A `jwks_uri` given directly.
    Uri(Url),
}

/// Timing and limits of a [`JwksCache`].
#[derive(Debug, Clone)]
pub struct JwksOptions {
    /// Minimum time between refreshes caused by unknown `kid`s. Default 30 s.
    pub refresh_cooldown: Duration,
    /// Key lifetime when the issuer sends no `max-age`. Default 5 min.
    pub default_ttl: Duration,
    /// Lower bound on the issuer's `max-age`. Default 30 s.
    pub min_ttl: Duration,
    /// Upper bound on the issuer's `max-age`. Default 24 h.
    pub max_ttl: Duration,
    /// Wait after a failed fetch before the next attempt; meanwhile a token
    /// whose key is not cached gets 503. Default 2 s.
    pub retry_backoff: Duration,
    /// How long past their expiry last good keys may serve while the issuer
    /// is failing. Default 24 h.
    pub max_stale: Duration,
    /// Algorithms keys may verify. Default: RS*, PS*, ES256, ES384, EdDSA.
    pub algorithms: Vec<Algorithm>,
    /// HTTP limits.
    pub http: HttpOptions,
}

impl Default for JwksOptions {
    fn default() -> Self {
        Self {
            refresh_cooldown: Duration::from_secs(30),
            default_ttl: Duration::from_secs(300),
            min_ttl: Duration::from_secs(30),
            max_ttl: Duration::from_secs(24 * 3600),
            retry_backoff: Duration::from_secs(2),
            max_stale: Duration::from_secs(24 * 3600),
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            http: HttpOptions::default(),
        }
    }
}

/// A shared, bounded cache of one issuer's signing keys. Cheap to clone.
#[derive(Clone)]
pub struct JwksCache {
    inner: Arc<Inner>,
}

struct Inner {
    source: JwksSource,
    options: JwksOptions,
    fetcher: Fetcher,
    state: RwLock<State>,
    refresh: Mutex<()>,
}

#[derive(Default)]
struct State {
    metadata: Option<Arc<ProviderMetadata>>,
    keys: Option<Arc<[Arc<VerificationKey>]>>,
    fresh_until: Option<Instant>,
    stale_until: Option<Instant>,
    retry_at: Option<Instant>,
    last_miss_refresh: Option<Instant>,
    generation: u64,
    /// A fetch is in flight: requests for an unknown `kid` wait for it.
    fetching: bool,
    /// When the last fetch succeeded, and why the last one failed (cleared on success).
    fetched_at: Option<std::time::SystemTime>,
    last_error: Option<String>,
}

enum Decision {
    Found(Arc<VerificationKey>),
    Refresh { generation: u64, unknown_kid: bool },
    Fail(AuthError),
}

#[derive(Debug, thiserror::Error)]
enum RefreshError {
    #[error("discovery: {0}")]
    Discovery(FetchError),
    #[error("discovery document names issuer that differs from the configured one")]
    IssuerMismatch,
    #[error("jwks_uri unusable: {0}")]
    BadJwksUri(&'static str),
    #[error("jwks: {0}")]
    Jwks(FetchError),
}

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Value>,
}

impl JwksCache {
    /// A cache for `source`. Nothing is fetched until a key is needed.
    pub(crate) fn new(source: JwksSource, options: JwksOptions) -> Result<Self, crate::ConfigError> {
        match &source {
            JwksSource::Discovery { issuer } => {
                discovery_url(issuer).map_err(crate::ConfigError::Url)?;
            }
            JwksSource::Uri(url) => {
                check_url(url.as_str()).map_err(crate::ConfigError::Url)?;
            }
        }
        let fetcher = Fetcher::new(&options.http).map_err(|_| crate::ConfigError::HttpClient)?;
        Ok(Self {
            inner: Arc::new(Inner {
                source,
                options,
                fetcher,
                state: RwLock::new(State::default()),
                refresh: Mutex::new(()),
            }),
        })
    }

    /// The key for a token with header `kid` and `alg`, fetching or refreshing
    /// the key set when needed.
    pub async fn key_for(&self, kid: Option<&str>, alg: Algorithm) -> Result<Arc<VerificationKey>, AuthError> {
        match self.decide(kid, alg, true) {
            Decision::Found(key) => Ok(key),
            Decision::Fail(error) => Err(error),
            Decision::Refresh { generation, unknown_kid } => {
                self.refresh(generation, unknown_kid).await;
                match self.decide(kid, alg, false) {
                    Decision::Found(key) => Ok(key),
                    Decision::Fail(error) => Err(error),
                    Decision::Refresh { .. } => Err(AuthError::InvalidToken("unknown signing key")),
                }
            }
        }
    }

    /// Fetches the key set now unless fresh keys are cached (or a fetch
    /// failed moments ago): what a service calls at start so that its first
    /// requests do not wait for discovery and the JWKS.
    pub async fn warm_up(&self) -> IssuerReadiness {
        let now = Instant::now();
        let (fresh, backing_off, generation) = self.read(|state| {
            (
                state.fresh_until.is_some_and(|until| now < until),
                state.retry_at.is_some_and(|at| now < at),
                state.generation,
            )
        });
        if !fresh && !backing_off {
            self.refresh(generation, false).await;
        }
        self.status()
    }

    /// What the cache holds now: usable keys (fresh, or stale within
    /// `max_stale`), when they were fetched, why the last fetch failed.
    pub fn status(&self) -> IssuerReadiness {
        let now = Instant::now();
        self.read(|state| {
            let usable = state.stale_until.is_some_and(|until| now < until);
            let keys = state.keys.as_ref().map_or(0, |keys| keys.len());
            IssuerReadiness {
                ready: usable && keys > 0,
                keys,
                fetched_at: state.fetched_at,
                error: state.last_error.clone(),
            }
        })
    }

    /// The issuer's metadata, once discovery has succeeded.
    pub fn metadata(&self) -> Option<Arc<ProviderMetadata>> {
        self.read(|state| state.metadata.clone())
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        match self.inner.state.read() {
            Ok(state) => f(&state),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }

    fn write<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        match self.inner.state.write() {
            Ok(mut state) => f(&mut state),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    fn decide(&self, kid: Option<&str>, alg: Algorithm, may_refresh: bool) -> Decision {
        let now = Instant::now();
        let options = &self.inner.options;
        self.read(|state| {
            let backing_off = state.retry_at.is_some_and(|at| now < at);
            let retry_after = state.retry_at.map_or(options.retry_backoff, |at| at.saturating_duration_since(now));
            let unavailable = AuthError::Unavailable { reason: "the token issuer is unavailable", retry_after };
            let refresh = Decision::Refresh { generation: state.generation, unknown_kid: false };
            let usable_keys = state.keys.as_ref().filter(|_| state.stale_until.is_some_and(|until| now < until));
            let Some(keys) = usable_keys else {
                return if may_refresh && !backing_off { refresh } else { Decision::Fail(unavailable) };
            };
            let fresh = state.fresh_until.is_some_and(|until| now < until);
            if !fresh && may_refresh && !backing_off {
                return refresh;
            }
            if let Some(key) = select(keys, kid, alg) {
                return Decision::Found(key);
            }
            if kid.is_none() {
                return Decision::Fail(AuthError::InvalidToken("unknown signing key"));
            }
            // We cannot tell an unknown key from one published while the issuer is failing.
            if backing_off {
                return Decision::Fail(unavailable);
            }
            let cooled_down = state.last_miss_refresh.is_none_or(|at| now >= at + options.refresh_cooldown);
            // A refresh in flight is waited for; after a failed one, the next
            // comes after the short back-off, not the cool-down.
            let may_fetch = cooled_down || state.fetching || state.retry_at.is_some();
            if may_refresh && may_fetch {
                Decision::Refresh { generation: state.generation, unknown_kid: true }
            } else {
                Decision::Fail(AuthError::InvalidToken("unknown signing key"))
            }
        })
    }

    /// Fetches the key set unless another task did so since `generation`.
    async fn refresh(&self, generation: u64, unknown_kid: bool) {
        let _single_flight = self.inner.refresh.lock().await;
        // Another task refreshed while we waited: its answer is ours.
        let current = self.write(|state| {
            if state.generation != generation {
                return false;
            }
            state.fetching = true;
            if unknown_kid {
                state.last_miss_refresh = Some(Instant::now());
            }
            true
        });
        if !current {
            return;
        }
        let started = Instant::now();
        let result = self.fetch().await;
        let now = Instant::now();
        let source = &self.inner.source;
        let elapsed_ms = now.duration_since(started).as_millis() as u64;
        let options = &self.inner.options;
        self.write(|state| {
            state.generation += 1;
            state.fetching = false;
            match result {
                Ok((metadata, keys, max_age)) => {
                    let ttl = max_age.map_or(options.default_ttl, |age| age.clamp(options.min_ttl, options.max_ttl));
                    tracing::info!(%source, keys = keys.len(), ttl_secs = ttl.as_secs(), elapsed_ms, "fetched signing keys");
                    observe::jwks_fetch(source.label(), Some(keys.len()));
                    state.metadata = metadata.or(state.metadata.take());
                    state.keys = Some(keys);
                    state.fresh_until = Some(now + ttl);
                    state.stale_until = Some(now + ttl + options.max_stale);
                    state.retry_at = None;
                    state.fetched_at = Some(std::time::SystemTime::now());
                    state.last_error = None;
                }
                Err(error) => {
                    tracing::warn!(%source, %error, elapsed_ms, "could not fetch signing keys");
                    observe::jwks_fetch(source.label(), None);
                    state.retry_at = Some(now + options.retry_backoff);
                    state.last_error = Some(error.to_string());
                }
            }
        });
    }

    #[allow(clippy::type_complexity)]
    async fn fetch(
        &self,
    ) -> Result<(Option<Arc<ProviderMetadata>>, Arc<[Arc<VerificationKey>]>, Option<Duration>), RefreshError> {
        let (metadata, jwks_uri) = match &self.inner.source {
            JwksSource::Uri(url) => (None, url.clone()),
            JwksSource::Discovery { issuer } => {
                let metadata = match self.metadata() {
                    Some(metadata) => metadata,
                    None => Arc::new(self.discover(issuer).await?),
                };
                let uri = check_url(&metadata.jwks_uri).map_err(RefreshError::BadJwksUri)?;
                (Some(metadata), uri)
            }
        };
        let fetched = self.inner.fetcher.get_json::<JwkSet>(&jwks_uri).await.map_err(RefreshError::Jwks)?;
        let previous = self.read(|state| state.keys.clone()).unwrap_or_default();
        let keys = usable_keys(&fetched.value.keys, &self.inner.options.algorithms, &previous);
        Ok((metadata, keys, fetched.max_age))
    }

    async fn discover(&self, issuer: &str) -> Result<ProviderMetadata, RefreshError> {
        let url = discovery_url(issuer).map_err(RefreshError::BadJwksUri)?;
        let metadata: ProviderMetadata =
            self.inner.fetcher.get_json(&url).await.map_err(RefreshError::Discovery)?.value;
        // OIDC Discovery §4.3: the issuer in the document must be exactly ours.
        if metadata.issuer != issuer {
            return Err(RefreshError::IssuerMismatch);
        }
        Ok(metadata)
    }
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache").field("source", &self.inner.source).finish_non_exhaustive()
    }
}

/// The usable keys of a JWKS document. A key published before keeps its
/// `Arc`, so verifications cached with it stay valid; a key that left the
/// set is dropped, which invalidates them.
fn usable_keys(
    jwks: &[Value],
    allowed: &[Algorithm],
    previous: &[Arc<VerificationKey>],
) -> Arc<[Arc<VerificationKey>]> {
    jwks.iter()
        .filter_map(|jwk| {
            let jwk_object = jwk.as_object();
            if let Some(known) = jwk_object.and_then(|jwk| previous.iter().find(|key| key.is_from(jwk))) {
                return Some(known.clone());
            }
            match jwk_object.ok_or("a JWK is not an object").and_then(|jwk| VerificationKey::from_jwk(jwk, allowed)) {
                Ok(key) => Some(Arc::new(key)),
                Err(reason) => {
                    let kid = jwk.get("kid").and_then(Value::as_str).unwrap_or_default();
                    tracing::debug!(kid, reason, "ignoring unusable JWK");
                    None
                }
            }
        })
        .take(MAX_KEYS)
        .collect()
}

/// The key with this `kid` that allows `alg`; without a `kid`, the only key
/// that allows `alg`.
fn select(keys: &[Arc<VerificationKey>], kid: Option<&str>, alg: Algorithm) -> Option<Arc<VerificationKey>> {
    match kid {
        // Prefer the key of this kid that allows alg; else any key of this kid,
        // so the verifier reports the algorithm mismatch rather than "unknown key".
        Some(kid) => keys
            .iter()
            .find(|key| key.kid() == Some(kid) && key.allows(alg))
            .or_else(|| keys.iter().find(|key| key.kid() == Some(kid)))
            .cloned(),
        None => {
            let mut candidates = keys.iter().filter(|key| key.allows(alg));
            let only = candidates.next()?;
            candidates.next().is_none().then(|| only.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_refresh_keeps_the_same_key_objects_for_unchanged_keys() {
        let n = base64_simd::URL_SAFE_NO_PAD.encode_to_string([0xc5u8; 256]);
        let first = json!({"kty": "RSA", "kid": "a", "n": n, "e": "AQAB"});
        let second = json!({"kty": "RSA", "kid": "b", "n": n, "e": "AQAB"});
        let before = usable_keys(std::slice::from_ref(&first), DEFAULT_ALGORITHMS, &[]);
        let after = usable_keys(&[first, second], DEFAULT_ALGORITHMS, &before);
        assert_eq!(after.len(), 2);
        assert!(Arc::ptr_eq(&before[0], &after[0]), "unchanged key keeps its Arc");
        assert!(!Arc::ptr_eq(&before[0], &after[1]));
    }
}
