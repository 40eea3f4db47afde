//! Framework-agnostic authentication for HTTP APIs: API keys, OAuth 2.0 /
//! OpenID Connect JWTs verified against the issuer's JWKS or static keys, and
//! opaque tokens checked with RFC 7662 introspection.
//!
//! Start with [`Authenticator::builder`]. The web adapters
//! (`tokenguard-tower` for tower/axum, `tokenguard-actix`) build a
//! [`RequestView`](plumbing::RequestView) of each request, ask the
//! authenticator, and put the [`AuthOutcome`](plumbing::AuthOutcome) it
//! decides into the request's extensions; everything that decides lives
//! here. What only adapter authors need is in [`plumbing`].
//!
//! ```
//! use tokenguard_core::{Authenticator, Credential, Scheme, JwtRules, StaticKey, Secret, Algorithm};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = Secret::new("a shared secret of at least 32 bytes!!");
//! let authenticator = Authenticator::builder()
//!     .static_key(JwtRules::new("https://issuer.example", ["my-api"]), StaticKey::hmac(Algorithm::HS256, &secret)?)
//!     .build()?;
//! let refused = authenticator.verify(Credential::new(Scheme::Bearer, "not-a-token")).await;
//! assert!(refused.is_err());
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod api_key_verifier;
pub mod apikey;
mod authenticator;
mod claims;
pub mod client;
pub mod config;
mod confirmation;
mod credential;
mod discovery;
pub mod dpop;
mod error;
mod extract;
pub mod fetch;
pub mod introspection;
pub mod jwks;
pub mod jwt;
pub mod key_admin;
mod keys;
mod observe;
mod outcome;
pub mod plumbing;
mod principal;
pub mod readiness;
mod request;
mod requirement;
pub mod resource_metadata;
mod scheme;
mod scope;
mod secret;
mod sources;
pub mod store;
pub mod time;
mod token_cache;

pub use api_key_verifier::ApiKeyVerifier;
pub use authenticator::{Authenticator, AuthenticatorBuilder};
pub use claims::Claims;
pub use config::Config;
pub use credential::{Credential, Scheme};
pub use error::{AuthError, ErrorResponse};
pub use introspection::{IntrospectionOptions, IntrospectionVerifier};
pub use jwks::JwksOptions;
pub use jwt::{JwtRules, StaticKey};
pub use outcome::Mode;
pub use principal::{Parts as PrincipalParts, Principal, PrincipalKind};
pub use requirement::ScopeRequirement;
pub use scope::Scopes;
pub use secret::Secret;
pub use store::{KeyStore, MemoryKeyStore};
pub use token_cache::TokenCacheOptions;

/// Re-exported so callers can name algorithms without depending on `jsonwebtoken`.
pub use jsonwebtoken::Algorithm;

/// Entry points for the fuzz targets (`cargo fuzz` builds with `--cfg fuzzing`).
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::credential::parse_authorization;
    pub use crate::introspection::judge_answer;
}

/// A configuration mistake, found when building an [`Authenticator`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An issuer or JWKS URL is unusable.
    #[error("unusable URL: {0}")]
    Url(&'static str),
    /// The same issuer was configured twice.
    #[error("issuer {0} is configured twice")]
    DuplicateIssuer(String),
    /// The realm cannot be put in a challenge.
    #[error("the realm must be printable ASCII without quotes or backslashes")]
    Realm,
    /// DPoP needs at least one proof algorithm, and only asymmetric ones.
    #[error("DPoP needs at least one asymmetric proof algorithm")]
    DpopAlgorithms,
    /// An issuer requires DPoP but the authenticator does not check proofs.
    #[error("issuer {0} requires DPoP, but DPoP is not enabled")]
    DpopNotEnabled(String),
    /// The HTTP client could not be created.
    #[error("the HTTP client could not be created")]
    HttpClient,
    /// The API key header cannot be one.
    #[error("the API key header must be a header name other than Authorization and Cookie")]
    ApiKeyHeader,
    /// The JWT cookie's name cannot be one.
    #[error("the JWT cookie name must be a cookie name (an RFC 9110 token)")]
    JwtCookie,
}
