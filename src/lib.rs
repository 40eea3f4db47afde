//! # tokenguard
//!
//! Put one layer on your router and know, in every handler, who is calling and
//! what they may do. tokenguard accepts API keys (`Token token=KEY`,
//! `Token KEY`, `Bearer KEY`) and OAuth 2.0 / OpenID Connect access tokens
//! (JWTs verified against the issuer's JWKS), and answers failures as
//! RFC 6750 says.
//!
//! This crate re-exports [`tokenguard_core`] and, with the default `tower`
//! feature, the tower/axum adapter as `tower`; with the `actix` feature, the
//! actix-web adapter as `actix`.
//!
//! ```no_run
//! use axum::{Json, Router, routing::get};
//! use tokenguard::tower::{AuthLayer, RequireScopeLayer};
//! use tokenguard::{Authenticator, JwksOptions, JwtRules, Principal};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let authenticator = Authenticator::builder()
//!     .oidc_issuer(JwtRules::new("https://idp.example/realms/demo", ["my-api"]), JwksOptions::default())
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/me", get(|principal: Principal| async move { Json(principal) }))
//!     .route("/admin", get(|| async { "hello, admin" }).route_layer(RequireScopeLayer::new("admin")))
//!     .layer(AuthLayer::required(authenticator));
//! axum::serve(tokio::net::TcpListener::bind("127.0.0.1:3000").await?, app).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub use tokenguard_core::*;

/// Guides: how each capability behaves, what it checks and how to
/// configure it (the reference that used to live in the README).
pub mod guide {
    #[doc = include_str!("../docs/api_keys.md")]
    pub mod api_keys {}
    #[doc = include_str!("../docs/issuers.md")]
    pub mod issuers {}
    #[doc = include_str!("../docs/introspection.md")]
    pub mod introspection {}
    #[doc = include_str!("../docs/dpop.md")]
    pub mod dpop {}
    #[doc = include_str!("../docs/http.md")]
    pub mod http {}
    #[doc = include_str!("../docs/client.md")]
    pub mod client {}
    #[doc = include_str!("../docs/checks.md")]
    pub mod checks {}
    #[doc = include_str!("../docs/operations.md")]
    pub mod operations {}
}

/// The tower layer, scope guard and axum extractors.
#[cfg(feature = "tower")]
pub mod tower {
    pub use tokenguard_tower::*;
}

/// A real local OpenID issuer for your tests (feature `testkit`): mint
/// tokens your API accepts, with no identity provider running.
///
/// ```toml
/// [dev-dependencies]
/// tokenguard = { version = "0.1", features = ["testkit"] }
/// ```
///
/// ```no_run
/// # async fn demo() {
/// let issuer = tokenguard::testkit::TestIssuer::for_audience("my-api").await;
/// // Build your app trusting `issuer.issuer()` for audience "my-api", then:
/// let token = issuer.token().subject("alice").scope("read").sign();
/// # }
/// ```
#[cfg(feature = "testkit")]
pub mod testkit {
    pub use tokenguard_testkit::*;
}

/// The actix-web middleware, scope guard and extractors.
#[cfg(feature = "actix")]
pub mod actix {
    pub use tokenguard_actix::*;
}

/// The README's snippets, compiled as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeSnippets;
