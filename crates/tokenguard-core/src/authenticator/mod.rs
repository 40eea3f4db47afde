//! [`Authenticator`]: routes a credential to the verifier that can check it.
//!
//! - `Authorization: Token …` → API keys.
//! - `Authorization: Bearer <JWT>` → the [`JwtVerifier`]: the issuer named
//!   by the token's `iss` and its keys.
//! - `Authorization: Bearer <anything else>` → API keys when it carries our
//!   key prefix; otherwise the key store (imported keys), then introspection
//!   when configured.
//! - `Authorization: DPoP <token>` (when DPoP is enabled) → the JWT or
//!   introspection path above, then the proof in the `DPoP` header is
//!   checked against the request and the token's `cnf.jkt`. A bound token
//!   is never accepted without its proof.

mod builder;

use std::collections::BTreeMap;
use std::sync::Arc;

use tracing::Instrument;

pub use builder::AuthenticatorBuilder;

use crate::api_key_verifier::ApiKeyVerifier;
use crate::credential::{Credential, Scheme};
use crate::dpop::{DpopRequest, DpopVerifier};
use crate::error::{AuthError, Challenges};
use crate::introspection::IntrospectionVerifier;
use crate::jwks::JwksCache;
use crate::jwt::JwtVerifier;
use crate::jwt::jose;
use crate::observe;
use crate::outcome::AuthOutcome;
use crate::principal::{Principal, PrincipalKind};
use crate::readiness::{IssuerReadiness, Readiness};
use crate::request::{RequestView, Values};
use crate::sources::{CredentialSources, Presented};
use crate::time::Clock;
use crate::token_cache::{TokenCache, TokenCacheStats};

/// Authenticates requests. Cheap to clone, `Send + Sync`; share one per process.
///
/// Adapters call [`Authenticator::authenticate_cached`] and, when it has no
/// answer, [`Authenticator::authenticate`]; services that verify credentials
/// outside HTTP call [`Authenticator::verify`].
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    jwt: JwtVerifier,
    api_keys: Option<ApiKeyVerifier>,
    introspection: Option<IntrospectionVerifier>,
    dpop: Option<DpopVerifier>,
    challenges: Arc<Challenges>,
    tokens: TokenCache,
    sources: CredentialSources,
    clock: Clock,
    /// Shared by every request without credentials.
    anonymous: AuthOutcome,
}

impl Authenticator {
    /// Starts configuring an authenticator.
    pub fn builder() -> AuthenticatorBuilder {
        AuthenticatorBuilder::default()
    }

    /// Decides `request` without I/O when that needs no verification: no
    /// credential, a malformed one, or one verified before (one cache
    /// lookup, no allocation). `None`: call [`Authenticator::authenticate`].
    pub fn authenticate_cached(&self, request: &RequestView<'_>) -> Option<AuthOutcome> {
        let outcome = self.decide_cached(request)?;
        outcome.observe(&authentication_span(true));
        Some(outcome)
    }

    fn decide_cached(&self, request: &RequestView<'_>) -> Option<AuthOutcome> {
        // The same `Authorization` value parses to the same credential: one
        // verified before is answered without parsing it again — unless
        // another source may present a second credential.
        if self.inner.sources.is_default()
            && let Values::One(value) = request.authorization()
            && let Some(outcome) = self.inner.tokens.get(value)
        {
            return self.cache_hit(outcome);
        }
        match self.extract(request) {
            Ok(None) => Some(self.inner.anonymous.clone()),
            // Only `Authorization`: its value was looked up above already.
            Ok(Some(_)) if self.inner.sources.is_default() => None,
            Ok(Some(presented)) => {
                self.inner.tokens.get(&presented.cache_key).and_then(|outcome| self.cache_hit(outcome))
            }
            Err(error) => Some(self.refuse(error, None, None)),
        }
    }

    /// A DPoP-bound token's proof is checked on every request: not a hit.
    fn cache_hit(&self, outcome: AuthOutcome) -> Option<AuthOutcome> {
        if outcome.scheme() == Some(Scheme::DPoP) {
            return None;
        }
        observe::token_cache(true);
        Some(outcome)
    }

    /// Decides `request`: its credential verified (from the cache when it
    /// was verified before), or anonymous, or refused.
    pub async fn authenticate(&self, request: &RequestView<'_>) -> AuthOutcome {
        let span = authentication_span(false);
        let outcome = self.decide_uncached(request).instrument(span.clone()).await;
        outcome.observe(&span);
        outcome
    }

    async fn decide_uncached(&self, request: &RequestView<'_>) -> AuthOutcome {
        let Presented { credential, cache_key } = match self.extract(request) {
            Ok(Some(presented)) => presented,
            Ok(None) => return self.inner.anonymous.clone(),
            Err(error) => return self.refuse(error, None, None),
        };
        match self.decide(credential, &cache_key, Some(&request.dpop())).await {
            Ok(outcome) => outcome,
            Err(error) => {
                let kind = self.credential_kind(credential);
                self.refuse(error, Some(credential.scheme()), Some(kind))
            }
        }
    }

