//! JWS parsing and JWT verification through the `Authenticator`.
//!
//! The input is either a raw token, or (first byte 0) a header and a claims
//! set separated by a 0 byte, which the harness signs with the issuer's
//! HS256 secret, so that fuzzed claims reach every claim check behind a
//! valid signature.
#![no_main]

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use tokenguard_core::{Algorithm, AuthError, Authenticator, Credential, JwtRules, Scheme, Secret, StaticKey};

const ISSUER: &str = "https://issuer.fuzz";
const SECRET: &str = "a-fuzzing-secret-of-at-least-32-bytes";

static AUTHENTICATOR: LazyLock<Authenticator> = LazyLock::new(|| {
    let key = StaticKey::hmac(Algorithm::HS256, &Secret::new(SECRET)).expect("key");
    Authenticator::builder().static_key(JwtRules::new(ISSUER, ["api"]), key).build().expect("authenticator")
});

static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_current_thread().build().expect("runtime"));

fn sign(header: &[u8], claims: &[u8]) -> String {
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, SECRET.as_bytes());
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

fuzz_target!(|data: &[u8]| {
    let token = match data.split_first() {
        Some((0, rest)) => {
            let (header, claims) = match rest.iter().position(|&b| b == 0) {
                Some(at) => (&rest[..at], &rest[at + 1..]),
                None => (rest, &b"{}"[..]),
            };
            sign(header, claims)
        }
        _ => match std::str::from_utf8(data) {
            Ok(token) => token.to_owned(),
            Err(_) => return,
        },
    };
    let result = RUNTIME.block_on(AUTHENTICATOR.verify(Credential::new(Scheme::Bearer, &token)));
    match result {
        Ok(principal) => {
            // Only tokens of our issuer, for our audience, with a subject pass.
            assert_eq!(principal.issuer(), Some(ISSUER));
            assert!(!principal.subject().is_empty());
            let _ = principal.claims();
        }
        Err(AuthError::InvalidToken(_)) => {}
        Err(other) => panic!("unexpected error {other:?}"),
    }
});
