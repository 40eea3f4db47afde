//! [`AuthorizeMiddleware`]: a [`TokenSource`] on outgoing reqwest requests,
//! through `reqwest-middleware` (feature `reqwest`).

use std::sync::Arc;

use http::Extensions;
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest_middleware::{Middleware, Next};

use super::{RetryOn, TokenSource};

/// Puts credentials from a [`TokenSource`] on every request of a
/// `reqwest_middleware::ClientWithMiddleware`, with the behaviour of
/// tower's `AuthorizeRequestLayer`: concurrent callers share one token
/// request, tokens are refreshed before they expire, and a `401` (see
/// [`RetryOn`]) gets a new token and one retry. A request whose body cannot
/// be cloned (a stream) is not retried: its 401 goes to the caller.
///
/// ```no_run
/// use std::sync::Arc;
/// use tokenguard_core::client::{AuthorizeMiddleware, ClientCredentials, OAuthClient};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let oauth = OAuthClient::discover("https://idp.example/realms/demo", "reports", "s3cr3t")?;
/// let source = Arc::new(ClientCredentials::new(oauth).scope("read"));
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(AuthorizeMiddleware::new(source))
///     .build();
/// let recordings = client.get("http://127.0.0.1:3000/recordings").send().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AuthorizeMiddleware {
    source: Arc<dyn TokenSource>,
    retry: RetryOn,
}

impl AuthorizeMiddleware {
    /// Credentials from `source`, retrying on any 401.
    pub fn new(source: Arc<dyn TokenSource>) -> Self {
        Self { source, retry: RetryOn::default() }
    }

    /// Which 401s get a new credential and one retry.
    pub fn retry_on(mut self, retry: RetryOn) -> Self {
        self.retry = retry;
        self
    }
}

impl std::fmt::Debug for AuthorizeMiddleware {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizeMiddleware").field("retry", &self.retry).finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Middleware for AuthorizeMiddleware {
    async fn handle(
        &self,
        mut request: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let replay = request.try_clone();
        let credential = self.source.authorization().await.map_err(reqwest_middleware::Error::middleware)?;
        request.headers_mut().insert(AUTHORIZATION, credential.header_value().clone());
        let response = next.clone().run(request, extensions).await?;
        let challenges = response.headers().get_all(WWW_AUTHENTICATE).iter().map(|value| value.as_bytes());
        let Some(mut retry) = replay.filter(|_| self.retry.applies(response.status().as_u16(), challenges)) else {
            return Ok(response);
        };
        let replaced = self.source.replace(&credential).await.map_err(reqwest_middleware::Error::middleware)?;
        let Some(fresh) = replaced else {
            // Nothing new to offer (a static key): the caller gets the 401.
            return Ok(response);
        };
        tracing::debug!("the server refused the token; retrying once with a new one");
        retry.headers_mut().insert(AUTHORIZATION, fresh.header_value().clone());
        next.run(retry, extensions).await
    }
}
