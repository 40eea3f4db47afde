//! Verification keys: each carries the algorithms it may verify, decided by
//! the key (its JWK `kty`, `crv`, `alg`) and the configured allow-list,
//! never by a token.
//!
//! Keys are parsed once, when the key set is loaded: each holds an aws-lc
//! `ParsedPublicKey` per allowed algorithm (the same aws-lc backend
//! `jsonwebtoken` uses, minus its per-call key parsing), so a verification
//! costs the signature check and nothing more.

use std::fmt;

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{self, ParsedPublicKey, VerificationAlgorithm};
use base64_simd::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

use crate::secret::Secret;

/// RSA keys shorter than this are never used (RFC 8725 §3.5, NIST SP 800-131A).
pub const MIN_RSA_BITS: usize = 2048;

/// HMAC secrets shorter than this are refused (RFC 7518 §3.2: at least the hash size).
pub const MIN_HMAC_SECRET_BYTES: usize = 32;

/// The asymmetric algorithms accepted by default.
pub const DEFAULT_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// A pre-parsed key that may verify tokens signed with one of its algorithms.
#[derive(Clone)]
pub struct VerificationKey {
    kid: Option<String>,
    algorithms: Vec<Algorithm>,
    verifiers: Vec<Verifier>,
    /// The JWK it came from, to recognise the same key across refreshes.
    jwk: Option<Map<String, Value>>,
}

impl VerificationKey {
    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithms this key may verify.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// Whether this key may verify a token signed with `alg`.
    pub fn allows(&self, alg: Algorithm) -> bool {
        self.algorithms.contains(&alg)
    }

    /// Whether this key was made from exactly `jwk`.
    pub(crate) fn is_from(&self, jwk: &Map<String, Value>) -> bool {
        self.jwk.as_ref() == Some(jwk)
    }

    /// Checks `signature` over `message` with algorithm `alg` (which must be
    /// one of [`VerificationKey::algorithms`]).
    pub(crate) fn verify_signature(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        self.algorithms.iter().zip(&self.verifiers).any(|(allowed, verifier)| {
            *allowed == alg
                && match verifier {
                    Verifier::Public(key) => key.verify_sig(message, signature).is_ok(),
                    Verifier::Hmac(key) => hmac::verify(key, message, signature).is_ok(),
                }
        })
    }

    fn new(
        kid: Option<String>,
        algorithms: Vec<Algorithm>,
        material: &KeyMaterial,
        jwk: Option<Map<String, Value>>,
    ) -> Result<Self, &'static str> {
        let verifiers = algorithms.iter().map(|alg| material.verifier(*alg)).collect::<Result<_, _>>()?;
        Ok(Self { kid, algorithms, verifiers, jwk })
    }

    /// Builds a key from one JWK (RFC 7517), or says why it cannot verify
    /// signatures. `allowed` is the deployment's algorithm allow-list.
    ///
    /// Refused: symmetric (`oct`) keys, keys for encryption (`use` other than
    /// `sig`, or `key_ops` without `verify`), RSA keys under 2048 bits, unknown
    /// key types and curves, and keys whose `alg` is not allowed or does not
    /// fit the key type.
    pub fn from_jwk(jwk: &Map<String, Value>, allowed: &[Algorithm]) -> Result<Self, &'static str> {
        let text = |name: &str| match jwk.get(name) {
            None => Ok(None),
            Some(Value::String(value)) => Ok(Some(value.as_str())),
            Some(_) => Err("a JWK member has the wrong type"),
        };
        if text("use")?.is_some_and(|usage| usage != "sig") {
            return Err("key is not for signatures");
        }
        if let Some(ops) = jwk.get("key_ops") {
            let verifies = ops.as_array().is_some_and(|ops| ops.iter().any(|op| op == "verify"));
            if !verifies {
                return Err("key_ops does not allow verify");
            }
        }
        let (family, key) = match (text("kty")?, text("crv")?) {
            (Some("RSA"), _) => {
                let n = text("n")?.ok_or("RSA key without n")?;
                let e = text("e")?.ok_or("RSA key without e")?;
                let modulus = URL_SAFE_NO_PAD.decode_to_vec(n).map_err(|_| "bad RSA modulus")?;
                let bits = modulus
                    .iter()
                    .position(|&b| b != 0)
                    .map_or(0, |first| (modulus.len() - first) * 8 - modulus[first].leading_zeros() as usize);
                if bits < MIN_RSA_BITS {
                    return Err("RSA key too short");
                }
                let exponent = URL_SAFE_NO_PAD.decode_to_vec(e).map_err(|_| "bad RSA exponent")?;
                (KeyFamily::Rsa, KeyMaterial::Public(rsa_public_key_der(&modulus, &exponent)))
            }
            (Some("EC"), Some(crv @ ("P-256" | "P-384"))) => {
                let x = text("x")?.ok_or("EC key without x")?;
                let y = text("y")?.ok_or("EC key without y")?;
                let (family, size) = if crv == "P-256" { (KeyFamily::P256, 32) } else { (KeyFamily::P384, 48) };
                let x = URL_SAFE_NO_PAD.decode_to_vec(x).map_err(|_| "bad EC key")?;
                let y = URL_SAFE_NO_PAD.decode_to_vec(y).map_err(|_| "bad EC key")?;
                if x.len() != size || y.len() != size {
                    return Err("bad EC key");
                }
                (family, KeyMaterial::Public([&[4u8][..], &x, &y].concat()))
            }
            (Some("OKP"), Some("Ed25519")) => {
                let x = text("x")?.ok_or("OKP key without x")?;
                let x = URL_SAFE_NO_PAD.decode_to_vec(x).map_err(|_| "bad Ed25519 key")?;
                if x.len() != 32 {
                    return Err("bad Ed25519 key");
                }
                (KeyFamily::Ed25519, KeyMaterial::Public(x))
            }
            (Some("oct"), _) => return Err("symmetric keys are never published for verification"),
            _ => return Err("unsupported key type or curve"),
        };
        let algorithms = match text("alg")? {
            Some(name) => {
                let alg = algorithm(name).map_err(|_| "unsupported alg")?;
                if !family.algorithms().contains(&alg) {
                    return Err("alg does not fit the key type");
                }
                vec![alg]
            }
            None => family.algorithms().to_vec(),
        };
        let algorithms: Vec<_> = algorithms.into_iter().filter(|alg| allowed.contains(alg)).collect();
        if algorithms.is_empty() {
            return Err("no allowed algorithm for this key");
        }
        Self::new(text("kid")?.map(str::to_owned), algorithms, &key, Some(jwk.clone()))
    }
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key material itself is public, but HMAC keys are not: never print it.
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

