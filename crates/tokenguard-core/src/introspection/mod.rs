//! [`IntrospectionVerifier`]: opaque bearer tokens checked at the issuer's
//! RFC 7662 introspection endpoint.
//!
//! - **Bounded cache**, keyed by the SHA-256 digest of the token (the token
//!   itself is never kept): an active answer lives at most
//!   [`IntrospectionOptions::cache_ttl`] (default 10 s, so a revocation is
//!   felt within 10 s) and never past the token's `exp`; an inactive answer
//!   lives [`IntrospectionOptions::negative_ttl`] (default 2 s). Entries are
//!   weighed in bytes against [`IntrospectionOptions::max_cache_bytes`].
//! - **Single flight**: concurrent requests with the same token share one call.
//! - **Polite**: at most [`IntrospectionOptions::max_in_flight`] calls at once;
//!   after a failed call (transport error, non-2xx, an answer without
//!   `active`), calls pause for [`IntrospectionOptions::retry_backoff`] and
//!   tokens not in the cache get 503 with `Retry-After` — a flood of
//!   distinct tokens while the endpoint is down costs one call per back-off.
//! - **Strict**: see the refusals listed on the answer checks — `iss` and
//!   `aud` when named, a `Bearer` `token_type` required (`DPoP` for a
//!   DPoP-bound token, accepted only with its proof), no other
//!   sender-constrained tokens.

mod answer;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use reqwest::Url;
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::ConfigError;
use crate::confirmation::DpopPolicy;
use crate::credential::Scheme;
use crate::discovery::LazyEndpoint;
use crate::error::AuthError;
use crate::fetch::{BodyFormat, ClientRequest, Fetcher, HttpOptions, client_request};
use crate::observe;
use crate::principal::Principal;
use crate::secret::Secret;
use crate::time::Clock;
use answer::{Expectations, Verdict, judge};

pub use crate::fetch::ClientAuth;

/// Configuration of an [`IntrospectionVerifier`].
#[derive(Debug, Clone)]
pub struct IntrospectionOptions {
    /// The issuer whose tokens are introspected. Its discovery document names
    /// the endpoint (unless [`IntrospectionOptions::endpoint`] is set), and an
    /// answer that names an `iss` must name this one.
    pub issuer: String,
    /// The introspection endpoint, when it is not taken from discovery.
    pub endpoint: Option<Url>,
    /// This resource server's client id at the authorization server.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: Secret,
    /// How the client authenticates. Default [`ClientAuth::Basic`].
    pub client_auth: ClientAuth,
    /// An answer that names an `aud` must name one of these.
    pub audiences: Vec<String>,
    /// Refuse answers that name no `aud` at all. Default `false` (RFC 7662
    /// makes `aud` optional); turn it on when your server always names it,
    /// so that tokens meant for other resources are refused.
    pub require_audience: bool,
    /// Refuse answers that name no token type (`token_type`, Keycloak's
    /// `typ` or Hydra's `token_use`). Default `true`: RFC 7662 makes it
    /// optional, but servers that omit it for refresh tokens while calling
    /// them active (oidc-provider does) would otherwise let a refresh token
    /// pass as an access token. Turn it off only for a server that never
    /// names it.
    pub require_token_type: bool,
    /// Longest life of a cached active answer. Default 10 s.
    pub cache_ttl: Duration,
    /// Life of a cached inactive answer. Default 2 s.
    pub negative_ttl: Duration,
    /// Bound of the answer cache, in bytes (each entry weighs its answer's
    /// size plus 128 bytes). Default 16 MiB.
    pub max_cache_bytes: u64,
    /// Most introspection calls in flight at once. Default 32.
    pub max_in_flight: usize,
    /// Pause after a failed call. Default 2 s.
    pub retry_backoff: Duration,
    /// HTTP limits (timeout, answer size). Default 5 s and 64 KiB.
    pub http: HttpOptions,
}

impl IntrospectionOptions {
    /// Options for `issuer`'s endpoint (found by discovery), authenticating
    /// as `client_id` with `client_secret`, accepting answers for `audiences`.
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
        audiences: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            endpoint: None,
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            client_auth: ClientAuth::Basic,
            audiences: audiences.into_iter().map(Into::into).collect(),
            require_audience: false,
            require_token_type: true,
            cache_ttl: Duration::from_secs(10),
            negative_ttl: Duration::from_secs(2),
            max_cache_bytes: 16 * 1024 * 1024,
            max_in_flight: 32,
            retry_backoff: Duration::from_secs(2),
            http: HttpOptions { max_body_bytes: 64 * 1024, ..HttpOptions::default() },
        }
    }
}

