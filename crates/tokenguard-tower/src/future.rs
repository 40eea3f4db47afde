//! [`ResponseFuture`]: the response future of every service in this crate.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;

type Verifying<B, E> = Pin<Box<dyn Future<Output = Result<Response<B>, E>> + Send>>;

pin_project_lite::pin_project! {
    /// Response future of [`Auth`](crate::auth::Auth) and
    /// [`RequireScope`](crate::require_scope::RequireScope): the inner
    /// service's future, an answer decided at once, or the boxed
    /// verification of a credential not seen before.
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        state: State<F, B, E>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F, B, E> {
        Inner { #[pin] future: F },
        Answered { response: Option<Response<B>> },
        Verifying { future: Verifying<B, E> },
    }
}

impl<F, B, E> ResponseFuture<F, B, E> {
    pub(crate) fn inner(future: F) -> Self {
        Self { state: State::Inner { future } }
    }

    pub(crate) fn answered(response: Response<B>) -> Self {
        Self { state: State::Answered { response: Some(response) } }
    }

    pub(crate) fn verifying(future: Verifying<B, E>) -> Self {
        Self { state: State::Verifying { future } }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future } => future.poll(cx),
            StateProj::Answered { response } => {
                Poll::Ready(Ok(response.take().expect("tokenguard: ResponseFuture polled after completion")))
            }
            StateProj::Verifying { future } => future.as_mut().poll(cx),
        }
    }
}
