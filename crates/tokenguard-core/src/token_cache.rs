//! [`TokenCache`]: credentials already verified, so the hot path skips the crypto.
//!
//! Keyed by the exact credential (no digest, so no collision can ever map
//! one caller's token to another's principal), bounded in bytes, each entry
//! living no longer than the credential's expiry, the cache TTL, and — for
//! JWTs — the signing key it was verified with: when that key leaves the
//! issuer's JWKS, the entry is dead. Failures are never cached here.
//!
//! In front of the shared cache, each thread keeps the credentials it sees
//! again and again ([`front`]): found there without a lock, copied there
//! only from the shared cache, dying with their shared twins.

mod front;

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::hash::{Hash, Hasher};

use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Equivalent, OptionsBuilder, Weighter};

use crate::authenticator::{self, VerifiedBy};
use crate::credential::Scheme;
use crate::jwt::VerificationKey;
use crate::principal::Principal;

/// Bounds of the verified-token cache.
#[derive(Debug, Clone)]
pub struct TokenCacheOptions {
    /// Total size of cached credentials (each entry weighs its length plus
    /// 256 bytes of bookkeeping). Default 32 MiB. `0` turns the cache off.
    ///
    /// Besides, each thread that authenticates keeps copies of the
    /// credentials it sees again and again in front of the shared cache,
    /// for lookups without a lock: 64 at most, none longer than 4 KiB.
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

/// The clock of entry lifetimes: the kernel's coarse monotonic clock
/// (`CLOCK_MONOTONIC_COARSE` on Linux), a read of a shared page with no
/// timer instruction — a fifth of a `std::time::Instant` read, which is
/// otherwise the largest single cost of a cache hit. It advances once per
/// scheduler tick, so it may run behind by up to one tick (at most 10 ms for
/// any `HZ` ≥ 100): every lifetime is shortened by [`CLOCK_MARGIN`] so that
/// no entry outlives its credential.
type CoarseInstant = coarsetime::Instant;

/// Twice the longest tick: an entry never lives past its true deadline.
const CLOCK_MARGIN: Duration = Duration::from_millis(20);

/// No cached verification lives longer than this, whatever `max_ttl` says
/// (and the coarse clock's durations stay far from overflowing).
const LONGEST_TTL: Duration = Duration::from_secs(24 * 3600);

fn coarse_now() -> CoarseInstant {
    // Not `now()`, which also writes a process-wide "recent" timestamp that
    // every core would then fight over.
    CoarseInstant::now_without_cache_update()
}

/// What a hit hands out; cloned on every hit, so it holds nothing that all
/// callers share (see [`Lifetime::signing_key`]).
#[derive(Clone)]
struct Entry {
    principal: Principal,
    scheme: Scheme,
}

/// A cached credential: the whole token, compared in full, but hashed by
/// its length and last [`HASHED_TAIL`] bytes only.
///
/// Every credential that gets in was verified, and its tail is random: a
/// JWT's signature, an API key's secret part, an opaque token's random
/// characters. Hashing the tail spreads entries as well as hashing all of a
/// ~600-byte token, for a fraction of the cost of the lookup every request
/// makes. A caller who chooses tails can only make its own lookups miss
/// after one comparison each; nothing unverified is ever inserted.
///
/// The key also holds the entry's principal, only so that a lookup can
/// request the principal's cache line together with the token's: with
/// many distinct callers both are rarely in the CPU cache, and fetched one
/// after the other they cost two memory latencies instead of one.
struct TokenKey {
    token: Box<[u8]>,
    principal: Principal,
    /// Kept here rather than in the [`Entry`] a hit clones (see
    /// [`Lifetime::signing_key`]).
    lifetime: Lifetime,
}

/// What ends a cached verification besides the cache's own eviction; the
/// thread's front copies it, so that its entries die with their shared twins.
#[derive(Clone)]
struct Lifetime {
    /// The key that verified a JWT; a dead `Weak` means it left the JWKS.
    /// Never cloned on a hit: cloning and dropping it would write twice per
    /// hit to one cache line that every token of the issuer shares, and
    /// every core would fight over it (measured: +40 ns per hit with two
    /// threads). A lookup only reads it.
    signing_key: Option<Weak<VerificationKey>>,
    expires: CoarseInstant,
}

impl Lifetime {
    /// Not expired, and its signing key (if any) still in the JWKS.
    fn is_live(&self, now: CoarseInstant) -> bool {
        now < self.expires && self.signing_key.as_ref().is_none_or(|key| key.strong_count() > 0)
    }
}

/// A token as presented, to look a [`TokenKey`] up without copying it. A
/// dead entry (expired, or its signing key left the JWKS) does not match;
/// `found_dead` then says that one was found, to be removed.
struct Presented<'a> {
    token: &'a [u8],
    now: CoarseInstant,
    found_dead: Cell<bool>,
    /// Whether to copy what the thread's front needs out of the entry found.
    promote: bool,
    lifetime: Cell<Option<Lifetime>>,
}

