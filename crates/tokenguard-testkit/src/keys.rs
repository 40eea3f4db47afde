//! Signing keys of the test issuer, generated fresh with aws-lc-rs.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

/// The algorithm of a test issuer key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlg {
    /// RSA-2048, PKCS#1 v1.5 with SHA-256.
    Rs256,
    /// RSA-2048, PSS with SHA-256.
    Ps256,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
}

impl KeyAlg {
    /// The JWS `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            KeyAlg::Rs256 => "RS256",
            KeyAlg::Ps256 => "PS256",
            KeyAlg::Es256 => "ES256",
            KeyAlg::EdDsa => "EdDSA",
        }
    }
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

pub(crate) struct SigningKey {
    pub(crate) kid: String,
    pub(crate) alg: KeyAlg,
    pair: Pair,
}

impl SigningKey {
    pub(crate) fn generate(kid: &str, alg: KeyAlg) -> Self {
        let pair = match alg {
            KeyAlg::Rs256 | KeyAlg::Ps256 => Pair::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA keygen")),
            KeyAlg::Es256 => {
                Pair::Ec(EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC keygen"))
            }
            KeyAlg::EdDsa => Pair::Ed(Ed25519KeyPair::generate().expect("Ed25519 keygen")),
        };
        Self { kid: kid.to_owned(), alg, pair }
    }

    pub(crate) fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match (&self.pair, self.alg) {
            (Pair::Rsa(pair), alg) => {
                let padding: &'static dyn signature::RsaEncoding =
                    if alg == KeyAlg::Ps256 { &signature::RSA_PSS_SHA256 } else { &signature::RSA_PKCS1_SHA256 };
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(padding, &rng, message, &mut signature).expect("RSA sign");
                signature
            }
            (Pair::Ec(pair), _) => pair.sign(&rng, message).expect("EC sign").as_ref().to_vec(),
            (Pair::Ed(pair), _) => pair.sign(message).as_ref().to_vec(),
        }
    }

    pub(crate) fn jwk(&self) -> Value {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        match &self.pair {
            Pair::Rsa(pair) => {
                let public = pair.public_key();
                json!({
                    "kty": "RSA", "kid": self.kid, "use": "sig", "alg": self.alg.name(),
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                })
            }
            Pair::Ec(pair) => {
                let point = pair.public_key().as_ref();
                json!({
                    "kty": "EC", "kid": self.kid, "use": "sig", "alg": "ES256", "crv": "P-256",
                    "x": b64(&point[1..33]), "y": b64(&point[33..65]),
                })
            }
            Pair::Ed(pair) => json!({
                "kty": "OKP", "kid": self.kid, "use": "sig", "alg": "EdDSA", "crv": "Ed25519",
                "x": b64(pair.public_key().as_ref()),
            }),
        }
    }

    pub(crate) fn public_pem(&self) -> String {
        let der = match &self.pair {
            Pair::Rsa(pair) => pair.public_key().as_der().expect("RSA public DER").as_ref().to_vec(),
            Pair::Ec(pair) => pair.public_key().as_der().expect("EC public DER").as_ref().to_vec(),
            Pair::Ed(pair) => pair.public_key().as_der().expect("Ed public DER").as_ref().to_vec(),
        };
        let body = STANDARD.encode(der);
        let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
        format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", lines.join("\n"))
    }
}
