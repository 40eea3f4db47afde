//! DPoP client keys and proofs (RFC 9449), to test resource servers.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::keys::{KeyAlg, SigningKey};
use crate::token::{into_map, now, random_token};

/// A client's DPoP key pair.
pub struct DpopKey {
    key: SigningKey,
}

impl DpopKey {
    /// A fresh key pair.
    pub fn generate(alg: KeyAlg) -> Self {
        Self { key: SigningKey::generate("dpop", alg) }
    }

    /// The public key as a JWK, as a proof carries it.
    pub fn public_jwk(&self) -> Value {
        self.key.jwk()
    }

    /// The RFC 7638 SHA-256 thumbprint of the public key: what a bound
    /// token names in `cnf.jkt`. Computed here independently of tokenguard.
    pub fn thumbprint(&self) -> String {
        let jwk = self.key.jwk();
        let member = |name: &str| Value::String(jwk[name].as_str().unwrap_or_default().to_owned()).to_string();
        let canonical = match jwk["kty"].as_str() {
            Some("RSA") => format!(r#"{{"e":{},"kty":"RSA","n":{}}}"#, member("e"), member("n")),
            Some("EC") => format!(r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#, member("crv"), member("x"), member("y")),
            _ => format!(r#"{{"crv":{},"kty":"OKP","x":{}}}"#, member("crv"), member("x")),
        };
        URL_SAFE_NO_PAD.encode(digest(&SHA256, canonical.as_bytes()))
    }

    /// Starts a proof for a request with `method` to `url`: `typ:
    /// dpop+jwt`, this key's `alg` and `jwk`, a random `jti`, `iat` now.
    pub fn proof(&self, method: &str, url: &str) -> ProofBuilder<'_> {
        let header = into_map(json!({ "typ": "dpop+jwt", "alg": self.key.alg.name(), "jwk": self.key.jwk() }));
        let claims = into_map(json!({ "jti": random_token(), "htm": method, "htu": url, "iat": now() }));
        ProofBuilder { key: self, signer: None, header, claims }
    }
}

/// Builds a DPoP proof; see [`DpopKey::proof`].
pub struct ProofBuilder<'a> {
    key: &'a DpopKey,
    signer: Option<&'a DpopKey>,
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

impl<'a> ProofBuilder<'a> {
    /// Binds the proof to `token` (`ath`, RFC 9449 §4.2).
    pub fn access_token(self, token: &str) -> Self {
        let ath = URL_SAFE_NO_PAD.encode(digest(&SHA256, token.as_bytes()));
        self.claim("ath", ath)
    }

    /// Sets (or, with `Value::Null`, removes) a claim.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        set(&mut self.claims, name, value.into());
        self
    }

    /// Sets (or, with `Value::Null`, removes) a header parameter.
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        set(&mut self.header, name, value.into());
        self
    }

    /// Signs with `other`'s private key while still carrying this key's `jwk`.
    pub fn signed_by(mut self, other: &'a DpopKey) -> Self {
        self.signer = Some(other);
        self
    }

    /// The compact JWS.
    pub fn sign(self) -> String {
        let header = serde_json::to_vec(&self.header).unwrap_or_default();
        let claims = serde_json::to_vec(&self.claims).unwrap_or_default();
        let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
        let signature = self.signer.unwrap_or(self.key).key.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

fn set(map: &mut Map<String, Value>, name: &str, value: Value) {
    match value {
        Value::Null => map.remove(name),
        value => map.insert(name.to_owned(), value),
    };
}