/// Checks opaque tokens with RFC 7662 introspection. Cheap to clone (shared).
///
/// ```no_run
/// use tokenguard_core::{Authenticator, IntrospectionOptions, IntrospectionVerifier};
///
/// let introspection = IntrospectionVerifier::new(IntrospectionOptions::new(
///     "https://idp.example/realms/demo",
///     "my-api",
///     std::env::var("INTROSPECTION_SECRET").unwrap_or_default(),
///     ["my-api"],
/// ))
/// .expect("valid configuration");
/// let authenticator = Authenticator::builder().introspection(introspection).build().expect("valid");
/// ```
#[derive(Clone)]
pub struct IntrospectionVerifier {
    inner: Arc<Inner>,
    clock: Clock,
}

struct Inner {
    endpoint: LazyEndpoint,
    fetcher: Fetcher,
    client_id: String,
    client_secret: Secret,
    client_auth: ClientAuth,
    expect: Expectations,
    cache: Cache<[u8; 32], Cached>,
    upstream: Semaphore,
    retry_at: Mutex<Option<Instant>>,
    options: IntrospectionOptions,
}

/// A judged answer and when it stops being usable.
#[derive(Clone)]
struct Cached {
    verdict: Verdict,
    until: Instant,
    weight: u32,
}

struct CachedExpiry;

impl Expiry<[u8; 32], Cached> for CachedExpiry {
    fn expire_after_create(&self, _: &[u8; 32], entry: &Cached, created_at: Instant) -> Option<Duration> {
        Some(entry.until.saturating_duration_since(created_at))
    }
}

/// Bookkeeping bytes counted per cache entry besides its answer.
const ENTRY_OVERHEAD: u32 = 128;

impl IntrospectionVerifier {
    /// A verifier with `options`. Nothing is fetched until a token arrives.
    pub fn new(options: IntrospectionOptions) -> Result<Self, ConfigError> {
        let endpoint = LazyEndpoint::new(&options.issuer, options.endpoint.as_ref(), |metadata| {
            metadata.introspection_endpoint.as_ref()
        })?;
        let fetcher = Fetcher::new(&options.http).map_err(|_| ConfigError::HttpClient)?;
        let cache = Cache::builder()
            .max_capacity(options.max_cache_bytes)
            .weigher(|_, entry: &Cached| entry.weight)
            .expire_after(CachedExpiry)
            .build();
        Ok(Self {
            inner: Arc::new(Inner {
                endpoint,
                fetcher,
                client_id: options.client_id.clone(),
                client_secret: options.client_secret.clone(),
                client_auth: options.client_auth,
                expect: Expectations {
                    issuer: options.issuer.clone(),
                    audiences: options.audiences.clone(),
                    require_audience: options.require_audience,
                    require_token_type: options.require_token_type,
                },
                cache,
                upstream: Semaphore::new(options.max_in_flight.max(1)),
                retry_at: Mutex::new(None),
                options,
            }),
            clock: Clock::system(),
        })
    }

    /// Reads token expiry from `clock` (the authenticator's).
    pub(crate) fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The issuer whose tokens this verifier introspects.
    pub fn issuer(&self) -> &str {
        &self.inner.options.issuer
    }

