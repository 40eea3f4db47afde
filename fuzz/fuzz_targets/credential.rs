//! `Authorization` header parsing: any bytes, one or several header values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokenguard_core::credential::{from_authorization_values, parse_authorization};
use tokenguard_core::{AuthError, Scheme};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(credential)) = parse_authorization(data) {
        let token = credential.token();
        // Whatever is accepted is a non-empty token made of b64token characters.
        assert!(!token.is_empty());
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b)), "{token:?}");
        assert!(matches!(credential.scheme(), Scheme::Bearer | Scheme::Token));
    }
    // Several header values (split at newlines): two or more is always malformed.
    let values: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let result = from_authorization_values(values.iter().copied());
    if values.len() > 1 {
        assert!(matches!(result, Err(AuthError::InvalidRequest(_))), "{result:?}");
    }
});
