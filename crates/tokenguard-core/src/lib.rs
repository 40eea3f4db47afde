//! Framework-agnostic authentication for HTTP APIs: API keys, OAuth 2.0 /
//! OpenID Connect JWTs verified against the issuer's JWKS or static keys, and
//! opaque tokens checked with RFC 7662 introspection.
//!
//! The web adapters (`tokenguard-tower` for tower/axum, `tokenguard-actix`)
//! only move headers in and [`ErrorResponse`]s out; everything that decides
//! lives here. Start with [`Authenticator::builder`].
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod api_key_verifier;
pub mod apikey;
mod authenticator;
mod claims;
pub mod client;
pub mod credential;
pub mod discovery;
pub mod dpop;
pub mod error;
mod fetch;
pub mod introspection;
pub mod jwks;
pub mod jwt;
pub mod principal;
pub mod resource_metadata;
pub mod scope;
mod secret;
pub mod store;
mod token_cache;

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "axum")]
pub mod axum;

pub use api_key_verifier::ApiKeyVerifier;
pub use authenticator::{AuthContext, Authenticated, Authenticator, AuthenticatorBuilder, Decision, Mode, Rejection};
pub use claims::Claims;
pub use credential::{Credential, Scheme};
pub use dpop::{DpopOptions, DpopPolicy, DpopRequest, DpopVerifier};
pub use error::{AuthError, Challenges, ErrorResponse};
pub use fetch::{HttpOptions, check_url};
pub use introspection::{ClientAuth, IntrospectionOptions, IntrospectionVerifier};
pub use jwks::{JwksCache, JwksOptions};
pub use jwt::{ClaimMapping, JwtRules, StaticKey, TypPolicy, VerificationKey};
pub use principal::{Principal, PrincipalKind};
pub use resource_metadata::ProtectedResourceMetadata;
pub use scope::{ScopeRequirement, Scopes, is_scope_list};
pub use secret::Secret;
pub use store::{ApiKeyRecord, CacheOptions, CachedKeyStore, KeyStore, MemoryKeyStore};
pub use token_cache::{TokenCacheOptions, TokenCacheStats};

/// Re-exported so callers can name algorithms without depending on `jsonwebtoken`.
pub use jsonwebtoken::Algorithm;

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
}
