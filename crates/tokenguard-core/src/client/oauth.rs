//! OAuth 2.0 token sources: client credentials and refresh tokens.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use super::cell::{Fetched, Timing, TokenCell};
use super::{Authorization, TokenError, TokenSource};
use crate::ConfigError;
use crate::discovery::LazyEndpoint;
use crate::fetch::{BodyFormat, ClientAuth, Fetcher, HttpOptions, client_request};
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
    body_format: BodyFormat,
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

    /// A public client of `issuer` (`client_id` only, no secret — token
    /// endpoint auth method `none`), as a Keycloak realm's `anonymous` or a
    /// CLI's client is.
    pub fn discover_public(issuer: &str, client_id: impl Into<String>) -> Result<Self, ConfigError> {
        Ok(Self::discover(issuer, client_id, "")?.client_auth(ClientAuth::None))
    }

    /// A public client of the token endpoint `url`.
    pub fn public_with_token_endpoint(url: Url, client_id: impl Into<String>) -> Result<Self, ConfigError> {
        Ok(Self::with_token_endpoint(url, client_id, "")?.client_auth(ClientAuth::None))
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
            body_format: BodyFormat::Form,
        })
    }

    /// How the client authenticates. Default [`ClientAuth::Basic`]
    /// ([`ClientAuth::None`] for the public constructors).
    pub fn client_auth(mut self, client_auth: ClientAuth) -> Self {
        self.client_auth = client_auth;
        self
    }

    /// How token requests are encoded. Default [`BodyFormat::Form`] (RFC
    /// 6749); [`BodyFormat::Json`] for servers that take JSON.
    pub fn body_format(mut self, body_format: BodyFormat) -> Self {
        self.body_format = body_format;
        self
    }

    /// POSTs a token request (RFC 6749 §4.4.2, §6) with `params`.
    pub async fn request(&self, params: &[(&str, &str)]) -> Result<TokenResponse, TokenError> {
        let unavailable = |reason: String| TokenError::Unavailable { reason, retry_after: Duration::from_secs(1) };
        let endpoint = self.endpoint.resolve(&self.fetcher).await.map_err(unavailable)?;
        let request = client_request(params, &self.client_id, &self.client_secret, self.client_auth, self.body_format);
        let (status, body) =
            self.fetcher.post_any(endpoint, request).await.map_err(|error| unavailable(error.to_string()))?;
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
    /// The refresh token's lifetime in seconds, if the server says
    /// (Keycloak does).
    #[serde(default)]
    pub refresh_expires_in: Option<u64>,
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

/// How a [`RefreshingToken`] gets a new grant when it has no usable
/// refresh token — none yet, expired, or refused (`invalid_grant`).
#[async_trait::async_trait]
pub trait Login: Send + Sync {
    /// Performs the grant at `client`'s token endpoint.
    async fn login(&self, client: &OAuthClient) -> Result<TokenResponse, TokenError>;
}

/// The access token of a user's grant (password, authorization code…),
/// kept fresh with its refresh token (RFC 6749 §6). When the server rotates
/// refresh tokens, the new one replaces the old.
///
/// With a [`Login`] ([`RefreshingToken::relogin`], or a [`PasswordGrant`]),
/// a refresh token that has expired (per `refresh_expires_in`) or is
/// refused is replaced by logging in again — once per attempt; if that
/// fails too, the error is reported and the usual back-off applies.
pub struct RefreshingToken {
    client: Arc<OAuthClient>,
    refresh: Mutex<Option<RefreshToken>>,
    login: Option<Arc<dyn Login>>,
    cell: TokenCell,
}

#[derive(Clone)]
struct RefreshToken {
    token: Secret,
    /// Unix seconds, when the server said.
    expires_at: Option<u64>,
}

impl RefreshingToken {
    /// Starts from the response of the initial grant, which must include a
    /// refresh token and a bearer access token.
    pub fn new(client: impl Into<Arc<OAuthClient>>, initial: TokenResponse) -> Result<Self, TokenError> {
        if initial.refresh_token.is_none() {
            return Err(TokenError::Malformed("no refresh token"));
        }
        let refresh = refresh_token(&initial, &Clock::system());
        let cell = TokenCell::new(Timing::default(), Some(initial.into_fetched()?));
        Ok(Self { client: client.into(), refresh: Mutex::new(refresh), login: None, cell })
    }

    /// A source that logs in with `login` on first use.
    pub fn with_login(client: impl Into<Arc<OAuthClient>>, login: impl Login + 'static) -> Self {
        let login: Arc<dyn Login> = Arc::new(login);
        Self {
            client: client.into(),
            refresh: Mutex::new(None),
            login: Some(login),
            cell: TokenCell::new(Timing::default(), None),
        }
    }

    /// Logs in again with `login` when the refresh token is expired or refused.
    pub fn relogin(mut self, login: impl Login + 'static) -> Self {
        self.login = Some(Arc::new(login));
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

    fn lock_refresh(&self) -> std::sync::MutexGuard<'_, Option<RefreshToken>> {
        self.refresh.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The refresh token, unless it has expired.
    fn usable_refresh_token(&self) -> Option<Secret> {
        let now = self.cell.clock().unix_seconds();
        let refresh = self.lock_refresh().clone()?;
        refresh.expires_at.is_none_or(|at| now < at).then_some(refresh.token)
    }

    /// Keeps what `response` grants: its refresh token, if rotated or new.
    fn accept(&self, response: TokenResponse) -> Result<Fetched, TokenError> {
        if let Some(refresh) = refresh_token(&response, self.cell.clock()) {
            *self.lock_refresh() = Some(refresh);
        }
        response.into_fetched()
    }

    async fn renew(&self) -> Result<Fetched, TokenError> {
        if let Some(refresh_token) = self.usable_refresh_token() {
            let params = [("grant_type", "refresh_token"), ("refresh_token", refresh_token.expose())];
            match self.client.request(&params).await {
                Ok(response) => return self.accept(response),
                Err(TokenError::Refused { error }) if self.login.is_some() => {
                    tracing::info!(%error, "the refresh token was refused; logging in again");
                    *self.lock_refresh() = None;
                }
                Err(error) => return Err(error),
            }
        }
        match &self.login {
            Some(login) => self.accept(login.login(&self.client).await?),
            None => Err(TokenError::Refused { error: "the refresh token has expired".into() }),
        }
    }
}

fn refresh_token(response: &TokenResponse, clock: &Clock) -> Option<RefreshToken> {
    let token = response.refresh_token.clone()?;
    let expires_at = response.refresh_expires_in.filter(|&seconds| seconds > 0).map(|s| clock.unix_seconds() + s);
    Some(RefreshToken { token, expires_at })
}

#[async_trait::async_trait]
impl TokenSource for RefreshingToken {
    async fn authorization(&self) -> Result<Authorization, TokenError> {
        self.cell.get(|| self.renew()).await
    }

    fn invalidate(&self, rejected: &Authorization) {
        self.cell.invalidate(rejected);
    }
}

/// The resource owner password grant (RFC 6749 §4.3), as Keycloak realms
/// with a public client offer it: logs in with a username and password,
/// keeps the access token fresh with the refresh token, and logs in again
/// when the refresh token expires or is refused.
///
/// ```no_run
/// use tokenguard_core::Secret;
/// use tokenguard_core::client::{OAuthClient, Password, PasswordGrant};
///
/// let client = OAuthClient::discover_public("https://idp.example/realms/demo", "anonymous")?;
/// let login = Password::new("alice", Secret::new("correct horse")).scope("openid");
/// let source = PasswordGrant::new(client, login);
/// # Ok::<(), tokenguard_core::ConfigError>(())
/// ```
pub struct PasswordGrant {
    source: RefreshingToken,
}

impl PasswordGrant {
    /// Logs in with `login` on first use.
    pub fn new(client: impl Into<Arc<OAuthClient>>, login: Password) -> Self {
        Self { source: RefreshingToken::with_login(client, login) }
    }

    /// Refresh this long before expiry (at most half a token's lifetime). Default 30 s.
    pub fn refresh_early(self, skew: Duration) -> Self {
        Self { source: self.source.refresh_early(skew) }
    }

    /// Where expiry is read. Default: the system clock.
    pub fn clock(self, clock: Clock) -> Self {
        Self { source: self.source.clock(clock) }
    }
}

#[async_trait::async_trait]
impl TokenSource for PasswordGrant {
    async fn authorization(&self) -> Result<Authorization, TokenError> {
        self.source.authorization().await
    }

    fn invalidate(&self, rejected: &Authorization) {
        self.source.invalidate(rejected);
    }
}

/// A [`Login`] with a username and password (the password grant). Its
/// `Debug` never shows the password.
pub struct Password {
    username: String,
    password: Secret,
    scope: Option<String>,
}

impl Password {
    /// `username` and `password`.
    pub fn new(username: impl Into<String>, password: Secret) -> Self {
        Self { username: username.into(), password, scope: None }
    }

    /// The `scope` to request (e.g. `openid`).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Password").field("username", &self.username).field("scope", &self.scope).finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Login for Password {
    async fn login(&self, client: &OAuthClient) -> Result<TokenResponse, TokenError> {
        let mut params = vec![
            ("grant_type", "password"),
            ("username", self.username.as_str()),
            ("password", self.password.expose()),
        ];
        params.extend(self.scope.as_deref().map(|scope| ("scope", scope)));
        client.request(&params).await
    }
}
