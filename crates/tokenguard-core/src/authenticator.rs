//! [`Authenticator`]: routes a credential to the verifier that can check it.
//!
//! - `Authorization: Token …` → API keys.
//! - `Authorization: Bearer <JWT>` → the issuer named by the token's `iss`
//!   (the unverified `iss` only *selects* a configured issuer; an unknown
//!   `iss` fails without any network I/O) → its JWKS or static keys.
//! - `Authorization: Bearer <anything else>` → API keys when it carries our
//!   key prefix; otherwise the key store (imported keys), then introspection
//!   when configured.
//! - `Authorization: DPoP <token>` (when DPoP is enabled) → the JWT or
//!   introspection path above, then the proof in the `DPoP` header is
//!   checked against the request and the token's `cnf.jkt`. A bound token
//!   is never accepted without its proof.

use std::borrow::Cow;
use std::sync::{Arc, Weak};

use http::{HeaderMap, Method, Uri};

use crate::ConfigError;
use crate::api_key_verifier::ApiKeyVerifier;
use crate::credential::{self, Credential, Scheme};
use crate::dpop::{DpopOptions, DpopPolicy, DpopRequest, DpopVerifier};
use crate::error::{AuthError, Challenges, ErrorResponse};
use crate::introspection::IntrospectionVerifier;
use crate::jwks::{JwksCache, JwksOptions, JwksSource};
use crate::jwt::jose::{self, MAX_TOKEN_BYTES};
use crate::jwt::{self, JwtRules, StaticKey, VerificationKey};
use crate::principal::Principal;
use crate::token_cache::{TokenCache, TokenCacheOptions, TokenCacheStats};

/// Whether a request without credentials may pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// No credentials → 401 with challenges.
    #[default]
    Required,
    /// No credentials → anonymous. Invalid credentials are still refused.
    Optional,
}

/// A verified caller and the scheme it used.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// Who is calling.
    pub principal: Principal,
    /// The scheme of the credential (used to address challenges).
    pub scheme: Scheme,
}

/// What an adapter does with a request, decided from its headers alone by
/// [`Authenticator::decide_cached`].
#[derive(Debug)]
pub enum Decision {
    /// The hot path: a credential this authenticator verified before, whose
    /// principal carries the request's [`AuthContext`]
    /// ([`Authenticated::carries_context`]). Inserting the principal into
    /// the request's extensions is all that is left to do.
    Admit(Authenticated),
    /// Decided without verification, as [`Authenticator::authenticate_http`]
    /// would decide it: see [`Authenticator::request_extensions`].
    Decided(Result<Option<Authenticated>, Rejection>),
    /// A credential to verify, with [`Authenticator::authenticate_http_after_cache_miss`].
    Verify,
}

/// A refused request: the error and the scheme the client used, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Why.
    pub error: AuthError,
    /// The scheme the client used, so the challenge can name it.
    pub scheme: Option<Scheme>,
}

/// Authenticates requests. Cheap to clone, `Send + Sync`; share one per process.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    issuers: Vec<Issuer>,
    api_keys: Option<ApiKeyVerifier>,
    introspection: Option<IntrospectionVerifier>,
    dpop: Option<DpopVerifier>,
    challenges: Challenges,
    tokens: TokenCache,
}

struct Issuer {
    rules: JwtRules,
    keys: IssuerKeys,
}

enum IssuerKeys {
    Jwks(JwksCache),
    Static(Vec<Arc<VerificationKey>>),
}

impl Authenticator {
    /// Starts configuring an authenticator.
    pub fn builder() -> AuthenticatorBuilder {
        AuthenticatorBuilder::default()
    }

    /// Authenticates a request from its headers alone. DPoP proofs are
    /// bound to the method and URI, so DPoP needs
    /// [`Authenticator::authenticate_http`].
    ///
    /// `Ok(None)` means anonymous (no credentials, [`Mode::Optional`]).
    pub async fn authenticate(&self, headers: &HeaderMap, mode: Mode) -> Result<Option<Authenticated>, Rejection> {
        self.authenticate_values(headers.get_all(http::header::AUTHORIZATION).iter().map(header_bytes), mode).await
    }

