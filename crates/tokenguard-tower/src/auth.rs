//! Authenticate every request: [`AuthLayer`], its service [`Auth`].
//!
//! The layer asks a core [`Authenticator`] about each request and puts the
//! [`AuthOutcome`] it decides into the request's extensions, where the
//! extractors ([`Principal`](crate::Principal), `Option<Principal>`,
//! [`Claims`](crate::Claims)) and the scope guards find it. What happens to
//! a request that cannot pass depends on the [`Mode`]:
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use http::{Request, StatusCode};
//! use tokenguard_core::{Algorithm, Authenticator, JwtRules, Principal, Secret, StaticKey};
//! use tokenguard_tower::AuthLayer;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = Secret::new("a shared secret of at least 32 bytes!!");
//! let authenticator = Authenticator::builder()
//!     .static_key(JwtRules::new("https://issuer.example", ["my-api"]), StaticKey::hmac(Algorithm::HS256, &secret)?)
//!     .build()?;
//! let app = Router::new()
//!     .route("/me", get(|principal: Principal| async move { principal.subject().to_owned() }))
//!     .layer(AuthLayer::required(authenticator));
//!
//! let anonymous = app.clone().oneshot(Request::get("/me").body(Body::empty())?).await?;
//! assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(anonymous.headers()["www-authenticate"], r#"Bearer realm="tokenguard""#);
//!
//! let forged = Request::get("/me").header("authorization", "Bearer a.b.c").body(Body::empty())?;
//! let refused = app.oneshot(forged).await?;
//! assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
//! assert!(refused.headers()["www-authenticate"].to_str()?.contains(r#"error="invalid_token""#));
//! # Ok(()) }
//! ```

use std::task::{Context, Poll};

use http::{Request, Response};
use tokenguard_core::plumbing::{AuthOutcome, PrincipalRejection, RequestView};
use tokenguard_core::{Authenticator, Mode};
use tower_layer::Layer;
use tower_service::Service;

use crate::ErrorBody;
pub use crate::future::ResponseFuture;

/// Authenticates requests before they reach the inner service.
///
/// The [`AuthOutcome`] goes into the request's extensions; a request that
/// cannot pass in the layer's [`Mode`] is answered per RFC 6750 without
/// calling the inner service.
#[derive(Clone, Debug)]
pub struct AuthLayer {
    authenticator: Authenticator,
    mode: Mode,
}

// `AuthLayer::{new, required, optional}`, written once for both adapters.
tokenguard_core::auth_layer_constructors!(AuthLayer);

impl AuthLayer {
    /// Authenticates every request that carries credentials and leaves the
    /// verdict to the handlers' extractors and guards ([`Mode::Deferred`]):
    /// [`Principal`](crate::Principal) answers 401 for an anonymous or
    /// refused request, `Option<Principal>` is `None` for an anonymous one
    /// and answers a refused one, guards answer 401 or 403 — each the
    /// answer [`AuthLayer::required`] would give. Routes whose handlers take
    /// none of these are public: `/health`, unknown paths (404) and wrong
    /// methods (405) answer as they would without the layer.
    ///
    /// Made to wrap a whole axum `Router` from the outside, so that each
    /// request is authenticated once, before routing, without the boxed
    /// service per request that every `route_layer` costs.
    ///
    /// ```
    /// use axum::{Json, Router, ServiceExt, extract::Request, routing::get};
    /// use tokenguard_core::{Authenticator, Principal};
    /// use tokenguard_tower::{AuthLayer, scope_guard};
    /// use tower_layer::Layer;
    ///
    /// scope_guard! {
    ///     /// Callers with scope `read`.
    ///     struct CanRead = scopes("read");
    /// }
    ///
    /// async fn serve(authenticator: Authenticator) -> std::io::Result<()> {
    ///     let router = Router::new()
    ///         .route("/health", get(|| async { "ok" }))
    ///         .route("/me", get(|principal: Principal| async move { Json(principal) }))
    ///         .route("/recordings", get(|_: CanRead| async { "[]" }));
    ///     // Around the router, not `Router::layer`: once per request, before routing.
    ///     let app = AuthLayer::deferred(authenticator).layer(router);
    ///     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    ///     axum::serve(listener, ServiceExt::<Request>::into_make_service(app)).await
    /// }
    /// ```
    pub fn deferred(authenticator: Authenticator) -> Self {
        Self::new(authenticator, Mode::Deferred)
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth { inner, authenticator: self.authenticator.clone(), mode: self.mode }
    }
}

/// The service made by [`AuthLayer`].
#[derive(Clone, Debug)]
pub struct Auth<S> {
    inner: S,
    authenticator: Authenticator,
    mode: Mode,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Auth<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: ErrorBody,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let view = RequestView::from_http(request.method(), request.uri(), request.headers());
        // Decided without I/O (the hot path: a credential verified before),
        // the inner service that was driven to readiness is called right
        // here — no clone, no box.
        if let Some(outcome) = self.authenticator.authenticate_cached(&view) {
            return match admit(&mut request, outcome, self.mode) {
                Ok(()) => ResponseFuture::inner(self.inner.call(request)),
                Err(response) => ResponseFuture::answered(response),
            };
        }
        // The clone that was driven to readiness is the one we must call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (authenticator, mode) = (self.authenticator.clone(), self.mode);
        ResponseFuture::verifying(Box::pin(async move {
            let view = RequestView::from_http(request.method(), request.uri(), request.headers());
            let outcome = authenticator.authenticate(&view).await;
            if let Err(response) = admit(&mut request, outcome, mode) {
                return Ok(response);
            }
            inner.call(request).await
        }))
    }
}

/// Puts `outcome` into the request, or answers it when `mode` says the
/// layer does.
fn admit<ReqBody, ResBody: ErrorBody>(
    request: &mut Request<ReqBody>,
    outcome: AuthOutcome,
    mode: Mode,
) -> Result<(), Response<ResBody>> {
    if let Some(answer) = outcome.answer(mode) {
        return Err(PrincipalRejection::Refused(answer).into_http_for(request.headers(), ResBody::from_error_json));
    }
    request.extensions_mut().insert(outcome);
    Ok(())
}
