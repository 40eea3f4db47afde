//! [`Scopes`]: what a principal may do.
//!
//! Scopes are compared as whole tokens: `readonly` never satisfies `read`, and
//! `read:all` never satisfies `read`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// A set of scope tokens (RFC 6749 §3.3).
///
/// The names are kept in one piece of bytes, each after its length (so a
/// name may hold any character, spaces included), inside the value itself
/// when short — "read write admin", "openid profile email" — and in one
/// shared allocation otherwise. A scope guard checking a principal that is
/// no longer in the CPU cache then waits for the principal alone, not for a
/// list and a string per name as well; a check compares lengths first, as a
/// list of strings would.
#[derive(Clone)]
pub struct Scopes(Names);

/// Longest encoded list kept inline; keeps `Scopes` at 24 bytes.
const INLINE: usize = 22;

#[derive(Clone)]
enum Names {
    Inline { len: u8, text: [u8; INLINE] },
    Shared(Arc<[u8]>),
}

/// Reads the names back: each is a LEB128 length, then that many bytes.
struct NameIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for NameIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (used, len) = match self.rest.first() {
            // Names shorter than 128 bytes: their length is one byte.
            Some(&len) if len < 0x80 => (1, usize::from(len)),
            _ => {
                let used = self.rest.iter().take(10).position(|&byte| byte & 0x80 == 0)? + 1;
                let len = self.rest.get(..used)?.iter().enumerate().fold(0usize, |len, (i, &byte)| {
                    len | usize::from(byte & 0x7f).checked_shl(7 * i as u32).unwrap_or(0)
                });
                (used, len)
            }
        };
        // Only `Scopes::from_iter` writes these bytes; a malformed list ends here.
        let (head, rest) = self.rest.split_at_checked(used.checked_add(len)?)?;
        self.rest = rest;
        head.get(used..)
    }
}

fn push_len(text: &mut Vec<u8>, mut len: usize) {
    while len >= 0x80 {
        text.push((len & 0x7f) as u8 | 0x80);
        len >>= 7;
    }
    text.push(len as u8);
}

impl Default for Scopes {
    fn default() -> Self {
        Self(Names::Inline { len: 0, text: [0; INLINE] })
    }
}

impl PartialEq for Scopes {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text()
    }
}

impl Eq for Scopes {}

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
        self.contains_name(scope.as_bytes())
    }

    fn contains_name(&self, scope: &[u8]) -> bool {
        self.names().any(|name| name == scope)
    }

    /// Whether every scope in `required` is present.
    pub fn contains_all<'a>(&self, required: impl IntoIterator<Item = &'a str>) -> bool {
        required.into_iter().all(|scope| self.contains(scope))
    }

    /// The scopes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        // Every name was written from a `&str`.
        self.names().map(|name| std::str::from_utf8(name).unwrap_or_default())
    }

    /// The number of scopes.
    pub fn len(&self) -> usize {
        self.names().count()
    }

    /// Whether there are no scopes.
    pub fn is_empty(&self) -> bool {
        self.text().is_empty()
    }

    fn text(&self) -> &[u8] {
        match &self.0 {
            Names::Inline { len, text } => &text[..usize::from(*len)],
            Names::Shared(text) => text,
        }
    }

    fn names(&self) -> NameIter<'_> {
        NameIter { rest: self.text() }
    }
}

impl<'a> FromIterator<&'a str> for Scopes {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        let mut kept: Vec<&str> = Vec::new();
        for scope in iter {
            if !scope.is_empty() && !kept.contains(&scope) {
                kept.push(scope);
            }
        }
        let mut text = Vec::with_capacity(kept.iter().map(|scope| scope.len() + 1).sum());
        for scope in kept {
            push_len(&mut text, scope.len());
            text.extend_from_slice(scope.as_bytes());
        }
        match u8::try_from(text.len()) {
            Ok(len) if text.len() <= INLINE => {
                let mut inline = [0; INLINE];
                inline[..text.len()].copy_from_slice(&text);
                Self(Names::Inline { len, text: inline })
            }
            _ => Self(Names::Shared(text.into())),
        }
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

    fn huge_name() -> String {
        "h".repeat(300)
    }