    /// Decides a request from its headers alone when that needs no
    /// verification: a credential verified before (the hot path: one cache
    /// lookup, no allocation) or no credential at all. `None` means the
    /// credential must be verified with [`Authenticator::authenticate_http`].
    ///
    /// Adapters call this first so that the common case costs neither a
    /// boxed future nor a clone of the inner service.
    pub fn authenticate_cached(
        &self,
        headers: &HeaderMap,
        mode: Mode,
    ) -> Option<Result<Option<Authenticated>, Rejection>> {
        match self.decide_cached(headers, mode) {
            Decision::Admit(authenticated) => Some(Ok(Some(authenticated))),
            Decision::Decided(outcome) => Some(outcome),
            Decision::Verify => None,
        }
    }

    /// Like [`Authenticator::authenticate_cached`], telling apart the hot
    /// path — a cached principal that is all the request needs — so that
    /// adapters take it with nothing else to decide.
    pub fn decide_cached(&self, headers: &HeaderMap, mode: Mode) -> Decision {
        let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
        match (values.next(), values.next()) {
            (None, _) => Decision::Decided(no_credentials(mode)),
            (Some(value), None) => match self.cached(value.as_bytes()) {
                Some(authenticated) if authenticated.carries_context(self) => Decision::Admit(authenticated),
                Some(authenticated) => Decision::Decided(Ok(Some(authenticated))),
                None => Decision::Verify,
            },
            (Some(_), Some(_)) => Decision::Verify,
        }
    }

    /// Authenticates a request from its method, URI and headers: every
    /// scheme, DPoP included.
    pub async fn authenticate_http(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        mode: Mode,
    ) -> Result<Option<Authenticated>, Rejection> {
        match self.authenticate_cached(headers, mode) {
            Some(decided) => decided,
            None => self.authenticate_http_after_cache_miss(method, uri, headers, mode).await,
        }
    }

    /// The rest of [`Authenticator::authenticate_http`], for adapters that
    /// called [`Authenticator::authenticate_cached`] first and got `None`:
    /// parses and verifies the credential without repeating that lookup.
    pub async fn authenticate_http_after_cache_miss(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        mode: Mode,
    ) -> Result<Option<Authenticated>, Rejection> {
        let dpop = self.inner.dpop.is_some().then(|| DpopRequest::from_http(method, uri, headers));
        let values = headers.get_all(http::header::AUTHORIZATION).iter().map(header_bytes);
        let extracted = credential::from_authorization_values(values);
        self.authenticate_extracted(extracted, dpop.as_ref(), mode).await
    }

