//! Reading and checking one DPoP proof (RFC 9449 §4.3).

use std::borrow::Cow;

use aws_lc_rs::digest::{SHA256, digest};
use serde::Deserialize;
use serde_json::value::RawValue;
use url::Url;

use super::DpopOptions;
use super::replay::ProofId;
use super::thumbprint::{access_token_hash, jwk_thumbprint};
use crate::error::AuthError;
use crate::jwt::jose;
use crate::jwt::rules::numeric_date;
use crate::keys::VerificationKey;
use crate::request::{DpopRequest, Values};

/// Proofs longer than this are refused unread (an RSA-4096 proof is under 2 KiB).
pub const MAX_PROOF_BYTES: usize = 8 * 1024;

/// Longest `jti` accepted.
const MAX_JTI_BYTES: usize = 256;

/// A proof that passed every check but the key binding and replay.
pub(crate) struct CheckedProof {
    /// RFC 7638 thumbprint of the proof's key.
    pub(crate) thumbprint: String,
    /// The proof's identity in the replay cache.
    pub(crate) id: ProofId,
}

/// The claims of a proof. Unknown claims (`nonce`…) are ignored; a
/// duplicated or mistyped claim makes the proof malformed.
#[derive(Deserialize)]
struct ProofClaims<'a> {
    #[serde(borrow)]
    jti: Option<Cow<'a, str>>,
    #[serde(borrow)]
    htm: Option<Cow<'a, str>>,
    #[serde(borrow)]
    htu: Option<Cow<'a, str>>,
    #[serde(borrow)]
    iat: Option<&'a RawValue>,
    #[serde(borrow)]
    ath: Option<Cow<'a, str>>,
}

/// JWK members that only a private key has: a proof carrying one leaks
/// the client's key and is refused.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

pub(crate) fn check(
    request: &DpopRequest<'_>,
    access_token: &str,
    options: &DpopOptions,
    origin: Option<&str>,
    now: u64,
) -> Result<CheckedProof, AuthError> {
    let invalid = AuthError::InvalidDpopProof;
    let proof = match request.proof {
        Values::None => return Err(invalid("missing DPoP proof")),
        Values::Several => return Err(invalid("more than one DPoP proof")),
        Values::One(proof) if proof.len() > MAX_PROOF_BYTES => return Err(invalid("DPoP proof too large")),
        Values::One(proof) => std::str::from_utf8(proof).map_err(|_| invalid("malformed DPoP proof"))?,
    };
    let jwt = jose::parse(proof).map_err(|_| invalid("malformed DPoP proof"))?;
    if !jwt.header.typ.as_deref().is_some_and(|typ| typ.eq_ignore_ascii_case("dpop+jwt")) {
        return Err(invalid("the DPoP proof must have typ dpop+jwt"));
    }
    let alg = jwt.header.alg;
    if !options.algorithms.contains(&alg) {
        return Err(invalid("DPoP proof algorithm not accepted"));
    }
    let header_segment = jwt.signing_input.split_once('.').map_or("", |(header, _)| header);
    let header = jose::decode_object(header_segment).map_err(|_| invalid("malformed DPoP proof"))?;
    let Some(serde_json::Value::Object(jwk)) = header.get("jwk") else {
        return Err(invalid("the DPoP proof carries no public key"));
    };
    if PRIVATE_MEMBERS.iter().any(|member| jwk.contains_key(*member)) {
        return Err(invalid("the DPoP proof key must be a public key"));
    }
    let key = VerificationKey::from_jwk(jwk, &[alg]).map_err(|_| invalid("unusable DPoP proof key"))?;
    if !crate::jwt::signature_is_valid(&jwt, &key, alg) {
        return Err(invalid("invalid DPoP proof signature"));
    }
    let thumbprint = jwk_thumbprint(jwk).map_err(|_| invalid("unusable DPoP proof key"))?;
    let claims: ProofClaims<'_> = serde_json::from_str(jwt.payload()).map_err(|_| invalid("malformed DPoP proof"))?;
    let jti = match claims.jti.as_deref() {
        Some(jti) if !jti.is_empty() && jti.len() <= MAX_JTI_BYTES => jti,
        _ => return Err(invalid("the DPoP proof needs a jti")),
    };
    if claims.htm.as_deref() != Some(request.method) {
        return Err(invalid("the DPoP proof is for another HTTP method"));
    }
    match claims.htu.as_deref() {
        Some(htu) if htu_matches(htu, request, origin) => {}
        _ => return Err(invalid("the DPoP proof is for another URI")),
    }
    let iat = claims.iat.and_then(numeric_date).ok_or(invalid("the DPoP proof needs an iat"))?;
    if iat > now.saturating_add(options.leeway.as_secs()) {
        return Err(invalid("the DPoP proof is from the future"));
    }
    if iat.saturating_add(options.max_age.as_secs()) < now {
        return Err(invalid("the DPoP proof is too old"));
    }
    if claims.ath.as_deref() != Some(access_token_hash(access_token).as_str()) {
        return Err(invalid("the DPoP proof is for another access token"));
    }
    let id = proof_id(&thumbprint, jti);
    Ok(CheckedProof { thumbprint, id })
}