    #[test]
    fn short_and_long_lists_hold_the_same_names() {
        let short = Scopes::from_space_separated("read write admin");
        assert!(matches!(short.0, Names::Inline { .. }));
        let long = Scopes::from_space_separated("recordings:read recordings:write admin");
        assert!(matches!(long.0, Names::Shared(_)));
        assert_eq!(long.iter().collect::<Vec<_>>(), ["recordings:read", "recordings:write", "admin"]);
        assert!(long.contains("admin") && !long.contains("recordings"));
        let mixed = Scopes::from_iter(["a", huge_name().as_str(), "b"]);
        assert!(mixed.contains("a") && mixed.contains(&huge_name()) && mixed.contains("b") && !mixed.contains("c"));
        for text in ["", "a", "x".repeat(INLINE).as_str(), "x".repeat(INLINE + 1).as_str(), "é ü 🦀"] {
            let names: Vec<&str> = text.split(' ').filter(|s| !s.is_empty()).collect();
            let scopes = Scopes::from_space_separated(text);
            assert_eq!(scopes.iter().collect::<Vec<_>>(), names, "{text:?}");
            assert_eq!(scopes.len(), names.len(), "{text:?}");
            assert_eq!(scopes, Scopes::from_iter(names.iter().copied()), "{text:?}");
        }
        // The same names are equal whichever way they are held.
        let inline = Scopes::from_iter(["a"]);
        let shared = Scopes(Names::Shared(b"\x01a".as_slice().into()));
        assert_eq!(inline, shared);
        assert_ne!(inline, Scopes::from_iter(["a", "b"]));
        assert_eq!(std::mem::size_of::<Scopes>(), 24);
        // Names of any length, and malformed bytes (never written) end the list quietly.
        let huge = huge_name();
        let scopes = Scopes::from_iter([huge.as_str(), "b"]);
        assert_eq!(scopes.iter().collect::<Vec<_>>(), [huge.as_str(), "b"]);
        for malformed in [&b"\x05ab"[..], b"\x80", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"] {
            assert_eq!(Scopes(Names::Shared(malformed.into())).iter().count(), 0, "{malformed:?}");
        }
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

    fn principal_with(scopes: &str, roles: &str) -> crate::Principal {
        crate::Principal::new(crate::principal::Parts {
            scopes: Scopes::from_space_separated(scopes),
            roles: Scopes::from_space_separated(roles),
            subject: "alice".into(),
            kind: crate::PrincipalKind::Jwt,
            issuer: None,
            client_id: None,
            expires_at: None,
            claims: Map::new(),
        })
    }

    #[test]
    fn a_remembered_requirement_answers_as_a_checked_one() {
        let principal = principal_with("read write", "admin");
        let cases = [
            (ScopeRequirement::new("read"), true),
            (ScopeRequirement::new("read admin"), false),
            (ScopeRequirement::any_scope("admin write"), true),
            (ScopeRequirement::all_roles("admin"), true),
            // The role `admin` was remembered above; the scope is still not held.
            (ScopeRequirement::new("admin"), false),
            (ScopeRequirement::any_role("read write"), false),
        ];
        // The second time, a met requirement with a bit answers from the memo.
        for round in 0..2 {
            for (requirement, met) in &cases {
                assert_eq!(requirement.check(Some(&principal)).is_ok(), *met, "round {round}: {requirement:?}");
            }
        }
        // Past the 64th requirement built no bits are left: checked every
        // time, with the same answers; equality ignores the bit.
        let many: Vec<_> = (0..70).map(|_| ScopeRequirement::new("read")).collect();
        assert_eq!(many[69].memo_bit, 0);
        assert_eq!(many[0], many[69]);
        let other = principal_with("write", "");
        for _ in 0..2 {
            for requirement in &many {
                assert!(requirement.check(Some(&principal)).is_ok());
                assert!(requirement.check(Some(&other)).is_err());
            }
        }
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
#[derive(Clone)]
pub struct ScopeRequirement {
    names: Scopes,
    /// Shared: guards are cloned with their service on every request.
    display: Arc<str>,
    of: Of,
    any: bool,
    /// This requirement's bit in each principal's memo of the requirements
    /// it met, or 0 for none.
    memo_bit: u64,
}

/// How many requirements were given a memo bit, at most 64: the first 64
/// built (a program's routes build theirs once, at start-up) get one.
static MEMO_BITS_GIVEN: AtomicU32 = AtomicU32::new(0);

fn next_memo_bit() -> u64 {
    MEMO_BITS_GIVEN
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |given| (given < u64::BITS).then_some(given + 1))
        .map_or(0, |bit| 1 << bit)
}

// Equal and shown by what they require; the memo bit is bookkeeping.
impl PartialEq for ScopeRequirement {
    fn eq(&self, other: &Self) -> bool {
        (&self.names, self.of, self.any) == (&other.names, other.of, other.any)
    }
}

impl Eq for ScopeRequirement {}

impl fmt::Debug for ScopeRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeRequirement")
            .field("names", &self.names)
            .field("of", &self.of)
            .field("any", &self.any)
            .finish()
    }
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
        Self { names, display, of, any, memo_bit: next_memo_bit() }
    }

    /// Checks a request's principal: none → 401, requirement not met → 403.
    #[inline]
    pub fn check(&self, principal: Option<&crate::Principal>) -> Result<(), crate::AuthError> {
        match principal {
            // A principal never changes: once it met this requirement, it
            // does. Inlined into guards: one bit test on a cached principal.
            Some(principal) if principal.met(self.memo_bit) => Ok(()),
            Some(principal) => self.check_names(principal),
            None => Err(crate::AuthError::MissingCredentials),
        }
    }

    #[inline(never)]
    fn check_names(&self, principal: &crate::Principal) -> Result<(), crate::AuthError> {
        let held = match self.of {
            Of::Scopes => principal.scopes(),
            Of::Roles => principal.roles(),
        };
        // Byte for byte: the names were written from `&str`s, so no UTF-8 check.
        let mut required = self.names.names();
        let met = if self.any {
            required.any(|name| held.contains_name(name))
        } else {
            required.all(|name| held.contains_name(name))
        };
        if met {
            principal.remember_met(self.memo_bit);
        }
        match (met, self.of) {
            (true, _) => Ok(()),
            (false, Of::Scopes) => {
                Err(crate::AuthError::InsufficientScope { required: self.display.to_string().into() })
            }
            (false, Of::Roles) => Err(crate::AuthError::InsufficientRole { required: self.display.to_string().into() }),
        }
    }
}