/// A presented token whose entry is dead at `now`: matches that entry only, to remove it.
struct Dead<'a> {
    token: &'a [u8],
    now: CoarseInstant,
}

const HASHED_TAIL: usize = 16;

fn hash_token<H: Hasher>(token: &[u8], state: &mut H) {
    state.write_usize(token.len());
    // As one number: a hasher folds it in a few instructions, where a byte
    // slice takes its general path, several times dearer on every request.
    match token.last_chunk::<HASHED_TAIL>() {
        Some(tail) => state.write_u128(u128::from_le_bytes(*tail)),
        None => state.write(token),
    }
}

impl Hash for TokenKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_token(&self.token, state);
    }
}

impl PartialEq for TokenKey {
    fn eq(&self, other: &Self) -> bool {
        self.token == other.token
    }
}

impl Eq for TokenKey {}

impl Hash for Presented<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_token(self.token, state);
    }
}

impl Equivalent<TokenKey> for Presented<'_> {
    fn equivalent(&self, key: &TokenKey) -> bool {
        if !same_token(self.token, key) {
            return false;
        }
        let live = key.lifetime.is_live(self.now);
        self.found_dead.set(!live);
        if live && self.promote {
            self.lifetime.set(Some(key.lifetime.clone()));
        }
        live
    }
}

impl Hash for Dead<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_token(self.token, state);
    }
}

impl Equivalent<TokenKey> for Dead<'_> {
    fn equivalent(&self, key: &TokenKey) -> bool {
        same_token(self.token, key) && !key.lifetime.is_live(self.now)
    }
}

fn same_token(presented: &[u8], key: &TokenKey) -> bool {
    presented.len() == key.token.len() && {
        key.principal.request_lines();
        request_lines(&key.token);
        *presented == *key.token
    }
}

/// Reads one byte of each cache line of `bytes`, loads that do not depend
/// on each other, so the CPU fetches the lines of a cached token from memory
/// all at once instead of one after another as the comparison reaches them
/// (with many distinct callers, the stored token is rarely in the CPU cache).
/// The last byte too: a token does not start on a line boundary, so its
/// last line is not always one 64 bytes after a byte already read.
fn request_lines(bytes: &[u8]) {
    let touched = bytes.iter().step_by(64).chain(bytes.last()).fold(0u8, |acc, &byte| acc | byte);
    std::hint::black_box(touched);
}

#[derive(Clone)]
struct EntryWeight;

impl Weighter<TokenKey, Entry> for EntryWeight {
    fn weight(&self, token: &TokenKey, _: &Entry) -> u64 {
        (token.token.len() + ENTRY_OVERHEAD) as u64
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
    cache: Option<Arc<Cache<TokenKey, Entry, EntryWeight, DefaultHashBuilder>>>,
    options: TokenCacheOptions,
    /// The authenticator this cache belongs to, recorded in the principals it holds.
    owner: Weak<authenticator::Inner>,
    /// Tells this cache's entries apart in the threads' fronts.
    id: u64,
}

/// Ids of caches, never reused.
static CACHES_MADE: AtomicU64 = AtomicU64::new(0);

/// How full a cache is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenCacheStats {
    /// Entries.
    pub entries: u64,
    /// Weighed bytes (bounded by [`TokenCacheOptions::max_bytes`]).
    pub bytes: u64,
}