    /// Verifies an opaque bearer token. A DPoP-bound token (`cnf.jkt`) is
    /// refused here: its proof is checked by the [`Authenticator`](crate::Authenticator).
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        self.verify_presented(token, Scheme::Bearer).await
    }

    /// Verifies an opaque token sent with `scheme`: bound tokens need the
    /// DPoP scheme (and the caller must then check the proof), unbound ones
    /// the Bearer scheme.
    pub(crate) async fn verify_presented(&self, token: &str, scheme: Scheme) -> Result<Principal, AuthError> {
        let principal = self.verify_any(token).await?;
        DpopPolicy::Allowed.check(scheme, principal.dpop_jkt())?;
        Ok(principal)
    }

    async fn verify_any(&self, token: &str) -> Result<Principal, AuthError> {
        let digest = digest(token);
        let cached = match self.inner.cache.get(&digest).await {
            Some(cached) => cached,
            None => {
                self.check_backoff()?;
                self.inner.cache.try_get_with(digest, self.introspect(token)).await.map_err(|error| (*error).clone())?
            }
        };
        match cached.verdict {
            // The cache entry ends by the token's expiry too; this is for the clock's word on it.
            Verdict::Active(principal)
                if principal.expires_at().is_some_and(|exp| exp <= self.clock.unix_seconds()) =>
            {
                Err(AuthError::InvalidToken("token expired"))
            }
            Verdict::Active(principal) => Ok(principal),
            Verdict::Refused(reason) => Err(AuthError::InvalidToken(reason)),
        }
    }

    /// How many answers are cached and how many bytes they weigh.
    pub async fn cache_stats(&self) -> (u64, u64) {
        self.inner.cache.run_pending_tasks().await;
        (self.inner.cache.entry_count(), self.inner.cache.weighted_size())
    }

    async fn introspect(&self, token: &str) -> Result<Cached, AuthError> {
        let _permit = self.inner.upstream.acquire().await.map_err(|_| self.unavailable(Duration::ZERO))?;
        // Another call may have failed while this one waited for a permit.
        self.check_backoff()?;
        let endpoint = self.endpoint().await?;
        let request = self.request(token);
        let issuer = self.issuer();
        let fetched = match self.inner.fetcher.post_json::<Value>(endpoint, request).await {
            Ok(fetched) => fetched,
            Err(error) => {
                observe::introspection(issuer, "error");
                return Err(self.failed(&error));
            }
        };
        let verdict = judge(fetched.value, &self.inner.expect, self.clock.unix_seconds()).map_err(|error| {
            observe::introspection(issuer, "error");
            self.failed(&error)
        })?;
        observe::introspection(issuer, if matches!(verdict, Verdict::Active(_)) { "active" } else { "inactive" });
        let options = &self.inner.options;
        let created = Instant::now();
        let until = match &verdict {
            Verdict::Active(principal) => {
                let left = principal
                    .expires_at()
                    .map_or(options.cache_ttl, |exp| self.clock.until(exp).min(options.cache_ttl));
                created + left
            }
            Verdict::Refused(reason) => {
                tracing::debug!(reason, "introspection refused a token");
                created + options.negative_ttl
            }
        };
        let weight = match verdict {
            Verdict::Active(_) => u32::try_from(fetched.body_len).unwrap_or(u32::MAX),
            Verdict::Refused(_) => 0,
        };
        Ok(Cached { verdict, until, weight: weight.saturating_add(ENTRY_OVERHEAD) })
    }

    /// The form (RFC 7662 §2.1) with the client's credentials.
    fn request(&self, token: &str) -> ClientRequest {
        let inner = &self.inner;
        let params = [("token", token), ("token_type_hint", "access_token")];
        client_request(&params, &inner.client_id, &inner.client_secret, inner.client_auth, BodyFormat::Form)
    }

    async fn endpoint(&self) -> Result<&Url, AuthError> {
        self.inner.endpoint.resolve(&self.inner.fetcher).await.map_err(|reason| self.failed(&reason))
    }

    fn check_backoff(&self) -> Result<(), AuthError> {
        let retry_at = *self.inner.retry_at.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match retry_at.map(|at| at.saturating_duration_since(Instant::now())) {
            Some(left) if !left.is_zero() => Err(self.unavailable(left)),
            _ => Ok(()),
        }
    }

    /// Records a failed call: logs it (never the token) and pauses calls.
    fn failed(&self, error: &dyn std::fmt::Display) -> AuthError {
        tracing::warn!(%error, "token introspection failed");
        let backoff = self.inner.options.retry_backoff;
        *self.inner.retry_at.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Instant::now() + backoff);
        self.unavailable(backoff)
    }

    fn unavailable(&self, retry_after: Duration) -> AuthError {
        AuthError::Unavailable {
            reason: "the introspection endpoint is unavailable",
            retry_after: retry_after.max(Duration::from_secs(1)),
        }
    }
}

/// Judges a raw introspection answer exactly as [`IntrospectionVerifier`]
/// does after a call, at time `now` (Unix seconds): `Err` for an answer
/// that cannot be read (an upstream fault), `Ok(Err)` for a refused token.
/// For fuzzing and tests; not part of the stable API.
#[cfg(any(test, fuzzing))]
pub fn judge_answer(
    body: &[u8],
    issuer: &str,
    audiences: &[&str],
    now: u64,
) -> Result<Result<Principal, AuthError>, String> {
    let answer: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let expect = Expectations {
        issuer: issuer.to_owned(),
        audiences: audiences.iter().map(|a| (*a).to_owned()).collect(),
        require_audience: false,
        require_token_type: true,
    };
    match judge(answer, &expect, now).map_err(|e| e.to_string())? {
        Verdict::Active(principal) => Ok(Ok(principal)),
        Verdict::Refused(reason) => Ok(Err(AuthError::InvalidToken(reason))),
    }
}

impl std::fmt::Debug for IntrospectionVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionVerifier")
            .field("issuer", &self.inner.options.issuer)
            .field("client_id", &self.inner.client_id)
            .finish_non_exhaustive()
    }
}

fn digest(token: &str) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0; 32];
    out.copy_from_slice(digest.as_ref());
    out
}
