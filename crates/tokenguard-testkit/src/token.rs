//! Minting tokens with any header and claims.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::{Shared, TestIssuer, lock};

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Builds a token; see [`TestIssuer::token`].
pub struct TokenBuilder<'a> {
    issuer: &'a TestIssuer,
    header: Map<String, Value>,
    claims: Map<String, Value>,
    kid: Option<String>,
}

impl<'a> TokenBuilder<'a> {
    pub(crate) fn new(issuer: &'a TestIssuer) -> Self {
        let now = now();
        let claims = json!({
            "iss": issuer.issuer(),
            "sub": "alice",
            "aud": issuer.audience(),
            "iat": now,
            "exp": now + 3600,
            "client_id": "testkit-client",
        });
        Self { issuer, header: Map::new(), claims: into_map(claims), kid: None }
    }

    /// Sets (or, with `Value::Null`, removes) a claim.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        match value.into() {
            Value::Null => self.claims.remove(name),
            value => self.claims.insert(name.to_owned(), value),
        };
        self
    }

    /// Sets (or, with `Value::Null`, removes) a header parameter. Overrides
    /// what signing would put there (`alg`, `kid`, `typ`).
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header.insert(name.to_owned(), value.into());
        self
    }

    /// `sub`.
    pub fn subject(self, subject: &str) -> Self {
        self.claim("sub", subject)
    }

    /// `aud`.
    pub fn audience(self, audience: impl Into<Value>) -> Self {
        self.claim("aud", audience)
    }

    /// `scope`.
    pub fn scope(self, scope: &str) -> Self {
        self.claim("scope", scope)
    }

    /// `exp` relative to now (negative: already expired).
    pub fn expires_in(self, seconds: i64) -> Self {
        self.claim("exp", now() + seconds)
    }

    /// Binds the token to a DPoP key (`cnf.jkt`, RFC 9449 §6.1).
    pub fn bound_to(self, key: &crate::DpopKey) -> Self {
        self.claim("cnf", json!({ "jkt": key.thumbprint() }))
    }

    /// Signs with the published key `kid` instead of the current one.
    pub fn signed_by(mut self, kid: &str) -> Self {
        self.kid = Some(kid.to_owned());
        self
    }

    /// Signs with the issuer's key.
    pub fn sign(self) -> String {
        let kid = self.kid.clone().unwrap_or_else(|| self.issuer.current_kid());
        sign_claims(&self.issuer.shared, &kid, self.header, &self.claims)
    }

    /// Signs with HS256 and a shared `secret` (for services signing their own tokens).
    pub fn sign_hs256(self, secret: &[u8]) -> String {
        let mut header = into_map(json!({ "alg": "HS256", "typ": "JWT" }));
        let signing_input = encode_parts(&mut header, self.header, &self.claims);
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// Issues an opaque token (random, 43 base64url characters) whose
    /// introspection answer is these claims with `active: true` and
    /// `token_type: Bearer` (unless set), until it expires or is revoked.
    pub fn opaque(self) -> String {
        let token = random_token();
        let mut claims = self.claims;
        claims.entry("token_type").or_insert_with(|| "Bearer".into());
        lock(&self.issuer.shared.opaque).insert(token.clone(), claims);
        token
    }

    /// Does not sign: the token ends with `signature` verbatim (`""` for an
    /// unsecured JWT, `alg: none`).
    pub fn with_signature(self, signature: &str) -> String {
        let mut header = into_map(json!({ "alg": "none" }));
        let signing_input = encode_parts(&mut header, self.header, &self.claims);
        format!("{signing_input}.{signature}")
    }
}

/// Signs `claims` with key `kid` (header `alg`, `typ: at+jwt`, `kid`, then `header_overrides`).
pub(crate) fn sign_claims(
    shared: &Shared,
    kid: &str,
    header_overrides: Map<String, Value>,
    claims: &Map<String, Value>,
) -> String {
    let keys = lock(&shared.keys);
    let key = keys.iter().find(|key| key.kid == kid).expect("signing key is published");
    let mut header = into_map(json!({ "alg": key.alg.name(), "typ": "at+jwt", "kid": kid }));
    let signing_input = encode_parts(&mut header, header_overrides, claims);
    let signature = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// 32 random bytes, base64url: an opaque token.
pub(crate) fn random_token() -> String {
    let mut random = [0u8; 32];
    aws_lc_rs::rand::fill(&mut random).expect("the OS random source works");
    URL_SAFE_NO_PAD.encode(random)
}

fn encode_parts(header: &mut Map<String, Value>, overrides: Map<String, Value>, claims: &Map<String, Value>) -> String {
    for (name, value) in overrides {
        if value.is_null() {
            header.remove(&name);
        } else {
            header.insert(name, value);
        }
    }
    let header = serde_json::to_vec(header).unwrap_or_default();
    let claims = serde_json::to_vec(claims).unwrap_or_default();
    format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims))
}

pub(crate) fn into_map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
