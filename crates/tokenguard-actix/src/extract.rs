//! [`OptionalPrincipal`] and the extractors [`scope_guard!`](crate::scope_guard) declares.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use tokenguard_core::plumbing::{AuthOutcome, PrincipalRejection};
use tokenguard_core::{Principal, ScopeRequirement};

/// The principal if the client presented a valid credential, `None` if it
/// presented none; a refused credential is answered, never taken for
/// anonymous.
///
/// actix-web's own `Option<Principal>` is `None` whenever [`Principal`]
/// is refused, so it cannot tell "no credentials" from "bad credentials"
/// when the verdict is left to the extractors ([`Authentication::deferred`](crate::Authentication::deferred)):
/// take this one there.
#[derive(Clone, Debug)]
pub struct OptionalPrincipal(pub Option<Principal>);

impl FromRequest for OptionalPrincipal {
    type Error = PrincipalRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let outcome = request.extensions().get::<AuthOutcome>().cloned();
        ready(PrincipalRejection::from_outcome(outcome.as_ref(), |outcome| {
            Ok(OptionalPrincipal(outcome.optional_principal()?.cloned()))
        }))
    }
}

/// Declares scope guards as actix-web extractors: a handler that takes one
/// runs only for a principal that meets the requirement, and gets that
/// [`Principal`]. The same answers as [`RequireScope`](crate::RequireScope);
/// the requirement is checked when the program is compiled.
///
/// Each guard is `scopes(…)` (every scope), `any_scope(…)`, `roles(…)` or
/// `any_role(…)` of a space-separated list.
///
/// ```
/// use actix_web::{HttpResponse, web};
/// use tokenguard_actix::scope_guard;
///
/// scope_guard! {
///     /// Callers that may read recordings (scope `read`).
///     pub struct CanRead = scopes("read");
/// }
///
/// async fn list(CanRead(principal): CanRead) -> HttpResponse {
///     HttpResponse::Ok().body(format!("recordings of {}", principal.subject()))
/// }
///
/// let route = web::get().to(list);
/// ```
///
/// A requirement that is not a list of scope tokens does not compile:
///
/// ```compile_fail
/// tokenguard_actix::scope_guard! {
///     struct Bad = scopes("caf\u{e9}");
/// }
/// ```
#[macro_export]
macro_rules! scope_guard {
    ($($(#[$meta:meta])* $vis:vis struct $name:ident = $kind:ident($names:literal);)+) => {$(
        $crate::__private::guard_type!($(#[$meta])* $vis struct $name, $names);

        impl $crate::__private::FromRequest for $name {
            type Error = $crate::__private::PrincipalRejection;
            type Future = ::std::future::Ready<::core::result::Result<Self, Self::Error>>;

            fn from_request(
                request: &$crate::__private::HttpRequest,
                _: &mut $crate::__private::Payload,
            ) -> Self::Future {
                static REQUIREMENT: ::std::sync::OnceLock<$crate::__private::ScopeRequirement> =
                    ::std::sync::OnceLock::new();
                let requirement = REQUIREMENT.get_or_init(|| $crate::__private::requirement!($kind, $names));
                ::std::future::ready($crate::__private::guard(request, requirement).map(Self))
            }
        }
    )+};
}

/// What [`scope_guard!`](crate::scope_guard) expands to needs, not a public API.
#[doc(hidden)]
pub mod __private {
    pub use actix_web::dev::Payload;
    pub use actix_web::{FromRequest, HttpRequest};
    pub use tokenguard_core::ScopeRequirement;
    pub use tokenguard_core::plumbing::PrincipalRejection;

    pub use super::guard;

    pub use tokenguard_core::scope_guard_type as guard_type;
    pub use tokenguard_core::scope_requirement as requirement;
}

/// The principal of a request if it meets `requirement`; otherwise the
/// answer the authentication middleware would give.
#[doc(hidden)]
pub fn guard(request: &HttpRequest, requirement: &ScopeRequirement) -> Result<Principal, PrincipalRejection> {
    let extensions = request.extensions();
    PrincipalRejection::from_outcome(extensions.get::<AuthOutcome>(), |outcome| outcome.check(requirement).cloned())
}