/// A pre-parsed verifier for one algorithm.
#[derive(Clone)]
enum Verifier {
    Public(ParsedPublicKey),
    Hmac(Box<hmac::Key>),
}

/// Raw key bytes in the form aws-lc parses: PKCS#1 `RSAPublicKey` DER, an
/// uncompressed EC point, a raw Ed25519 key, or an HMAC secret.
enum KeyMaterial {
    Public(Vec<u8>),
    Secret(Vec<u8>),
}

impl KeyMaterial {
    fn verifier(&self, alg: Algorithm) -> Result<Verifier, &'static str> {
        let public: &'static dyn VerificationAlgorithm = match alg {
            Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
            Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
            Algorithm::EdDSA => &signature::ED25519,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                let hmac_alg = match alg {
                    Algorithm::HS256 => hmac::HMAC_SHA256,
                    Algorithm::HS384 => hmac::HMAC_SHA384,
                    _ => hmac::HMAC_SHA512,
                };
                // An HMAC algorithm only ever pairs with a configured secret.
                return match self {
                    KeyMaterial::Secret(secret) => Ok(Verifier::Hmac(Box::new(hmac::Key::new(hmac_alg, secret)))),
                    KeyMaterial::Public(_) => Err("HMAC needs a secret"),
                };
            }
            _ => return Err("unsupported algorithm"),
        };
        match self {
            KeyMaterial::Public(bytes) => {
                ParsedPublicKey::new(public, bytes).map(Verifier::Public).map_err(|_| "the key does not parse")
            }
            KeyMaterial::Secret(_) => Err("a secret cannot verify an asymmetric algorithm"),
        }
    }
}

/// DER of a PKCS#1 `RSAPublicKey` (`SEQUENCE { INTEGER n, INTEGER e }`).
fn rsa_public_key_der(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
    fn push_len(out: &mut Vec<u8>, len: usize) {
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
    }
    fn integer(value: &[u8]) -> Vec<u8> {
        let value = &value[value.iter().position(|&b| b != 0).unwrap_or(value.len().saturating_sub(1))..];
        let mut out = vec![0x02];
        let pad = value.first().is_some_and(|b| b & 0x80 != 0);
        push_len(&mut out, value.len() + usize::from(pad));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(value);
        out
    }
    let body = [integer(modulus), integer(exponent)].concat();
    let mut out = vec![0x30];
    push_len(&mut out, body.len());
    out.extend(body);
    out
}

#[derive(Clone, Copy)]
enum KeyFamily {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl KeyFamily {
    fn algorithms(self) -> &'static [Algorithm] {
        match self {
            KeyFamily::Rsa => &[
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ],
            KeyFamily::P256 => &[Algorithm::ES256],
            KeyFamily::P384 => &[Algorithm::ES384],
            KeyFamily::Ed25519 => &[Algorithm::EdDSA],
        }
    }
}

/// A key configured in code for an issuer that publishes no JWKS: a PEM
/// public key, or a shared HMAC secret for services that sign their own
/// tokens. Each is bound to exactly one algorithm.
#[derive(Clone, Debug)]
pub struct StaticKey(pub(crate) VerificationKey);

