//! [`TokenCache`]: credentials already verified, so the hot path skips the crypto.
//!
//! Keyed by the exact credential (no digest, so no collision can ever map
//! one caller's token to another's principal), bounded in bytes, each entry
//! living no longer than the credential's expiry, the cache TTL, and — for
//! JWTs — the signing key it was verified with: when that key leaves the
//! issuer's JWKS, the entry is dead. Failures are never cached here.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, OptionsBuilder, Weighter};

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

impl Entry {
    fn is_live(&self, now: Instant) -> bool {
        now < self.expires && self.key.as_ref().is_none_or(|key| key.strong_count() > 0)
    }
}

#[derive(Clone)]
struct EntryWeight;

impl Weighter<Box<[u8]>, Entry> for EntryWeight {
    fn weight(&self, token: &Box<[u8]>, _: &Entry) -> u64 {
        (token.len() + ENTRY_OVERHEAD) as u64
    }
}

/// The cache. Cheap to clone (shared).
///
/// `quick_cache` rather than moka here: a hit is a read lock on one shard
/// and a hash of the token, with no clock of its own and no bookkeeping
/// queue, several times cheaper — this lookup is the whole cost of an
/// authenticated request. Expiry is checked on each hit instead; expired
/// entries are dropped when found or evicted like any other (the weight
/// bound holds either way).
#[derive(Clone)]
pub(crate) struct TokenCache {
    cache: Option<Arc<Cache<Box<[u8]>, Entry, EntryWeight, DefaultHashBuilder>>>,
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
            let typical_entry = 1024;
            let cache_options = OptionsBuilder::new()
                .weight_capacity(options.max_bytes)
                .estimated_items_capacity(usize::try_from(options.max_bytes / typical_entry).unwrap_or(1).max(1))
                .build();
            // Both options are set, so `build` cannot fail; fall back to no cache rather than panic.
            cache_options.ok().map(|cache_options| {
                // Keys are whole tokens (hundreds of bytes): a fast, randomly
                // seeded hash (foldhash) instead of SipHash.
                Arc::new(Cache::with_options(
                    cache_options,
                    EntryWeight,
                    DefaultHashBuilder::default(),
                    Default::default(),
                ))
            })
        });
        Self { cache: cache.flatten(), options }
    }

    /// The principal of an already-verified credential, if still valid.
    pub(crate) fn get(&self, token: &[u8], scheme: Scheme) -> Option<Principal> {
        let cache = self.cache.as_ref()?;
        let entry = cache.get(token)?;
        if !entry.is_live(Instant::now()) {
            // Expired or its key left the JWKS: free the room now.
            cache.remove_if(token, |entry| !entry.is_live(Instant::now()));
            return None;
        }
        (entry.scheme == scheme).then_some(entry.principal)
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
        cache.insert(token.as_bytes().into(), entry);
    }

    pub(crate) fn stats(&self) -> TokenCacheStats {
        match &self.cache {
            Some(cache) => TokenCacheStats { entries: cache.len() as u64, bytes: cache.weight() },
            None => TokenCacheStats { entries: 0, bytes: 0 },
        }
    }
}

/// Time from now until a Unix timestamp (zero if past).
fn seconds_until(unix: u64) -> Duration {
    Duration::from_secs(unix.saturating_sub(crate::jwt::rules::now()))
}
