//! actix-web extractors: [`Principal`], `Option<Principal>` and
//! [`Claims`], and the conversion of [`ErrorResponse`] into an
//! actix `HttpResponse`.
//!
//! They read what the authentication middleware (`tokenguard-actix`) put
//! into the request extensions. Without that middleware they answer 500: a
//! wiring mistake, not a client's.

use std::fmt;
use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use serde::de::DeserializeOwned;

use crate::authenticator::AuthContext;
use crate::claims::Claims;
use crate::dpop::DpopRequest;
use crate::error::{AuthError, ErrorResponse};
use crate::principal::Principal;

/// Builds the actix response for a rendered [`AuthError`].
pub fn into_response(error: ErrorResponse) -> HttpResponse {
    let status = StatusCode::from_u16(error.status.as_u16()).unwrap_or(StatusCode::UNAUTHORIZED);
    let mut response = HttpResponse::build(status);
    response.content_type("application/json");
    for challenge in &error.www_authenticate {
        response.append_header(("www-authenticate", challenge.as_bytes()));
    }
    if let Some(retry_after) = &error.retry_after {
        response.insert_header(("retry-after", retry_after.as_bytes()));
    }
    response.body(error.body)
}

/// What a DPoP proof sent with `request` must match: its method, URI
/// (authority from the URI, else the `Host` header; forwarded headers are
/// not trusted — configure [`DpopOptions::origin`](crate::DpopOptions::origin)
/// behind a proxy) and its `DPoP` headers.
pub fn dpop_request(request: &HttpRequest) -> DpopRequest<'_> {
    let uri = request.uri();
    let authority = uri
        .authority()
        .map(|authority| authority.as_str())
        .or_else(|| request.headers().get("host").and_then(|host| host.to_str().ok()));
    let proofs = request.headers().get_all("dpop").map(|value| value.as_bytes());
    DpopRequest::new(request.method().as_str(), uri.scheme_str(), authority, uri.path(), proofs)
}

/// Why an extractor could not produce a principal.
#[derive(Debug)]
pub enum PrincipalRejection {
    /// The request is not authenticated (or lacks what the handler needs).
    Unauthorized(ErrorResponse),
    /// No authentication middleware ran for this route.
    MissingMiddleware,
}

impl fmt::Display for PrincipalRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrincipalRejection::Unauthorized(error) => write!(f, "unauthorized ({})", error.status),
            PrincipalRejection::MissingMiddleware => {
                f.write_str("tokenguard: no Authentication middleware in front of this route")
            }
        }
    }
}

impl ResponseError for PrincipalRejection {
    fn status_code(&self) -> StatusCode {
        match self {
            PrincipalRejection::Unauthorized(error) => {
                StatusCode::from_u16(error.status.as_u16()).unwrap_or(StatusCode::UNAUTHORIZED)
            }
            PrincipalRejection::MissingMiddleware => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PrincipalRejection::Unauthorized(error) => into_response(error.clone()),
            PrincipalRejection::MissingMiddleware => HttpResponse::InternalServerError().body(self.to_string()),
        }
    }
}

fn reject(request: &HttpRequest, error: AuthError) -> PrincipalRejection {
    let extensions = request.extensions();
    match AuthContext::of(extensions.get::<AuthContext>(), extensions.get::<Principal>()) {
        Some(context) => PrincipalRejection::Unauthorized(context.reject(error)),
        None => PrincipalRejection::MissingMiddleware,
    }
}

fn principal(request: &HttpRequest) -> Result<Principal, PrincipalRejection> {
    let found = request.extensions().get::<Principal>().cloned();
    found.ok_or_else(|| reject(request, AuthError::MissingCredentials))
}

/// The authenticated principal; 401 when the request is anonymous.
/// (`Option<Principal>` is `None` only for anonymous requests: the middleware
/// has already refused invalid credentials.)
impl FromRequest for Principal {
    type Error = PrincipalRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal(request))
    }
}

impl<T: DeserializeOwned> FromRequest for Claims<T> {
    type Error = PrincipalRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal(request).and_then(|p| Claims::from_principal(&p).map_err(|e| reject(request, e))))
    }
}