/// Why a static key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StaticKeyError {
    /// The HMAC secret is shorter than [`MIN_HMAC_SECRET_BYTES`].
    #[error("the HMAC secret must be at least {MIN_HMAC_SECRET_BYTES} bytes")]
    SecretTooShort,
    /// The algorithm does not fit the key.
    #[error("algorithm {0:?} does not fit this key")]
    AlgorithmMismatch(Algorithm),
    /// The PEM could not be read.
    #[error("the PEM public key could not be read")]
    BadPem,
}

impl StaticKey {
    /// An HMAC secret (at least 32 bytes) verifying `alg` (HS256, HS384 or HS512).
    pub fn hmac(alg: Algorithm, secret: &Secret) -> Result<Self, StaticKeyError> {
        if !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            return Err(StaticKeyError::AlgorithmMismatch(alg));
        }
        if secret.len() < MIN_HMAC_SECRET_BYTES {
            return Err(StaticKeyError::SecretTooShort);
        }
        let material = KeyMaterial::Secret(secret.expose().as_bytes().to_vec());
        let key = VerificationKey::new(None, vec![alg], &material, None)
            .map_err(|_| StaticKeyError::AlgorithmMismatch(alg))?;
        Ok(Self(key))
    }

    /// A PEM public key (`BEGIN PUBLIC KEY` or `BEGIN RSA PUBLIC KEY`) verifying `alg`.
    pub fn public_pem(alg: Algorithm, pem: &[u8]) -> Result<Self, StaticKeyError> {
        let key = match alg {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => DecodingKey::from_rsa_pem(pem),
            Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(pem),
            Algorithm::EdDSA => DecodingKey::from_ed_pem(pem),
            _ => return Err(StaticKeyError::AlgorithmMismatch(alg)),
        }
        .map_err(|_| StaticKeyError::BadPem)?;
        // jsonwebtoken's PEM reader yields the bytes aws-lc expects for this key type.
        let material = KeyMaterial::Public(key.try_get_as_bytes().map_err(|_| StaticKeyError::BadPem)?.to_vec());
        VerificationKey::new(None, vec![alg], &material, None).map(Self).map_err(|_| StaticKeyError::BadPem)
    }
}

/// Maps a JWS `alg` name to an algorithm. `none` and anything unknown fail;
/// names are case-sensitive (RFC 7515 §4.1.1).
pub fn algorithm(name: &str) -> Result<Algorithm, &'static str> {
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
        _ => return Err("unsupported algorithm"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jwk(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn rsa(bits: usize) -> Value {
        let mut n = vec![0xffu8; bits / 8];
        n[0] = 0xc1;
        json!({"kty": "RSA", "kid": "r", "n": URL_SAFE_NO_PAD.encode_to_string(n), "e": "AQAB"})
    }

    #[test]
    fn algorithms_come_from_the_key() {
        let key = VerificationKey::from_jwk(&jwk(rsa(2048)), DEFAULT_ALGORITHMS).unwrap();
        assert!(key.allows(Algorithm::RS256) && key.allows(Algorithm::PS512));
        assert!(!key.allows(Algorithm::HS256) && !key.allows(Algorithm::ES256));
        let mut pinned = rsa(2048);
        pinned["alg"] = json!("RS256");
        let key = VerificationKey::from_jwk(&jwk(pinned), DEFAULT_ALGORITHMS).unwrap();
        assert_eq!(key.algorithms(), [Algorithm::RS256]);
    }

    #[test]
    fn unusable_keys_are_refused() {
        let mut encryption = rsa(2048);
        encryption["use"] = json!("enc");
        let mut mismatched = rsa(2048);
        mismatched["alg"] = json!("ES256");
        let mut hmac_alg = rsa(2048);
        hmac_alg["alg"] = json!("HS256");
        let mut wrap_only = rsa(2048);
        wrap_only["key_ops"] = json!(["wrapKey"]);
        for (case, key) in [
            ("weak", rsa(1024)),
            ("enc", encryption),
            ("mismatch", mismatched),
            ("hmac alg", hmac_alg),
            ("key_ops", wrap_only),
            ("oct", json!({"kty": "oct", "k": "c2VjcmV0"})),
            ("unknown", json!({"kty": "XYZ"})),
        ] {
            assert!(VerificationKey::from_jwk(&jwk(key), DEFAULT_ALGORITHMS).is_err(), "{case}");
        }
        assert!(VerificationKey::from_jwk(&jwk(rsa(2048)), &[Algorithm::ES256]).is_err());
    }

    #[test]
    fn hmac_secrets_must_be_long_enough() {
        assert_eq!(
            StaticKey::hmac(Algorithm::HS256, &Secret::new("short")).unwrap_err(),
            StaticKeyError::SecretTooShort
        );
        assert!(StaticKey::hmac(Algorithm::HS256, &Secret::new("x".repeat(32))).is_ok());
        assert!(StaticKey::hmac(Algorithm::RS256, &Secret::new("x".repeat(32))).is_err());
    }
}
