//! [`TokenCache`]: credentials already verified, so the hot path skips the
//! crypto and the I/O.
//!
//! Keyed by the exact `Authorization` value the credential came in (no
//! digest, so no collision can ever map one caller's token to another's
//! principal): the same bytes parse to the same credential, so a hit needs
//! no parsing either. Bounded in bytes, each entry living no longer than the credential's expiry, the
//! cache TTL, and — for JWTs — the signing key it was verified with: when
//! that key leaves the issuer's JWKS, the entry is dead. Failures are never
//! cached here.

use std::any::Any;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;
use quick_cache::{Equivalent, Weighter};

use crate::jwt::VerificationKey;
use crate::outcome::AuthOutcome;
use crate::store::{Epoch, witness};
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
    /// The `Authorization` value, e.g. `Bearer eyJ…`.
    value: Box<[u8]>,
    expires: Instant,
    /// What the verification hangs on: the key that verified a JWT (dead
    /// once it leaves the JWKS), the key store epoch of an API key (dead
    /// once the store reports a change).
    witness: Weak<dyn Any + Send + Sync>,
}

impl TokenKey {
    fn is_live(&self, now: Instant) -> bool {
        now < self.expires && self.witness.strong_count() > 0
    }
}

/// A credential as presented, to look a [`TokenKey`] up without copying
/// it: matches its live entry only. Verified again, the credential's new
/// entry replaces a dead one.
struct Presented<'a> {
    value: &'a [u8],
    now: Instant,
}

/// A credential as presented, matching its entry only when that is dead:
/// to free the room of an entry found dead, never a live one inserted since.
struct Dead<'a>(Presented<'a>);

impl Hash for TokenKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl Hash for Presented<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl Hash for Dead<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl PartialEq for TokenKey {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Eq for TokenKey {}

impl Equivalent<TokenKey> for Presented<'_> {
    fn equivalent(&self, key: &TokenKey) -> bool {
        *self.value == *key.value && key.is_live(self.now)
    }
}

impl Equivalent<TokenKey> for Dead<'_> {
    fn equivalent(&self, key: &TokenKey) -> bool {
        *self.0.value == *key.value && !key.is_live(self.0.now)
    }
}

#[derive(Clone)]
struct EntryWeight;

