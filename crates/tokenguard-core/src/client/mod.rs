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
//!   fresh with its refresh token, following refresh-token rotation.
//!
//! Fetched tokens are cached until shortly before they expire; concurrent
//! callers share one token request; failed requests back off (1 s doubling
//! to 60 s), and meanwhile a still-valid token keeps being used.
//! `tokenguard-tower`'s `AuthorizeRequestLayer` puts a source in front of
//! any tower HTTP client.

mod api_key;
mod cell;
mod oauth;

use std::time::Duration;

use http::HeaderValue;

pub use api_key::{ApiKeyForm, StaticApiKey};
pub use oauth::{ClientCredentials, OAuthClient, RefreshingToken, TokenResponse};

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

    /// The server answered `401 invalid_token` to `rejected`: forget it,
    /// so the next [`TokenSource::authorization`] fetches a new one. A
    /// source that cannot get another (a static key) ignores this.
    fn invalidate(&self, rejected: &Authorization);
}
