//! `tokenguard-instructions MODE ALG N`: runs N verifications of one token,
//! either through tokenguard (`tokenguard`: `Authenticator::verify` with a
//! static key and no token cache, or `cached`: with the cache, after one
//! warm-up) or with the bare aws-lc check of the same signature on a
//! pre-parsed key (`bare`). Only the loop is meant to be measured:
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='tokenguard_instructions::*_loop'`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use aws_lc_rs::signature::{self, ParsedPublicKey};
use tokenguard_core::{Algorithm, Authenticator, Credential, JwtRules, Scheme, StaticKey, TokenCacheOptions};
use tokenguard_testkit::{DEFAULT_AUDIENCE, KeyAlg, TestIssuer};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, alg, n) = match args.as_slice() {
        [mode, alg, n] => (mode.as_str(), alg.as_str(), n.parse().expect("N")),
        _ => panic!("usage: tokenguard-instructions tokenguard|cached|bare rs256|es256|eddsa N"),
    };
    let (key_alg, jwa) = match alg {
        "rs256" => (KeyAlg::Rs256, Algorithm::RS256),
        "es256" => (KeyAlg::Es256, Algorithm::ES256),
        "eddsa" => (KeyAlg::EdDsa, Algorithm::EdDSA),
        _ => panic!("unknown algorithm {alg}"),
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let issuer = rt.block_on(TestIssuer::start_with(key_alg));
    let token = issuer.token().scope("read write").sign();
    let kid = issuer.current_kid();
    let jwk = issuer.public_jwk(&kid).expect("jwk");
    let cache = match mode {
        "cached" => TokenCacheOptions::default(),
        _ => TokenCacheOptions { max_bytes: 0, ..TokenCacheOptions::default() },
    };
    let pem = issuer.public_key_pem(&kid).expect("pem");
    let floor = floor(&jwk, &pem, key_alg);
    let authenticator = Authenticator::builder()
        .static_key(JwtRules::new(issuer.issuer(), [DEFAULT_AUDIENCE]), StaticKey::public_pem(jwa, pem.as_bytes()).expect("static"))
        .token_cache(cache)
        .build()
        .expect("authenticator");
    let credential = Credential::new(Scheme::Bearer, &token);
    let (input, signature) = token.rsplit_once('.').expect("jws");
    let signature = URL_SAFE_NO_PAD.decode(signature).expect("signature");
    assert!(floor.verify_sig(input.as_bytes(), &signature).is_ok(), "the floor verifies");
    match mode {
        "tokenguard" | "cached" => {
            futures::executor::block_on(authenticator.verify(credential)).expect("verifies");
            tokenguard_loop(&authenticator, credential, n);
        }
        "bare" => bare_loop(&floor, input.as_bytes(), &signature, n),
        _ => panic!("unknown mode {mode}"),
    }
}

#[inline(never)]
fn tokenguard_loop(authenticator: &Authenticator, credential: Credential<'_>, n: usize) {
    for _ in 0..n {
        let principal = futures::executor::block_on(authenticator.verify(std::hint::black_box(credential)));
        std::hint::black_box(principal.expect("verifies"));
    }
}

#[inline(never)]
fn bare_loop(key: &ParsedPublicKey, input: &[u8], signature: &[u8], n: usize) {
    for _ in 0..n {
        assert!(key.verify_sig(std::hint::black_box(input), std::hint::black_box(signature)).is_ok());
    }
}

/// The public key, parsed once by aws-lc directly from the JWK.
fn floor(jwk: &serde_json::Value, pem: &str, alg: KeyAlg) -> ParsedPublicKey {
    let b64 = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().expect("member")).expect("base64url");
    match alg {
        KeyAlg::Rs256 | KeyAlg::Ps256 => {
            // The SubjectPublicKeyInfo of the PEM; aws-lc takes it as is.
            let spki: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
            let der = base64::engine::general_purpose::STANDARD.decode(spki).expect("PEM base64");
            ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, der).expect("RSA key")
        }
        KeyAlg::Es256 => {
            let point: Vec<u8> = [&[4u8][..], &b64("x"), &b64("y")].concat();
            ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).expect("EC key")
        }
        KeyAlg::EdDsa => ParsedPublicKey::new(&signature::ED25519, b64("x")).expect("Ed25519 key"),
    }
}