impl TokenCache {
    pub(crate) fn new(options: TokenCacheOptions, owner: Weak<authenticator::Inner>) -> Self {
        let cache = (options.max_bytes > 0).then(|| {
            let typical_entry = 1024;
            let cache_options = OptionsBuilder::new()
                .weight_capacity(options.max_bytes)
                .estimated_items_capacity(usize::try_from(options.max_bytes / typical_entry).unwrap_or(1).max(1))
                .build();
            // Both options are set, so `build` cannot fail; fall back to no cache rather than panic.
            cache_options.ok().map(|cache_options| {
                // A fast, randomly seeded hash (foldhash) of each token's tail.
                Arc::new(Cache::with_options(
                    cache_options,
                    EntryWeight,
                    DefaultHashBuilder::default(),
                    Default::default(),
                ))
            })
        });
        Self { cache: cache.flatten(), options, owner, id: CACHES_MADE.fetch_add(1, Ordering::Relaxed) }
    }

    /// The principal of an already-verified credential, if still valid.
    pub(crate) fn get(&self, token: &[u8], scheme: Scheme) -> Option<Principal> {
        let cache = self.cache.as_ref()?;
        let now = coarse_now();
        let miss = match front::get(self.id, token, scheme, now) {
            Ok(principal) => return Some(principal),
            Err(miss) => miss,
        };
        let presented =
            Presented { token, now, found_dead: Cell::new(false), promote: miss.promote, lifetime: Cell::new(None) };
        let Some(entry) = cache.get(&presented) else {
            if presented.found_dead.get() {
                // Expired or its key left the JWKS: free the room now.
                cache.remove(&Dead { token, now });
            }
            return None;
        };
        if entry.scheme != scheme {
            return None;
        }
        if let Some(lifetime) = presented.lifetime.take() {
            let principal = entry.principal.clone();
            front::promote(miss, front::Entry { cache_id: self.id, token: token.into(), scheme, principal, lifetime });
        }
        Some(entry.principal)
    }

    /// Remembers a verified JWT until its expiry (at most `max_ttl`) or until `key` is dropped.
    pub(crate) fn insert_jwt(&self, token: &str, scheme: Scheme, principal: &Principal, key: &Arc<VerificationKey>) {
        self.insert(token, scheme, principal, Some(key), |options| {
            principal.expires_at().map_or(Duration::ZERO, time_until).min(options.max_ttl)
        });
    }

    /// Remembers a verified API key for `api_key_ttl` (at most until it expires).
    pub(crate) fn insert_api_key(&self, token: &str, scheme: Scheme, principal: &Principal) {
        self.insert(token, scheme, principal, None, |options| {
            principal.expires_at().map_or(options.api_key_ttl, time_until).min(options.api_key_ttl)
        });
    }

    /// `ttl` is only worked out (reading the clock) when the cache is on.
    fn insert(
        &self,
        token: &str,
        scheme: Scheme,
        principal: &Principal,
        key: Option<&Arc<VerificationKey>>,
        ttl: impl FnOnce(&TokenCacheOptions) -> Duration,
    ) {
        let Some(cache) = &self.cache else { return };
        let ttl = ttl(&self.options).min(LONGEST_TTL).saturating_sub(CLOCK_MARGIN);
        if ttl.is_zero() {
            return;
        }
        principal.set_verified_by(VerifiedBy { authenticator: self.owner.clone(), scheme });
        let lifetime =
            Lifetime { signing_key: key.map(Arc::downgrade), expires: coarse_now() + coarsetime::Duration::from(ttl) };
        let key = TokenKey { token: token.as_bytes().into(), principal: principal.clone(), lifetime };
        cache.insert(key, Entry { principal: principal.clone(), scheme });
    }

    pub(crate) fn stats(&self) -> TokenCacheStats {
        match &self.cache {
            Some(cache) => TokenCacheStats { entries: cache.len() as u64, bytes: cache.weight() },
            None => TokenCacheStats { entries: 0, bytes: 0 },
        }
    }
}

