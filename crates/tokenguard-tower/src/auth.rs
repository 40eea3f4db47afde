//! [`AuthLayer`] and its service [`Auth`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tokenguard_core::{Authenticated, Authenticator, Mode};
use tower_layer::Layer;
use tower_service::Service;

use crate::ErrorBody;
use crate::require_scope::ResponseFuture;

/// Authenticates requests before they reach the inner service.
///
/// On success the [`Principal`](crate::Principal) is inserted into the
/// request extensions, with what extractors and guards need to answer as
/// this layer would ([`AuthContext::of_request`](tokenguard_core::AuthContext::of_request) finds it). On failure the
/// inner service is not called and the client gets the RFC 6750 answer.
#[derive(Clone, Debug)]
pub struct AuthLayer {
    authenticator: Authenticator,
    mode: Mode,
}

impl AuthLayer {
    /// Requests without credentials are refused with 401.
    pub fn required(authenticator: Authenticator) -> Self {
        Self { authenticator, mode: Mode::Required }
    }

    /// Requests without credentials pass anonymously; invalid credentials are
    /// still refused (never silently anonymous).
    pub fn optional(authenticator: Authenticator) -> Self {
        Self { authenticator, mode: Mode::Optional }
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
    type Future = AuthFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The hot path, decided without I/O: the inner service that was
        // driven to readiness is called right here — no clone, no box.
        match self.authenticator.authenticate_cached(request.headers(), self.mode) {
            Some(Ok(authenticated)) => {
                insert(request.extensions_mut(), &self.authenticator, authenticated);
                return AuthFuture::inner(self.inner.call(request));
            }
            Some(Err(rejection)) => {
                let response =
                    self.authenticator.render(&rejection).into_http_for(request.headers(), ResBody::from_error_json);
                return AuthFuture::answered(response);
            }
            None => {}
        }
        // The clone that was driven to readiness is the one we must call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let authenticator = self.authenticator.clone();
        let mode = self.mode;
        AuthFuture::verifying(Box::pin(async move {
            let authenticated = authenticator
                .authenticate_http_after_cache_miss(request.method(), request.uri(), request.headers(), mode)
                .await;
            match authenticated {
                Ok(authenticated) => insert(request.extensions_mut(), &authenticator, authenticated),
                Err(rejection) => {
                    return Ok(authenticator
                        .render(&rejection)
                        .into_http_for(request.headers(), ResBody::from_error_json));
                }
            }
            inner.call(request).await
        }))
    }
}

/// Puts what the layer learned into the request: the principal, and an
/// [`AuthContext`] unless the principal already carries it (the hot path:
/// one allocation fewer).
fn insert(extensions: &mut http::Extensions, authenticator: &Authenticator, authenticated: Option<Authenticated>) {
    let (principal, context) = authenticator.request_extensions(authenticated);
    if let Some(principal) = principal {
        extensions.insert(principal);
    }
    if let Some(context) = context {
        extensions.insert(context);
    }
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
