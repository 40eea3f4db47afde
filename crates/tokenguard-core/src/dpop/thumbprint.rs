//! JWK thumbprints (RFC 7638) and access-token hashes (RFC 9449 `ath`).

use aws_lc_rs::digest::{SHA256, digest};
use base64_simd::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// The SHA-256 JWK thumbprint of a public key (RFC 7638 §3): the digest of
/// its required members, in lexicographic order, without whitespace,
/// base64url-encoded. This is what a DPoP-bound token names in `cnf.jkt`.
///
/// Only key types a DPoP proof may use are accepted (`RSA`, `EC`, `OKP`).
pub fn jwk_thumbprint(jwk: &Map<String, Value>) -> Result<String, &'static str> {
    let member = |name: &str| match jwk.get(name) {
        Some(Value::String(value)) => Ok(quoted(value)),
        _ => Err("a required JWK member is missing"),
    };
    let canonical = match jwk.get("kty").and_then(Value::as_str) {
        Some("RSA") => format!(r#"{{"e":{},"kty":"RSA","n":{}}}"#, member("e")?, member("n")?),
        Some("EC") => {
            format!(r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#, member("crv")?, member("x")?, member("y")?)
        }
        Some("OKP") => format!(r#"{{"crv":{},"kty":"OKP","x":{}}}"#, member("crv")?, member("x")?),
        _ => return Err("unsupported key type"),
    };
    Ok(sha256_base64url(canonical.as_bytes()))
}

/// `ath`: the base64url SHA-256 of the access token's ASCII bytes (RFC 9449 §4.2).
pub fn access_token_hash(token: &str) -> String {
    sha256_base64url(token.as_bytes())
}

fn sha256_base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode_to_string(digest(&SHA256, bytes).as_ref())
}

/// A JSON string literal (RFC 7638 §3.3: members are serialized as JSON strings).
fn quoted(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn rfc7638_example() {
        let jwk = map(json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29",
        }));
        assert_eq!(jwk_thumbprint(&jwk).unwrap(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn optional_members_do_not_change_it_and_required_ones_do() {
        let ec = json!({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "BBBB"});
        let decorated = json!({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "BBBB", "kid": "k", "use": "sig"});
        let other = json!({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "BBBC"});
        assert_eq!(jwk_thumbprint(&map(ec.clone())), jwk_thumbprint(&map(decorated)));
        assert_ne!(jwk_thumbprint(&map(ec)), jwk_thumbprint(&map(other)));
        assert!(jwk_thumbprint(&map(json!({"kty": "EC", "crv": "P-256", "x": "AAAA"}))).is_err());
        assert!(jwk_thumbprint(&map(json!({"kty": "oct", "k": "AAAA"}))).is_err());
    }
}
