//! [`Scopes`]: what a principal may do.
//!
//! Scopes are compared as whole tokens: `readonly` never satisfies `read`, and
//! `read:all` never satisfies `read`.

use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// A set of scope tokens (RFC 6749 §3.3).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Scopes(Arc<[Box<str>]>);

impl Scopes {
    /// No scopes.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Parses a space-separated `scope` string. Repeated spaces are tolerated;
    /// duplicates are dropped; order is kept.
    ///
    /// ```
    /// use tokenguard_core::Scopes;
    ///
    /// let scopes = Scopes::from_space_separated("read  write read");
    /// assert!(scopes.contains("read"));
    /// assert!(!scopes.contains("rea"));
    /// assert_eq!(scopes.iter().collect::<Vec<_>>(), ["read", "write"]);
    /// ```
    pub fn from_space_separated(scope: &str) -> Self {
        Self::from_iter(scope.split(' '))
    }

    /// Reads scopes from JWT or introspection claims: `scope` (a space-separated
    /// string), else `scp` (an array of strings or a space-separated string).
    ///
    /// A claim of any other type is an error: a token whose permissions cannot
    /// be read must not pass as one with no permissions.
    pub fn from_claims(claims: &Map<String, Value>) -> Result<Self, &'static str> {
        match (claims.get("scope"), claims.get("scp")) {
            (Some(Value::String(scope)), _) => Ok(Self::from_space_separated(scope)),
            (Some(_), _) => Err("the scope claim is not a string"),
            (None, Some(Value::String(scp))) => Ok(Self::from_space_separated(scp)),
            (None, Some(Value::Array(items))) => items
                .iter()
                .map(|item| item.as_str().ok_or("the scp claim has a non-string entry"))
                .collect::<Result<Vec<_>, _>>()
                .map(Self::from_iter),
            (None, Some(_)) => Err("the scp claim is neither a string nor an array"),
            (None, None) => Ok(Self::empty()),
        }
    }

    /// Like [`Scopes::from_claims`], from the raw JSON of `scope` and `scp`.
    pub(crate) fn from_raw_claims(
        scope: Option<&serde_json::value::RawValue>,
        scp: Option<&serde_json::value::RawValue>,
    ) -> Result<Self, &'static str> {
        let parse = |raw: Option<&serde_json::value::RawValue>| {
            raw.map(|raw| serde_json::from_str::<Value>(raw.get()).map_err(|_| "malformed scope")).transpose()
        };
        // The common case, a `scope` string, without building a `Value`.
        if let Some(scope) = crate::jwt::jose::string(scope) {
            return Ok(Self::from_space_separated(&scope));
        }
        let mut claims = Map::new();
        if let Some(scope) = parse(scope)? {
            claims.insert("scope".into(), scope);
        }
        if let Some(scp) = parse(scp)? {
            claims.insert("scp".into(), scp);
        }
        Self::from_claims(&claims)
    }

    /// Whether `scope` is one of the scopes (exact match).
    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| &**s == scope)
    }

    /// Whether every scope in `required` is present.
    pub fn contains_all<'a>(&self, required: impl IntoIterator<Item = &'a str>) -> bool {
        required.into_iter().all(|scope| self.contains(scope))
    }

    /// The scopes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|s| &**s)
    }

    /// The number of scopes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no scopes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> FromIterator<&'a str> for Scopes {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        let mut scopes: Vec<Box<str>> = Vec::new();
        for scope in iter {
            if !scope.is_empty() && !scopes.iter().any(|s| &**s == scope) {
                scopes.push(scope.into());
            }
        }
        Self(scopes.into())
    }
}

impl Serialize for Scopes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Whether `scope` is a valid RFC 6749 scope-token
/// (`1*( %x21 / %x23-5B / %x5D-7E )`), so it can be named in a challenge.
pub fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty() && scope.bytes().all(is_scope_char)
}

/// RFC 6749's `NQCHAR` without the space: `%x21 / %x23-5B / %x5D-7E`.
const fn is_scope_char(b: u8) -> bool {
    b == 0x21 || (b >= 0x23 && b <= 0x5b) || (b >= 0x5d && b <= 0x7e)
}

/// Whether `names` is a space-separated list of at least one RFC 6749
/// scope token — what [`ScopeRequirement::new`] accepts. A `const fn`, so
/// that guards declared with literals are checked when they are compiled.
pub const fn is_scope_list(names: &str) -> bool {
    let bytes = names.as_bytes();
    let mut any_token = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b != b' ' {
            if !is_scope_char(b) {
                return false;
            }
            any_token = true;
        }
        i += 1;
    }
    any_token
}

