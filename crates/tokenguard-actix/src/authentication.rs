//! [`Authentication`] middleware.

use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::AUTHORIZATION;
use actix_web::{Error, HttpMessage};
use futures_core::future::LocalBoxFuture;
use tokenguard_core::{Authenticator, Mode};

/// Authenticates requests before they reach the wrapped service.
///
/// On success the [`Principal`](crate::Principal) is inserted into the
/// request extensions, with an [`AuthContext`](crate::AuthContext) unless the principal carries
/// its own (a credential answered from the verified-token cache: one
/// allocation fewer on the hot path); on failure the wrapped service is not
/// called and the client gets the RFC 6750 answer.
#[derive(Clone, Debug)]
pub struct Authentication {
    authenticator: Authenticator,
    mode: Mode,
}

impl Authentication {
    /// Requests without credentials are refused with 401.
    pub fn required(authenticator: Authenticator) -> Self {
        Self { authenticator, mode: Mode::Required }
    }

    /// Requests without credentials pass anonymously; invalid credentials are
    /// still refused (never silently anonymous).
    pub fn optional(authenticator: Authenticator) -> Self {
        Self { authenticator, mode: Mode::Optional }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Authentication
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = AuthenticationService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(AuthenticationService {
            service: Rc::new(service),
            authenticator: self.authenticator.clone(),
            mode: self.mode,
        }))
    }
}

/// The service made by [`Authentication`].
pub struct AuthenticationService<S> {
    service: Rc<S>,
    authenticator: Authenticator,
    mode: Mode,
}

impl<S, B> Service<ServiceRequest> for AuthenticationService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let service = self.service.clone();
        let authenticator = self.authenticator.clone();
        let mode = self.mode;
        Box::pin(async move {
            let values = request.headers().get_all(AUTHORIZATION).map(|value| value.as_bytes());
            let dpop = authenticator.dpop_enabled().then(|| tokenguard_core::actix::dpop_request(request.request()));
            let (principal, context) = match authenticator.authenticate_with(values, dpop, mode).await {
                Ok(authenticated) => authenticator.request_extensions(authenticated),
                Err(rejection) => {
                    let response = tokenguard_core::actix::into_response(authenticator.render(&rejection));
                    return Ok(request.into_response(response).map_into_right_body());
                }
            };
            {
                let mut extensions = request.extensions_mut();
                if let Some(principal) = principal {
                    extensions.insert(principal);
                }
                if let Some(context) = context {
                    extensions.insert(context);
                }
            }
            service.call(request).await.map(ServiceResponse::map_into_left_body)
        })
    }
}