    /// Verifies one credential, for callers outside HTTP (a message queue,
    /// a WebSocket's first frame…). A DPoP-bound token needs its request
    /// and is refused here.
    pub async fn verify(&self, credential: Credential<'_>) -> Result<Principal, AuthError> {
        // Cached under the value that would carry it in `Authorization`.
        let value = format!("{} {}", credential.scheme(), credential.token());
        let outcome = match self.decide(credential, value.as_bytes(), None).await {
            Ok(outcome) => outcome,
            Err(error) => {
                observe::refusal(Some(self.credential_kind(credential)), &error);
                return Err(error);
            }
        };
        let principal = outcome.principal().cloned().ok_or(AuthError::MissingCredentials)?;
        observe::authentication(principal.kind().as_str(), "accepted");
        Ok(principal)
    }

    /// The credential of `request`, if it presents one we accept.
    fn extract<'a>(&self, request: &RequestView<'a>) -> Result<Option<Presented<'a>>, AuthError> {
        self.inner.sources.extract(request, self.inner.dpop.is_some())
    }

    fn refuse(&self, error: AuthError, scheme: Option<Scheme>, kind: Option<PrincipalKind>) -> AuthOutcome {
        tracing::debug!(scheme = scheme.map(Scheme::as_str), reason = error.description(), "credential rejected");
        AuthOutcome::refused(error, scheme, kind, &self.inner.challenges)
    }

    /// The kind of principal a credential would have become: what a
    /// refusal is counted as.
    fn credential_kind(&self, credential: Credential<'_>) -> PrincipalKind {
        let (scheme, token) = (credential.scheme(), credential.token());
        match (&self.inner.api_keys, &self.inner.introspection) {
            _ if scheme != Scheme::Token && jose::looks_like_jwt(token) => PrincipalKind::Jwt,
            _ if scheme == Scheme::Token => PrincipalKind::ApiKey,
            (Some(api_keys), _) if scheme == Scheme::Bearer && api_keys.has_prefix(token) => PrincipalKind::ApiKey,
            (_, Some(_)) => PrincipalKind::Introspected,
            _ => PrincipalKind::ApiKey,
        }
    }

    /// A credential, presented in the `Authorization` value `value`, found
    /// in the cache or verified (and then cached), and for the DPoP scheme
    /// its proof checked against `dpop`.
    async fn decide(
        &self,
        credential: Credential<'_>,
        value: &[u8],
        dpop: Option<&DpopRequest<'_>>,
    ) -> Result<AuthOutcome, AuthError> {
        let (scheme, token) = (credential.scheme(), credential.token());
        let outcome = match self.inner.tokens.get(value) {
            Some(outcome) => outcome,
            None => {
                observe::token_cache(false);
                self.inner.tokens.forget_dead(value);
                let started = std::time::Instant::now();
                let verified = self.verify_uncached(scheme, token, value).await;
                let principal = verified.as_ref().ok().and_then(AuthOutcome::principal);
                let kind = principal.map_or_else(|| self.credential_kind(credential), Principal::kind);
                observe::verification(kind.as_str(), started.elapsed());
                verified?
            }
        };
        if scheme == Scheme::DPoP {
            self.check_proof(&outcome, token, dpop).await?;
        }
        Ok(outcome)
    }

    /// Verifies a credential the cache does not know, and caches what passes.
    async fn verify_uncached(&self, scheme: Scheme, token: &str, value: &[u8]) -> Result<AuthOutcome, AuthError> {
        let tokens = &self.inner.tokens;
        let outcome = match scheme {
            Scheme::Bearer | Scheme::DPoP if jose::looks_like_jwt(token) => {
                let verified = self.inner.jwt.verify(token, scheme, &self.inner.clock).await?;
                let outcome = self.admit(verified.principal, scheme);
                tokens.insert_jwt(value, &outcome, &verified.key);
                outcome
            }
            // Opaque DPoP tokens can only be introspected: API keys are never bound.
            Scheme::DPoP => match &self.inner.introspection {
                Some(introspection) => self.admit(introspection.verify_presented(token, scheme).await?, scheme),
                None => return Err(AuthError::InvalidToken("unsupported token")),
            },
            Scheme::Bearer | Scheme::Token => self.verify_opaque(scheme, token, value).await?,
        };
        Ok(outcome)
    }

    /// An opaque credential: one of our API keys (by prefix, or any key for
    /// the `Token` scheme), else an imported key, else introspection.
    async fn verify_opaque(&self, scheme: Scheme, token: &str, value: &[u8]) -> Result<AuthOutcome, AuthError> {
        let (api_keys, introspection) = (&self.inner.api_keys, &self.inner.introspection);
        let introspection = introspection.as_ref().filter(|_| scheme == Scheme::Bearer);
        let (principal, epoch) = match (api_keys, introspection) {
            (Some(api_keys), Some(introspection)) if !api_keys.has_prefix(token) => {
                // Keys imported without our prefix are looked up first:
                // the store is local and cheaper than a call to the issuer.
                match api_keys.find_witnessed(token).await? {
                    Some(found) => found,
                    None => return Ok(self.admit(introspection.verify_presented(token, scheme).await?, scheme)),
                }
            }
            (Some(api_keys), _) => {
                api_keys.find_witnessed(token).await?.ok_or(AuthError::InvalidToken("unknown API key"))?
            }
            (None, Some(introspection)) => {
                return Ok(self.admit(introspection.verify_presented(token, scheme).await?, scheme));
            }
            (None, None) => return Err(AuthError::InvalidToken("unsupported token")),
        };
        let outcome = self.admit(principal, scheme);
        self.inner.tokens.insert_api_key(value, &outcome, &epoch);
        Ok(outcome)
    }

    fn admit(&self, principal: Principal, scheme: Scheme) -> AuthOutcome {
        AuthOutcome::authenticated(principal, scheme, &self.inner.challenges)
    }

    /// The proof must be there, match the request, name this token and be
    /// signed by the key the token is bound to; each proof counts once.
    async fn check_proof(
        &self,
        outcome: &AuthOutcome,
        token: &str,
        dpop: Option<&DpopRequest<'_>>,
    ) -> Result<(), AuthError> {
        let (Some(verifier), Some(request)) = (&self.inner.dpop, dpop) else {
            return Err(AuthError::InvalidDpopProof("missing DPoP proof"));
        };
        let jkt = outcome
            .principal()
            .and_then(Principal::dpop_jkt)
            .ok_or(AuthError::InvalidToken("the token is not DPoP-bound"))?;
        verifier.verify(request, token, jkt, self.inner.clock.unix_seconds()).await
    }

    /// Fetches every issuer's keys that are not cached yet and probes the
    /// key store, then reports [`Authenticator::readiness`]. Call it at
    /// start (in the background: it may wait for an unreachable issuer's
    /// timeout), so that first requests find keys cached.
    pub async fn warm_up(&self) -> Readiness {
        for (_, jwks) in self.inner.jwt.key_sets() {
            jwks.warm_up().await;
        }
        if let Some(api_keys) = &self.inner.api_keys {
            // Its failure is recorded in the store's health.
            let _ = api_keys.cache().probe().await;
        }
        self.readiness()
    }

    /// Whether every issuer's keys are cached and the key store answers,
    /// as known now (no I/O): what a readiness route reports.
    pub fn readiness(&self) -> Readiness {
        let issuers: BTreeMap<String, IssuerReadiness> =
            self.inner.jwt.key_sets().map(|(issuer, jwks)| (issuer.to_owned(), jwks.status())).collect();
        let store = self.inner.api_keys.as_ref().map(|api_keys| api_keys.cache().health());
        let ready = issuers.values().all(|issuer| issuer.ready) && store.as_ref().is_none_or(|store| store.ready);
        Readiness { ready, issuers, store }
    }

    /// How full the verified-token cache is.
    pub fn token_cache_stats(&self) -> TokenCacheStats {
        self.inner.tokens.stats()
    }

    /// The JWT verifier (its issuers and their JWKS caches).
    pub fn jwt(&self) -> &JwtVerifier {
        &self.inner.jwt
    }

    /// The JWKS cache of `issuer`, if it is configured with discovery or a JWKS URI.
    pub fn jwks(&self, issuer: &str) -> Option<&JwksCache> {
        self.inner.jwt.jwks(issuer)
    }

    /// The API key verifier, if API keys are accepted.
    pub fn api_keys(&self) -> Option<&ApiKeyVerifier> {
        self.inner.api_keys.as_ref()
    }

    /// The introspection verifier, if opaque tokens are introspected.
    pub fn introspection(&self) -> Option<&IntrospectionVerifier> {
        self.inner.introspection.as_ref()
    }

    /// The challenges sent with 401 answers.
    pub fn challenges(&self) -> &Challenges {
        &self.inner.challenges
    }
}

/// One span per authentication, at `debug`: what was presented and what
/// was decided (filled in by [`AuthOutcome::observe`]) — never a
/// credential or any part of one. `cached`: answered without verification.
fn authentication_span(cached: bool) -> tracing::Span {
    use tracing::field::Empty;
    tracing::debug_span!(
        "tokenguard.authenticate",
        cached,
        scheme = Empty,
        kind = Empty,
        issuer = Empty,
        outcome = Empty,
        reason = Empty,
    )
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("issuers", &self.inner.jwt)
            .field("api_keys", &self.inner.api_keys.is_some())
            .field("introspection", &self.inner.introspection.as_ref().map(IntrospectionVerifier::issuer))
            .field("dpop", &self.inner.dpop.is_some())
            .finish_non_exhaustive()
    }
}
