//! actix-web extractors: [`Principal`], `Option<Principal>` (actix's own
//! `Option` extractor: `None` whenever [`Principal`] is refused) and
//! [`Claims`]; and [`PrincipalRejection`] as an actix error.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use serde::de::DeserializeOwned;

use super::PrincipalRejection;
use crate::claims::Claims;
use crate::error::ErrorResponse;
use crate::outcome::AuthOutcome;
use crate::principal::Principal;

impl ResponseError for PrincipalRejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PrincipalRejection::Refused(error) => http_response(error),
            PrincipalRejection::MissingLayer => HttpResponse::InternalServerError().body(self.to_string()),
        }
    }
}

/// actix-web's `http` types are not the `http` crate's: the answer is copied over.
fn http_response(error: &ErrorResponse) -> HttpResponse {
    let status = StatusCode::from_u16(error.status.as_u16()).unwrap_or(StatusCode::UNAUTHORIZED);
    let mut response = HttpResponse::build(status);
    for (name, value) in error.headers() {
        response.append_header((name.as_str(), value.as_bytes()));
    }
    response.body(error.body.clone())
}

/// What `decide` makes of the request's [`AuthOutcome`].
fn decide<T>(
    request: &HttpRequest,
    decide: impl FnOnce(&AuthOutcome) -> Result<T, ErrorResponse>,
) -> Ready<Result<T, PrincipalRejection>> {
    ready(PrincipalRejection::from_outcome(request.extensions().get::<AuthOutcome>(), decide))
}

/// The authenticated principal; 401 when the request is anonymous.
impl FromRequest for Principal {
    type Error = PrincipalRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        decide(request, |outcome| outcome.require_principal().cloned())
    }
}

impl<T: DeserializeOwned> FromRequest for Claims<T> {
    type Error = PrincipalRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        decide(request, Claims::from_outcome)
    }
}