    /// Like [`Authenticator::authenticate`], from the raw values of every
    /// `Authorization` header (for frameworks with their own header types).
    pub async fn authenticate_values<'a>(
        &self,
        values: impl IntoIterator<Item = &'a [u8]>,
        mode: Mode,
    ) -> Result<Option<Authenticated>, Rejection> {
        self.authenticate_with(values, None, mode).await
    }

    /// Like [`Authenticator::authenticate_http`], from the raw values of
    /// every `Authorization` header and, for DPoP, the request a proof must
    /// match (for frameworks with their own request types).
    pub async fn authenticate_with<'a>(
        &self,
        values: impl IntoIterator<Item = &'a [u8]>,
        dpop: Option<DpopRequest<'_>>,
        mode: Mode,
    ) -> Result<Option<Authenticated>, Rejection> {
        let mut values = values.into_iter();
        let first = values.next();
        let second = values.next();
        if let (Some(value), None) = (first, second)
            && let Some(authenticated) = self.cached(value)
        {
            return Ok(Some(authenticated));
        }
        let extracted = credential::from_authorization_values(first.into_iter().chain(second).chain(values));
        self.authenticate_extracted(extracted, dpop.as_ref(), mode).await
    }

    /// Whether DPoP-bound tokens are accepted (RFC 9449).
    pub fn dpop_enabled(&self) -> bool {
        self.inner.dpop.is_some()
    }

    /// The hot path: a single `Authorization` value whose credential was
    /// verified before. Its bytes were fully parsed then, so only the scheme
    /// is read here; anything unusual falls through to the full parser.
    fn cached(&self, value: &[u8]) -> Option<Authenticated> {
        let (scheme, token) = credential::cache_key(value)?;
        let principal = self.inner.tokens.get(token, scheme)?;
        Some(Authenticated { principal, scheme })
    }

    async fn authenticate_extracted(
        &self,
        extracted: Result<Option<Credential<'_>>, AuthError>,
        dpop: Option<&DpopRequest<'_>>,
        mode: Mode,
    ) -> Result<Option<Authenticated>, Rejection> {
        let credential = match extracted {
            // Without DPoP enabled, `DPoP` is a scheme like `Basic`: not ours.
            Ok(Some(credential)) if credential.scheme() == Scheme::DPoP && self.inner.dpop.is_none() => {
                return no_credentials(mode);
            }
            Ok(Some(credential)) => credential,
            Ok(None) => return no_credentials(mode),
            Err(error) => {
                tracing::debug!(reason = error.description(), "malformed Authorization header");
                return Err(Rejection { error, scheme: None });
            }
        };
        match self.verify_presented(credential, dpop).await {
            Ok(principal) => Ok(Some(Authenticated { principal, scheme: credential.scheme() })),
            Err(error) => {
                tracing::debug!(scheme = %credential.scheme(), reason = error.description(), "credential rejected");
                Err(Rejection { error, scheme: Some(credential.scheme()) })
            }
        }
    }

    /// Verifies one credential. Credentials verified before are answered
    /// from the verified-token cache without any crypto or I/O. A DPoP
    /// credential needs its request: see [`Authenticator::verify_presented`].
    pub async fn verify(&self, credential: Credential<'_>) -> Result<Principal, AuthError> {
        self.verify_presented(credential, None).await
    }

    /// Verifies one credential and, for the DPoP scheme, its proof against
    /// `dpop`, the request it came with.
    pub async fn verify_presented(
        &self,
        credential: Credential<'_>,
        dpop: Option<&DpopRequest<'_>>,
    ) -> Result<Principal, AuthError> {
        let (token, scheme) = (credential.token(), credential.scheme());
        let principal = self.verify_token(token, scheme).await?;
        if scheme == Scheme::DPoP {
            self.check_proof(&principal, token, dpop).await?;
        }
        Ok(principal)
    }

    /// The proof must be there, match the request, name this token and be
    /// signed by the key the token is bound to; each proof counts once.
    async fn check_proof(
        &self,
        principal: &Principal,
        token: &str,
        dpop: Option<&DpopRequest<'_>>,
    ) -> Result<(), AuthError> {
        let (Some(verifier), Some(request)) = (&self.inner.dpop, dpop) else {
            return Err(AuthError::InvalidDpopProof("missing DPoP proof"));
        };
        let jkt = principal.dpop_jkt().ok_or(AuthError::InvalidToken("the token is not DPoP-bound"))?;
        verifier.verify(request, token, jkt).await
    }

    async fn verify_token(&self, token: &str, scheme: Scheme) -> Result<Principal, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::InvalidToken("token too large"));
        }
        let tokens = &self.inner.tokens;
        if let Some(principal) = tokens.get(token.as_bytes(), scheme) {
            return Ok(principal);
        }
        match scheme {
            Scheme::Bearer | Scheme::DPoP if jose::looks_like_jwt(token) => {
                let (principal, key) = self.verify_jwt(token, scheme).await?;
                tokens.insert_jwt(token, scheme, &principal, &key);
                Ok(principal)
            }
            // Opaque DPoP tokens can only be introspected: API keys are never bound.
            Scheme::DPoP => match &self.inner.introspection {
                Some(introspection) => introspection.verify_presented(token, scheme).await,
                None => Err(AuthError::InvalidToken("unsupported token")),
            },
            Scheme::Bearer => match (&self.inner.api_keys, &self.inner.introspection) {
                (Some(api_keys), _) if api_keys.has_prefix(token) => self.verify_api_key(api_keys, token, scheme).await,
                (api_keys, Some(introspection)) => {
                    // Keys imported without our prefix are looked up first:
                    // the store is local and cheaper than a call to the issuer.
                    if let Some(api_keys) = api_keys
                        && let Some(principal) = api_keys.find(token).await?
                    {
                        tokens.insert_api_key(token, scheme, &principal);
                        return Ok(principal);
                    }
                    introspection.verify_presented(token, scheme).await
                }
                (Some(api_keys), None) => self.verify_api_key(api_keys, token, scheme).await,
                (None, None) => Err(AuthError::InvalidToken("unsupported token")),
            },
            Scheme::Token => match &self.inner.api_keys {
                Some(api_keys) => self.verify_api_key(api_keys, token, scheme).await,
                None => Err(AuthError::InvalidToken("unsupported token")),
            },
        }
    }

    async fn verify_api_key(
        &self,
        api_keys: &ApiKeyVerifier,
        token: &str,
        scheme: Scheme,
    ) -> Result<Principal, AuthError> {
        let principal = api_keys.verify(token).await?;
        self.inner.tokens.insert_api_key(token, scheme, &principal);
        Ok(principal)
    }

    async fn verify_jwt(&self, token: &str, scheme: Scheme) -> Result<(Principal, Arc<VerificationKey>), AuthError> {
        let jwt = jose::parse(token)?;
        let claims = jwt.claims()?;
        let issuer = match claims.issuer() {
            Some(iss) => self.inner.issuers.iter().find(|i| i.rules.issuer() == iss),
            None => return Err(AuthError::InvalidToken("missing issuer")),
        }
        .ok_or(AuthError::InvalidToken("untrusted issuer"))?;
        let key = match &issuer.keys {
            IssuerKeys::Jwks(cache) => cache.key_for(jwt.header.kid.as_deref(), jwt.header.alg).await?,
            IssuerKeys::Static(keys) => keys
                .iter()
                .find(|key| key.allows(jwt.header.alg))
                .or_else(|| keys.first())
                .cloned()
                .ok_or(AuthError::InvalidToken("unknown signing key"))?,
        };
        let checked = jwt::verify(&jwt, &claims, &key, &issuer.rules)?;
        issuer.rules.dpop_policy().check(scheme, checked.dpop_jkt.as_deref())?;
        Ok((jwt::principal(checked, &issuer.rules, jwt.into_payload()), key))
    }

    /// How full the verified-token cache is.
    pub fn token_cache_stats(&self) -> TokenCacheStats {
        self.inner.tokens.stats()
    }

    /// The API key verifier, if API keys are accepted.
    pub fn api_keys(&self) -> Option<&ApiKeyVerifier> {
        self.inner.api_keys.as_ref()
    }

    /// The introspection verifier, if opaque tokens are introspected.
    pub fn introspection(&self) -> Option<&IntrospectionVerifier> {
        self.inner.introspection.as_ref()
    }

    /// Renders a rejection with this authenticator's challenges.
    pub fn render(&self, rejection: &Rejection) -> ErrorResponse {
        rejection.error.to_response(&self.inner.challenges, rejection.scheme)
    }

    /// The challenges sent with 401 answers.
    pub fn challenges(&self) -> &Challenges {
        &self.inner.challenges
    }

    /// The JWKS cache of `issuer`, if it is configured with discovery or a JWKS URI.
    pub fn jwks(&self, issuer: &str) -> Option<&JwksCache> {
        self.inner.issuers.iter().find_map(|i| match &i.keys {
            IssuerKeys::Jwks(cache) if i.rules.issuer() == issuer => Some(cache),
            _ => None,
        })
    }
}

