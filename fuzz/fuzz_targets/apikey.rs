//! API key format checks: any text, with our prefix and with others.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokenguard_core::apikey::{FormatCheck, KeyDigest, check_format};

fuzz_target!(|data: &[u8]| {
    let Ok(key) = std::str::from_utf8(data) else { return };
    let check = check_format(key, "tg");
    if check == FormatCheck::Valid {
        assert!(key.starts_with("tg_"));
    }
    if !key.starts_with("tg_") {
        assert_eq!(check, FormatCheck::Foreign, "{key:?}");
    }
    let digest = KeyDigest::of(key);
    assert!(digest.ct_eq(&KeyDigest::of(key)));
    assert_eq!(digest.key_id().len(), 16);
});
