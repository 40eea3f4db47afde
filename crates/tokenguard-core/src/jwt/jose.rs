//! The JWS compact serialization, parsed without trusting it (RFC 7515).

use std::borrow::Cow;
use std::mem::MaybeUninit;

use base64_simd::{Out, URL_SAFE_NO_PAD};

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
    pub fn payload(&self) -> &str {
        &self.payload
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
    let text = raw?.get();
    // A `RawValue` is one well-formed JSON value without surrounding
    // whitespace, so a quoted one without `\` is a string whose content
    // is the bytes between the quotes: no need to run a parser.
    if let Some(inner) = text.strip_prefix('"').and_then(|rest| rest.strip_suffix('"'))
        && !inner.contains('\\')
    {
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<Cow<'a, str>>(text).ok()
}

/// Whether a token has the shape of a JWS (three dot-separated parts), so it
/// should be verified as a JWT rather than looked up as an opaque token.
pub fn looks_like_jwt(token: &str) -> bool {
    segments(token).is_some()
}

/// The header, payload and signature of a compact JWS: exactly two dots.
fn segments(token: &str) -> Option<(&str, &str, &str)> {
    // `memchr` searches with SIMD; `str::split_once` is several times
    // slower on a 1 KiB token, which is scanned on every uncached request.
    let mut dots = memchr::memchr_iter(b'.', token.as_bytes());
    let (first, second) = (dots.next()?, dots.next()?);
    if dots.next().is_some() {
        return None;
    }
    // Slicing at an ASCII byte found in a `str` is always on a char boundary.
    Some((&token[..first], &token[first + 1..second], &token[second + 1..]))
}

/// Parses a compact JWS. Every failure is `invalid_token`.
pub fn parse(token: &str) -> Result<ParsedJwt<'_>, AuthError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::InvalidToken("token too large"));
    }
    let (header_b64, payload_b64, signature) = segments(token).ok_or(AuthError::InvalidToken("malformed token"))?;
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
    let header = read_header(header_b64)?;
    let payload = decode_json_object(payload_b64)?;
    Ok(ParsedJwt { header, payload, signing_input, signature })
}

/// Decodes a base64url segment.
fn decode(segment: &str) -> Result<Vec<u8>, AuthError> {
    URL_SAFE_NO_PAD.decode_to_vec(segment).map_err(|_| AuthError::InvalidToken("malformed token"))
}

/// Decodes a base64url segment into `buffer` (typically uninitialized
/// stack memory: no allocation, no zeroing), if it is valid and fits.
pub(crate) fn decode_into<'b>(segment: &str, buffer: &'b mut [MaybeUninit<u8>]) -> Option<&'b [u8]> {
    // Checked first: `decode` panics on a buffer that is too small.
    let fits = URL_SAFE_NO_PAD.decoded_length(segment.as_bytes()).is_ok_and(|len| len <= buffer.len());
    match fits {
        true => URL_SAFE_NO_PAD.decode(segment.as_bytes(), Out::from_uninit_slice(buffer)).ok().map(|d| &*d),
        false => None,
    }
}

/// Refuses JSON text that does not start as an object: serde would also
/// read a struct from a JSON array, and only objects are JOSE.
fn json_object(text: &str) -> Result<(), AuthError> {
    match text.trim_start().starts_with('{') {
        true => Ok(()),
        false => Err(AuthError::InvalidToken("malformed token")),
    }
}

/// Decodes a base64url segment that must hold a JSON object, as text.
fn decode_json_object(segment: &str) -> Result<String, AuthError> {
    let text = String::from_utf8(decode(segment)?).map_err(|_| AuthError::InvalidToken("malformed token"))?;
    json_object(&text)?;
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

/// Headers up to this size are decoded on the stack; a JOSE header is
/// usually under 100 bytes.
const STACK_HEADER_BYTES: usize = 512;

fn read_header(header_b64: &str) -> Result<JoseHeader, AuthError> {
    let malformed = || AuthError::InvalidToken("malformed token");
    let mut buffer = [MaybeUninit::<u8>::uninit(); STACK_HEADER_BYTES];
    let heap;
    // What does not decode on the stack (too large, or not base64url) is
    // decoded on the heap, which fails for what is not base64url.
    let decoded = match decode_into(header_b64, &mut buffer) {
        Some(decoded) => decoded,
        None => {
            heap = decode(header_b64)?;
            &heap
        }
    };
    let text = std::str::from_utf8(decoded).map_err(|_| malformed())?;
    json_object(text)?;
    let header: RawHeader<'_> = serde_json::from_str(text).map_err(|_| malformed())?;
    // We understand no extension, so any `crit` means we must refuse (RFC 7515 §4.1.11).
    if header.crit.0 {
        return Err(AuthError::InvalidToken("unsupported critical header"));
    }
    Ok(JoseHeader {
        alg: crate::keys::algorithm(&header.alg).map_err(AuthError::InvalidToken)?,
        kid: header.kid.map(Cow::into_owned),
        typ: header.typ.map(Cow::into_owned),
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
        URL_SAFE_NO_PAD.encode_to_string(json)
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

    #[test]
    fn base64url_must_be_canonical() {
        // `e30` is `{}`; `e31` decodes to the same bytes with non-zero trailing bits.
        let header = b64(r#"{"alg":"RS256"}"#);
        assert!(parse(&format!("{header}.e30.c2ln")).is_ok());
        for token in [format!("{header}.e31.c2ln"), format!("{header}.e30=.c2ln"), format!("{header}.e3 0.c2ln")] {
            assert!(parse(&token).is_err(), "{token}");
        }
    }

    #[test]
    fn headers_of_any_size_up_to_the_token_bound_parse() {
        // Decoded on the stack up to STACK_HEADER_BYTES (a 488-byte kid fills it exactly), on the heap beyond.
        for kid_len in [1, STACK_HEADER_BYTES - 24, STACK_HEADER_BYTES - 23, 4096] {
            let kid = "k".repeat(kid_len);
            let header = b64(&format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#));
            let token = format!("{header}.e30.c2ln");
            let parsed = parse(&token).unwrap();
            assert_eq!(parsed.header.kid.as_deref(), Some(kid.as_str()), "{kid_len}");
        }
    }

    #[test]
    fn strings_are_read_with_and_without_escapes() {
        let raw = |json: &str| serde_json::from_str::<Box<RawValue>>(json).unwrap();
        for (json, expected) in [
            (r#""plain""#, Some("plain")),
            (r#""""#, Some("")),
            (r#""caf\u00e9 \"q\"""#, Some("caf\u{e9} \"q\"")),
            (r#""a\\b""#, Some("a\\b")),
            ("7", None),
            ("null", None),
            (r#"["a"]"#, None),
            (r#"{"a":"b"}"#, None),
        ] {
            let value = raw(json);
            assert_eq!(string(Some(&value)).as_deref(), expected, "{json}");
        }
        assert_eq!(string(None), None);
    }
}
