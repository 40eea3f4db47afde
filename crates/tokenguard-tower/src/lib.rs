//! tower middleware and axum extractors for tokenguard.
//!
//! - [`AuthLayer`]: authenticates every request with a core
//!   [`Authenticator`], puts the [`Principal`] into the request extensions and
//!   answers failures per RFC 6750. Works with any tower service taking an
//!   `http::Request`; axum is the common case. [`AuthLayer::deferred`]
//!   wraps a whole axum router and leaves the verdict to each handler's
//!   extractors and guards (with the same answers): the cheapest placement.
//! - [`RequireScope`]: a per-route guard answering 403 `insufficient_scope`;
//!   in axum, [`scope_guard!`] declares the same guards as extractors.
//! - Extractors: [`Principal`], `Option<Principal>` and [`Claims<T>`].
//! - [`AuthorizeRequestLayer`]: the other direction — credentials from a
//!   [`TokenSource`](tokenguard_core::client::TokenSource) on outgoing
//!   requests of a tower HTTP client, refreshed and retried once on a 401.
//!
//! The layers answer with the inner service's own response body type (see
//! [`ErrorBody`]), so axum keeps its body as it is on the hot path.
//!
//! ```no_run
//! use axum::{Json, Router, routing::get};
//! use tokenguard_core::{Authenticator, JwtRules, JwksOptions};
//! use tokenguard_tower::{AuthLayer, Principal, RequireScope};
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
//!     .route("/recordings", get(|| async { "[]" }).layer(RequireScope::new("read")))
//!     .route("/me", get(me))
//!     .layer(AuthLayer::required(authenticator));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod auth;
mod authorize_request;
mod error_body;
mod require_scope;
mod scope_guard;

pub use auth::{Auth, AuthFuture, AuthLayer};
pub use authorize_request::{AuthorizeRequest, AuthorizeRequestLayer, BoxError};
pub use error_body::ErrorBody;
pub use require_scope::{RequireRole, RequireScope, RequireScopeService, ResponseFuture as RequireScopeFuture};
#[doc(hidden)]
pub use scope_guard::__private;
pub use tokenguard_core::axum::PrincipalRejection;
pub use tokenguard_core::{AuthContext, Authenticator, Claims, Mode, Principal};
