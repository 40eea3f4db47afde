//! [`AuthError`]: why a request was refused, and how to say it (RFC 6750 §3).
//!
//! | error | status | `WWW-Authenticate` |
//! |---|---|---|
//! | [`AuthError::MissingCredentials`] | 401 | one challenge per enabled scheme, no `error` |
//! | [`AuthError::InvalidRequest`] | 400 | `error="invalid_request"` |
//! | [`AuthError::InvalidToken`] | 401 | `error="invalid_token"` |
//! | [`AuthError::InvalidDpopProof`] | 401 | `DPoP error="invalid_dpop_proof"` (RFC 9449 §7.1) |
//! | [`AuthError::InsufficientScope`] | 403 | `error="insufficient_scope", scope="…"` |
//! | [`AuthError::InsufficientRole`] | 403 | `error="insufficient_scope"` (RFC 6750's code for "needs higher privileges") |
//! | [`AuthError::Unavailable`] | 503 | none; `Retry-After` instead |
//!
//! Every error also has a small JSON body `{"error": …, "error_description": …}`.
//! Descriptions are fixed strings chosen here, so a credential can never be
//! echoed back to the client.

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};

use crate::scheme::Scheme;

/// Why authentication or authorization failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The request carried no credential we accept.
    #[error("authentication required")]
    MissingCredentials,
    /// The `Authorization` header is malformed.
    #[error("malformed request: {0}")]
    InvalidRequest(&'static str),
    /// The credential is invalid, expired, revoked or not for us.
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    /// The DPoP proof sent with a DPoP-bound token is missing or invalid.
    #[error("invalid DPoP proof: {0}")]
    InvalidDpopProof(&'static str),
    /// The credential is valid but lacks a scope the route requires.
    #[error("insufficient scope: {required}")]
    InsufficientScope {
        /// The scope (or space-separated scopes) the route requires.
        required: Cow<'static, str>,
    },
    /// The credential is valid but lacks a role the route requires.
    #[error("insufficient role: {required}")]
    InsufficientRole {
        /// The role (or space-separated roles) the route requires.
        required: Cow<'static, str>,
    },
    /// A verifier's upstream (issuer, JWKS, introspection, key store) is
    /// unreachable and nothing usable is cached. The request is still denied.
    #[error("temporarily unavailable: {reason}")]
    Unavailable {
        /// What is unavailable (safe to show).
        reason: &'static str,
        /// When the client may retry.
        retry_after: Duration,
    },
}

impl AuthError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::MissingCredentials | AuthError::InvalidToken(_) | AuthError::InvalidDpopProof(_) => {
                StatusCode::UNAUTHORIZED
            }
            AuthError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            AuthError::InsufficientScope { .. } | AuthError::InsufficientRole { .. } => StatusCode::FORBIDDEN,
            AuthError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The OAuth error code of the body (and of the challenge, where RFC 6750 has one).
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingCredentials => "unauthorized",
            AuthError::InvalidRequest(_) => "invalid_request",
            AuthError::InvalidToken(_) => "invalid_token",
            AuthError::InvalidDpopProof(_) => "invalid_dpop_proof",
            AuthError::InsufficientScope { .. } | AuthError::InsufficientRole { .. } => "insufficient_scope",
            AuthError::Unavailable { .. } => "temporarily_unavailable",
        }
    }

    /// The short, fixed description shown to the client.
    pub fn description(&self) -> &'static str {
        match self {
            AuthError::MissingCredentials => "authentication is required",
            AuthError::InvalidRequest(reason)
            | AuthError::InvalidToken(reason)
            | AuthError::InvalidDpopProof(reason) => reason,
            AuthError::InsufficientScope { .. } => "the credential lacks the required scope",
            AuthError::InsufficientRole { .. } => "the credential lacks the required role",
            AuthError::Unavailable { reason, .. } => reason,
        }
    }

    /// Renders the error as status, headers and body.
    ///
    /// `scheme` is the scheme the client used, if any; error challenges name it.
    pub fn to_response(&self, challenges: &Challenges, scheme: Option<Scheme>) -> ErrorResponse {
        let scheme = scheme.unwrap_or(Scheme::Bearer);
        let www_authenticate = match self {
            AuthError::MissingCredentials => challenges.plain.clone(),
            AuthError::InvalidRequest(_)
            | AuthError::InvalidToken(_)
            | AuthError::InvalidDpopProof(_)
            | AuthError::InsufficientRole { .. } => {
                vec![challenges.error_challenge(scheme, self.code(), self.description(), None)]
            }
            AuthError::InsufficientScope { required } => {
                vec![challenges.error_challenge(scheme, self.code(), self.description(), Some(required))]
            }
            AuthError::Unavailable { .. } => Vec::new(),
        };
        let retry_after = match self {
            AuthError::Unavailable { retry_after, .. } => Some(HeaderValue::from(retry_after.as_secs().max(1))),
            _ => None,
        };
        let body = serde_json::json!({ "error": self.code(), "error_description": self.description() });
        ErrorResponse {
            status: self.status(),
            www_authenticate,
            retry_after,
            body: Bytes::from(body.to_string()),
            description: self.description(),
        }
    }
}

