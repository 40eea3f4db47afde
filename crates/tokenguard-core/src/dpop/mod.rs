//! DPoP (RFC 9449): access tokens bound to a key the client holds.
//!
//! A DPoP-bound token names the thumbprint of the client's public key in
//! `cnf.jkt`. With every request the client sends `Authorization: DPoP
//! <token>` and a fresh proof in the `DPoP` header: a JWT (`typ: dpop+jwt`)
//! signed with that key, carrying the key (`jwk`), the request's method
//! (`htm`) and URI (`htu`), when it was made (`iat`), a unique id (`jti`)
//! and the hash of the access token (`ath`). A stolen token is useless
//! without the private key, and a captured proof cannot be replayed.
//!
//! Enable it with [`AuthenticatorBuilder::dpop`](crate::AuthenticatorBuilder::dpop);
//! each issuer then says whether it allows or requires DPoP
//! ([`JwtRules::dpop`](crate::JwtRules::dpop)). Bound tokens are never
//! accepted as plain bearer tokens, whatever the policy.
//!
//! ```no_run
//! use tokenguard_core::dpop::{DpopOptions, DpopPolicy};
//! use tokenguard_core::{Authenticator, JwksOptions, JwtRules};
//!
//! let authenticator = Authenticator::builder()
//!     .oidc_issuer(
//!         JwtRules::new("https://idp.example/realms/demo", ["my-api"]).dpop(DpopPolicy::Required),
//!         JwksOptions::default(),
//!     )
//!     // Proofs must name this origin in `htu`, whatever `Host` says.
//!     .dpop(DpopOptions { origin: Some("https://api.example".into()), ..DpopOptions::default() })
//!     .build()
//!     .expect("valid configuration");
//! ```

mod proof;
mod replay;
mod thumbprint;

pub use crate::confirmation::DpopPolicy;
pub(crate) use crate::request::DpopRequest;
pub use replay::{MemoryReplayCache, ProofId, ReplayCache, ReplayCacheError};
pub use thumbprint::{access_token_hash, jwk_thumbprint};

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;

use crate::ConfigError;
use crate::error::AuthError;

/// How DPoP proofs are checked.
#[derive(Clone)]
pub struct DpopOptions {
    /// Proof signature algorithms accepted (asymmetric only). Default:
    /// ES256, ES384, RS256, PS256, EdDSA.
    pub algorithms: Vec<Algorithm>,
    /// How old a proof's `iat` may be. Default 60 s.
    pub max_age: Duration,
    /// How far in the future a proof's `iat` may be (clock skew). Default 5 s.
    pub leeway: Duration,
    /// The public origin (and optional path prefix) of this API, e.g.
    /// `https://api.example.com`, that proofs' `htu` must name. Without
    /// it, the request's `Host` header is trusted for the authority and
    /// either `http` or `https` is accepted when the scheme is unknown:
    /// set it in production, especially behind a proxy.
    pub origin: Option<String>,
    /// Where used proofs are remembered. Default: a [`MemoryReplayCache`]
    /// of 262,144 proofs (one process; use a shared cache for a fleet).
    pub replay_cache: Arc<dyn ReplayCache>,
}

impl Default for DpopOptions {
    fn default() -> Self {
        Self {
            algorithms: vec![Algorithm::ES256, Algorithm::ES384, Algorithm::RS256, Algorithm::PS256, Algorithm::EdDSA],
            max_age: Duration::from_secs(60),
            leeway: Duration::from_secs(5),
            origin: None,
            replay_cache: Arc::new(MemoryReplayCache::default()),
        }
    }
}

impl std::fmt::Debug for DpopOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopOptions")
            .field("algorithms", &self.algorithms)
            .field("max_age", &self.max_age)
            .field("leeway", &self.leeway)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// Checks DPoP proofs (RFC 9449 §4.3) against the request they came with.
#[derive(Debug)]
pub struct DpopVerifier {
    options: DpopOptions,
    /// `origin` without a trailing slash, checked to be an absolute http(s) URL.
    origin: Option<String>,
}

impl DpopVerifier {
    /// Checks `options`: at least one algorithm, none symmetric, and a
    /// usable origin.
    pub fn new(options: DpopOptions) -> Result<Self, ConfigError> {
        let symmetric = [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];
        if options.algorithms.is_empty() || options.algorithms.iter().any(|alg| symmetric.contains(alg)) {
            return Err(ConfigError::DpopAlgorithms);
        }
        let origin = match &options.origin {
            Some(origin) => {
                let url = crate::fetch::check_url(origin).map_err(ConfigError::Url)?;
                if url.query().is_some() || url.fragment().is_some() {
                    return Err(ConfigError::Url("the DPoP origin cannot have a query or fragment"));
                }
                Some(url.as_str().trim_end_matches('/').to_owned())
            }
            None => None,
        };
        Ok(Self { options, origin })
    }

    /// The proof algorithms accepted, as announced in `algs` challenges.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.options.algorithms
    }

    /// Checks the proof of `request` for `access_token`, whose confirmation
    /// is `jkt`, and records it as used.
    pub(crate) async fn verify(
        &self,
        request: &DpopRequest<'_>,
        access_token: &str,
        jkt: &str,
        now: u64,
    ) -> Result<(), AuthError> {
        let proof = proof::check(request, access_token, &self.options, self.origin.as_deref(), now)?;
        if proof.thumbprint != jkt {
            return Err(AuthError::InvalidToken("the DPoP proof key does not match the token"));
        }
        let ttl = self.options.max_age + self.options.leeway * 2;
        match self.options.replay_cache.first_use(proof.id, ttl).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(AuthError::InvalidDpopProof("DPoP proof replayed")),
            Err(error) => {
                tracing::warn!(%error, "DPoP proof refused: replay cache");
                Err(AuthError::Unavailable {
                    reason: "DPoP replay protection unavailable",
                    retry_after: Duration::from_secs(1),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Authenticator, JwksOptions, JwtRules};

    #[test]
    fn configuration_mistakes_are_refused_at_build() {
        let required = JwtRules::new("https://idp.example", ["api"]).dpop(DpopPolicy::Required);
        let error = Authenticator::builder().oidc_issuer(required, JwksOptions::default()).build().unwrap_err();
        assert_eq!(error, ConfigError::DpopNotEnabled("https://idp.example".into()));
        let hmac = DpopOptions { algorithms: vec![Algorithm::ES256, Algorithm::HS256], ..DpopOptions::default() };
        assert_eq!(DpopVerifier::new(hmac).unwrap_err(), ConfigError::DpopAlgorithms);
        let none = DpopOptions { algorithms: Vec::new(), ..DpopOptions::default() };
        assert_eq!(DpopVerifier::new(none).unwrap_err(), ConfigError::DpopAlgorithms);
        let query = DpopOptions { origin: Some("https://api.example/?a=b".into()), ..DpopOptions::default() };
        assert!(DpopVerifier::new(query).is_err());
    }
}
