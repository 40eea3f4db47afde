//! [`ScopeRequirement`]: what a route requires of a principal.

use std::sync::Arc;

use crate::error::AuthError;
use crate::principal::Principal;
use crate::scope::{Scopes, is_scope_token};

/// What a route requires of a principal: scopes or roles, all or any of them.
///
/// ```
/// use tokenguard_core::ScopeRequirement;
///
/// let read = ScopeRequirement::new("read");                 // scope `read`
/// let either = ScopeRequirement::any_scope("read admin");   // `read` or `admin`
/// let auditor = ScopeRequirement::all_roles("auditor");     // role `auditor`
/// let staff = ScopeRequirement::any_role("staff admin");    // role `staff` or `admin`
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeRequirement {
    names: Box<[Box<str>]>,
    /// The names as a 403 challenge's `scope` attribute shows them; shared,
    /// as guards are cloned with their service.
    display: Arc<str>,
    of: Of,
    any: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Of {
    Scopes,
    Roles,
}

impl ScopeRequirement {
    /// Requires every scope of the space-separated `scopes`.
    ///
    /// # Panics
    ///
    /// If `scopes` holds no scope or a character not allowed in a scope token
    /// (a programming error, found when the route is built).
    pub fn new(scopes: &str) -> Self {
        Self::build(scopes, Of::Scopes, false)
    }

    /// Requires at least one scope of the space-separated `scopes`. Panics as [`ScopeRequirement::new`].
    pub fn any_scope(scopes: &str) -> Self {
        Self::build(scopes, Of::Scopes, true)
    }

    /// Requires every role of the space-separated `roles`. Panics as [`ScopeRequirement::new`].
    pub fn all_roles(roles: &str) -> Self {
        Self::build(roles, Of::Roles, false)
    }

    /// Requires at least one role of the space-separated `roles`. Panics as [`ScopeRequirement::new`].
    pub fn any_role(roles: &str) -> Self {
        Self::build(roles, Of::Roles, true)
    }

    fn build(names: &str, of: Of, any: bool) -> Self {
        let names = Scopes::from_space_separated(names);
        assert!(
            !names.is_empty() && names.iter().all(is_scope_token),
            "a required scope or role must be a non-empty RFC 6749 scope token"
        );
        let display: Arc<str> = names.iter().collect::<Vec<_>>().join(" ").into();
        let names = names.iter().map(Box::from).collect();
        Self { names, display, of, any }
    }

    /// Checks a principal: requirement not met → 403 `insufficient_scope`
    /// naming the scopes (for roles, without naming them).
    pub fn check(&self, principal: &Principal) -> Result<(), AuthError> {
        let held = match self.of {
            Of::Scopes => principal.scopes(),
            Of::Roles => principal.roles(),
        };
        let mut required = self.names.iter();
        let met =
            if self.any { required.any(|name| held.contains(name)) } else { required.all(|name| held.contains(name)) };
        let required = || self.display.to_string().into();
        match (met, self.of) {
            (true, _) => Ok(()),
            (false, Of::Scopes) => Err(AuthError::InsufficientScope { required: required() }),
            (false, Of::Roles) => Err(AuthError::InsufficientRole { required: required() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;
    use crate::principal::{Parts, PrincipalKind};

    fn principal_with(scopes: &str, roles: &str) -> Principal {
        Principal::new(Parts {
            scopes: Scopes::from_space_separated(scopes),
            roles: Scopes::from_space_separated(roles),
            subject: "alice".into(),
            kind: PrincipalKind::Jwt,
            issuer: None,
            client_id: None,
            expires_at: None,
            claims: Map::new(),
        })
    }

    #[test]
    fn scopes_and_roles_all_or_any() {
        let principal = principal_with("read write", "admin");
        let cases = [
            (ScopeRequirement::new("read"), true),
            (ScopeRequirement::new("read admin"), false),
            (ScopeRequirement::any_scope("admin write"), true),
            (ScopeRequirement::all_roles("admin"), true),
            // A role of that name is not a scope.
            (ScopeRequirement::new("admin"), false),
            (ScopeRequirement::any_role("read write"), false),
        ];
        for (requirement, met) in &cases {
            assert_eq!(requirement.check(&principal).is_ok(), *met, "{requirement:?}");
        }
    }

    #[test]
    fn a_missing_scope_is_named_and_a_missing_role_is_not_a_scope() {
        let principal = principal_with("read", "");
        assert_eq!(
            ScopeRequirement::new("read  write").check(&principal),
            Err(AuthError::InsufficientScope { required: "read write".into() })
        );
        assert_eq!(
            ScopeRequirement::any_role("staff admin").check(&principal),
            Err(AuthError::InsufficientRole { required: "staff admin".into() })
        );
    }

    #[test]
    fn requirements_are_scope_token_lists() {
        for valid in ["read", "read write", " read  write ", "recordings:read", "a!#[]~"] {
            let _ = ScopeRequirement::new(valid);
        }
        for invalid in ["", "   ", "read\twrite", "caf\u{e9}", "a\"b", "a\\b", "read\n"] {
            assert!(std::panic::catch_unwind(|| ScopeRequirement::new(invalid)).is_err(), "{invalid:?}");
        }
    }
}
