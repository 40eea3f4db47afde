//! [`AuthenticatorBuilder`]: what an [`Authenticator`] trusts, checked once.

use std::sync::Arc;

use super::{Authenticator, Inner};
use crate::ConfigError;
use crate::api_key_verifier::ApiKeyVerifier;
use crate::credential::Scheme;
use crate::dpop::{DpopOptions, DpopPolicy, DpopVerifier};
use crate::error::Challenges;
use crate::introspection::IntrospectionVerifier;
use crate::jwks::{JwksCache, JwksOptions, JwksSource};
use crate::jwt::{IssuerKeys, JwtRules, JwtVerifier, StaticKey};
use crate::outcome::AuthOutcome;
use crate::sources::CredentialSources;
use crate::time::Clock;
use crate::token_cache::{TokenCache, TokenCacheOptions};

/// Configures an [`Authenticator`].
///
/// ```no_run
/// use std::sync::Arc;
/// use tokenguard_core::{ApiKeyVerifier, Authenticator, JwksOptions, JwtRules, MemoryKeyStore};
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
    api_key_header: Option<String>,
    jwt_cookie: Option<String>,
    clock: Clock,
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
    /// there (see [`ProtectedResourceMetadata`](crate::resource_metadata::ProtectedResourceMetadata)).
    pub fn resource_metadata(mut self, url: impl Into<String>) -> Self {
        self.resource_metadata = Some(url.into());
        self
    }

    /// The realm named in challenges. Default `tokenguard`.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Where every check reads the time (expiry, `nbf`, how long a
    /// verification stays cached). Default: the system clock; tests hand
    /// in a [`ManualClock`](crate::time::ManualClock)'s.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Also reads API keys from the header `name` (e.g. `X-API-Key`), whose
    /// whole value is the key. Without it, that header is ignored.
    pub fn api_key_header(mut self, name: impl Into<String>) -> Self {
        self.api_key_header = Some(name.into());
        self
    }

    /// Also reads a JWT from the cookie `name` (the backend-for-frontend
    /// pattern), verified as a bearer token. Without it, cookies are ignored.
    pub fn jwt_cookie(mut self, name: impl Into<String>) -> Self {
        self.jwt_cookie = Some(name.into());
        self
    }

    /// Checks the configuration and builds the authenticator.
    pub fn build(self) -> Result<Authenticator, ConfigError> {
        let mut jwt = JwtVerifier::default();
        for (rules, keys) in self.issuers {
            if rules.dpop_policy() == DpopPolicy::Required && self.dpop.is_none() {
                return Err(ConfigError::DpopNotEnabled(rules.issuer().to_owned()));
            }
            let keys = match keys {
                PendingKeys::Jwks(source, options) => IssuerKeys::Jwks(JwksCache::new(source, *options)?),
                PendingKeys::Static(keys) => IssuerKeys::Static(keys.into_iter().map(|key| Arc::new(key.0)).collect()),
            };
            jwt.add(rules, keys)?;
        }
        let dpop = self.dpop.map(DpopVerifier::new).transpose()?;
        let sources = CredentialSources::new(self.api_key_header.as_deref(), self.jwt_cookie.as_deref())?;
        let mut schemes = Vec::new();
        if !jwt.is_empty() || self.api_keys.is_some() || self.introspection.is_some() {
            schemes.push(Scheme::Bearer);
        }
        if self.api_keys.is_some() {
            schemes.push(Scheme::Token);
        }
        let mut challenges = Challenges::new(self.realm.as_deref().unwrap_or("tokenguard"), &schemes)?;
        if let Some(url) = &self.resource_metadata {
            challenges = challenges.with_resource_metadata(url)?;
        }
        if let Some(dpop) = &dpop {
            challenges = challenges.with_dpop(dpop.algorithms());
        }
        let challenges = Arc::new(challenges);
        let clock = self.clock;
        tracing::info!(
            issuers = ?jwt.issuers().collect::<Vec<_>>(),
            api_keys = self.api_keys.as_ref().map(|keys| keys.prefix()),
            introspection = self.introspection.as_ref().map(IntrospectionVerifier::issuer),
            dpop = dpop.is_some(),
            api_key_header = sources.api_key_header(),
            jwt_cookie = self.jwt_cookie.as_deref(),
            "authenticator configured"
        );
        Ok(Authenticator {
            inner: Arc::new(Inner {
                jwt,
                api_keys: self.api_keys.map(|verifier| verifier.with_clock(clock.clone())),
                introspection: self.introspection.map(|verifier| verifier.with_clock(clock.clone())),
                dpop,
                anonymous: AuthOutcome::anonymous(&challenges),
                challenges,
                tokens: TokenCache::new(self.token_cache, clock.clone()),
                sources,
                clock,
            }),
        })
    }
}
