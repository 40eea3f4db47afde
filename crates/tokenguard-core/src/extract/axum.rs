//! axum extractors: [`Principal`], `Option<Principal>` and [`Claims`].

use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use serde::de::DeserializeOwned;

use super::PrincipalRejection;
use crate::claims::Claims;
use crate::error::ErrorResponse;
use crate::outcome::AuthOutcome;
use crate::principal::Principal;

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        self.into_http(Body::from)
    }
}

impl IntoResponse for PrincipalRejection {
    fn into_response(self) -> Response {
        self.into_http_for(&http::HeaderMap::new(), Body::from)
    }
}

fn outcome(parts: &Parts) -> Option<&AuthOutcome> {
    parts.extensions.get::<AuthOutcome>()
}

/// The authenticated principal; 401 when the request is anonymous.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = PrincipalRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        PrincipalRejection::from_outcome(outcome(parts), |outcome| outcome.require_principal().cloned())
    }
}

/// `Option<Principal>`: `None` only when the client sent no credentials;
/// invalid ones are refused (by the layer, or here when the layer left the
/// verdict to the extractors).
impl<S: Send + Sync> OptionalFromRequestParts<S> for Principal {
    type Rejection = PrincipalRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Self::Rejection> {
        PrincipalRejection::from_outcome(outcome(parts), |outcome| Ok(outcome.optional_principal()?.cloned()))
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Claims<T> {
    type Rejection = PrincipalRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        PrincipalRejection::from_outcome(outcome(parts), Claims::from_outcome)
    }
}
