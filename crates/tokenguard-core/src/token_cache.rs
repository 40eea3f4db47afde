//! [`TokenCache`]: credentials already verified, so the hot path skips the crypto.
//!
//! Keyed by the exact credential (no digest, so no collision can ever map
//! one caller's token to another's principal), bounded in bytes, each entry
//! living no longer than the credential's expiry, the cache TTL, and — for
//! JWTs — the signing key it was verified with: when that key leaves the
//! issuer's JWKS, the entry is dead. Failures are never cached here.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::sync::Cache;

use crate::credential::Scheme;
use crate::jwt::VerificationKey;
use crate::principal::Principal;

/// Bounds of the verified-token cache.
#[derive(Debug, Clone)]
pub struct TokenCacheOptions {
    /// Total size of cached credentials (each entry weighs its length plus
    /// 256 bytes of bookkeeping). Default 32 MiB. `0` turns the cache off.
    pub max_bytes: u64,
    /// Longest life of a cached JWT verification. Default 5 min.
    pub max_ttl: Duration,
    /// Life of a cached API key verification. Default 2 s. Added to the key
    /// store cache's TTL (5 s) it bounds how long a revoked key still passes: 7 s.
    pub api_key_ttl: Duration,
}

impl Default for TokenCacheOptions {
    fn default() -> Self {
        Self { max_bytes: 32 * 1024 * 1024, max_ttl: Duration::from_secs(300), api_key_ttl: Duration::from_secs(2) }
    }
}

/// Bookkeeping bytes counted per entry besides the credential itself.
const ENTRY_OVERHEAD: usize = 256;

#[derive(Clone)]
struct Entry {
    principal: Principal,
    scheme: Scheme,
    /// The key that verified a JWT; a dead `Weak` means it left the JWKS.
    key: Option<Weak<VerificationKey>>,
    expires: Instant,
}

struct EntryExpiry;

impl Expiry<Box<str>, Entry> for EntryExpiry {
    fn expire_after_create(&self, _: &Box<str>, entry: &Entry, created_at: Instant) -> Option<Duration> {
        Some(entry.expires.saturating_duration_since(created_at))
    }
}

/// The cache. Cheap to clone (shared).
#[derive(Clone)]
pub(crate) struct TokenCache {
    cache: Option<Cache<Box<str>, Entry, foldhash::fast::RandomState>>,
    options: TokenCacheOptions,
}

/// How full a cache is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenCacheStats {
    /// Entries.
    pub entries: u64,
    /// Weighed bytes (bounded by [`TokenCacheOptions::max_bytes`]).
    pub bytes: u64,
}

impl TokenCache {
    pub(crate) fn new(options: TokenCacheOptions) -> Self {
        let cache = (options.max_bytes > 0).then(|| {
            Cache::builder()
                .max_capacity(options.max_bytes)
                .weigher(weigh)
                .expire_after(EntryExpiry)
                // Keys are whole tokens (hundreds of bytes): a fast, randomly
                // seeded hash instead of SipHash makes a hit much cheaper.
                .build_with_hasher(foldhash::fast::RandomState::default())
        });
        Self { cache, options }
    }

    /// The principal of an already-verified credential, if still valid.
    pub(crate) fn get(&self, token: &str, scheme: Scheme) -> Option<Principal> {
        let entry = self.cache.as_ref()?.get(token)?;
        let key_alive = entry.key.as_ref().is_none_or(|key| key.strong_count() > 0);
        (entry.scheme == scheme && key_alive && Instant::now() < entry.expires).then_some(entry.principal)
    }

    /// Remembers a verified JWT until its expiry (at most `max_ttl`) or until `key` is dropped.
    pub(crate) fn insert_jwt(&self, token: &str, scheme: Scheme, principal: &Principal, key: &Arc<VerificationKey>) {
        let ttl = principal.expires_at().map_or(Duration::ZERO, seconds_until).min(self.options.max_ttl);
        self.insert(token, scheme, principal, Some(Arc::downgrade(key)), ttl);
    }

    /// Remembers a verified API key for `api_key_ttl` (at most until it expires).
    pub(crate) fn insert_api_key(&self, token: &str, scheme: Scheme, principal: &Principal) {
        let ttl = principal.expires_at().map_or(self.options.api_key_ttl, seconds_until).min(self.options.api_key_ttl);
        self.insert(token, scheme, principal, None, ttl);
    }

    fn insert(
        &self,
        token: &str,
        scheme: Scheme,
        principal: &Principal,
        key: Option<Weak<VerificationKey>>,
        ttl: Duration,
    ) {
        let Some(cache) = &self.cache else { return };
        if ttl.is_zero() {
            return;
        }
        let entry = Entry { principal: principal.clone(), scheme, key, expires: Instant::now() + ttl };
        cache.insert(token.into(), entry);
    }

    pub(crate) fn stats(&self) -> TokenCacheStats {
        match &self.cache {
            Some(cache) => {
                cache.run_pending_tasks();
                TokenCacheStats { entries: cache.entry_count(), bytes: cache.weighted_size() }
            }
            None => TokenCacheStats { entries: 0, bytes: 0 },
        }
    }
}

// moka hands the key as stored (`&Box<str>`).
#[allow(clippy::borrowed_box)]
fn weigh(token: &Box<str>, _: &Entry) -> u32 {
    u32::try_from(token.len() + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
}

/// Time from now until a Unix timestamp (zero if past).
fn seconds_until(unix: u64) -> Duration {
    Duration::from_secs(unix.saturating_sub(crate::jwt::rules::now()))
}
