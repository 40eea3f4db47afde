//! [`TokenCell`]: one cached token, refreshed by one caller at a time.

use std::future::Future;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use crate::time::Clock;

use tokio::sync::Mutex;

use super::{Authorization, TokenError};

/// First pause after a failed token request; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// A freshly fetched credential and how long it lives, if the server said.
pub(crate) struct Fetched {
    pub(crate) value: Authorization,
    pub(crate) lifetime: Option<Duration>,
}

/// When to refresh and how long to trust a token without an `expires_in`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    /// Refresh this long before expiry (at most half the token's lifetime).
    pub(crate) skew: Duration,
    /// Lifetime assumed when the server names none.
    pub(crate) default_lifetime: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self { skew: Duration::from_secs(30), default_lifetime: Duration::from_secs(300) }
    }
}

pub(crate) struct TokenCell {
    state: RwLock<State>,
    /// Held by the one caller that fetches; the others wait, then reuse.
    fetching: Mutex<()>,
    timing: Timing,
    clock: Clock,
}

#[derive(Default)]
struct State {
    current: Option<Current>,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<TokenError>,
}

struct Current {
    value: Authorization,
    refresh_at: Instant,
    expires_at: Instant,
}

impl TokenCell {
    pub(crate) fn new(timing: Timing, initial: Option<Fetched>) -> Self {
        let cell =
            Self { state: RwLock::new(State::default()), fetching: Mutex::new(()), timing, clock: Clock::system() };
        if let Some(fetched) = initial {
            cell.store(fetched);
        }
        cell
    }

    /// Refresh this long before expiry (at most half a token's lifetime).
    pub(crate) fn set_skew(&mut self, skew: Duration) {
        self.timing.skew = skew;
    }

    /// Reads the time from `clock` (tests move a manual one past expiry).
    pub(crate) fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    /// Where the time is read.
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The cached credential while fresh; otherwise one caller runs `fetch`
    /// and the others wait for its result. While backing off after a
    /// failure, a credential that has not yet expired is still handed out.
    pub(crate) async fn get<F, Fut>(&self, fetch: F) -> Result<Authorization, TokenError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Fetched, TokenError>>,
    {
        if let Some(value) = self.fresh() {
            return Ok(value);
        }
        let _fetching = self.fetching.lock().await;
        if let Some(value) = self.fresh() {
            return Ok(value);
        }
        let now = self.clock.now();
        let (usable, backoff) = self.read(|state| {
            let usable = state.current.as_ref().filter(|c| now < c.expires_at).map(|c| c.value.clone());
            let backoff = match (state.retry_at, &state.last_error) {
                (Some(at), Some(error)) if now < at => Some(with_retry_after(error.clone(), at - now)),
                _ => None,
            };
            (usable, backoff)
        });
        if let Some(error) = backoff {
            return usable.ok_or(error);
        }
        match fetch().await {
            Ok(fetched) => Ok(self.store(fetched)),
            Err(error) => {
                let pause = self.write(|state| {
                    state.failures = state.failures.saturating_add(1);
                    let pause = FIRST_BACKOFF.saturating_mul(1 << (state.failures - 1).min(6)).min(MAX_BACKOFF);
                    state.retry_at = Some(self.clock.now() + pause);
                    state.last_error = Some(error.clone());
                    pause
                });
                tracing::warn!(%error, retry_in = ?pause, "token request failed");
                usable.ok_or(with_retry_after(error, pause))
            }
        }
    }

    /// Forgets `rejected` if it is still the current credential.
    pub(crate) fn invalidate(&self, rejected: &Authorization) {
        self.write(|state| {
            if state.current.as_ref().is_some_and(|current| current.value == *rejected) {
                state.current = None;
            }
        });
    }

    fn fresh(&self) -> Option<Authorization> {
        let now = self.clock.now();
        self.read(|state| state.current.as_ref().filter(|c| now < c.refresh_at).map(|c| c.value.clone()))
    }

    fn store(&self, fetched: Fetched) -> Authorization {
        let now = self.clock.now();
        let lifetime = fetched.lifetime.unwrap_or(self.timing.default_lifetime);
        let early = self.timing.skew.min(lifetime / 2);
        let value = fetched.value;
        self.write(|state| {
            state.current =
                Some(Current { value: value.clone(), refresh_at: now + lifetime - early, expires_at: now + lifetime });
            state.failures = 0;
            state.retry_at = None;
            state.last_error = None;
        });
        value
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.state.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    fn write<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.write().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}

fn with_retry_after(error: TokenError, retry_after: Duration) -> TokenError {
    match error {
        TokenError::Unavailable { reason, .. } => TokenError::Unavailable { reason, retry_after },
        other => other,
    }
}
