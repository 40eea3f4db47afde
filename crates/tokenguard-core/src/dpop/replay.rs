//! [`ReplayCache`]: each DPoP proof is accepted once (RFC 9449 §11.1).

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

/// A proof's identity: SHA-256 of its key thumbprint and `jti`, so that
/// entries have a fixed size whatever the client sends.
pub type ProofId = [u8; 32];

/// Why a replay cache could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayCacheError {
    /// The cache holds as many live proofs as it may; the request is
    /// refused (503) rather than letting an old proof be forgotten early.
    #[error("the DPoP replay cache is full")]
    Full,
    /// A shared cache (Redis, a database…) is unreachable.
    #[error("the DPoP replay cache is unavailable")]
    Unavailable,
}

/// Remembers the proofs already used. Share one implementation across a
/// fleet (e.g. Redis `SET id 1 NX PX ttl`) when clients may hit several
/// instances; [`MemoryReplayCache`] protects one process.
#[async_trait]
pub trait ReplayCache: Send + Sync + 'static {
    /// Records `id` for at least `ttl`. `Ok(true)` the first time,
    /// `Ok(false)` if it was recorded before (a replay).
    async fn first_use(&self, id: ProofId, ttl: Duration) -> Result<bool, ReplayCacheError>;
}

/// An in-process replay cache with a hard bound on entries.
///
/// Proofs live in two generations, each as long as the longest `ttl` asked
/// for: a lookup checks both, an insert goes into the current one, and the
/// older generation is dropped whole when the current one has been filled
/// for a full period. So every proof is remembered for at least its `ttl`
/// (never evicted early, which would reopen a replay window), memory is at
/// most `capacity` ids, and there is no per-entry timer.
pub struct MemoryReplayCache {
    capacity: usize,
    state: Mutex<Generations>,
}

struct Generations {
    current: HashSet<ProofId, foldhash::fast::RandomState>,
    previous: HashSet<ProofId, foldhash::fast::RandomState>,
    started: Instant,
    period: Duration,
}

impl MemoryReplayCache {
    /// A cache holding at most `capacity` live proofs (about 40 bytes each,
    /// up to twice that while both generations hold allocated tables).
    pub fn new(capacity: usize) -> Self {
        let state = Generations {
            current: HashSet::default(),
            previous: HashSet::default(),
            started: Instant::now(),
            period: Duration::ZERO,
        };
        Self { capacity, state: Mutex::new(state) }
    }

    /// How many proofs are remembered now.
    pub fn len(&self) -> usize {
        let state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.current.len() + state.previous.len()
    }

    /// Whether no proof is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for MemoryReplayCache {
    /// 262,144 proofs: at least 1,800 DPoP requests a second, sustained, with the
    /// default proof lifetime (entries live 70 to 140 s), in 10 to 20 MiB.
    fn default() -> Self {
        Self::new(1 << 18)
    }
}

impl std::fmt::Debug for MemoryReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryReplayCache").field("capacity", &self.capacity).field("len", &self.len()).finish()
    }
}

#[async_trait]
impl ReplayCache for MemoryReplayCache {
    async fn first_use(&self, id: ProofId, ttl: Duration) -> Result<bool, ReplayCacheError> {
        // No await while the lock is held: the section is a few hash probes.
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.period = state.period.max(ttl);
        let elapsed = state.started.elapsed();
        if elapsed >= state.period {
            let current = std::mem::take(&mut state.current);
            // Two periods or more without a rotation: both generations are stale.
            state.previous = if elapsed >= state.period * 2 { HashSet::default() } else { current };
            state.started = Instant::now();
        }
        if state.current.contains(&id) || state.previous.contains(&id) {
            return Ok(false);
        }
        if state.current.len() + state.previous.len() >= self.capacity {
            return Err(ReplayCacheError::Full);
        }
        state.current.insert(id);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ProofId {
        [n; 32]
    }

    #[tokio::test]
    async fn a_proof_is_accepted_once() {
        let cache = MemoryReplayCache::new(10);
        let ttl = Duration::from_secs(60);
        assert_eq!(cache.first_use(id(1), ttl).await, Ok(true));
        assert_eq!(cache.first_use(id(1), ttl).await, Ok(false));
        assert_eq!(cache.first_use(id(2), ttl).await, Ok(true));
        assert_eq!(cache.len(), 2);
    }

    #[tokio::test]
    async fn a_full_cache_refuses_instead_of_forgetting() {
        let cache = MemoryReplayCache::new(3);
        let ttl = Duration::from_secs(60);
        for n in 0..3 {
            assert_eq!(cache.first_use(id(n), ttl).await, Ok(true));
        }
        assert_eq!(cache.first_use(id(9), ttl).await, Err(ReplayCacheError::Full));
        assert_eq!(cache.first_use(id(0), ttl).await, Ok(false), "still remembered");
        assert_eq!(cache.len(), 3);
    }

    #[tokio::test]
    async fn old_generations_are_dropped_after_their_ttl() {
        let cache = MemoryReplayCache::new(2);
        let ttl = Duration::from_millis(1);
        assert_eq!(cache.first_use(id(1), ttl).await, Ok(true));
        // Entries are kept for at least one period and at most two: poll
        // until the first one is forgotten.
        let deadline = Instant::now() + Duration::from_secs(5);
        while cache.first_use(id(1), ttl).await == Ok(false) {
            assert!(Instant::now() < deadline, "the first generation was never dropped");
            tokio::task::yield_now().await;
        }
        assert_eq!(cache.len(), 1);
    }
}
