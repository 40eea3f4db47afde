//! [`AdminReply`]: an answer of the key administration API, for any framework.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode, header};

use crate::error::ErrorResponse;

/// An answer: status, headers and body. Answers that may carry a key are
/// never stored by caches (`Cache-Control: no-store`): every answer is.
#[derive(Debug, Clone)]
pub struct AdminReply {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

static JSON: HeaderValue = HeaderValue::from_static("application/json");
static NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

impl AdminReply {
    pub(crate) fn new(status: StatusCode, headers: Vec<(HeaderName, HeaderValue)>, body: Bytes) -> Self {
        Self { status, headers, body }
    }

    pub(super) fn json(status: u16, body: serde_json::Value) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        let headers = vec![(header::CONTENT_TYPE, JSON.clone()), (header::CACHE_CONTROL, NO_STORE.clone())];
        Self::new(status, headers, Bytes::from(body.to_string()))
    }

    pub(super) fn error(status: u16, error: &str, description: &str) -> Self {
        Self::json(status, serde_json::json!({ "error": error, "error_description": description }))
    }

    pub(super) fn no_content() -> Self {
        Self::new(StatusCode::NO_CONTENT, vec![(header::CACHE_CONTROL, NO_STORE.clone())], Bytes::new())
    }

    /// The authentication answer (401, 403 or 503, with its challenges).
    pub(super) fn refused(response: ErrorResponse) -> Self {
        let mut headers: Vec<_> = response.headers().map(|(name, value)| (name, value.clone())).collect();
        headers.push((header::CACHE_CONTROL, NO_STORE.clone()));
        Self::new(response.status, headers, response.body)
    }

    pub(super) fn missing_layer() -> Self {
        let body = Bytes::from_static(b"tokenguard: no authentication layer in front of this route");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, Vec::new(), body)
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.headers.iter().map(|(name, value)| (name, value))
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// An `http::Response` whose body is made from the bytes by `body`.
    pub fn into_http<B>(self, body: impl FnOnce(Bytes) -> B) -> http::Response<B> {
        let mut response = http::Response::new(body(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        response
    }
}
