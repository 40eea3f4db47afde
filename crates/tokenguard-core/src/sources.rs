//! Where a request's credential comes from: `Authorization` always, and
//! when configured a header that carries API keys only (`X-API-Key`) and a
//! cookie that carries a JWT (the backend-for-frontend pattern).
//!
//! A request presents at most one credential: two sources used at once, or
//! one used twice, is a malformed request (`invalid_request`). Tokens in
//! the query string are never looked at.

use std::borrow::Cow;

use http::HeaderName;

use crate::credential::{self, Credential, Scheme};
use crate::error::AuthError;
use crate::jwt::jose::{self, MAX_TOKEN_BYTES};
use crate::request::{RequestView, Values};

/// A credential a request presents, and the key it is cached under: the
/// `Authorization` value that would carry it, so that a key sent in
/// `X-API-Key` and the same key sent as `Token KEY` share one entry, and a
/// value sent in another source never passes for an `Authorization` value.
#[derive(Debug)]
pub(crate) struct Presented<'a> {
    pub(crate) credential: Credential<'a>,
    pub(crate) cache_key: Cow<'a, [u8]>,
}

/// The configured sources besides `Authorization`.
#[derive(Debug, Clone, Default)]
pub(crate) struct CredentialSources {
    api_key_header: Option<HeaderName>,
    jwt_cookie: Option<Box<str>>,
}

impl CredentialSources {
    pub(crate) fn new(api_key_header: Option<&str>, jwt_cookie: Option<&str>) -> Result<Self, crate::ConfigError> {
        let api_key_header = api_key_header
            .map(|name| match HeaderName::from_bytes(name.as_bytes()) {
                Ok(header) if header != http::header::AUTHORIZATION && header != http::header::COOKIE => Ok(header),
                _ => Err(crate::ConfigError::ApiKeyHeader),
            })
            .transpose()?;
        let jwt_cookie = jwt_cookie
            .map(|name| match !name.is_empty() && name.bytes().all(credential::is_tchar) {
                true => Ok(name.into()),
                false => Err(crate::ConfigError::JwtCookie),
            })
            .transpose()?;
        Ok(Self { api_key_header, jwt_cookie })
    }

    /// Only `Authorization`.
    pub(crate) fn is_default(&self) -> bool {
        self.api_key_header.is_none() && self.jwt_cookie.is_none()
    }

    /// The API key header's name, if one is configured.
    pub(crate) fn api_key_header(&self) -> Option<&str> {
        self.api_key_header.as_ref().map(HeaderName::as_str)
    }

    /// The credential `request` presents, if any. `dpop` says whether the
    /// `DPoP` scheme is ours (without it, `DPoP` is like `Basic`: not ours).
    pub(crate) fn extract<'a>(
        &self,
        request: &RequestView<'a>,
        dpop: bool,
    ) -> Result<Option<Presented<'a>>, AuthError> {
        let authorization = single(request.authorization(), "more than one Authorization header")?;
        let mut presented = authorization.map(|value| from_authorization(value, dpop)).transpose()?.flatten();
        if let Some(header) = &self.api_key_header {
            let value = single(request.header(header), "the API key header is repeated")?;
            presented = one_of(presented, value.map(api_key_in_header).transpose()?)?;
        }
        if let Some(cookie) = &self.jwt_cookie {
            let value = single(request.cookie(cookie), "the token cookie is repeated")?;
            presented = one_of(presented, value.map(jwt_in_cookie).transpose()?)?;
        }
        Ok(presented)
    }
}

/// The one value of a source, if any; `repeated` says what is wrong with several.
fn single<'a>(values: Values<'a>, repeated: &'static str) -> Result<Option<&'a [u8]>, AuthError> {
    match values {
        Values::None => Ok(None),
        Values::One(value) => Ok(Some(value)),
        Values::Several => Err(AuthError::InvalidRequest(repeated)),
    }
}

fn one_of<'a>(first: Option<Presented<'a>>, second: Option<Presented<'a>>) -> Result<Option<Presented<'a>>, AuthError> {
    match (first, second) {
        (Some(_), Some(_)) => Err(AuthError::InvalidRequest("more than one credential")),
        (first, second) => Ok(first.or(second)),
    }
}

fn from_authorization(value: &[u8], dpop: bool) -> Result<Option<Presented<'_>>, AuthError> {
    match credential::parse_authorization(value)? {
        // Without DPoP enabled, `DPoP` is a scheme like `Basic`: not ours.
        Some(credential) if credential.scheme() == Scheme::DPoP && !dpop => Ok(None),
        Some(credential) if credential.token().len() > MAX_TOKEN_BYTES => {
            Err(AuthError::InvalidToken("token too large"))
        }
        credential => Ok(credential.map(|credential| Presented { credential, cache_key: Cow::Borrowed(value) })),
    }
}

/// The whole value is the key.
fn api_key_in_header(value: &[u8]) -> Result<Presented<'_>, AuthError> {
    let token = bare_token(value)?;
    let cache_key = [b"Token ".as_slice(), token.as_bytes()].concat();
    Ok(Presented { credential: Credential::new(Scheme::Token, token), cache_key: Cow::Owned(cache_key) })
}

/// A JWT, verified as if sent as a bearer token.
fn jwt_in_cookie(value: &[u8]) -> Result<Presented<'_>, AuthError> {
    let value = value.strip_prefix(b"\"").and_then(|v| v.strip_suffix(b"\"")).unwrap_or(value);
    let token = bare_token(value)?;
    if !jose::looks_like_jwt(token) {
        return Err(AuthError::InvalidToken("the token cookie does not hold a JWT"));
    }
    let cache_key = [b"Bearer ".as_slice(), token.as_bytes()].concat();
    Ok(Presented { credential: Credential::new(Scheme::Bearer, token), cache_key: Cow::Owned(cache_key) })
}

fn bare_token(value: &[u8]) -> Result<&str, AuthError> {
    let value = value.trim_ascii();
    if value.is_empty() {
        return Err(AuthError::InvalidRequest("empty credential"));
    }
    if value.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::InvalidToken("token too large"));
    }
    match std::str::from_utf8(value) {
        Ok(token) if credential::is_b64token(token) => Ok(token),
        _ => Err(AuthError::InvalidRequest("token contains illegal characters")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_names_are_checked() {
        assert!(CredentialSources::new(Some("X-API-Key"), Some("session")).is_ok());
        assert!(CredentialSources::new(Some("authorization"), None).is_err());
        assert!(CredentialSources::new(Some("bad header"), None).is_err());
        assert!(CredentialSources::new(None, Some("a;b")).is_err());
    }
}
