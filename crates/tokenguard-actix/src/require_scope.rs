//! [`RequireScope`]: a per-route or per-scope scope guard.

use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage, HttpResponse};
use futures_core::future::LocalBoxFuture;
use tokenguard_core::{AuthContext, Principal, ScopeRequirement};

/// Lets a request through only if its principal has every required scope:
/// anonymous → 401, missing a scope → 403 `insufficient_scope` naming it.
/// Place it inside [`Authentication`](crate::Authentication).
#[derive(Clone, Debug)]
pub struct RequireScope {
    requirement: ScopeRequirement,
}

// `RequireScope::{new, any, requiring}` and `RequireRole::{new, any}`,
// written once for both adapters.
tokenguard_core::scope_guard_constructors!();

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
        let refusal = {
            let extensions = request.extensions();
            let principal = extensions.get::<Principal>();
            match self.requirement.check(principal) {
                // The hot path: no context needed to let a principal through.
                Ok(()) if principal.is_some() => None,
                checked => match AuthContext::of(extensions.get::<AuthContext>(), principal) {
                    None => Some(
                        HttpResponse::InternalServerError()
                            .body("tokenguard: RequireScope needs the Authentication middleware in front of it"),
                    ),
                    Some(context) => {
                        checked.err().map(|error| tokenguard_core::actix::into_response(context.reject(error)))
                    }
                },
            }
        };
        if let Some(response) = refusal {
            return Box::pin(ready(Ok(request.into_response(response).map_into_right_body())));
        }
        let service = self.service.clone();
        Box::pin(async move { service.call(request).await.map(ServiceResponse::map_into_left_body) })
    }
}
