//! The extractors' shared answer: [`PrincipalRejection`], and the
//! extractor impls for axum and actix-web that Rust's orphan rule keeps in
//! this crate (`Principal` is ours, the frameworks' traits are theirs).
//!
//! Everything else framework-specific lives in the adapters.

#[cfg(feature = "actix")]
mod actix;
#[cfg(feature = "axum")]
mod axum;

use std::fmt;

use bytes::Bytes;
use http::StatusCode;

use crate::error::ErrorResponse;
use crate::outcome::AuthOutcome;

/// Why an extractor or a guard did not let a request through.
#[derive(Debug)]
pub enum PrincipalRejection {
    /// The RFC 6750 answer: not authenticated, refused, or lacking a scope.
    Refused(ErrorResponse),
    /// No authentication layer ran for this route: a wiring mistake, not
    /// the client's, answered 500 as axum's `Extension` does.
    MissingLayer,
}

/// The body of [`PrincipalRejection::MissingLayer`]'s 500.
const MISSING_LAYER: &str = "tokenguard: no authentication layer in front of this route";

impl PrincipalRejection {
    /// What `decide` makes of the [`AuthOutcome`] a layer left in a
    /// request's extensions; `outcome` is `None` when no layer ran.
    pub fn from_outcome<'a, T>(
        outcome: Option<&'a AuthOutcome>,
        decide: impl FnOnce(&'a AuthOutcome) -> Result<T, ErrorResponse>,
    ) -> Result<T, Self> {
        decide(outcome.ok_or(PrincipalRejection::MissingLayer)?).map_err(PrincipalRejection::Refused)
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            PrincipalRejection::Refused(response) => response.status,
            PrincipalRejection::MissingLayer => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The answer to a request with `request_headers` (a gRPC status for
    /// gRPC requests), with a body made by `body` from the JSON bytes.
    pub fn into_http_for<B>(
        self,
        request_headers: &http::HeaderMap,
        body: impl FnOnce(Bytes) -> B,
    ) -> http::Response<B> {
        match self {
            PrincipalRejection::Refused(response) => response.into_http_for(request_headers, body),
            PrincipalRejection::MissingLayer => {
                let mut response = http::Response::new(body(Bytes::from_static(MISSING_LAYER.as_bytes())));
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                response
            }
        }
    }
}

impl fmt::Display for PrincipalRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrincipalRejection::Refused(response) => write!(f, "request refused: {}", response.description),
            PrincipalRejection::MissingLayer => f.write_str(MISSING_LAYER),
        }
    }
}

impl std::error::Error for PrincipalRejection {}
