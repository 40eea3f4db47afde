//! [`Principal`]: the verified identity of a caller.

use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer, ser::SerializeStruct};
use serde_json::{Map, Value};

use crate::scope::Scopes;

/// How a principal was verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A JWT verified locally (JWKS or a static key).
    Jwt,
    /// An opaque token checked with RFC 7662 introspection.
    Introspected,
    /// An API key found in a key store.
    ApiKey,
}

impl PrincipalKind {
    /// The kind's name: `jwt`, `introspected` or `api_key`.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Jwt => "jwt",
            PrincipalKind::Introspected => "introspected",
            PrincipalKind::ApiKey => "api_key",
        }
    }
}

/// The verified identity of a caller: plain data, cheap to clone (shared).
///
/// It serializes to the summary the examples' `/me` returns:
/// `{"subject","kind","issuer","client_id","scopes","expires_at"}`; the raw
/// claims are left out and available through [`Principal::claims`].
#[derive(Clone)]
pub struct Principal(Arc<Inner>);

struct Inner {
    /// Every field but `claims`, kept as JSON text below.
    parts: Parts,
    /// The verified claims, a JSON object: a JWT's payload as it came, parsed
    /// only when a handler asks, not on every verification.
    claims: Box<str>,
    /// The RFC 7638 thumbprint of the key a DPoP-bound token is bound to (`cnf.jkt`).
    dpop_jkt: Option<Box<str>>,
}

/// The fields of a [`Principal`], to build one.
#[derive(Clone, Debug, PartialEq)]
pub struct Parts {
    /// Who the principal is: the token's `sub`, or the API key's subject.
    pub subject: String,
    /// How it was verified.
    pub kind: PrincipalKind,
    /// The issuer that vouched for it, if any.
    pub issuer: Option<String>,
    /// The OAuth client the token was issued to (`client_id`, `azp` or `cid`).
    pub client_id: Option<String>,
    /// What it may do (OAuth scopes, API key scopes).
    pub scopes: Scopes,
    /// The roles its issuer granted (see [`ClaimMapping`](crate::jwt::ClaimMapping)); kept apart from scopes.
    pub roles: Scopes,
    /// When the credential expires (seconds since the Unix epoch).
    pub expires_at: Option<u64>,
    /// The verified claims (for API keys, a small record of the key).
    pub claims: Map<String, Value>,
}

impl Principal {
    /// Builds a principal from its parts.
    pub fn new(parts: Parts) -> Self {
        Self::bound(parts, None)
    }

    /// A principal whose token is bound to the DPoP key `dpop_jkt`, if any.
    pub(crate) fn bound(mut parts: Parts, dpop_jkt: Option<String>) -> Self {
        let claims = serde_json::to_string(&std::mem::take(&mut parts.claims)).unwrap_or_else(|_| "{}".to_owned());
        Self::with_claims_json(parts, claims, dpop_jkt)
    }

    /// A principal whose claims are the JSON object `claims` (the `claims`
    /// of `parts` is not read).
    pub(crate) fn with_claims_json(mut parts: Parts, claims: String, dpop_jkt: Option<String>) -> Self {
        parts.claims = Map::new();
        let dpop_jkt = dpop_jkt.map(String::into_boxed_str);
        Self(Arc::new(Inner { parts, claims: claims.into_boxed_str(), dpop_jkt }))
    }

    /// The thumbprint of the key this principal's token is bound to
    /// (RFC 9449 `cnf.jkt`), if it is a DPoP-bound token.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.0.dpop_jkt.as_deref()
    }

    /// Who the principal is.
    pub fn subject(&self) -> &str {
        &self.0.parts.subject
    }

    /// How it was verified.
    pub fn kind(&self) -> PrincipalKind {
        self.0.parts.kind
    }

    /// The issuer, if any.
    pub fn issuer(&self) -> Option<&str> {
        self.0.parts.issuer.as_deref()
    }

    /// The OAuth client id, if any.
    pub fn client_id(&self) -> Option<&str> {
        self.0.parts.client_id.as_deref()
    }

    /// The granted scopes.
    pub fn scopes(&self) -> &Scopes {
        &self.0.parts.scopes
    }

    /// The granted roles (empty unless the issuer's claim mapping reads some).
    pub fn roles(&self) -> &Scopes {
        &self.0.parts.roles
    }

    /// Whether the principal has `role` (exact match).
    pub fn has_role(&self, role: &str) -> bool {
        self.0.parts.roles.contains(role)
    }

    /// Whether the principal has `scope` (exact match).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.0.parts.scopes.contains(scope)
    }

    /// Expiry in seconds since the Unix epoch, if the credential expires.
    pub fn expires_at(&self) -> Option<u64> {
        self.0.parts.expires_at
    }

    /// The verified claims, parsed from their JSON on each call (for a
    /// type of your own, take [`Claims<T>`](crate::Claims)).
    pub fn claims(&self) -> Map<String, Value> {
        serde_json::from_str(&self.0.claims).unwrap_or_default()
    }

    /// The verified claims as JSON text (an object).
    pub fn claims_json(&self) -> &str {
        &self.0.claims
    }
}

impl PartialEq for Principal {
    fn eq(&self, other: &Self) -> bool {
        self.0.parts == other.0.parts && self.0.claims == other.0.claims && self.0.dpop_jkt == other.0.dpop_jkt
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Claims are left out: they can be large, and custom claims may be sensitive.
        f.debug_struct("Principal")
            .field("subject", &self.0.parts.subject)
            .field("kind", &self.0.parts.kind)
            .field("issuer", &self.0.parts.issuer)
            .field("client_id", &self.0.parts.client_id)
            .field("scopes", &self.0.parts.scopes)
            .field("expires_at", &self.0.parts.expires_at)
            .finish_non_exhaustive()
    }
}

impl Serialize for Principal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("Principal", 6)?;
        state.serialize_field("subject", &self.0.parts.subject)?;
        state.serialize_field("kind", &self.0.parts.kind)?;
        state.serialize_field("issuer", &self.0.parts.issuer)?;
        state.serialize_field("client_id", &self.0.parts.client_id)?;
        state.serialize_field("scopes", &self.0.parts.scopes)?;
        state.serialize_field("expires_at", &self.0.parts.expires_at)?;
        state.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_to_the_me_summary() {
        let principal = Principal::new(Parts {
            subject: "alice".into(),
            kind: PrincipalKind::ApiKey,
            issuer: None,
            client_id: None,
            scopes: Scopes::from_space_separated("read write"),
            roles: Scopes::empty(),
            expires_at: Some(42),
            claims: Map::new(),
        });
        assert_eq!(
            serde_json::to_value(&principal).unwrap(),
            serde_json::json!({"subject":"alice","kind":"api_key","issuer":null,"client_id":null,"scopes":["read","write"],"expires_at":42})
        );
    }
}