/// A rendered [`AuthError`], ready for any web framework.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    /// The status code.
    pub status: StatusCode,
    /// `WWW-Authenticate` values, one header each.
    pub www_authenticate: Vec<HeaderValue>,
    /// `Retry-After` in seconds, for 503.
    pub retry_after: Option<HeaderValue>,
    /// The JSON body (`Content-Type: application/json`).
    pub body: Bytes,
    /// The description, for protocols without a body (gRPC's `grpc-message`).
    pub description: &'static str,
}

impl ErrorResponse {
    /// Renders the answer to a request with `request_headers`: a gRPC
    /// status for gRPC requests (`content-type: application/grpc…`), the
    /// HTTP answer otherwise.
    pub fn into_http_for<B>(
        self,
        request_headers: &http::HeaderMap,
        body: impl FnOnce(Bytes) -> B,
    ) -> http::Response<B> {
        let grpc = request_headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|content_type| content_type.starts_with("application/grpc"));
        if grpc { self.into_grpc_http(body) } else { self.into_http(body) }
    }

    /// A trailers-only gRPC answer: HTTP 200 with `grpc-status` 16
    /// `UNAUTHENTICATED` (for 400 and 401), 7 `PERMISSION_DENIED` (403) or
    /// 14 `UNAVAILABLE` (503), `grpc-message` the description, and the same
    /// `WWW-Authenticate` and `Retry-After` headers; the body is empty.
    pub fn into_grpc_http<B>(self, body: impl FnOnce(Bytes) -> B) -> http::Response<B> {
        let code = match self.status {
            StatusCode::FORBIDDEN => "7",
            StatusCode::SERVICE_UNAVAILABLE => "14",
            _ => "16",
        };
        let mut response = http::Response::new(body(Bytes::new()));
        let headers = response.headers_mut();
        for (name, value) in self.headers() {
            headers.append(name, value.clone());
        }
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        headers.insert("grpc-status", HeaderValue::from_static(code));
        // Descriptions are fixed printable-ASCII strings without `%`, which
        // gRPC's percent-encoding leaves as they are.
        let message = HeaderValue::from_str(self.description).unwrap_or(HeaderValue::from_static("unauthenticated"));
        headers.insert("grpc-message", message);
        response
    }

    /// Builds an `http::Response` whose body is made from the JSON bytes by `body`.
    pub fn into_http<B>(self, body: impl FnOnce(Bytes) -> B) -> http::Response<B> {
        let mut response = http::Response::new(body(self.body.clone()));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        for (name, value) in self.headers() {
            headers.append(name, value.clone());
        }
        response
    }

    /// The answer's headers: `Content-Type` (JSON), one `WWW-Authenticate`
    /// per challenge, and `Retry-After` for a 503.
    pub fn headers(&self) -> impl Iterator<Item = (http::HeaderName, &HeaderValue)> {
        static JSON: HeaderValue = HeaderValue::from_static("application/json");
        let content_type = std::iter::once((http::header::CONTENT_TYPE, &JSON));
        let challenges = self.www_authenticate.iter().map(|value| (http::header::WWW_AUTHENTICATE, value));
        let retry_after = self.retry_after.iter().map(|value| (http::header::RETRY_AFTER, value));
        content_type.chain(challenges).chain(retry_after)
    }
}