/// Time from now until a Unix timestamp (zero if past), to the nanosecond:
/// whole seconds would let an entry outlive its credential by up to one.
fn time_until(unix: u64) -> Duration {
    match UNIX_EPOCH.checked_add(Duration::from_secs(unix)) {
        Some(deadline) => deadline.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO),
        None => LONGEST_TTL,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;
    use crate::principal::{Parts, PrincipalKind};
    use crate::scope::Scopes;

    fn principal(subject: &str, expires_at: Option<u64>) -> Principal {
        Principal::new(Parts {
            subject: subject.into(),
            kind: PrincipalKind::ApiKey,
            issuer: None,
            client_id: None,
            scopes: Scopes::empty(),
            roles: Scopes::empty(),
            expires_at,
            claims: Map::new(),
        })
    }

    fn cache(max_bytes: u64) -> TokenCache {
        TokenCache::new(TokenCacheOptions { max_bytes, ..TokenCacheOptions::default() }, Weak::new())
    }

    #[test]
    fn tokens_shorter_than_the_hashed_tail_are_found_and_told_apart() {
        let cache = cache(1 << 20);
        let (alice, bob) = ("short-a", "short-b");
        assert!(alice.len() < HASHED_TAIL);
        cache.insert_api_key(alice, Scheme::Token, &principal("alice", None));
        cache.insert_api_key(bob, Scheme::Token, &principal("bob", None));
        assert_eq!(cache.get(alice.as_bytes(), Scheme::Token).unwrap().subject(), "alice");
        assert_eq!(cache.get(bob.as_bytes(), Scheme::Token).unwrap().subject(), "bob");
        assert!(cache.get(b"short-c", Scheme::Token).is_none());
    }

    #[test]
    fn tokens_sharing_a_tail_are_told_apart() {
        let cache = cache(1 << 20);
        let tail = "x".repeat(HASHED_TAIL * 2);
        let (alice, bob) = (format!("a{tail}"), format!("b{tail}"));
        cache.insert_api_key(&alice, Scheme::Token, &principal("alice", None));
        cache.insert_api_key(&bob, Scheme::Token, &principal("bob", None));
        assert_eq!(cache.get(alice.as_bytes(), Scheme::Token).unwrap().subject(), "alice");
        assert_eq!(cache.get(bob.as_bytes(), Scheme::Token).unwrap().subject(), "bob");
        assert!(cache.get(format!("c{tail}").as_bytes(), Scheme::Token).is_none());
        assert!(cache.get(alice.as_bytes(), Scheme::Bearer).is_none(), "another scheme is another credential");
    }

    #[test]
    fn expired_credentials_are_not_cached() {
        let cache = cache(1 << 20);
        cache.insert_api_key("expired", Scheme::Token, &principal("alice", Some(1)));
        assert!(cache.get(b"expired", Scheme::Token).is_none());
        assert_eq!(cache.stats().entries, 0);
    }

    fn signing_key() -> Arc<VerificationKey> {
        let secret = crate::Secret::new("s".repeat(32));
        Arc::new(crate::StaticKey::hmac(jsonwebtoken::Algorithm::HS256, &secret).unwrap().0)
    }

    #[test]
    fn a_credential_seen_again_is_answered_by_the_threads_front() {
        let cache = cache(1 << 20);
        let token = format!("front-{}", "t".repeat(600));
        cache.insert_api_key(&token, Scheme::Token, &principal("alice", None));
        assert_eq!(cache.get(token.as_bytes(), Scheme::Token).unwrap().subject(), "alice");
        assert!(!front::holds(cache.id, token.as_bytes()), "one request earns no copy");
        assert_eq!(cache.get(token.as_bytes(), Scheme::Token).unwrap().subject(), "alice");
        assert!(front::holds(cache.id, token.as_bytes()), "the second miss in a row does");
        assert_eq!(cache.get(token.as_bytes(), Scheme::Token).unwrap().subject(), "alice");
        assert!(cache.get(token.as_bytes(), Scheme::Bearer).is_none(), "another scheme is another credential");

        // Another authenticator's cache, on the same thread, does not see it.
        let other = self::cache(1 << 20);
        assert!(other.get(token.as_bytes(), Scheme::Token).is_none());
        assert!(other.get(token.as_bytes(), Scheme::Token).is_none());

        let too_long = "l".repeat(front::LONGEST + 1);
        cache.insert_api_key(&too_long, Scheme::Token, &principal("bob", None));
        for _ in 0..3 {
            assert_eq!(cache.get(too_long.as_bytes(), Scheme::Token).unwrap().subject(), "bob");
        }
        assert!(!front::holds(cache.id, too_long.as_bytes()), "only bounded copies");
    }

    #[test]
    fn a_front_entry_dies_with_its_signing_key() {
        let cache = cache(1 << 20);
        let key = signing_key();
        let token = format!("jwt-{}", "k".repeat(300));
        cache.insert_jwt(&token, Scheme::Bearer, &principal("alice", Some(u64::MAX)), &key);
        for _ in 0..3 {
            assert_eq!(cache.get(token.as_bytes(), Scheme::Bearer).unwrap().subject(), "alice");
        }
        assert!(front::holds(cache.id, token.as_bytes()));
        drop(key);
        assert!(cache.get(token.as_bytes(), Scheme::Bearer).is_none(), "the key left the JWKS");
        assert!(!front::holds(cache.id, token.as_bytes()));
        assert_eq!(cache.stats().entries, 0, "the shared entry went too");
    }

    #[test]
    fn a_front_entry_dies_when_it_expires() {
        let api_key_ttl = Duration::from_millis(60);
        let cache = TokenCache::new(
            TokenCacheOptions { max_bytes: 1 << 20, api_key_ttl, ..TokenCacheOptions::default() },
            Weak::new(),
        );
        let token = "short-lived-key-0123456789";
        cache.insert_api_key(token, Scheme::Token, &principal("alice", None));
        let inserted = std::time::Instant::now();
        for _ in 0..2 {
            assert!(cache.get(token.as_bytes(), Scheme::Token).is_some());
        }
        assert!(front::holds(cache.id, token.as_bytes()));
        // Polled until it goes: the clock is read before each lookup, so a
        // lookup made after the TTL that still answers fails the test.
        loop {
            let looked_up_after = inserted.elapsed();
            if cache.get(token.as_bytes(), Scheme::Token).is_none() {
                break;
            }
            assert!(looked_up_after < api_key_ttl, "answered from the cache after its TTL");
            std::thread::yield_now();
        }
        assert!(!front::holds(cache.id, token.as_bytes()));
    }

    #[test]
    fn the_weight_bound_holds() {
        let max_bytes = 64 * 1024;
        let cache = cache(max_bytes);
        for i in 0..10_000 {
            cache.insert_api_key(&format!("token-{i:0>600}"), Scheme::Token, &principal("alice", None));
            assert!(cache.stats().bytes <= max_bytes);
        }
        assert!(cache.stats().entries > 0);
    }

    #[test]
    fn lifetimes_end_before_the_credential_does() {
        let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let expires_at = before.as_secs() + 2;
        // To the nanosecond, not whole seconds (which could add up to one).
        assert!(time_until(expires_at) <= Duration::from_secs(expires_at) - before);
        assert_eq!(time_until(before.as_secs() - 1), Duration::ZERO);
        assert_eq!(time_until(u64::MAX), LONGEST_TTL, "no overflow");

        // Less life left than the coarse clock's margin: not cached at all.
        let cache = cache(1 << 20);
        let ending = principal("alice", Some(before.as_secs()));
        cache.insert_api_key("ending", Scheme::Token, &ending);
        assert!(cache.get(b"ending", Scheme::Token).is_none());
    }

    #[test]
    fn off_caches_nothing() {
        let cache = cache(0);
        cache.insert_api_key("key", Scheme::Token, &principal("alice", None));
        assert!(cache.get(b"key", Scheme::Token).is_none());
    }
}