/// A request without a credential we accept: anonymous in
/// [`Mode::Optional`], refused with our challenges in [`Mode::Required`].
fn no_credentials(mode: Mode) -> Result<Option<Authenticated>, Rejection> {
    match mode {
        Mode::Optional => Ok(None),
        Mode::Required => Err(Rejection { error: AuthError::MissingCredentials, scheme: None }),
    }
}

// A named function, not a closure: the futures of `authenticate` must be
// `Send` for every lifetime, which closures here cannot promise.
fn header_bytes(value: &http::HeaderValue) -> &[u8] {
    value.as_bytes()
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("issuers", &self.inner.issuers.iter().map(|i| i.rules.issuer()).collect::<Vec<_>>())
            .field("api_keys", &self.inner.api_keys.is_some())
            .field("introspection", &self.inner.introspection.as_ref().map(IntrospectionVerifier::issuer))
            .field("dpop", &self.inner.dpop.is_some())
            .finish_non_exhaustive()
    }
}

/// Configures an [`Authenticator`].
///
/// ```no_run
/// use std::sync::Arc;
/// use tokenguard_core::{Authenticator, JwtRules, JwksOptions, MemoryKeyStore, ApiKeyVerifier};
///
/// let authenticator = Authenticator::builder()
///     .oidc_issuer(JwtRules::new("https://idp.example/realms/demo", ["my-api"]), JwksOptions::default())
///     .api_keys(ApiKeyVerifier::new(Arc::new(MemoryKeyStore::new()), "tg"))
///     .build()
///     .expect("valid configuration");
/// ```
#[derive(Default)]
pub struct AuthenticatorBuilder {
    issuers: Vec<(JwtRules, PendingKeys)>,
    api_keys: Option<ApiKeyVerifier>,
    introspection: Option<IntrospectionVerifier>,
    dpop: Option<DpopOptions>,
    realm: Option<String>,
    resource_metadata: Option<String>,
    token_cache: TokenCacheOptions,
}

