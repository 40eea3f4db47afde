//! JWKS documents: every key object through `VerificationKey::from_jwk`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tokenguard_core::Algorithm;
use tokenguard_core::jwt::VerificationKey;
use tokenguard_core::jwt::keys::DEFAULT_ALGORITHMS;

fuzz_target!(|data: &[u8]| {
    let Ok(document) = serde_json::from_slice::<Value>(data) else { return };
    let keys = match &document {
        Value::Object(set) => match set.get("keys") {
            Some(Value::Array(keys)) => keys.clone(),
            _ => vec![document.clone()],
        },
        _ => return,
    };
    for jwk in keys.iter().filter_map(Value::as_object) {
        if let Ok(key) = VerificationKey::from_jwk(jwk, DEFAULT_ALGORITHMS) {
            // A usable key never allows HMAC or `none`-like algorithms.
            assert!(!key.algorithms().is_empty());
            for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
                assert!(!key.allows(alg), "a JWKS key allows {alg:?}");
            }
        }
    }
});
