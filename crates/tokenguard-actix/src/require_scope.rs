//! Guard a route or a scope by scope or role: [`RequireScope`], and
//! [`RequireRole`] for roles.

use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage, ResponseError};
use futures_core::future::LocalBoxFuture;
use tokenguard_core::ScopeRequirement;
use tokenguard_core::plumbing::{AuthOutcome, PrincipalRejection};

/// Lets a request through only if its principal meets a
/// [`ScopeRequirement`]: anonymous → 401, requirement not met → 403
/// `insufficient_scope` naming the scopes. Place it inside
/// [`Authentication`](crate::Authentication) (`Route::wrap`, `Scope::wrap`).
#[derive(Clone, Debug)]
pub struct RequireScope {
    requirement: ScopeRequirement,
}

// `RequireScope::{new, any, requiring}` and `RequireRole::{new, any}`,
// written once for both adapters.
tokenguard_core::scope_guard_constructors!(RequireScope);

impl<S, B> Transform<S, ServiceRequest> for RequireScope
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = RequireScopeService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireScopeService { service: Rc::new(service), requirement: self.requirement.clone() }))
    }
}

/// The service made by [`RequireScope`].
pub struct RequireScopeService<S> {
    service: Rc<S>,
    requirement: ScopeRequirement,
}

impl<S, B> Service<ServiceRequest> for RequireScopeService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let checked = PrincipalRejection::from_outcome(request.extensions().get::<AuthOutcome>(), |outcome| {
            outcome.check(&self.requirement).map(drop)
        });
        if let Err(rejection) = checked {
            let response = request.into_response(rejection.error_response()).map_into_right_body();
            return Box::pin(ready(Ok(response)));
        }
        let service = self.service.clone();
        Box::pin(async move { service.call(request).await.map(ServiceResponse::map_into_left_body) })
    }
}
