//! What adapters need and users rarely do: the framework-neutral view of a
//! request, the outcome an adapter puts into its extensions, the
//! extractors' rejection, the rendered challenges — and the constructors
//! every adapter's scope guard shares.
//!
//! An adapter does three things per request: build a [`RequestView`], ask
//! [`Authenticator::authenticate_cached`](crate::Authenticator::authenticate_cached)
//! (then, without an answer, [`Authenticator::authenticate`](crate::Authenticator::authenticate)),
//! and either answer with [`AuthOutcome::answer`] for its [`Mode`](crate::Mode)
//! or insert the [`AuthOutcome`] into the request's extensions.

pub use crate::error::Challenges;
pub use crate::extract::PrincipalRejection;
pub use crate::outcome::AuthOutcome;
pub use crate::request::{HeaderLookup, RequestView};
pub use crate::scope::{is_scope_list, is_scope_token};
pub use crate::token_cache::TokenCacheStats;

/// Writes the constructors of an adapter's scope guard `$guard` (a type
/// with a `requirement: ScopeRequirement` field, defined where this is
/// invoked) — `new`, `any` and `requiring` — and a `RequireRole` whose
/// `new` and `any` build the same guard for roles, so that every adapter
/// offers the same ones.
#[doc(hidden)]
#[macro_export]
macro_rules! scope_guard_constructors {
    ($guard:ident) => {
        impl $guard {
            /// Requires every scope of the space-separated `scopes`.
            ///
            /// # Panics
            ///
            /// If `scopes` is empty or not made of RFC 6749 scope tokens.
            pub fn new(scopes: &str) -> Self {
                Self::requiring($crate::ScopeRequirement::new(scopes))
            }

            /// Requires at least one scope of the space-separated `scopes`. Panics as [`Self::new`].
            pub fn any(scopes: &str) -> Self {
                Self::requiring($crate::ScopeRequirement::any_scope(scopes))
            }

            /// Requires what `requirement` says (scopes or roles, all or any).
            pub fn requiring(requirement: $crate::ScopeRequirement) -> Self {
                Self { requirement }
            }
        }

        /// Role guards: the same guard, checking the principal's roles
        /// (see `ClaimMapping`) instead of its scopes. A missing role is
        /// answered 403 `insufficient_scope` without a `scope` attribute.
        #[derive(Clone, Copy, Debug)]
        pub struct RequireRole;

        impl RequireRole {
            /// Requires every role of the space-separated `roles`.
            ///
            /// # Panics
            ///
            /// If `roles` is empty or not made of RFC 6749 scope-token characters.
            #[allow(clippy::new_ret_no_self)]
            pub fn new(roles: &str) -> $guard {
                $guard::requiring($crate::ScopeRequirement::all_roles(roles))
            }

            /// Requires at least one role of the space-separated `roles`. Panics as [`RequireRole::new`].
            pub fn any(roles: &str) -> $guard {
                $guard::requiring($crate::ScopeRequirement::any_role(roles))
            }
        }
    };
}

/// The requirement a scope guard's kind names — `scopes`, `any_scope`,
/// `roles` or `any_role` of a literal list — for the adapters'
/// `scope_guard!` macros; any other kind does not compile.
#[doc(hidden)]
#[macro_export]
macro_rules! scope_requirement {
    (scopes, $names:literal) => {
        $crate::ScopeRequirement::new($names)
    };
    (any_scope, $names:literal) => {
        $crate::ScopeRequirement::any_scope($names)
    };
    (roles, $names:literal) => {
        $crate::ScopeRequirement::all_roles($names)
    };
    (any_role, $names:literal) => {
        $crate::ScopeRequirement::any_role($names)
    };
}

/// Writes the constructors of an adapter's authentication middleware
/// `$layer` (a type with `authenticator: Authenticator` and `mode: Mode`
/// fields, defined where this is invoked) — `new`, `required` and
/// `optional` — so that every adapter offers the same ones.
#[doc(hidden)]
#[macro_export]
macro_rules! auth_layer_constructors {
    ($layer:ident) => {
        impl $layer {
            /// Authenticates with `authenticator`; `mode` says who answers a
            /// request that cannot pass.
            pub fn new(authenticator: $crate::Authenticator, mode: $crate::Mode) -> Self {
                Self { authenticator, mode }
            }

            /// Requests without credentials are refused with 401 ([`Mode::Required`](crate::Mode::Required)).
            pub fn required(authenticator: $crate::Authenticator) -> Self {
                Self::new(authenticator, $crate::Mode::Required)
            }

            /// Requests without credentials pass anonymously; invalid
            /// credentials are still refused, never silently anonymous
            /// ([`Mode::Optional`](crate::Mode::Optional)).
            pub fn optional(authenticator: $crate::Authenticator) -> Self {
                Self::new(authenticator, $crate::Mode::Optional)
            }
        }
    };
}

/// Declares a scope guard's type for the adapters' `scope_guard!` macros —
/// a newtype over the [`Principal`](crate::Principal) it lets through —
/// and checks its list when the program is compiled.
#[doc(hidden)]
#[macro_export]
macro_rules! scope_guard_type {
    ($(#[$meta:meta])* $vis:vis struct $name:ident, $names:literal) => {
        $(#[$meta])*
        #[derive(Clone, Debug)]
        $vis struct $name(pub $crate::Principal);

        const _: () = ::core::assert!(
            $crate::plumbing::is_scope_list($names),
            ::core::concat!("scope_guard!: ", ::core::stringify!($name), " needs space-separated RFC 6749 scope tokens"),
        );
    };
}
