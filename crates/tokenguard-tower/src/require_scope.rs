//! [`RequireScope`]: a per-route scope guard.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response, StatusCode};
use tokenguard_core::{AuthContext, Principal, ScopeRequirement};
use tower_layer::Layer;
use tower_service::Service;

use crate::ErrorBody;

/// Lets a request through only if its principal has every required scope:
/// anonymous → 401, missing a scope → 403 `insufficient_scope` naming it.
///
/// Place it inside an [`AuthLayer`](crate::AuthLayer) (in axum: on the
/// route, with the `AuthLayer` on the router).
#[derive(Clone, Debug)]
pub struct RequireScope {
    requirement: ScopeRequirement,
}

// `RequireScope::{new, any, requiring}` and `RequireRole::{new, any}`,
// written once for both adapters.
tokenguard_core::scope_guard_constructors!();

impl<S> Layer<S> for RequireScope {
    type Service = RequireScopeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScopeService { inner, requirement: self.requirement.clone() }
    }
}

/// The service made by [`RequireScope`].
#[derive(Clone, Debug)]
pub struct RequireScopeService<S> {
    inner: S,
    requirement: ScopeRequirement,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireScopeService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: ErrorBody,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let error = match self.requirement.check(request.extensions().get::<Principal>()) {
            Ok(()) => return ResponseFuture::inner(self.inner.call(request)),
            Err(error) => error,
        };
        let response = match AuthContext::of_request(request.extensions()) {
            Some(context) => context.reject(error).into_http_for(request.headers(), ResBody::from_error_json),
            None => {
                let mut response = Response::new(ResBody::from_error_json(bytes::Bytes::from_static(
                    b"tokenguard: RequireScope needs an AuthLayer in front of it",
                )));
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                response
            }
        };
        ResponseFuture::rejected(response)
    }
}

pin_project_lite::pin_project! {
    /// Response future of [`RequireScopeService`]: the inner service's
    /// future, or an answer decided at once (also used by [`Auth`](crate::Auth)).
    pub struct ResponseFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        Inner { #[pin] future: F },
        Rejected { response: Option<Response<B>> },
    }
}

impl<F, B> ResponseFuture<F, B> {
    pub(crate) fn inner(future: F) -> Self {
        Self { state: State::Inner { future } }
    }

    pub(crate) fn rejected(response: Response<B>) -> Self {
        Self { state: State::Rejected { response: Some(response) } }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future } => future.poll(cx),
            StateProj::Rejected { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                None => Poll::Pending,
            },
        }
    }
}
