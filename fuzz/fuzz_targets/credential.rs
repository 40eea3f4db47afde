//! `Authorization` header parsing: any bytes, one or several header values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

use tokenguard_core::fuzzing::parse_authorization;
use tokenguard_core::plumbing::RequestView;
use tokenguard_core::{AuthError, Authenticator};

fn authenticator() -> &'static Authenticator {
    static AUTHENTICATOR: OnceLock<Authenticator> = OnceLock::new();
    AUTHENTICATOR.get_or_init(|| Authenticator::builder().build().expect("an empty configuration"))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(credential)) = parse_authorization(data) {
        let token = credential.token();
        // Whatever is accepted is a non-empty token made of b64token characters.
        assert!(!token.is_empty());
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b)), "{token:?}");
        // The scheme is the one the value names (case-insensitively), then a space.
        let name = credential.scheme().as_str().as_bytes();
        let value = &data[data.iter().position(|&b| b != b' ' && b != b'\t').unwrap_or(data.len())..];
        assert!(value.len() > name.len() && value[..name.len()].eq_ignore_ascii_case(name) && value[name.len()] == b' ');
    }
    // Several header values (split at newlines): two or more is always malformed.
    let values: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let request = RequestView::new("GET", None, None, "/", values.iter().copied(), []);
    let outcome = authenticator().authenticate_cached(&request);
    if values.len() > 1 {
        let error = outcome.as_ref().and_then(|outcome| outcome.error());
        assert!(matches!(error, Some(AuthError::InvalidRequest(_))), "{outcome:?}");
    }
});
