//! DPoP proofs (RFC 9449) through the `Authenticator`, with a bound access
//! token that is always valid, so every input reaches the proof checks.
//!
//! The input is a raw proof; or (first byte 0) a claims set that the
//! harness puts behind a correct header and signs with the client key, so
//! fuzzed claims get past the signature; or (first byte 1) a header and a
//! claims set separated by a 0 byte, signed with the client key.
#![no_main]

use std::sync::LazyLock;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};
use tokenguard_core::dpop::{DpopOptions, jwk_thumbprint};
use tokenguard_core::plumbing::RequestView;
use tokenguard_core::{Algorithm, AuthError, Authenticator, JwtRules, Secret, StaticKey};

const ISSUER: &str = "https://issuer.fuzz";
const SECRET: &str = "a-fuzzing-secret-of-at-least-32-bytes";

struct Fixture {
    authenticator: Authenticator,
    client: EcdsaKeyPair,
    jwk: Value,
    token: String,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let key = StaticKey::hmac(Algorithm::HS256, &Secret::new(SECRET)).expect("key");
    let authenticator = Authenticator::builder()
        .static_key(JwtRules::new(ISSUER, ["api"]), key)
        .dpop(DpopOptions::default())
        .build()
        .expect("authenticator");
    let client = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("client key");
    let point = client.public_key().as_ref();
    let jwk = json!({
        "kty": "EC", "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    let Value::Object(members) = &jwk else { unreachable!() };
    let claims = json!({
        "iss": ISSUER, "sub": "fuzz", "aud": "api", "exp": 4_000_000_000u64,
        "cnf": { "jkt": jwk_thumbprint(members).expect("thumbprint") },
    });
    let token = hs256(br#"{"alg":"HS256","typ":"at+jwt"}"#, claims.to_string().as_bytes());
    Fixture { authenticator, client, jwk, token }
});

static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_current_thread().build().expect("runtime"));

fn signing_input(header: &[u8], claims: &[u8]) -> String {
    format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims))
}

fn hs256(header: &[u8], claims: &[u8]) -> String {
    let input = signing_input(header, claims);
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, SECRET.as_bytes());
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

fn es256(fixture: &Fixture, header: &[u8], claims: &[u8]) -> String {
    let input = signing_input(header, claims);
    let signature = fixture.client.sign(&SystemRandom::new(), input.as_bytes()).expect("sign");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
}

fuzz_target!(|data: &[u8]| {
    let fixture = &*FIXTURE;
    let proof = match data.split_first() {
        Some((0, claims)) => {
            let mut header = Map::new();
            header.insert("typ".into(), "dpop+jwt".into());
            header.insert("alg".into(), "ES256".into());
            header.insert("jwk".into(), fixture.jwk.clone());
            es256(fixture, Value::Object(header).to_string().as_bytes(), claims)
        }
        Some((1, rest)) => match rest.iter().position(|&b| b == 0) {
            Some(at) => es256(fixture, &rest[..at], &rest[at + 1..]),
            None => es256(fixture, rest, b"{}"),
        },
        _ => match std::str::from_utf8(data) {
            Ok(proof) => proof.to_owned(),
            Err(_) => return,
        },
    };
    let authorization = format!("DPoP {}", fixture.token);
    let request =
        RequestView::new("GET", Some("https"), Some("api.fuzz"), "/r", [authorization.as_bytes()], [proof.as_bytes()]);
    let outcome = RUNTIME.block_on(fixture.authenticator.authenticate(&request));
    match outcome.principal().ok_or(outcome.error()) {
        Ok(principal) => assert_eq!(principal.subject(), "fuzz"),
        Err(Some(AuthError::InvalidDpopProof(_) | AuthError::InvalidToken(_))) => {}
        // A full replay cache is refused with 503, by design.
        Err(Some(AuthError::Unavailable { .. })) => {}
        Err(other) => panic!("unexpected error {other:?}"),
    }
});
