//! [`Clock`]: where tokenguard reads the time.
//!
//! Every decision that depends on the time — a token's `exp` and `nbf`, an
//! API key's expiry, how long a verification stays cached, a DPoP proof's
//! `iat` — reads it from the authenticator's clock. In production that is
//! the system clock; tests use a [`ManualClock`] and move it forward instead
//! of waiting for a credential to expire.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of the current time, cheap to clone. The default is the system clock.
#[derive(Clone, Default)]
pub struct Clock {
    manual: Option<Arc<Manual>>,
}

struct Manual {
    /// Where the manual clock started, on both scales.
    started: Instant,
    started_unix: Duration,
    /// How far it has been moved since, in nanoseconds.
    advanced: AtomicU64,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// The current time on a monotonic scale: for durations and deadlines.
    pub fn now(&self) -> Instant {
        match &self.manual {
            None => Instant::now(),
            Some(manual) => manual.started + manual.advanced(),
        }
    }

    /// The current time since the Unix epoch: for `exp`, `nbf`, `iat` and
    /// key expiry, which are wall-clock timestamps.
    pub fn unix(&self) -> Duration {
        match &self.manual {
            None => SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default(),
            Some(manual) => manual.started_unix + manual.advanced(),
        }
    }

    /// [`Clock::unix`] in whole seconds, as JWT NumericDates are.
    pub fn unix_seconds(&self) -> u64 {
        self.unix().as_secs()
    }

    /// The time left until the Unix timestamp `unix_seconds` (zero if past),
    /// to the nanosecond: rounding to seconds could let a cached
    /// verification outlive its credential.
    pub fn until(&self, unix_seconds: u64) -> Duration {
        Duration::from_secs(unix_seconds).saturating_sub(self.unix())
    }
}

impl Manual {
    fn advanced(&self) -> Duration {
        Duration::from_nanos(self.advanced.load(Ordering::Relaxed))
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.manual.is_some() { "Clock::Manual" } else { "Clock::System" })
    }
}

/// A clock that stands still until it is moved: for tests of expiry.
///
/// ```
/// use std::time::Duration;
/// use tokenguard_core::time::ManualClock;
///
/// let manual = ManualClock::new();
/// let clock = manual.clock();
/// let before = clock.unix_seconds();
/// manual.advance(Duration::from_secs(3600));
/// assert_eq!(clock.unix_seconds(), before + 3600);
/// ```
#[derive(Clone, Debug)]
pub struct ManualClock {
    clock: Clock,
}

impl ManualClock {
    /// A clock starting at the current system time.
    pub fn new() -> Self {
        let manual = Manual {
            started: Instant::now(),
            started_unix: SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default(),
            advanced: AtomicU64::new(0),
        };
        Self { clock: Clock { manual: Some(Arc::new(manual)) } }
    }

    /// The clock to hand to an authenticator or a verifier.
    pub fn clock(&self) -> Clock {
        self.clock.clone()
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        if let Some(manual) = &self.clock.manual {
            let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
            manual.advanced.fetch_add(nanos, Ordering::Relaxed);
        }
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}