/// The challenges this deployment sends: its realm and enabled schemes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenges {
    realm: Box<str>,
    plain: Vec<HeaderValue>,
    /// RFC 9728 §5.1: where the protected resource metadata is, for Bearer 401s.
    resource_metadata: Option<Box<str>>,
    /// RFC 9449 §7.1: the DPoP proof algorithms, named in every DPoP challenge.
    dpop_algs: Option<Box<str>>,
}

impl Challenges {
    /// Challenges for `realm` naming each scheme in `schemes`. The realm
    /// must be printable ASCII without quotes or backslashes, so it can stand
    /// in a quoted string.
    pub fn new(realm: &str, schemes: &[Scheme]) -> Result<Self, crate::ConfigError> {
        if !realm.bytes().all(|b| b == b' ' || (b.is_ascii_graphic() && b != b'"' && b != b'\\')) {
            return Err(crate::ConfigError::Realm);
        }
        let plain = schemes.iter().map(|scheme| quoted_header(&format!("{scheme} realm=\"{realm}\""))).collect();
        Ok(Self { realm: realm.into(), plain, resource_metadata: None, dpop_algs: None })
    }

    /// Adds a `DPoP realm="…", algs="…"` challenge (RFC 9449 §7.1) naming
    /// the proof algorithms accepted; DPoP error challenges name them too.
    pub fn with_dpop(mut self, algorithms: &[jsonwebtoken::Algorithm]) -> Self {
        // `Algorithm`'s variants are named exactly as JWS names them (RFC 7518 §3.1).
        let algs: Vec<String> = algorithms.iter().map(|alg| format!("{alg:?}")).collect();
        let algs = algs.join(" ");
        self.plain.push(quoted_header(&format!("DPoP realm=\"{}\", algs=\"{algs}\"", self.realm)));
        self.dpop_algs = Some(algs.into());
        self
    }

