//! tower middleware and axum extractors for tokenguard.
//!
//! - [`auth`]: [`AuthLayer`] authenticates every request with a core
//!   [`Authenticator`] and puts what it decided into the request's
//!   extensions; its [`Mode`] says who answers a request that cannot pass —
//!   the layer ([`AuthLayer::required`], [`AuthLayer::optional`]) or the
//!   handlers' extractors ([`AuthLayer::deferred`], the cheapest placement
//!   around a whole axum router).
//! - [`require_scope`]: [`RequireScopeLayer`] guards a route by scope or
//!   role (403 `insufficient_scope`); in axum, [`scope_guard!`] declares the
//!   same guards as extractors, checked at compile time.
//! - Extractors: [`Principal`], `Option<Principal>` and [`Claims<T>`].
//! - [`authorize_request`]: the other direction — credentials from a
//!   [`TokenSource`](tokenguard_core::client::TokenSource) on outgoing
//!   requests of a tower HTTP client, refreshed and retried once on a 401.
//!
//! The services answer with the inner service's own response body type
//! (see [`ErrorBody`]), so axum keeps its body as it is.
//!
//! ```no_run
//! use axum::{Json, Router, routing::get};
//! use tokenguard_core::{Authenticator, JwksOptions, JwtRules};
//! use tokenguard_tower::{AuthLayer, Principal, RequireScopeLayer};
//!
//! async fn me(principal: Principal) -> Json<Principal> {
//!     Json(principal)
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let authenticator = Authenticator::builder()
//!     .oidc_issuer(JwtRules::new("https://idp.example/realms/demo", ["my-api"]), JwksOptions::default())
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/recordings", get(|| async { "[]" }).route_layer(RequireScopeLayer::new("read")))
//!     .route("/me", get(me))
//!     .layer(AuthLayer::required(authenticator));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod auth;
pub mod authorize_request;
mod error_body;
mod future;
#[cfg(feature = "key-admin")]
pub mod key_admin;
pub mod require_scope;
mod scope_guard;

pub use auth::AuthLayer;
pub use authorize_request::AuthorizeRequestLayer;
pub use error_body::ErrorBody;
pub use require_scope::{RequireRole, RequireScopeLayer};
#[doc(hidden)]
pub use scope_guard::__private;
pub use tokenguard_core::plumbing::PrincipalRejection;
pub use tokenguard_core::{Authenticator, Claims, Mode, Principal};
/// Re-exported so `AuthLayer::deferred(…).layer(router)` needs no `tower` dependency.
pub use tower_layer::Layer;
