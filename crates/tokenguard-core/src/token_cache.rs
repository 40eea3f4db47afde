//! [`TokenCache`]: credentials already verified, so the hot path skips the
//! crypto and the I/O.
//!
//! Keyed by the scheme and the exact credential (no digest, so no collision
//! can ever map one caller's token to another's principal), bounded in
//! bytes, each entry living no longer than the credential's expiry, the
//! cache TTL, and — for JWTs — the signing key it was verified with: when
//! that key leaves the issuer's JWKS, the entry is dead. Failures are never
//! cached here.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;
use quick_cache::{Equivalent, Weighter};

use crate::credential::Scheme;
use crate::jwt::VerificationKey;
use crate::outcome::AuthOutcome;
use crate::time::Clock;

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

/// No cached verification lives longer than this, whatever `max_ttl` says.
const LONGEST_TTL: Duration = Duration::from_secs(24 * 3600);

/// A cached credential and what ends its entry besides eviction.
struct TokenKey {
    scheme: Scheme,
    token: Box<[u8]>,
    expires: Instant,
    /// The key that verified a JWT; a dead `Weak` means it left the JWKS.
    signing_key: Option<Weak<VerificationKey>>,
}

impl TokenKey {
    fn is_live(&self, now: Instant) -> bool {
        now < self.expires && self.signing_key.as_ref().is_none_or(|key| key.strong_count() > 0)
    }
}

/// A credential as presented, to look a [`TokenKey`] up without copying
/// it: matches its live entry only. Verified again, the credential's new
/// entry replaces a dead one.
struct Presented<'a> {
    scheme: Scheme,
    token: &'a [u8],
    now: Instant,
}

/// A credential as presented, matching its entry only when that is dead:
/// to free the room of an entry found dead, never a live one inserted since.
struct Dead<'a>(Presented<'a>);

impl Hash for TokenKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.scheme, &*self.token).hash(state);
    }
}

impl Hash for Presented<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.scheme, self.token).hash(state);
    }
}

impl Hash for Dead<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl PartialEq for TokenKey {
    fn eq(&self, other: &Self) -> bool {
        (self.scheme, &self.token) == (other.scheme, &other.token)
    }
}

impl Eq for TokenKey {}

impl Equivalent<TokenKey> for Presented<'_> {
    fn equivalent(&self, key: &TokenKey) -> bool {
        self.scheme == key.scheme && *self.token == *key.token && key.is_live(self.now)
    }
}

impl Equivalent<TokenKey> for Dead<'_> {
    fn equivalent(&self, key: &TokenKey) -> bool {
        let presented = &self.0;
        presented.scheme == key.scheme && *presented.token == *key.token && !key.is_live(presented.now)
    }
}

#[derive(Clone)]
struct EntryWeight;

impl Weighter<TokenKey, AuthOutcome> for EntryWeight {
    fn weight(&self, key: &TokenKey, _: &AuthOutcome) -> u64 {
        (key.token.len() + ENTRY_OVERHEAD) as u64
    }
}

/// The cache of verified credentials.
///
/// `quick_cache` rather than moka: a hit is a read lock on one shard and a
/// hash of the token, with no bookkeeping queue — this lookup is the whole
/// cost of an authenticated request. Expiry is checked on each lookup
/// instead; dead entries are replaced when their credential is verified
/// again, or evicted like any other (the weight bound holds either way).
pub(crate) struct TokenCache {
    cache: Option<Cache<TokenKey, AuthOutcome, EntryWeight>>,
    options: TokenCacheOptions,
    clock: Clock,
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
    pub(crate) fn new(options: TokenCacheOptions, clock: Clock) -> Self {
        let typical_entry = 1024;
        let items = usize::try_from(options.max_bytes / typical_entry).unwrap_or(usize::MAX).max(1);
        let cache = (options.max_bytes > 0).then(|| Cache::with_weighter(items, options.max_bytes, EntryWeight));
        Self { cache, options, clock }
    }

    /// The outcome of an already-verified credential, if still valid.
    pub(crate) fn get(&self, scheme: Scheme, token: &[u8]) -> Option<AuthOutcome> {
        let cache = self.cache.as_ref()?;
        let presented = Presented { scheme, token, now: self.clock.now() };
        let found = cache.get(&presented);
        if found.is_none() {
            // Expired, or its signing key left the JWKS: free the room now.
            cache.remove(&Dead(presented));
        }
        found
    }

    /// Remembers a verified JWT until its expiry (at most `max_ttl`) or until `key` leaves the JWKS.
    pub(crate) fn insert_jwt(&self, scheme: Scheme, token: &str, outcome: &AuthOutcome, key: &Arc<VerificationKey>) {
        self.insert(scheme, token, outcome, Some(key), self.options.max_ttl);
    }

    /// Remembers a verified API key for `api_key_ttl` (at most until it expires).
    pub(crate) fn insert_api_key(&self, scheme: Scheme, token: &str, outcome: &AuthOutcome) {
        self.insert(scheme, token, outcome, None, self.options.api_key_ttl);
    }

    fn insert(
        &self,
        scheme: Scheme,
        token: &str,
        outcome: &AuthOutcome,
        signing_key: Option<&Arc<VerificationKey>>,
        longest: Duration,
    ) {
        let Some(cache) = &self.cache else { return };
        let expires_at = outcome.principal().and_then(|principal| principal.expires_at());
        let ttl = expires_at.map_or(longest, |unix| self.clock.until(unix)).min(longest).min(LONGEST_TTL);
        if ttl.is_zero() {
            return;
        }
        let key = TokenKey {
            scheme,
            token: token.as_bytes().into(),
            expires: self.clock.now() + ttl,
            signing_key: signing_key.map(Arc::downgrade),
        };
        cache.insert(key, outcome.clone());
    }

    pub(crate) fn stats(&self) -> TokenCacheStats {
        match &self.cache {
            Some(cache) => TokenCacheStats { entries: cache.len() as u64, bytes: cache.weight() },
            None => TokenCacheStats { entries: 0, bytes: 0 },
        }
    }
}
