//! Authenticate every request: the [`Authentication`] middleware.
//!
//! ```
//! use actix_web::{App, test, web};
//! use tokenguard_actix::{Authentication, Principal, RequireScope};
//! use tokenguard_core::{Algorithm, Authenticator, JwtRules, Secret, StaticKey};
//!
//! # actix_web::rt::System::new().block_on(async {
//! let secret = Secret::new("a shared secret of at least 32 bytes!!");
//! let key = StaticKey::hmac(Algorithm::HS256, &secret).expect("a 32-byte secret");
//! let authenticator = Authenticator::builder()
//!     .static_key(JwtRules::new("https://issuer.example", ["my-api"]), key)
//!     .build()
//!     .expect("valid configuration");
//! let app = test::init_service(
//!     App::new()
//!         .route("/me", web::get().to(|principal: Principal| async move { principal.subject().to_owned() }))
//!         .route("/admin", web::get().to(|| async { "hello" }).wrap(RequireScope::new("admin")))
//!         .wrap(Authentication::required(authenticator)),
//! )
//! .await;
//!
//! let anonymous = test::call_service(&app, test::TestRequest::get().uri("/me").to_request()).await;
//! assert_eq!(anonymous.status(), 401);
//! let challenge = anonymous.headers().get("www-authenticate").map(|value| value.as_bytes());
//! assert_eq!(challenge, Some(&br#"Bearer realm="tokenguard""#[..]));
//!
//! let forged = test::TestRequest::get().uri("/admin").insert_header(("authorization", "Bearer a.b.c"));
//! let refused = test::call_service(&app, forged.to_request()).await;
//! assert_eq!(refused.status(), 401);
//! # });
//! ```

use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{AUTHORIZATION, HOST};
use actix_web::{Error, HttpMessage, ResponseError};
use futures_core::future::LocalBoxFuture;
use tokenguard_core::plumbing::{AuthOutcome, HeaderLookup, PrincipalRejection, RequestView};
use tokenguard_core::{Authenticator, Mode};

/// Authenticates requests before they reach the wrapped service.
///
/// The [`AuthOutcome`] goes into the request's extensions, where the
/// extractors ([`Principal`](crate::Principal), [`OptionalPrincipal`](crate::OptionalPrincipal),
/// [`Claims`](crate::Claims)) and the scope guards find it; a request that
/// cannot pass in the middleware's [`Mode`] is answered per RFC 6750
/// without calling the wrapped service — exactly as the tower adapter does.
#[derive(Clone, Debug)]
pub struct Authentication {
    authenticator: Authenticator,
    mode: Mode,
}

// `Authentication::{new, required, optional}`, written once for both adapters.
tokenguard_core::auth_layer_constructors!(Authentication);

impl Authentication {
    /// Leaves the verdict to the handlers' extractors and guards
    /// ([`Mode::Deferred`]): made to wrap a whole `App` once, so that routes
    /// whose handlers take no extractor of ours are public and unknown
    /// paths and methods answer as they would without it.
    pub fn deferred(authenticator: Authenticator) -> Self {
        Self::new(authenticator, Mode::Deferred)
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

/// An actix request's headers, for the credential sources besides
/// `Authorization` (an API key header, a JWT cookie).
struct Headers<'a>(&'a actix_web::http::header::HeaderMap);

impl HeaderLookup for Headers<'_> {
    fn values<'s>(&'s self, name: &str) -> Box<dyn Iterator<Item = &'s [u8]> + 's> {
        Box::new(self.0.get_all(name).map(|value| value.as_bytes()))
    }
}

/// The framework-neutral view of an actix request.
fn view<'a>(request: &'a ServiceRequest, headers: &'a Headers<'a>) -> RequestView<'a> {
    let uri = request.uri();
    let authority = uri
        .authority()
        .map(|authority| authority.as_str())
        .or_else(|| headers.0.get(HOST).and_then(|host| host.to_str().ok()));
    RequestView::new(
        request.method().as_str(),
        uri.scheme_str(),
        authority,
        uri.path(),
        headers.0.get_all(AUTHORIZATION).map(|value| value.as_bytes()),
        headers.0.get_all("dpop").map(|value| value.as_bytes()),
    )
    .with_headers(headers)
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
        let cached = self.authenticator.authenticate_cached(&view(&request, &Headers(request.headers())));
        let (service, authenticator, mode) = (self.service.clone(), self.authenticator.clone(), self.mode);
        Box::pin(async move {
            let outcome = match cached {
                Some(outcome) => outcome,
                None => authenticator.authenticate(&view(&request, &Headers(request.headers()))).await,
            };
            if let Some(answer) = outcome.answer(mode) {
                let response = PrincipalRejection::Refused(answer).error_response();
                return Ok(request.into_response(response).map_into_right_body());
            }
            request.extensions_mut().insert::<AuthOutcome>(outcome);
            service.call(request).await.map(ServiceResponse::map_into_left_body)
        })
    }
}