/// `jti` values are unique per key: the id is the digest of both.
fn proof_id(thumbprint: &str, jti: &str) -> ProofId {
    let mut input = Vec::with_capacity(thumbprint.len() + 1 + jti.len());
    input.extend_from_slice(thumbprint.as_bytes());
    input.push(b' ');
    input.extend_from_slice(jti.as_bytes());
    let mut id = [0u8; 32];
    id.copy_from_slice(digest(&SHA256, &input).as_ref());
    id
}

/// Whether `htu` names the request's URI, ignoring query and fragment,
/// after syntax-based normalization (RFC 9449 §4.3 point 9, RFC 3986 §6.2.2).
fn htu_matches(htu: &str, request: &DpopRequest<'_>, origin: Option<&str>) -> bool {
    let Ok(htu) = Url::parse(htu) else { return false };
    if !htu.username().is_empty() || htu.password().is_some() {
        return false;
    }
    let expected = match (origin, request.authority) {
        // Concatenated, not joined: a path like `//evil.example/x` must stay a path.
        (Some(origin), _) => format!("{origin}{}", request.path),
        (None, Some(authority)) => {
            let scheme = request.scheme.unwrap_or(if htu.scheme() == "https" { "https" } else { "http" });
            format!("{scheme}://{authority}{}", request.path)
        }
        (None, None) => return false,
    };
    let Ok(expected) = Url::parse(&expected) else { return false };
    htu.scheme() == expected.scheme()
        && htu.host() == expected.host()
        && htu.port_or_known_default() == expected.port_or_known_default()
        && htu.path() == expected.path()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(scheme: Option<&'a str>, authority: Option<&'a str>, path: &'a str) -> DpopRequest<'a> {
        DpopRequest::new("GET", scheme, authority, path, std::iter::empty())
    }

    #[test]
    fn htu_is_compared_after_normalization_without_query() {
        let plain = request(None, Some("api.example"), "/recordings");
        assert!(htu_matches("https://api.example/recordings", &plain, None));
        assert!(htu_matches("http://API.example:80/recordings?x=1#f", &plain, None));
        assert!(htu_matches("https://api.example:443/recordings", &plain, None));
        assert!(!htu_matches("https://api.example:8443/recordings", &plain, None));
        assert!(!htu_matches("https://other.example/recordings", &plain, None));
        assert!(!htu_matches("https://api.example/recordings/1", &plain, None));
        assert!(!htu_matches("https://user@api.example/recordings", &plain, None));
        assert!(!htu_matches("ftp://api.example/recordings", &plain, None));
        assert!(!htu_matches("/recordings", &plain, None));
        let tls = request(Some("https"), Some("api.example"), "/recordings");
        assert!(!htu_matches("http://api.example/recordings", &tls, None));
        assert!(!htu_matches("https://api.example/recordings", &request(None, None, "/recordings"), None));
    }

    #[test]
    fn a_configured_origin_wins_over_the_host_header() {
        let spoofed = request(None, Some("evil.example"), "/v1/recordings");
        let origin = Some("https://api.example/api");
        assert!(htu_matches("https://api.example/api/v1/recordings", &spoofed, origin));
        assert!(!htu_matches("https://evil.example/v1/recordings", &spoofed, origin));
        let tricky = request(None, None, "//evil.example/x");
        assert!(!htu_matches("https://evil.example/x", &tricky, Some("https://api.example")));
    }

    #[test]
    fn debug_hides_the_proof() {
        let proofs: [&[u8]; 1] = [b"secret-proof"];
        let request = DpopRequest::new("GET", None, Some("a"), "/", proofs);
        assert!(!format!("{request:?}").contains("secret"));
    }
}