impl Weighter<TokenKey, AuthOutcome> for EntryWeight {
    fn weight(&self, key: &TokenKey, _: &AuthOutcome) -> u64 {
        (key.value.len() + ENTRY_OVERHEAD) as u64
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

    /// The outcome of the credential in `value`, an `Authorization` value
    /// verified before, if still valid.
    pub(crate) fn get(&self, value: &[u8]) -> Option<AuthOutcome> {
        self.cache.as_ref()?.get(&Presented { value, now: self.clock.now() })
    }

    /// Frees the room of `value`'s entry if it is dead (expired, or its
    /// signing key left the JWKS). Called before verifying a credential the
    /// cache did not answer, not on every lookup: a lookup only reads.
    pub(crate) fn forget_dead(&self, value: &[u8]) {
        if let Some(cache) = &self.cache {
            cache.remove(&Dead(Presented { value, now: self.clock.now() }));
        }
    }

    /// Remembers a verified JWT until its expiry (at most `max_ttl`) or until `key` leaves the JWKS.
    pub(crate) fn insert_jwt(&self, value: &[u8], outcome: &AuthOutcome, key: &Arc<VerificationKey>) {
        self.insert(value, outcome, Arc::downgrade(key) as Weak<dyn Any + Send + Sync>, self.options.max_ttl);
    }

    /// Remembers a verified API key for `api_key_ttl` (at most until it
    /// expires), or until the key store reports a change since `epoch`.
    pub(crate) fn insert_api_key(&self, value: &[u8], outcome: &AuthOutcome, epoch: &Arc<Epoch>) {
        self.insert(value, outcome, witness(epoch), self.options.api_key_ttl);
    }

    fn insert(&self, value: &[u8], outcome: &AuthOutcome, witness: Weak<dyn Any + Send + Sync>, longest: Duration) {
        let Some(cache) = &self.cache else { return };
        let expires_at = outcome.principal().and_then(|principal| principal.expires_at());
        let ttl = expires_at.map_or(longest, |unix| self.clock.until(unix)).min(longest).min(LONGEST_TTL);
        if ttl.is_zero() {
            return;
        }
        let key = TokenKey { value: value.into(), expires: self.clock.now() + ttl, witness };
        cache.insert(key, outcome.clone());
    }

    pub(crate) fn stats(&self) -> TokenCacheStats {
        match &self.cache {
            Some(cache) => TokenCacheStats { entries: cache.len() as u64, bytes: cache.weight() },
            None => TokenCacheStats { entries: 0, bytes: 0 },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;
    use crate::error::Challenges;
    use crate::principal::{Parts, Principal, PrincipalKind};
    use crate::scope::Scopes;
    use crate::time::ManualClock;

    fn outcome(subject: &str, expires_at: Option<u64>) -> AuthOutcome {
        let principal = Principal::new(Parts {
            subject: subject.into(),
            kind: PrincipalKind::ApiKey,
            issuer: None,
            client_id: None,
            scopes: Scopes::empty(),
            roles: Scopes::empty(),
            expires_at,
            claims: Map::new(),
        });
        AuthOutcome::authenticated(principal, crate::Scheme::Token, &Arc::new(Challenges::default()))
    }

    /// What an authenticator does: a lookup, and on a miss the dead entry's room freed.
    fn subject(cache: &TokenCache, value: &str) -> Option<String> {
        let found = cache.get(value.as_bytes());
        if found.is_none() {
            cache.forget_dead(value.as_bytes());
        }
        found.and_then(|outcome| outcome.principal().map(|p| p.subject().to_owned()))
    }

    fn cache(max_bytes: u64, clock: &ManualClock) -> TokenCache {
        TokenCache::new(TokenCacheOptions { max_bytes, ..TokenCacheOptions::default() }, clock.clock())
    }

    fn signing_key() -> Arc<VerificationKey> {
        let secret = crate::Secret::new("s".repeat(32));
        Arc::new(crate::StaticKey::hmac(jsonwebtoken::Algorithm::HS256, &secret).unwrap().0)
    }

    #[test]
    fn credentials_are_told_apart_by_every_byte() {
        let clock = ManualClock::new();
        let cache = cache(1 << 20, &clock);
        let tail = "x".repeat(64);
        let (alice, bob) = (format!("a{tail}"), format!("b{tail}"));
        cache.insert_api_key(alice.as_bytes(), &outcome("alice", None), &epoch_kept());
        cache.insert_api_key(bob.as_bytes(), &outcome("bob", None), &epoch_kept());
        assert_eq!(subject(&cache, &alice).as_deref(), Some("alice"));
        assert_eq!(subject(&cache, &bob).as_deref(), Some("bob"));
        assert_eq!(subject(&cache, &format!("c{tail}")), None);
        assert_eq!(subject(&cache, &format!("Bearer {alice}")), None, "another value is another credential");
    }

    #[test]
    fn an_entry_lives_no_longer_than_its_ttl_or_its_credential() {
        let clock = ManualClock::new();
        let cache = cache(1 << 20, &clock);
        let now = clock.clock().unix_seconds();
        cache.insert_api_key(b"key-ttl", &outcome("alice", None), &epoch_kept());
        cache.insert_jwt(b"jwt-exp", &outcome("bob", Some(now + 10)), &signing_key_kept());
        clock.advance(Duration::from_millis(1999));
        assert!(subject(&cache, "key-ttl").is_some());
        clock.advance(Duration::from_millis(1));
        assert!(subject(&cache, "key-ttl").is_none(), "the 2 s API key TTL");
        clock.advance(Duration::from_secs(8));
        assert!(subject(&cache, "jwt-exp").is_none(), "the token's exp");
        assert_eq!(cache.stats().entries, 0, "dead entries are removed when found");
        // Already expired, or expiring now: never cached.
        cache.insert_api_key(b"expired", &outcome("carol", Some(now)), &epoch_kept());
        assert_eq!(cache.stats().entries, 0);
    }

    /// A key store epoch that no change ends during the test.
    fn epoch_kept() -> Arc<Epoch> {
        static EPOCH: std::sync::OnceLock<Arc<Epoch>> = std::sync::OnceLock::new();
        EPOCH.get_or_init(|| Arc::new(Epoch)).clone()
    }

    #[test]
    fn an_api_key_entry_dies_with_its_store_epoch() {
        let clock = ManualClock::new();
        let cache = cache(1 << 20, &clock);
        let epoch = Arc::new(Epoch);
        cache.insert_api_key(b"key", &outcome("alice", None), &epoch);
        assert!(subject(&cache, "key").is_some());
        drop(epoch);
        assert!(subject(&cache, "key").is_none(), "the store reported a change");
    }

    /// A key that stays published for the whole test.
    fn signing_key_kept() -> Arc<VerificationKey> {
        static KEY: std::sync::OnceLock<Arc<VerificationKey>> = std::sync::OnceLock::new();
        KEY.get_or_init(signing_key).clone()
    }

    #[test]
    fn an_entry_dies_with_its_signing_key() {
        let clock = ManualClock::new();
        let cache = cache(1 << 20, &clock);
        let key = signing_key();
        let far = clock.clock().unix_seconds() + 3600;
        cache.insert_jwt(b"jwt", &outcome("alice", Some(far)), &key);
        assert!(subject(&cache, "jwt").is_some());
        drop(key);
        assert!(subject(&cache, "jwt").is_none(), "the key left the JWKS");
        assert_eq!(cache.stats().entries, 0);
    }

    #[test]
    fn the_weight_bound_holds() {
        let clock = ManualClock::new();
        let max_bytes = 64 * 1024;
        let cache = cache(max_bytes, &clock);
        for i in 0..10_000 {
            cache.insert_api_key(format!("token-{i:0>600}").as_bytes(), &outcome("alice", None), &epoch_kept());
            assert!(cache.stats().bytes <= max_bytes);
        }
        assert!(cache.stats().entries > 0);
    }

    #[test]
    fn off_caches_nothing() {
        let clock = ManualClock::new();
        let cache = cache(0, &clock);
        cache.insert_api_key(b"key", &outcome("alice", None), &epoch_kept());
        assert!(subject(&cache, "key").is_none());
    }
}
