//! OAuth 2.0 token sources: client credentials and refresh tokens.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use super::cell::{Fetched, Timing, TokenCell};
use super::{Authorization, TokenError, TokenSource};
use crate::ConfigError;
use crate::discovery::LazyEndpoint;
use crate::fetch::{Fetcher, HttpOptions, client_form};
use crate::introspection::ClientAuth;
use crate::secret::Secret;
use crate::time::Clock;

/// A client of an authorization server: its token endpoint and how it
/// authenticates there. Shared by the token sources built on it.
pub struct OAuthClient {
    endpoint: LazyEndpoint,
    fetcher: Fetcher,
    client_id: String,
    client_secret: Secret,
    client_auth: ClientAuth,
}

impl OAuthClient {
    /// A client of `issuer`, whose `token_endpoint` is read from its
    /// discovery document on first use.
    pub fn discover(
        issuer: &str,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
    ) -> Result<Self, ConfigError> {
        Self::build(LazyEndpoint::new(issuer, None, |m| m.token_endpoint.as_ref())?, client_id, client_secret)
    }

    /// A client of the token endpoint `url`.
    pub fn with_token_endpoint(
        url: Url,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
    ) -> Result<Self, ConfigError> {
        Self::build(LazyEndpoint::new("", Some(&url), |m| m.token_endpoint.as_ref())?, client_id, client_secret)
    }

    fn build(
        endpoint: LazyEndpoint,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
    ) -> Result<Self, ConfigError> {
        let fetcher = Fetcher::new(&HttpOptions { max_body_bytes: 64 * 1024, ..HttpOptions::default() })
            .map_err(|_| ConfigError::HttpClient)?;
        Ok(Self {
            endpoint,
            fetcher,
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            client_auth: ClientAuth::Basic,
        })
    }

    /// How the client authenticates. Default [`ClientAuth::Basic`].
    pub fn client_auth(mut self, client_auth: ClientAuth) -> Self {
        self.client_auth = client_auth;
        self
    }

    /// POSTs a token request (RFC 6749 §4.4.2, §6) with `params`.
    pub async fn request(&self, params: &[(&str, &str)]) -> Result<TokenResponse, TokenError> {
        let unavailable = |reason: String| TokenError::Unavailable { reason, retry_after: Duration::from_secs(1) };
        let endpoint = self.endpoint.resolve(&self.fetcher).await.map_err(unavailable)?;
        let (form, basic) = client_form(params, &self.client_id, &self.client_secret, self.client_auth);
        let (status, body) = self
            .fetcher
            .post_form_any(endpoint, form, basic.as_deref())
            .await
            .map_err(|error| unavailable(error.to_string()))?;
        match status {
            200..=299 => serde_json::from_value(body).map_err(|_| TokenError::Malformed("not a token response")),
            400..=499 => Err(TokenError::Refused {
                error: body["error"].as_str().map_or_else(|| format!("HTTP {status}"), str::to_owned),
            }),
            _ => Err(unavailable(format!("HTTP {status}"))),
        }
    }
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient").field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Clone, Debug, Deserialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: Secret,
    /// Must be `Bearer` (case-insensitive) to be usable here.
    pub token_type: String,
    /// Lifetime in seconds, if the server says.
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// A refresh token, if one was issued.
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    /// The granted scope, if the server says.
    #[serde(default)]
    pub scope: Option<String>,
}

impl TokenResponse {
    fn into_fetched(self) -> Result<Fetched, TokenError> {
        if !self.token_type.eq_ignore_ascii_case("bearer") {
            return Err(TokenError::Malformed("not a bearer token"));
        }
        if self.access_token.is_empty() {
            return Err(TokenError::Malformed("empty access token"));
        }
        Ok(Fetched {
            value: Authorization::new("Bearer", self.access_token.expose())?,
            lifetime: self.expires_in.map(Duration::from_secs),
        })
    }
}

/// OAuth 2.0 client credentials (RFC 6749 §4.4): a service's own token.
///
/// ```no_run
/// use tokenguard_core::client::{ClientCredentials, OAuthClient};
///
/// let client = OAuthClient::discover("https://idp.example/realms/demo", "reports", "s3cr3t")?;
/// let source = ClientCredentials::new(client).scope("read write").resource("https://api.example");
/// # Ok::<(), tokenguard_core::ConfigError>(())
/// ```
pub struct ClientCredentials {
    client: Arc<OAuthClient>,
    scope: Option<String>,
    resource: Option<String>,
    cell: TokenCell,
}

impl ClientCredentials {
    /// Tokens for `client`, cached until 30 s before they expire.
    pub fn new(client: impl Into<Arc<OAuthClient>>) -> Self {
        Self { client: client.into(), scope: None, resource: None, cell: TokenCell::new(Timing::default(), None) }
    }

    /// The `scope` to request.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The RFC 8707 `resource` to request a token for.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// Refresh this long before expiry (at most half a token's lifetime). Default 30 s.
    pub fn refresh_early(mut self, skew: Duration) -> Self {
        self.cell.set_skew(skew);
        self
    }

    /// Where expiry is read. Default: the system clock; tests hand in a
    /// [`ManualClock`](crate::time::ManualClock)'s.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.cell.set_clock(clock);
        self
    }
}

#[async_trait::async_trait]
impl TokenSource for ClientCredentials {
    async fn authorization(&self) -> Result<Authorization, TokenError> {
        self.cell
            .get(|| async {
                let mut params = vec![("grant_type", "client_credentials")];
                params.extend(self.scope.as_deref().map(|scope| ("scope", scope)));
                params.extend(self.resource.as_deref().map(|resource| ("resource", resource)));
                self.client.request(&params).await?.into_fetched()
            })
            .await
    }

    fn invalidate(&self, rejected: &Authorization) {
        self.cell.invalidate(rejected);
    }
}

/// The access token of a user's grant (password, authorization code…),
/// kept fresh with its refresh token (RFC 6749 §6). When the server rotates
/// refresh tokens, the new one replaces the old.
pub struct RefreshingToken {
    client: Arc<OAuthClient>,
    refresh_token: Mutex<Secret>,
    cell: TokenCell,
}

impl RefreshingToken {
    /// Starts from the response of the initial grant, which must include a
    /// refresh token and a bearer access token.
    pub fn new(client: impl Into<Arc<OAuthClient>>, initial: TokenResponse) -> Result<Self, TokenError> {
        let refresh_token = initial.refresh_token.clone().ok_or(TokenError::Malformed("no refresh token"))?;
        let cell = TokenCell::new(Timing::default(), Some(initial.into_fetched()?));
        Ok(Self { client: client.into(), refresh_token: Mutex::new(refresh_token), cell })
    }

    /// Where expiry is read. Default: the system clock; tests hand in a
    /// [`ManualClock`](crate::time::ManualClock)'s.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.cell.set_clock(clock);
        self
    }

    fn current_refresh_token(&self) -> Secret {
        self.refresh_token.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

#[async_trait::async_trait]
impl TokenSource for RefreshingToken {
    async fn authorization(&self) -> Result<Authorization, TokenError> {
        self.cell
            .get(|| async {
                let refresh_token = self.current_refresh_token();
                let params = [("grant_type", "refresh_token"), ("refresh_token", refresh_token.expose())];
                let response = self.client.request(&params).await?;
                if let Some(rotated) = &response.refresh_token {
                    *self.refresh_token.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = rotated.clone();
                }
                response.into_fetched()
            })
            .await
    }

    fn invalidate(&self, rejected: &Authorization) {
        self.cell.invalidate(rejected);
    }
}
