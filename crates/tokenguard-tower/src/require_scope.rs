//! Guard a route by scope or role: [`RequireScopeLayer`], its service
//! [`RequireScope`]; and [`RequireRole`] for roles.
//!
//! Anonymous → 401, requirement not met → 403 `insufficient_scope` naming
//! the scopes; a request whose credential was refused gets that refusal.
//! Place it inside an [`AuthLayer`](crate::AuthLayer) (in axum: on the
//! route, with the `AuthLayer` around the router); without one it answers
//! 500, a wiring mistake.
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use http::{Request, StatusCode};
//! use tokenguard_core::{Algorithm, Authenticator, JwtRules, Secret, StaticKey};
//! use tokenguard_tower::{AuthLayer, RequireScopeLayer};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = Secret::new("a shared secret of at least 32 bytes!!");
//! let authenticator = Authenticator::builder()
//!     .static_key(JwtRules::new("https://issuer.example", ["my-api"]), StaticKey::hmac(Algorithm::HS256, &secret)?)
//!     .build()?;
//! let app = Router::new()
//!     .route("/recordings", get(|| async { "[]" }).route_layer(RequireScopeLayer::new("read")))
//!     .layer(AuthLayer::optional(authenticator));
//!
//! let anonymous = app.oneshot(Request::get("/recordings").body(Body::empty())?).await?;
//! assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
//! # Ok(()) }
//! ```

use std::task::{Context, Poll};

use http::{Request, Response};
use tokenguard_core::ScopeRequirement;
use tokenguard_core::plumbing::{AuthOutcome, PrincipalRejection};
use tower_layer::Layer;
use tower_service::Service;

use crate::ErrorBody;
pub use crate::future::ResponseFuture;

/// Lets a request through only if its principal meets a [`ScopeRequirement`].
#[derive(Clone, Debug)]
pub struct RequireScopeLayer {
    requirement: ScopeRequirement,
}

// `RequireScopeLayer::{new, any, requiring}` and `RequireRole::{new, any}`,
// written once for both adapters.
tokenguard_core::scope_guard_constructors!(RequireScopeLayer);

impl<S> Layer<S> for RequireScopeLayer {
    type Service = RequireScope<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScope { inner, requirement: self.requirement.clone() }
    }
}

/// The service made by [`RequireScopeLayer`].
#[derive(Clone, Debug)]
pub struct RequireScope<S> {
    inner: S,
    requirement: ScopeRequirement,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScope<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: ErrorBody,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let outcome = request.extensions().get::<AuthOutcome>();
        match PrincipalRejection::from_outcome(outcome, |outcome| outcome.check(&self.requirement).map(drop)) {
            Ok(()) => ResponseFuture::inner(self.inner.call(request)),
            Err(rejection) => {
                ResponseFuture::answered(rejection.into_http_for(request.headers(), ResBody::from_error_json))
            }
        }
    }
}
