//! [`AuthLayer`] and its service [`Auth`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tokenguard_core::{Authenticated, Authenticator, Decision, Mode, Rejection};
use tower_layer::Layer;
use tower_service::Service;

use crate::ErrorBody;
use crate::require_scope::ResponseFuture;

/// Authenticates requests before they reach the inner service.
///
/// On success the [`Principal`](crate::Principal) is inserted into the
/// request extensions, with what extractors and guards need to answer as
/// this layer would ([`AuthContext::of_request`](tokenguard_core::AuthContext::of_request) finds it). On failure the
/// inner service is not called and the client gets the RFC 6750 answer —
/// except with [`AuthLayer::deferred`], which hands the refusal to the
/// extractors of the route instead.
#[derive(Clone, Debug)]
pub struct AuthLayer {
    authenticator: Authenticator,
    mode: Mode,
    verdict: Verdict,
}

/// Who answers a request the layer cannot let through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// The layer, at once.
    Layer,
    /// The extractors and guards of the route that runs, if any.
    Extractors,
}

impl AuthLayer {
    /// Requests without credentials are refused with 401.
    pub fn required(authenticator: Authenticator) -> Self {
        Self { authenticator, mode: Mode::Required, verdict: Verdict::Layer }
    }

    /// Requests without credentials pass anonymously; invalid credentials are
    /// still refused (never silently anonymous).
    pub fn optional(authenticator: Authenticator) -> Self {
        Self { authenticator, mode: Mode::Optional, verdict: Verdict::Layer }
    }

    /// Authenticates every request that carries credentials and leaves the
    /// verdict to the handlers' extractors: [`Principal`](crate::Principal)
    /// answers 401 for an anonymous or refused request, `Option<Principal>`
    /// is `None` for an anonymous one and answers a refused one (never
    /// silently anonymous), guards declared with
    /// [`scope_guard!`](crate::scope_guard) and [`RequireScope`](crate::RequireScope)
    /// answer 401 or 403. Every answer is the one [`AuthLayer::required`]
    /// would give (for `Option<Principal>`, [`AuthLayer::optional`]).
    ///
    /// Made to wrap a whole axum `Router` from the outside, so that each
    /// request is authenticated once, before routing, without the boxed
    /// service per request that every `route_layer` costs — the cheapest
    /// way to put tokenguard in front of an API (see BENCHMARKS.md). Routes
    /// whose handlers take none of these extractors are public: `/health`,
    /// unknown paths (404) and wrong methods (405) answer as they would
    /// without the layer, whatever credentials come along.
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
        Self { authenticator, mode: Mode::Optional, verdict: Verdict::Extractors }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth { inner, authenticator: self.authenticator.clone(), mode: self.mode, verdict: self.verdict }
    }
}

/// The service made by [`AuthLayer`].
#[derive(Clone, Debug)]
pub struct Auth<S> {
    inner: S,
    authenticator: Authenticator,
    mode: Mode,
    verdict: Verdict,
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
    type Future = AuthFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // Decided without I/O, the inner service that was driven to
        // readiness is called right here — no clone, no box.
        match self.authenticator.decide_cached(request.headers(), self.mode) {
            Decision::Admit(authenticated) => {
                request.extensions_mut().insert(authenticated.principal);
                return AuthFuture::inner(self.inner.call(request));
            }
            Decision::Decided(outcome) => {
                return match admit(&mut request, &self.authenticator, self.verdict, outcome) {
                    Ok(()) => AuthFuture::inner(self.inner.call(request)),
                    Err(response) => AuthFuture::answered(response),
                };
            }
            Decision::Verify => {}
        }
        // The clone that was driven to readiness is the one we must call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let authenticator = self.authenticator.clone();
        let (mode, verdict) = (self.mode, self.verdict);
        AuthFuture::verifying(Box::pin(async move {
            let outcome = authenticator
                .authenticate_http_after_cache_miss(request.method(), request.uri(), request.headers(), mode)
                .await;
            if let Err(response) = admit(&mut request, &authenticator, verdict, outcome) {
                return Ok(response);
            }
            inner.call(request).await
        }))
    }
}

/// Puts what the layer learned into the request — the principal, and an
/// [`AuthContext`] unless the principal already carries it (the hot path:
/// one allocation fewer), or a refusal for the extractors to answer — or,
/// when the layer gives the verdict itself, the answer to a refusal.
fn admit<ReqBody, ResBody: ErrorBody>(
    request: &mut Request<ReqBody>,
    authenticator: &Authenticator,
    verdict: Verdict,
    outcome: Result<Option<Authenticated>, Rejection>,
) -> Result<(), Response<ResBody>> {
    let extensions = request.extensions_mut();
    match outcome {
        Ok(authenticated) => {
            let (principal, context) = authenticator.request_extensions(authenticated);
            if let Some(principal) = principal {
                extensions.insert(principal);
            }
            if let Some(context) = context {
                extensions.insert(context);
            }
        }
        Err(rejection) if verdict == Verdict::Extractors => {
            extensions.insert(authenticator.refused_context(rejection));
        }
        Err(rejection) => {
            return Err(authenticator.render(&rejection).into_http_for(request.headers(), ResBody::from_error_json));
        }
    }
    Ok(())
}

type Verifying<B, E> = Pin<Box<dyn Future<Output = Result<Response<B>, E>> + Send>>;

pin_project_lite::pin_project! {
    /// Response future of [`Auth`]: decided at once (the inner service's
    /// future for a cached credential, or an answer), or the boxed
    /// verification of a new credential.
    pub struct AuthFuture<F, B, E> {
        #[pin]
        state: State<F, B, E>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F, B, E> {
        Decided { #[pin] future: ResponseFuture<F, B> },
        Verifying { future: Verifying<B, E> },
    }
}

impl<F, B, E> AuthFuture<F, B, E> {
    fn inner(future: F) -> Self {
        Self { state: State::Decided { future: ResponseFuture::inner(future) } }
    }

    fn answered(response: Response<B>) -> Self {
        Self { state: State::Decided { future: ResponseFuture::rejected(response) } }
    }

    fn verifying(future: Verifying<B, E>) -> Self {
        Self { state: State::Verifying { future } }
    }
}

impl<F, B, E> Future for AuthFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Decided { future } => future.poll(cx),
            StateProj::Verifying { future } => future.as_mut().poll(cx),
        }
    }
}
