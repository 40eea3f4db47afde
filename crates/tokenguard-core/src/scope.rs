//! [`Scopes`]: what a principal may do.
//!
//! Scopes are compared as whole tokens: `readonly` never satisfies `read`, and
//! `read:all` never satisfies `read`.

use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// A set of scope tokens (RFC 6749 §3.3), in the order they were given.
///
/// Held as the `scope` parameter's own form — the names separated by one
/// space — in one allocation. A name is a scope token, which has no space:
/// a name holding one is left out rather than split into two (which would
/// grant what the issuer did not).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Scopes(Box<str>);

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
                .map(|item| match item.as_str() {
                    Some(name) if !name.contains(' ') => Ok(name),
                    Some(_) => Err("the scp claim has an entry that is not a scope token"),
                    None => Err("the scp claim has a non-string entry"),
                })
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
        !scope.is_empty() && self.0.as_bytes().split(|&byte| byte == b' ').any(|held| held == scope.as_bytes())
    }

    /// Whether every scope in `required` is present.
    pub fn contains_all<'a>(&self, required: impl IntoIterator<Item = &'a str>) -> bool {
        required.into_iter().all(|scope| self.contains(scope))
    }

    /// The scopes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.split(' ').filter(|name| !name.is_empty())
    }

    /// The number of scopes.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// The names separated by one space: the `scope` parameter's form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether there are no scopes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> FromIterator<&'a str> for Scopes {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        let mut kept: Vec<&str> = Vec::new();
        for scope in iter {
            if !scope.is_empty() && !scope.contains(' ') && !kept.contains(&scope) {
                kept.push(scope);
            }
        }
        Self(kept.join(" ").into())
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
/// scope token — what [`ScopeRequirement::new`](crate::ScopeRequirement::new) accepts. A `const fn`, so
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn sets_keep_order_and_drop_duplicates_and_empty_names() {
        let scopes: Scopes = ["b", "", "a", "b", "with space"].into_iter().collect();
        assert_eq!(scopes.iter().collect::<Vec<_>>(), ["b", "a"], "a name with a space is no scope token");
        assert_eq!(scopes.len(), 2);
        assert!(!scopes.contains("with") && !scopes.contains("space") && !scopes.contains(""));
        assert_eq!(scopes, Scopes::from_iter(["b", "a"]));
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
        // An entry holding a space would read as two scopes: the claim is refused.
        assert!(Scopes::from_claims(&claims(json!({"scp": ["read write"]}))).is_err());
    }

    #[test]
    fn scope_token_grammar() {
        assert!(is_scope_token("read:all"));
        assert!(!is_scope_token("a b"));
        assert!(!is_scope_token("a\"b"));
        assert!(!is_scope_token(""));
        for valid in ["read", "read write", " read  write ", "recordings:read", "a!#[]~"] {
            assert!(is_scope_list(valid), "{valid:?}");
        }
        for invalid in ["", "   ", "read\twrite", "caf\u{e9}", "a\"b", "a\\b", "read\n"] {
            assert!(!is_scope_list(invalid), "{invalid:?}");
        }
    }
}
