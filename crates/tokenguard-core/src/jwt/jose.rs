//! The JWS compact serialization, parsed without trusting it (RFC 7515).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::borrow::Cow;

use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde_json::value::RawValue;
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
    /// The decoded claims set (a JSON object), read through [`ParsedJwt::claims`].
    payload: String,
    /// `BASE64URL(header) . BASE64URL(payload)`.
    pub signing_input: &'a str,
    /// The base64url signature.
    pub signature: &'a str,
}

impl ParsedJwt<'_> {
    /// The registered claims, borrowed from the payload (nothing else is parsed).
    pub fn claims(&self) -> Result<ClaimsView<'_>, AuthError> {
        serde_json::from_str(&self.payload).map_err(|_| AuthError::InvalidToken("malformed token"))
    }

    /// The claims set as JSON text.
    pub fn into_payload(self) -> String {
        self.payload
    }
}

/// The claims tokenguard reads, each left as raw JSON until checked, so a
/// verification allocates nothing for claims it does not need. A claim
/// given twice makes the token malformed.
#[derive(Debug, Default, Deserialize)]
pub struct ClaimsView<'a> {
    #[serde(borrow)]
    pub(crate) iss: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(crate) sub: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(crate) aud: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(crate) exp: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(crate) nbf: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(crate) iat: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(crate) scope: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(crate) scp: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(crate) client_id: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(crate) azp: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(crate) cid: Option<&'a RawValue>,
    /// Keycloak names the kind of token here (`Bearer`, `Refresh`, `ID`).
    #[serde(borrow)]
    pub(crate) typ: Option<&'a RawValue>,
    /// Amazon Cognito names the kind of token here (`access`, `id`).
    #[serde(borrow)]
    pub(crate) token_use: Option<&'a RawValue>,
    /// The confirmation (RFC 7800): `{"jkt": …}` for a DPoP-bound token.
    #[serde(borrow)]
    pub(crate) cnf: Option<&'a RawValue>,
    // Where claim mappings find roles and permissions (left raw, and skipped
    // without allocating when the issuer's mapping does not read them).
    #[serde(borrow)]
    pub(crate) roles: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(crate) permissions: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(crate) groups: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(crate) realm_access: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(crate) resource_access: Option<&'a RawValue>,
}

impl<'a> ClaimsView<'a> {
    /// The `iss` claim, if it is a string.
    pub fn issuer(&self) -> Option<Cow<'a, str>> {
        string(self.iss)
    }
}

/// A raw JSON value as a string, if it is one.
pub(crate) fn string<'a>(raw: Option<&'a RawValue>) -> Option<Cow<'a, str>> {
    raw.and_then(|raw| serde_json::from_str::<Cow<'a, str>>(raw.get()).ok())
}

/// Whether a token has the shape of a JWS (three dot-separated parts), so it
/// should be verified as a JWT rather than looked up as an opaque token.
pub fn looks_like_jwt(token: &str) -> bool {
    // `str::split_once(char)` searches with memchr: a few instructions per
    // 16 bytes instead of one comparison per byte.
    match token.split_once('.').and_then(|(_, rest)| rest.split_once('.')) {
        Some((_, signature)) => !signature.contains('.'),
        None => false,
    }
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
    let header = read_header(&decode_json_object(header_b64)?)?;
    let payload = decode_json_object(payload_b64)?;
    Ok(ParsedJwt { header, payload, signing_input, signature })
}

/// Decodes a base64url segment that must hold a JSON object, as text.
fn decode_json_object(segment: &str) -> Result<String, AuthError> {
    let malformed = || AuthError::InvalidToken("malformed token");
    let bytes = URL_SAFE_NO_PAD.decode(segment).map_err(|_| malformed())?;
    let text = String::from_utf8(bytes).map_err(|_| malformed())?;
    // serde would also read a struct from a JSON array: only objects are JOSE.
    if !text.trim_start().starts_with('{') {
        return Err(malformed());
    }
    Ok(text)
}

/// Decodes a segment into a JSON object without verifying anything (to
/// inspect a token).
pub fn decode_object(segment: &str) -> Result<Map<String, Value>, AuthError> {
    serde_json::from_str(&decode_json_object(segment)?).map_err(|_| AuthError::InvalidToken("malformed token"))
}

/// The header members tokenguard reads, borrowed.
#[derive(Deserialize)]
struct RawHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    typ: Option<Cow<'a, str>>,
    #[serde(default)]
    crit: Presence,
}

/// Whether a member is present at all (even as `null`).
#[derive(Default)]
struct Presence(bool);

impl<'de> Deserialize<'de> for Presence {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer).map(|_| Presence(true))
    }
}

fn read_header(header: &str) -> Result<JoseHeader, AuthError> {
    let header: RawHeader<'_> = serde_json::from_str(header).map_err(|_| AuthError::InvalidToken("malformed token"))?;
    // We understand no extension, so any `crit` means we must refuse (RFC 7515 §4.1.11).
    if header.crit.0 {
        return Err(AuthError::InvalidToken("unsupported critical header"));
    }
    Ok(JoseHeader {
        alg: algorithm(&header.alg)?,
        kid: header.kid.map(Cow::into_owned),
        typ: header.typ.map(Cow::into_owned),
    })
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

    #[test]
    fn jwt_shape_is_exactly_three_segments() {
        for (token, shaped) in [
            ("a.b.c", true),
            ("..", true),
            ("a.b", false),
            ("a.b.c.d", false),
            ("abc", false),
            ("a.b.c.d.e", false),
            ("", false),
        ] {
            assert_eq!(looks_like_jwt(token), shaped, "{token:?}");
        }
    }

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
        assert_eq!(parsed.claims().unwrap().sub.map(|raw| raw.get()), Some(r#""a""#));
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