enum PendingKeys {
    Jwks(JwksSource, Box<JwksOptions>),
    Static(Vec<StaticKey>),
}

impl AuthenticatorBuilder {
    /// Trusts an OpenID Connect issuer whose keys are found by discovery at
    /// `{issuer}/.well-known/openid-configuration`.
    pub fn oidc_issuer(mut self, rules: JwtRules, options: JwksOptions) -> Self {
        let source = JwksSource::Discovery { issuer: rules.issuer().to_owned() };
        self.issuers.push((rules, PendingKeys::Jwks(source, Box::new(options))));
        self
    }

    /// Trusts an issuer whose keys are published at `jwks_uri` (no discovery).
    pub fn jwks_issuer(mut self, rules: JwtRules, jwks_uri: reqwest::Url, options: JwksOptions) -> Self {
        self.issuers.push((rules, PendingKeys::Jwks(JwksSource::Uri(jwks_uri), Box::new(options))));
        self
    }

    /// Trusts tokens of `rules.issuer()` signed with `key` (call again to add
    /// keys to the same issuer). Such an issuer cannot also have a JWKS.
    pub fn static_key(mut self, rules: JwtRules, key: StaticKey) -> Self {
        let existing = self
            .issuers
            .iter_mut()
            .find(|(r, keys)| r.issuer() == rules.issuer() && matches!(keys, PendingKeys::Static(_)));
        match existing {
            Some((_, PendingKeys::Static(keys))) => keys.push(key),
            _ => self.issuers.push((rules, PendingKeys::Static(vec![key]))),
        }
        self
    }

    /// Accepts API keys checked by `verifier`.
    pub fn api_keys(mut self, verifier: ApiKeyVerifier) -> Self {
        self.api_keys = Some(verifier);
        self
    }

