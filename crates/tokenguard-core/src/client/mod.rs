//! The other side of the wire: credentials for *outgoing* requests.
//!
//! A [`TokenSource`] hands out the `Authorization` value to send and is told
//! when the server refused it. Implementations:
//!
//! - [`StaticApiKey`]: a long-lived API key, as `Token token=…`, `Token …`
//!   or `Bearer …`;
//! - [`ClientCredentials`]: OAuth 2.0 client credentials (RFC 6749 §4.4),
//!   with `scope` and RFC 8707 `resource`;
//! - [`RefreshingToken`]: keeps the access token of a password or code grant
//!   fresh with its refresh token, following refresh-token rotation, and
//!   logs in again (a [`Login`]) when the refresh token expires or is refused;
//! - [`PasswordGrant`]: the password grant (RFC 6749 §4.3) on top of it, for
//!   public clients too ([`OAuthClient::discover_public`]).
//!
//! Clients authenticate with `client_secret_basic`, `client_secret_post` or,
//! public, `none` ([`ClientAuth`]); token requests are forms, or JSON for
//! servers that want it ([`BodyFormat`]).
//!
//! Fetched tokens are cached until shortly before they expire; concurrent
//! callers share one token request; failed requests back off (1 s doubling
//! to 60 s), and meanwhile a still-valid token keeps being used.
//! `tokenguard-tower`'s `AuthorizeRequestLayer` puts a source in front of
//! any tower HTTP client, `AuthorizeMiddleware` (feature `reqwest`) in
//! front of reqwest; both retry a request refused with 401 once with a new
//! token ([`RetryOn`]).

mod api_key;
mod cell;
#[cfg(feature = "reqwest")]
mod middleware;
mod oauth;

use std::time::Duration;

use http::HeaderValue;

pub use crate::fetch::{BodyFormat, ClientAuth};
pub use api_key::{ApiKeyForm, StaticApiKey};
#[cfg(feature = "reqwest")]
pub use middleware::AuthorizeMiddleware;
pub use oauth::{ClientCredentials, Login, OAuthClient, Password, PasswordGrant, RefreshingToken, TokenResponse};

/// Why no credential could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The token endpoint (or its discovery) cannot be reached or failed;
    /// try again after `retry_after`.
    #[error("the token endpoint is unavailable ({reason}); retry after {retry_after:?}")]
    Unavailable {
        /// What failed (never a secret).
        reason: String,
        /// When a new attempt will be made.
        retry_after: Duration,
    },
    /// The authorization server refused the request (`invalid_client`,
    /// `invalid_grant`, …); retried only after the back-off.
    #[error("the authorization server refused the token request: {error}")]
    Refused {
        /// The OAuth error code (RFC 6749 §5.2), or the HTTP status.
        error: String,
    },
    /// The answer is not a usable bearer token response.
    #[error("unusable token response: {0}")]
    Malformed(&'static str),
}

/// The `Authorization` value to send. Marked sensitive, so HTTP libraries
/// keep it out of their debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Authorization(HeaderValue);

impl Authorization {
    /// `scheme token` as a sensitive header value.
    pub fn new(scheme: &str, token: &str) -> Result<Self, TokenError> {
        let mut value = HeaderValue::try_from(format!("{scheme} {token}"))
            .map_err(|_| TokenError::Malformed("the token cannot be sent in a header"))?;
        value.set_sensitive(true);
        Ok(Self(value))
    }

    /// The header value.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authorization([redacted])")
    }
}

/// Where outgoing requests get their credentials.
#[async_trait::async_trait]
pub trait TokenSource: Send + Sync {
    /// The value to send now: cached while fresh, fetched otherwise.
    async fn authorization(&self) -> Result<Authorization, TokenError>;

    /// The server refused `rejected`: forget it, so the next
    /// [`TokenSource::authorization`] fetches a new one. A source that
    /// cannot get another (a static key) ignores this.
    fn invalidate(&self, rejected: &Authorization);

    /// After the server refused `rejected`: a new credential to retry with,
    /// or `None` when the source has nothing new to offer (a static key).
    async fn replace(&self, rejected: &Authorization) -> Result<Option<Authorization>, TokenError> {
        self.invalidate(rejected);
        let fresh = self.authorization().await?;
        Ok((fresh != *rejected).then_some(fresh))
    }
}

/// When a client retries a request the server refused with `401`, after
/// getting a new credential from its [`TokenSource`] — once: a second 401
/// goes to the caller, and a source that has nothing new to offer (a static
/// key) never retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetryOn {
    /// Any 401, whatever its challenge says: many APIs answer an expired
    /// token with a bare 401.
    #[default]
    Unauthorized,
    /// Only a 401 whose challenge says `error="invalid_token"` (RFC 6750 §3.1).
    InvalidToken,
    /// Never.
    Never,
}

impl RetryOn {
    /// Whether a response with `status` and these `WWW-Authenticate` values
    /// calls for a new credential and one retry.
    pub fn applies<'a>(self, status: u16, mut challenges: impl Iterator<Item = &'a [u8]>) -> bool {
        if status != 401 {
            return false;
        }
        match self {
            RetryOn::Unauthorized => true,
            RetryOn::InvalidToken => challenges.any(|challenge| {
                let challenge = String::from_utf8_lossy(challenge);
                challenge.contains("error=\"invalid_token\"") || challenge.contains("error=invalid_token")
            }),
            RetryOn::Never => false,
        }
    }
}