    /// Adds `resource_metadata="URL"` (RFC 9728 §5.1) to every Bearer
    /// challenge of a 401 answer. The URL must be `https` (or loopback
    /// `http`) and is checked to fit in a quoted string.
    pub fn with_resource_metadata(mut self, url: &str) -> Result<Self, crate::ConfigError> {
        let url = crate::fetch::check_url(url).map_err(crate::ConfigError::Url)?;
        let url = url.as_str();
        if url.contains(['"', '\\']) {
            return Err(crate::ConfigError::Url("the metadata URL cannot stand in a quoted string"));
        }
        self.plain = self
            .plain
            .iter()
            .map(|challenge| match challenge.to_str() {
                Ok(text) if text.starts_with("Bearer ") => {
                    quoted_header(&format!("{text}, resource_metadata=\"{url}\""))
                }
                _ => challenge.clone(),
            })
            .collect();
        self.resource_metadata = Some(url.into());
        Ok(self)
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    fn error_challenge(&self, scheme: Scheme, code: &str, description: &str, scope: Option<&str>) -> HeaderValue {
        let mut value =
            format!("{scheme} realm=\"{}\", error=\"{code}\", error_description=\"{description}\"", self.realm);
        if let Some(scope) = scope {
            value.push_str(&format!(", scope=\"{scope}\""));
        }
        if let (Scheme::DPoP, Some(algs)) = (scheme, &self.dpop_algs) {
            value.push_str(&format!(", algs=\"{algs}\""));
        }
        // Announced on 400/401 only: a 403 is not cured by another token source.
        if let (Some(url), Scheme::Bearer, false) = (&self.resource_metadata, scheme, code == "insufficient_scope") {
            value.push_str(&format!(", resource_metadata=\"{url}\""));
        }
        quoted_header(&value)
    }
}

impl Default for Challenges {
    fn default() -> Self {
        Self {
            realm: "tokenguard".into(),
            plain: vec![HeaderValue::from_static(r#"Bearer realm="tokenguard""#)],
            resource_metadata: None,
            dpop_algs: None,
        }
    }
}

/// Every part of a challenge is built from fixed strings, the realm and scope
/// names, all checked to be printable ASCII, so this cannot fail in practice.
fn quoted_header(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenges() -> Challenges {
        Challenges::new("tokenguard", &[Scheme::Bearer, Scheme::Token]).unwrap()
    }

    #[test]
    fn realms_that_cannot_be_quoted_are_refused() {
        assert_eq!(Challenges::new("a\"b", &[Scheme::Bearer]), Err(crate::ConfigError::Realm));
        assert_eq!(Challenges::new("a\\b", &[Scheme::Bearer]), Err(crate::ConfigError::Realm));
        assert_eq!(Challenges::default(), Challenges::new("tokenguard", &[Scheme::Bearer]).unwrap());
    }

    #[test]
    fn missing_credentials_lists_every_scheme_without_error() {
        let response = AuthError::MissingCredentials.to_response(&challenges(), None);
        assert_eq!(response.status, 401);
        assert_eq!(response.www_authenticate, [r#"Bearer realm="tokenguard""#, r#"Token realm="tokenguard""#]);
        assert_eq!(response.body, r#"{"error":"unauthorized","error_description":"authentication is required"}"#);
    }

    #[test]
    fn resource_metadata_is_announced_in_bearer_401s_only() {
        let challenges =
            challenges().with_resource_metadata("https://api.example/.well-known/oauth-protected-resource").unwrap();
        let url = r#"resource_metadata="https://api.example/.well-known/oauth-protected-resource""#;
        let missing = AuthError::MissingCredentials.to_response(&challenges, None);
        assert_eq!(
            missing.www_authenticate,
            [format!(r#"Bearer realm="tokenguard", {url}"#).as_str(), r#"Token realm="tokenguard""#]
        );
        let invalid = AuthError::InvalidToken("token expired").to_response(&challenges, Some(Scheme::Bearer));
        assert!(invalid.www_authenticate[0].to_str().unwrap().ends_with(url));
        let token_scheme = AuthError::InvalidToken("unknown API key").to_response(&challenges, Some(Scheme::Token));
        assert!(!token_scheme.www_authenticate[0].to_str().unwrap().contains("resource_metadata"));
        let forbidden =
            AuthError::InsufficientScope { required: "read".into() }.to_response(&challenges, Some(Scheme::Bearer));
        assert!(!forbidden.www_authenticate[0].to_str().unwrap().contains("resource_metadata"));
        assert!(challenges.clone().with_resource_metadata("http://api.example/x").is_err(), "https only");
    }

    #[test]
    fn insufficient_scope_names_the_scope_and_the_scheme_used() {
        let error = AuthError::InsufficientScope { required: "read".into() };
        let response = error.to_response(&challenges(), Some(Scheme::Token));
        assert_eq!(response.status, 403);
        assert_eq!(
            response.www_authenticate,
            [
                r#"Token realm="tokenguard", error="insufficient_scope", error_description="the credential lacks the required scope", scope="read""#
            ]
        );
    }

    #[test]
    fn unavailable_has_retry_after_and_no_challenge() {
        let error = AuthError::Unavailable { reason: "issuer unavailable", retry_after: Duration::from_millis(10) };
        let response = error.to_response(&challenges(), Some(Scheme::Bearer));
        assert_eq!(response.status, 503);
        assert!(response.www_authenticate.is_empty());
        assert_eq!(response.retry_after, Some(HeaderValue::from_static("1")));
    }
}
