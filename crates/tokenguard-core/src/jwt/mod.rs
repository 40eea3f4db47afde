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
pub mod keys;
pub mod rules;

pub use keys::{StaticKey, VerificationKey};
pub use rules::{JwtRules, TypPolicy};

use jsonwebtoken::Algorithm;

use crate::error::AuthError;
use crate::principal::{Parts, Principal, PrincipalKind};
use jose::ParsedJwt;

/// Verifies the signature of `jwt` with `key`, then its claims with `rules`.
pub(crate) fn verify(jwt: &ParsedJwt<'_>, key: &VerificationKey, rules: &JwtRules) -> Result<Principal, AuthError> {
    let alg = jwt.header.alg;
    if !key.allows(alg) {
        return Err(AuthError::InvalidToken("algorithm not allowed for the signing key"));
    }
    if !signature_is_valid(jwt, key, alg) {
        return Err(AuthError::InvalidToken("invalid signature"));
    }
    let checked = rules.check(&jwt.header, &jwt.claims)?;
    Ok(Principal::new(Parts {
        subject: checked.subject,
        kind: PrincipalKind::Jwt,
        issuer: Some(rules.issuer().to_owned()),
        client_id: checked.client_id,
        scopes: checked.scopes,
        expires_at: Some(checked.expires_at),
        claims: jwt.claims.clone(),
    }))
}

fn signature_is_valid(jwt: &ParsedJwt<'_>, key: &VerificationKey, alg: Algorithm) -> bool {
    // An empty signature can never be valid; refuse it before any crypto.
    !jwt.signature.is_empty()
        && jsonwebtoken::crypto::verify(jwt.signature, jwt.signing_input.as_bytes(), key.decoding_key(), alg)
            .unwrap_or(false)
}
