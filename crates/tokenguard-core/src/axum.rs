//! axum extractors: [`Principal`], `Option<Principal>` and [`Claims`].
//!
//! They read what the authentication layer (`tokenguard-tower`'s `AuthLayer`)
//! put into the request extensions. Without that layer they answer 500, as
//! axum's `Extension` does, because that is a wiring mistake, not a client's.

use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::authenticator::AuthContext;
use crate::claims::Claims;
use crate::error::{AuthError, ErrorResponse};
use crate::principal::Principal;

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        self.into_http(Body::from)
    }
}

/// Why an extractor could not produce a principal.
#[derive(Debug)]
pub enum PrincipalRejection {
    /// The request is not authenticated (or lacks what the handler needs).
    Unauthorized(ErrorResponse),
    /// No authentication layer ran for this route.
    MissingLayer,
}

impl IntoResponse for PrincipalRejection {
    fn into_response(self) -> Response {
        match self {
            PrincipalRejection::Unauthorized(response) => response.into_response(),
            PrincipalRejection::MissingLayer => {
                (StatusCode::INTERNAL_SERVER_ERROR, "tokenguard: no AuthLayer in front of this route").into_response()
            }
        }
    }
}

impl PrincipalRejection {
    /// The answer to `error` for a request with these extensions: the
    /// authentication layer's, or [`PrincipalRejection::MissingLayer`] when
    /// no layer ran.
    pub fn for_request(extensions: &http::Extensions, error: AuthError) -> Self {
        match AuthContext::of_request(extensions) {
            Some(context) => PrincipalRejection::Unauthorized(context.reject(error)),
            None => PrincipalRejection::MissingLayer,
        }
    }
}

fn reject(parts: &Parts, error: AuthError) -> PrincipalRejection {
    PrincipalRejection::for_request(&parts.extensions, error)
}

/// The authenticated principal; 401 when the request is anonymous.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = PrincipalRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Principal>() {
            Some(principal) => Ok(principal.clone()),
            None => Err(reject(parts, AuthError::MissingCredentials)),
        }
    }
}

/// `Option<Principal>`: `None` only when the client sent no credentials;
/// invalid ones are refused (by the layer, or here when the layer left the
/// verdict to the extractors).
impl<S: Send + Sync> OptionalFromRequestParts<S> for Principal {
    type Rejection = PrincipalRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Self::Rejection> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(Some(principal.clone()));
        }
        match parts.extensions.get::<AuthContext>().map(AuthContext::refusal) {
            Some(None) => Ok(None),
            Some(Some(refusal)) => Err(PrincipalRejection::Unauthorized(refusal)),
            None => Err(PrincipalRejection::MissingLayer),
        }
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Claims<T> {
    type Rejection = PrincipalRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let principal = <Principal as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        Claims::from_principal(&principal).map_err(|error| reject(parts, error))
    }
}