    /// Checks opaque bearer tokens (neither JWTs nor API keys) with RFC 7662
    /// introspection. Answers are cached by the verifier itself, for at most
    /// its `cache_ttl`, not in the verified-token cache.
    pub fn introspection(mut self, verifier: IntrospectionVerifier) -> Self {
        self.introspection = Some(verifier);
        self
    }

    /// Accepts DPoP-bound tokens (RFC 9449) with proofs checked as
    /// `options` says, for every issuer whose [`DpopPolicy`] is not `Off`
    /// (and for introspected tokens). Adds a `DPoP` challenge to 401 answers.
    pub fn dpop(mut self, options: DpopOptions) -> Self {
        self.dpop = Some(options);
        self
    }

    /// Bounds of the verified-token cache (on by default: 32 MiB, JWTs up
    /// to 5 min, API keys 2 s). `max_bytes: 0` turns it off.
    pub fn token_cache(mut self, options: TokenCacheOptions) -> Self {
        self.token_cache = options;
        self
    }

    /// Announces RFC 9728 protected resource metadata at `url` in every
    /// Bearer 401 challenge (`resource_metadata="…"`); serve the document
    /// there (see [`ProtectedResourceMetadata`](crate::ProtectedResourceMetadata)).
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.resource_metadata = Some(url.into());
        self
    }

    /// The realm named in challenges. Default `tokenguard`.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Checks the configuration and builds the authenticator.
    pub fn build(self) -> Result<Authenticator, ConfigError> {
        let mut issuers: Vec<Issuer> = Vec::with_capacity(self.issuers.len());
        for (rules, keys) in self.issuers {
            if issuers.iter().any(|i| i.rules.issuer() == rules.issuer()) {
                return Err(ConfigError::DuplicateIssuer(rules.issuer().to_owned()));
            }
            let keys = match keys {
                PendingKeys::Jwks(source, options) => IssuerKeys::Jwks(JwksCache::new(source, *options)?),
                PendingKeys::Static(keys) => IssuerKeys::Static(keys.into_iter().map(|key| Arc::new(key.0)).collect()),
            };
            if rules.dpop_policy() == DpopPolicy::Required && self.dpop.is_none() {
                return Err(ConfigError::DpopNotEnabled(rules.issuer().to_owned()));
            }
            issuers.push(Issuer { rules, keys });
        }
        let dpop = self.dpop.map(DpopVerifier::new).transpose()?;
        let realm = self.realm.as_deref().unwrap_or("tokenguard");
        let mut schemes = Vec::new();
        if !issuers.is_empty() || self.api_keys.is_some() || self.introspection.is_some() {
            schemes.push(Scheme::Bearer);
        }
        if self.api_keys.is_some() {
            schemes.push(Scheme::Token);
        }
        let mut challenges = Challenges::new(realm, &schemes)?;
        if let Some(url) = &self.resource_metadata {
            challenges = challenges.with_resource_metadata(url)?;
        }
        if let Some(dpop) = &dpop {
            challenges = challenges.with_dpop(dpop.algorithms());
        }
        Ok(Authenticator {
            inner: Arc::new_cyclic(|owner| Inner {
                issuers,
                api_keys: self.api_keys,
                introspection: self.introspection,
                dpop,
                challenges,
                tokens: TokenCache::new(self.token_cache, owner.clone()),
            }),
        })
    }
}

/// Who verified a cached [`Principal`], for the scheme it was presented with.
pub(crate) struct VerifiedBy {
    /// Weak: the authenticator's token cache holds the principal.
    pub(crate) authenticator: Weak<Inner>,
    pub(crate) scheme: Scheme,
}

impl Authenticated {
    /// Whether the principal carries the [`AuthContext`] of this request
    /// (verified by `authenticator` for this scheme), so that adapters need
    /// not insert one: the hot path saves an allocation.
    /// [`AuthContext::of_request`] finds it either way.
    pub fn carries_context(&self, authenticator: &Authenticator) -> bool {
        self.principal.verified_by().is_some_and(|verified_by| {
            verified_by.scheme == self.scheme
                && Weak::as_ptr(&verified_by.authenticator) == Arc::as_ptr(&authenticator.inner)
        })
    }
}