/// Writes the constructors of an adapter's scope guards, so that every
/// adapter offers the same ones: `RequireScope::{new, any, requiring}` for a
/// `RequireScope { requirement: ScopeRequirement }` defined where it is
/// invoked, and a `RequireRole` with `new` and `any`.
#[doc(hidden)]
#[macro_export]
macro_rules! scope_guard_constructors {
    () => {
        impl RequireScope {
            /// Requires every scope of the space-separated `scopes`.
            ///
            /// # Panics
            ///
            /// If `scopes` is empty or not made of RFC 6749 scope tokens.
            pub fn new(scopes: &str) -> Self {
                Self::requiring($crate::ScopeRequirement::new(scopes))
            }

            /// Requires at least one scope of the space-separated `scopes`. Panics as [`RequireScope::new`].
            pub fn any(scopes: &str) -> Self {
                Self::requiring($crate::ScopeRequirement::any_scope(scopes))
            }

            /// Requires what `requirement` says (scopes or roles, all or any).
            pub fn requiring(requirement: $crate::ScopeRequirement) -> Self {
                Self { requirement }
            }
        }

        /// Role guards: the same guard as [`RequireScope`], checking the
        /// principal's roles (see `ClaimMapping`) instead of its scopes. A missing
        /// role is answered 403 `insufficient_scope` without a `scope` attribute.
        #[derive(Clone, Copy, Debug)]
        pub struct RequireRole;

        impl RequireRole {
            /// Requires every role of the space-separated `roles`.
            ///
            /// # Panics
            ///
            /// If `roles` is empty or not made of RFC 6749 scope-token characters.
            #[allow(clippy::new_ret_no_self)]
            pub fn new(roles: &str) -> RequireScope {
                RequireScope::requiring($crate::ScopeRequirement::all_roles(roles))
            }

            /// Requires at least one role of the space-separated `roles`. Panics as [`RequireRole::new`].
            pub fn any(roles: &str) -> RequireScope {
                RequireScope::requiring($crate::ScopeRequirement::any_role(roles))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn scope_lists_are_checked_as_the_requirement_checks_them() {
        for valid in ["read", "read write", " read  write ", "recordings:read", "a!#[]~"] {
            assert!(is_scope_list(valid), "{valid:?}");
            let _ = ScopeRequirement::new(valid);
        }
        for invalid in ["", "   ", "read\twrite", "caf\u{e9}", "a\"b", "a\\b", "read\n"] {
            assert!(!is_scope_list(invalid), "{invalid:?}");
            assert!(std::panic::catch_unwind(|| ScopeRequirement::new(invalid)).is_err(), "{invalid:?}");
        }
    }

    #[test]
    fn sets_keep_order_and_drop_duplicates_and_empty_names() {
        let scopes: Scopes = ["b", "", "a", "b", "with space"].into_iter().collect();
        assert_eq!(scopes.iter().collect::<Vec<_>>(), ["b", "a", "with space"]);
        assert_eq!(scopes.len(), 3);
        assert!(!scopes.contains("with") && !scopes.contains(""));
        assert_eq!(scopes, Scopes::from_iter(["b", "a", "with space"]));
        let none = Scopes::from_space_separated("   ");
        assert!(none.is_empty() && none.iter().next().is_none());
        assert_eq!(none, Scopes::empty());
    }

    #[test]
    fn exact_token_match_only() {
        let scopes = Scopes::from_space_separated("readonly read:all");
        assert!(!scopes.contains("read"));
        assert!(scopes.contains("readonly"));
        assert!(scopes.contains_all(["readonly", "read:all"]));
        assert!(!scopes.contains_all(["readonly", "write"]));
    }

    #[test]
    fn scope_string_and_scp_forms() {
        assert!(Scopes::from_claims(&claims(json!({"scope": "a b"}))).unwrap().contains("b"));
        assert!(Scopes::from_claims(&claims(json!({"scp": ["a", "b"]}))).unwrap().contains("b"));
        assert!(Scopes::from_claims(&claims(json!({"scp": "a b"}))).unwrap().contains("b"));
        assert!(Scopes::from_claims(&claims(json!({}))).unwrap().is_empty());
        assert!(Scopes::from_claims(&claims(json!({"scope": ["a"]}))).is_err());
        assert!(Scopes::from_claims(&claims(json!({"scp": [1]}))).is_err());
        assert!(Scopes::from_claims(&claims(json!({"scp": 1}))).is_err());
    }

    #[test]
    fn scope_token_grammar() {
        assert!(is_scope_token("read:all"));
        assert!(!is_scope_token("a b"));
        assert!(!is_scope_token("a\"b"));
        assert!(!is_scope_token(""));
    }
}

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
    names: Scopes,
    /// Shared: guards are cloned with their service on every request.
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
        Self { names, display, of, any }
    }

    /// Checks a request's principal: none → 401, requirement not met → 403.
    pub fn check(&self, principal: Option<&crate::Principal>) -> Result<(), crate::AuthError> {
        let Some(principal) = principal else {
            return Err(crate::AuthError::MissingCredentials);
        };
        let held = match self.of {
            Of::Scopes => principal.scopes(),
            Of::Roles => principal.roles(),
        };
        let met =
            if self.any { self.names.iter().any(|n| held.contains(n)) } else { held.contains_all(self.names.iter()) };
        match (met, self.of) {
            (true, _) => Ok(()),
            (false, Of::Scopes) => {
                Err(crate::AuthError::InsufficientScope { required: self.display.to_string().into() })
            }
            (false, Of::Roles) => Err(crate::AuthError::InsufficientRole { required: self.display.to_string().into() }),
        }
    }
}
