//! JWT verification rules (RFC 7519, RFC 8725, RFC 9068).
//!
//! The pieces: [`jose`] parses the compact serialization without trusting it,
//! [`keys`] turns JWKs and static keys into verification keys that carry their
//! own algorithm allow-list, and [`rules`] checks the claims. The algorithm
//! used to verify is always one the *key* allows; the token's `alg` only has
//! to be one of them. `none` cannot be expressed, an HMAC algorithm never
//! pairs with a public key, and a key's family is checked by the crypto backend
//! as well.

pub mod jose;
pub mod mapping;
pub mod rules;
mod verifier;

pub use crate::keys::{StaticKey, VerificationKey};

/// The keys tokens are verified with: JWKs and static keys, each with the
/// algorithms it allows.
pub mod keys {
    pub use crate::keys::{
        DEFAULT_ALGORITHMS, MIN_HMAC_SECRET_BYTES, MIN_RSA_BITS, StaticKey, StaticKeyError, VerificationKey, algorithm,
    };
}
pub use mapping::ClaimMapping;
pub(crate) use rules::CheckedClaims;
pub use rules::{JwtRules, TypPolicy};
pub(crate) use verifier::IssuerKeys;
pub use verifier::JwtVerifier;

use std::mem::MaybeUninit;

use jsonwebtoken::Algorithm;

use crate::error::AuthError;
use crate::principal::{Parts, Principal, PrincipalKind};
use jose::{ClaimsView, ParsedJwt};

/// Verifies the signature of `jwt` with `key`, then its `claims` with
/// `rules` at `now` (seconds since the Unix epoch).
pub(crate) fn verify(
    jwt: &ParsedJwt<'_>,
    claims: &ClaimsView<'_>,
    key: &VerificationKey,
    rules: &JwtRules,
    now: u64,
) -> Result<CheckedClaims, AuthError> {
    let alg = jwt.header.alg;
    if !key.allows(alg) {
        return Err(AuthError::InvalidToken("algorithm not allowed for the signing key"));
    }
    if !signature_is_valid(jwt, key, alg) {
        return Err(AuthError::InvalidToken("invalid signature"));
    }
    rules.check_at(&jwt.header, claims, now)
}

/// The principal of a verified token, with its full claims set (`payload`,
/// a JSON object: the parser checked it).
pub(crate) fn principal(checked: CheckedClaims, rules: &JwtRules, payload: &str) -> Principal {
    let parts = Parts {
        subject: checked.subject,
        kind: PrincipalKind::Jwt,
        issuer: Some(rules.issuer().to_owned()),
        client_id: checked.client_id,
        scopes: checked.scopes,
        roles: checked.roles,
        expires_at: Some(checked.expires_at),
        claims: serde_json::Map::new(),
    };
    Principal::with_claims_json(parts, payload.to_owned(), checked.dpop_jkt)
}

/// Largest signature accepted: RSA-8192 (1024 bytes).
const MAX_SIGNATURE_BYTES: usize = 1024;

pub(crate) fn signature_is_valid(jwt: &ParsedJwt<'_>, key: &VerificationKey, alg: Algorithm) -> bool {
    // Uninitialized: zeroing 1 KiB per token is measurable next to the decode itself.
    let mut buffer = [MaybeUninit::<u8>::uninit(); MAX_SIGNATURE_BYTES];
    // An empty or over-long signature can never be valid; refuse it before any crypto.
    match jose::decode_into(jwt.signature, &mut buffer) {
        Some(signature) if !signature.is_empty() => key.verify_signature(alg, jwt.signing_input.as_bytes(), signature),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64_simd::URL_SAFE_NO_PAD;
    use serde_json::json;

    #[test]
    fn signatures_are_bounded_before_any_crypto() {
        let n = URL_SAFE_NO_PAD.encode_to_string([0xc5u8; 256]);
        let jwk = json!({"kty": "RSA", "n": n, "e": "AQAB"});
        let key = VerificationKey::from_jwk(jwk.as_object().unwrap(), &[Algorithm::RS256]).unwrap();
        let header = URL_SAFE_NO_PAD.encode_to_string(r#"{"alg":"RS256"}"#);
        let lengths = [0, 1, 256, MAX_SIGNATURE_BYTES - 1, MAX_SIGNATURE_BYTES, MAX_SIGNATURE_BYTES + 1, 4096];
        let signatures = lengths.map(|len| URL_SAFE_NO_PAD.encode_to_string(vec![7u8; len]));
        // Not base64url at all, or of a length no encoding has.
        for signature in signatures.iter().map(String::as_str).chain(["x", "AAAAA", "!!!!"]) {
            let token = format!("{header}.e30.{signature}");
            let jwt = jose::parse(&token).unwrap();
            assert!(!signature_is_valid(&jwt, &key, Algorithm::RS256), "{} chars", signature.len());
        }
    }
}
