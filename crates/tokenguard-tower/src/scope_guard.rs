//! [`scope_guard!`](crate::scope_guard): scope guards as axum extractors.

use http::request::Parts;
use tokenguard_core::plumbing::{AuthOutcome, PrincipalRejection};
use tokenguard_core::{Principal, ScopeRequirement};

/// Declares scope guards as axum extractors: a handler that takes one runs
/// only for a principal that meets the requirement, and gets that
/// [`Principal`].
///
/// The same answers as [`RequireScopeLayer`](crate::RequireScopeLayer) — anonymous →
/// 401, requirement not met → 403 `insufficient_scope` naming the scopes —
/// without a `route_layer`: in axum each route layer boxes the route once
/// more and costs every request an allocation or two, while an extractor
/// runs inside the handler's own future. Put the guard before any body
/// extractor so that it answers before the body is read. The requirement is
/// checked when the program is compiled; a literal that holds no scope or a
/// character a scope token cannot have does not compile.
///
/// Each guard is `scopes(…)` (every scope), `any_scope(…)`, `roles(…)` or
/// `any_role(…)` of a space-separated list.
///
/// ```
/// use axum::{Json, Router, routing::get};
/// use tokenguard_tower::scope_guard;
///
/// scope_guard! {
///     /// Callers that may read recordings (scope `read`).
///     pub struct CanRead = scopes("read");
///     /// Editors or administrators.
///     pub struct CanEdit = any_scope("write admin");
/// }
///
/// async fn list(CanRead(principal): CanRead) -> Json<Vec<String>> {
///     Json(vec![format!("recordings of {}", principal.subject())])
/// }
///
/// # fn app(authenticator: tokenguard_core::Authenticator) -> Router {
/// Router::new().route("/recordings", get(list)).route_layer(tokenguard_tower::AuthLayer::required(authenticator))
/// # }
/// ```
///
/// A requirement that is not a list of scope tokens does not compile:
///
/// ```compile_fail
/// tokenguard_tower::scope_guard! {
///     struct Bad = scopes("caf\u{e9}");
/// }
/// ```
///
/// ```compile_fail
/// tokenguard_tower::scope_guard! {
///     struct Empty = scopes(" ");
/// }
/// ```
///
/// Nor does a kind other than the four:
///
/// ```compile_fail
/// tokenguard_tower::scope_guard! {
///     struct Unknown = all_scopes("read");
/// }
/// ```
#[macro_export]
macro_rules! scope_guard {
    ($($(#[$meta:meta])* $vis:vis struct $name:ident = $kind:ident($names:literal);)+) => {$(
        $crate::__private::guard_type!($(#[$meta])* $vis struct $name, $names);

        impl<S: ::core::marker::Send + ::core::marker::Sync> $crate::__private::FromRequestParts<S> for $name {
            type Rejection = $crate::PrincipalRejection;

            async fn from_request_parts(
                parts: &mut $crate::__private::Parts,
                _state: &S,
            ) -> ::core::result::Result<Self, Self::Rejection> {
                static REQUIREMENT: ::std::sync::OnceLock<$crate::__private::ScopeRequirement> =
                    ::std::sync::OnceLock::new();
                let requirement = REQUIREMENT.get_or_init(|| $crate::__private::requirement!($kind, $names));
                $crate::__private::guard(parts, requirement).map(Self)
            }
        }
    )+};
}

/// What [`scope_guard!`](crate::scope_guard) expands to needs, not a public API.
#[doc(hidden)]
pub mod __private {
    pub use axum_core::extract::FromRequestParts;
    pub use http::request::Parts;
    pub use tokenguard_core::ScopeRequirement;

    pub use super::guard;

    pub use tokenguard_core::scope_guard_type as guard_type;
    pub use tokenguard_core::scope_requirement as requirement;
}

/// The principal of a request if it meets `requirement`; otherwise the
/// answer the authentication layer would give.
#[doc(hidden)]
pub fn guard(parts: &Parts, requirement: &ScopeRequirement) -> Result<Principal, PrincipalRejection> {
    let outcome = parts.extensions.get::<AuthOutcome>();
    PrincipalRejection::from_outcome(outcome, |outcome| outcome.check(requirement).cloned())
}
