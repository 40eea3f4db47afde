//! [`AuthorizeRequestLayer`]: credentials for *outgoing* requests.
//!
//! Wraps a tower HTTP client. Every request gets an `Authorization` header
//! from a [`TokenSource`]; when the server answers `401` (any 401 by
//! default; see [`RetryOn`]), the token is invalidated, a new one fetched
//! and the request sent once more. Only once: a second 401 goes to the
//! caller, and so does the first when the source has nothing new (a static key).
//!
//! Retrying needs the request twice, so the body must be `Clone` — a
//! buffered body such as `String`, `Bytes` or `http_body_util::Full<Bytes>`.
//! The retried request carries the same method, URI, version and headers;
//! request extensions are not carried over.
//!
//! ```no_run
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use hyper_util::client::legacy::Client;
//! use hyper_util::rt::TokioExecutor;
//! use tokenguard_core::client::{ClientCredentials, OAuthClient};
//! use tokenguard_tower::AuthorizeRequestLayer;
//! use tower::{Layer, ServiceExt};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let oauth = OAuthClient::discover("https://idp.example/realms/demo", "reports", "s3cr3t")?;
//! let source = Arc::new(ClientCredentials::new(oauth).scope("read"));
//! let http = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
//! let client = AuthorizeRequestLayer::new(source).layer(http);
//! let request = http::Request::get("http://127.0.0.1:3000/recordings").body(Full::default())?;
//! let response = client.oneshot(request).await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{Request, Response};
use tokenguard_core::client::{RetryOn, TokenSource};
use tower_layer::Layer;
use tower_service::Service;

/// Errors of an [`AuthorizeRequest`] service: a [`tokenguard_core::client::TokenError`]
/// or the inner client's error, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Adds credentials from a [`TokenSource`] to outgoing requests; see the module docs.
#[derive(Clone)]
pub struct AuthorizeRequestLayer {
    source: Arc<dyn TokenSource>,
    retry: RetryOn,
}

impl AuthorizeRequestLayer {
    /// A layer taking credentials from `source`, retrying on any 401.
    pub fn new(source: Arc<dyn TokenSource>) -> Self {
        Self { source, retry: RetryOn::default() }
    }

    /// Which 401s get a new credential and one retry.
    pub fn retry_on(mut self, retry: RetryOn) -> Self {
        self.retry = retry;
        self
    }
}

impl<S> Layer<S> for AuthorizeRequestLayer {
    type Service = AuthorizeRequest<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthorizeRequest { inner, source: self.source.clone(), retry: self.retry }
    }
}

/// The service of [`AuthorizeRequestLayer`].
#[derive(Clone)]
pub struct AuthorizeRequest<S> {
    inner: S,
    source: Arc<dyn TokenSource>,
    retry: RetryOn,
}

impl<S, B, ResBody> Service<Request<B>> for AuthorizeRequest<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: Clone + Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The ready service handles this request; a fresh clone stays for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let (source, retry) = (self.source.clone(), self.retry);
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let replay = (parts.method.clone(), parts.uri.clone(), parts.version, parts.headers.clone(), body.clone());
            let mut request = Request::from_parts(parts, body);
            let credential = source.authorization().await?;
            request.headers_mut().insert(AUTHORIZATION, credential.header_value().clone());
            let response = inner.call(request).await.map_err(Into::into)?;
            let challenges = response.headers().get_all(WWW_AUTHENTICATE).iter().map(|value| value.as_bytes());
            if !retry.applies(response.status().as_u16(), challenges) {
                return Ok(response);
            }
            let Some(fresh) = source.replace(&credential).await? else {
                // Nothing new to offer (a static key): the caller gets the 401.
                return Ok(response);
            };
            tracing::debug!("the server refused the token; retrying once with a new one");
            let (method, uri, version, headers, body) = replay;
            let mut retry = Request::new(body);
            *retry.method_mut() = method;
            *retry.uri_mut() = uri;
            *retry.version_mut() = version;
            *retry.headers_mut() = headers;
            retry.headers_mut().insert(AUTHORIZATION, fresh.header_value().clone());
            std::future::poll_fn(|cx| inner.poll_ready(cx)).await.map_err(Into::into)?;
            inner.call(retry).await.map_err(Into::into)
        })
    }
}