impl Authenticator {
    /// What an adapter puts into the extensions of a request this
    /// authenticator let through: the principal, if any, and an
    /// [`AuthContext`] unless the principal carries its own (see
    /// [`Authenticated::carries_context`]: the hot path saves an allocation).
    pub fn request_extensions(&self, authenticated: Option<Authenticated>) -> (Option<Principal>, Option<AuthContext>) {
        match authenticated {
            Some(authenticated) if authenticated.carries_context(self) => (Some(authenticated.principal), None),
            Some(authenticated) => {
                (Some(authenticated.principal), Some(AuthContext::new(self.clone(), Some(authenticated.scheme))))
            }
            None => (None, Some(AuthContext::new(self.clone(), None))),
        }
    }

    /// What an adapter that leaves the verdict to the extractors puts into
    /// the extensions of a request this authenticator refused: no
    /// principal, and a context that answers every extractor and guard
    /// with the refusal (see [`AuthContext::refusal`]).
    pub fn refused_context(&self, rejection: Rejection) -> AuthContext {
        AuthContext { authenticator: self.clone(), scheme: rejection.scheme, refused: Some(rejection.error) }
    }
}

/// What adapters put into request extensions beside the [`Principal`], so that
/// extractors and scope guards further in can answer exactly as the
/// authentication layer would.
#[derive(Clone, Debug)]
pub struct AuthContext {
    authenticator: Authenticator,
    scheme: Option<Scheme>,
    /// Why the credential was refused, when the layer left that verdict to
    /// the extractors ([`Authenticator::refused_context`]).
    refused: Option<AuthError>,
}

impl AuthContext {
    /// The context of a request authenticated (or not) by `authenticator`.
    pub fn new(authenticator: Authenticator, scheme: Option<Scheme>) -> Self {
        Self { authenticator, scheme, refused: None }
    }

    /// The context of a request: the `AuthContext` in its extensions, else
    /// the one its [`Principal`] carries (see [`Authenticated::carries_context`]).
    pub fn of_request(extensions: &http::Extensions) -> Option<Cow<'_, AuthContext>> {
        Self::of(extensions.get::<AuthContext>(), extensions.get::<Principal>())
    }

    /// Like [`AuthContext::of_request`], from what a framework's own
    /// extension map holds: its `AuthContext` and its [`Principal`].
    pub fn of<'a>(context: Option<&'a AuthContext>, principal: Option<&Principal>) -> Option<Cow<'a, AuthContext>> {
        match context {
            Some(context) => Some(Cow::Borrowed(context)),
            None => principal.and_then(AuthContext::carried_by).map(Cow::Owned),
        }
    }

    fn carried_by(principal: &Principal) -> Option<AuthContext> {
        let verified_by = principal.verified_by()?;
        let inner = verified_by.authenticator.upgrade()?;
        Some(AuthContext::new(Authenticator { inner }, Some(verified_by.scheme)))
    }

    /// Renders `error` for this request: its challenge names the scheme the
    /// client used. A request whose credential was refused is answered with
    /// that refusal whatever `error` is: an invalid token is never mistaken
    /// for a missing one, nor its 401 for a 403.
    pub fn reject(&self, error: AuthError) -> ErrorResponse {
        let error = self.refused.clone().unwrap_or(error);
        self.authenticator.render(&Rejection { error, scheme: self.scheme })
    }

    /// The answer to a request whose credential was refused while the
    /// verdict was left to the extractors; `None` for an anonymous or
    /// authenticated request. `Option<Principal>` extractors answer it
    /// rather than `None`: presented credentials are never silently anonymous.
    pub fn refusal(&self) -> Option<ErrorResponse> {
        let error = self.refused.clone()?;
        Some(self.authenticator.render(&Rejection { error, scheme: self.scheme }))
    }
}
