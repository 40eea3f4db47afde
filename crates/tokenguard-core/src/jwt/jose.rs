//! The JWS compact serialization, parsed without trusting it (RFC 7515).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use crate::error::AuthError;

/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The JOSE header fields tokenguard reads. Everything else, including `jku`,
/// `x5u`, `x5c` and an embedded `jwk`, is ignored: keys come only from the
/// configured issuer.
#[derive(Debug, Clone, PartialEq)]
pub struct JoseHeader {
    /// The algorithm the token claims (only checked against the key's list).
    pub alg: Algorithm,
    /// The key id, if any.
    pub kid: Option<String>,
    /// The media type, if any.
    pub typ: Option<String>,
}

/// A parsed, not yet verified, JWS.
#[derive(Debug)]
pub struct ParsedJwt<'a> {
    /// The header.
    pub header: JoseHeader,
    /// The claims set.
    pub claims: Map<String, Value>,
    /// `BASE64URL(header) . BASE64URL(payload)`.
    pub signing_input: &'a str,
    /// The base64url signature.
    pub signature: &'a str,
}

/// Whether a token has the shape of a JWS (three dot-separated parts), so it
/// should be verified as a JWT rather than looked up as an opaque token.
pub fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|&b| b == b'.').count() == 2
}

/// Parses a compact JWS. Every failure is `invalid_token`.
pub fn parse(token: &str) -> Result<ParsedJwt<'_>, AuthError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::InvalidToken("token too large"));
    }
    let malformed = AuthError::InvalidToken("malformed token");
    let (signing_input, signature) = token.rsplit_once('.').ok_or(malformed.clone())?;
    let (header_b64, payload_b64) = signing_input.split_once('.').ok_or(malformed.clone())?;
    if payload_b64.contains('.') {
        return Err(malformed);
    }
    let header = decode_object(header_b64)?;
    let claims = decode_object(payload_b64)?;
    Ok(ParsedJwt { header: read_header(&header)?, claims, signing_input, signature })
}

/// Decodes the claims of a token without verifying anything, to pick the
/// verifier by `iss` (never to trust them) or to inspect a token.
pub fn decode_object(segment: &str) -> Result<Map<String, Value>, AuthError> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).map_err(|_| AuthError::InvalidToken("malformed token"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(AuthError::InvalidToken("malformed token")),
    }
}

fn read_header(header: &Map<String, Value>) -> Result<JoseHeader, AuthError> {
    // We understand no extension, so any `crit` means we must refuse (RFC 7515 §4.1.11).
    if header.contains_key("crit") {
        return Err(AuthError::InvalidToken("unsupported critical header"));
    }
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => algorithm(alg)?,
        _ => return Err(AuthError::InvalidToken("malformed token")),
    };
    let kid = optional_string(header, "kid")?;
    let typ = optional_string(header, "typ")?;
    Ok(JoseHeader { alg, kid, typ })
}

fn optional_string(header: &Map<String, Value>, name: &str) -> Result<Option<String>, AuthError> {
    match header.get(name) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(AuthError::InvalidToken("malformed token")),
    }
}

/// Maps a JWS `alg` name to an algorithm. `none` and anything unknown fail;
/// names are case-sensitive (RFC 7515 §4.1.1).
pub fn algorithm(name: &str) -> Result<Algorithm, AuthError> {
    Ok(match name {
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return Err(AuthError::InvalidToken("unsupported algorithm")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn parses_header_and_claims() {
        let token = format!(
            "{}.{}.c2ln",
            b64(r#"{"alg":"RS256","kid":"k1","typ":"at+jwt","jku":"https://evil"}"#),
            b64(r#"{"sub":"a"}"#)
        );
        let parsed = parse(&token).unwrap();
        assert_eq!(parsed.header.alg, Algorithm::RS256);
        assert_eq!(parsed.header.kid.as_deref(), Some("k1"));
        assert_eq!(parsed.claims["sub"], "a");
        assert_eq!(parsed.signature, "c2ln");
    }

    #[test]
    fn refuses_what_it_cannot_trust() {
        let claims = b64(r#"{"sub":"a"}"#);
        for header in [
            r#"{"alg":"none"}"#,
            r#"{"alg":"None"}"#,
            r#"{"alg":"rs256"}"#,
            r#"{"alg":"RS256","crit":["exp"]}"#,
            r#"{"alg":"RS256","kid":7}"#,
            r#"{"kid":"k"}"#,
            r#"["alg"]"#,
        ] {
            let token = format!("{}.{claims}.c2ln", b64(header));
            assert!(matches!(parse(&token), Err(AuthError::InvalidToken(_))), "{header}");
        }
        for token in ["a.b", "a.b.c.d", "e30=.e30.c2ln", "%%.e30.c2ln"] {
            assert!(parse(token).is_err(), "{token}");
        }
        assert_eq!(parse(&"a".repeat(MAX_TOKEN_BYTES + 1)).unwrap_err(), AuthError::InvalidToken("token too large"));
    }
}
