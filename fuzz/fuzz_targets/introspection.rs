//! RFC 7662 introspection answers, judged as the verifier judges them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokenguard_core::PrincipalKind;
use tokenguard_core::fuzzing::judge_answer;

const NOW: u64 = 1_700_000_000;

fuzz_target!(|data: &[u8]| {
    if let Ok(Ok(principal)) = judge_answer(data, "https://issuer.fuzz", &["api"], NOW) {
        assert_eq!(principal.kind(), PrincipalKind::Introspected);
        assert_eq!(principal.issuer(), Some("https://issuer.fuzz"));
        assert!(principal.expires_at().is_none_or(|exp| exp > NOW));
        let _ = serde_json::to_string(&principal);
    }
});
