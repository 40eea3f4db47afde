//! actix-web middleware and extractors for tokenguard.
//!
//! - [`Authentication`]: middleware (`App::wrap`, `Scope::wrap`,
//!   `Resource::wrap`) that authenticates with a core [`Authenticator`], puts
//!   the [`Principal`] into the request extensions and answers failures per
//!   RFC 6750 — exactly as the tower adapter does.
//! - [`RequireScope`]: a per-route (`Route::wrap`) or per-scope guard
//!   answering 403 `insufficient_scope`.
//!   [`scope_guard!`] declares the same guards as extractors.
//! - Extractors: [`Principal`], [`OptionalPrincipal`] and [`Claims<T>`].
//! - [`key_admin`]: the key administration API and its web console.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use tokenguard_actix::{Authentication, Principal, RequireScope};
//! use tokenguard_core::{Authenticator, JwksOptions, JwtRules};
//!
//! async fn me(principal: Principal) -> web::Json<Principal> {
//!     web::Json(principal)
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let authenticator = Authenticator::builder()
//!         .oidc_issuer(JwtRules::new("https://idp.example/realms/demo", ["my-api"]), JwksOptions::default())
//!         .build()
//!         .expect("valid configuration");
//!     HttpServer::new(move || {
//!         App::new().service(
//!             web::scope("")
//!                 .wrap(Authentication::required(authenticator.clone()))
//!                 .route("/me", web::get().to(me))
//!                 .route("/recordings", web::get().to(|| async { "[]" }).wrap(RequireScope::new("read"))),
//!         )
//!     })
//!     .bind("127.0.0.1:3000")?
//!     .run()
//!     .await
//! }
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod authentication;
mod extract;
pub mod key_admin;
mod require_scope;

pub use authentication::{Authentication, AuthenticationService};
#[doc(hidden)]
pub use extract::__private;
pub use extract::OptionalPrincipal;
pub use require_scope::{RequireRole, RequireScope, RequireScopeService};
pub use tokenguard_core::plumbing::PrincipalRejection;
pub use tokenguard_core::{Authenticator, Claims, Mode, Principal};
