//! `Authenticator::decide_cached`: what adapters do with a request before any
//! verification — the hot path (`Admit`), a decision without a credential,
//! or a credential to verify.

use std::sync::Arc;

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue};
use tokenguard_core::{
    ApiKeyRecord, ApiKeyVerifier, AuthError, Authenticator, Decision, KeyStore, MemoryKeyStore, Mode, Scheme, Scopes,
    apikey,
};

fn headers(values: &[&str]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for value in values {
        headers.append(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
    }
    headers
}

#[tokio::test]
async fn a_verified_credential_is_admitted_from_the_cache_and_nothing_else_is() {
    let store = Arc::new(MemoryKeyStore::default());
    let key = apikey::generate("tg");
    let record = ApiKeyRecord::for_key(&key, "svc", Scopes::from_space_separated("read"), None, None);
    store.insert(record).await.unwrap();
    let authenticator = Authenticator::builder().api_keys(ApiKeyVerifier::new(store, "tg")).build().unwrap();
    let presented = headers(&[&format!("Token token={}", key.expose())]);

    assert!(matches!(
        authenticator.decide_cached(&HeaderMap::new(), Mode::Required),
        Decision::Decided(Err(rejection)) if rejection.error == AuthError::MissingCredentials
    ));
    assert!(matches!(authenticator.decide_cached(&HeaderMap::new(), Mode::Optional), Decision::Decided(Ok(None))));
    assert!(matches!(authenticator.decide_cached(&presented, Mode::Required), Decision::Verify), "not verified yet");

    let verified = authenticator.authenticate(&presented, Mode::Required).await.unwrap().unwrap();
    assert_eq!(verified.principal.subject(), "svc");
    // Again and again: the shared cache, then this thread's front.
    for _ in 0..4 {
        match authenticator.decide_cached(&presented, Mode::Required) {
            Decision::Admit(admitted) => {
                assert_eq!(admitted.principal.subject(), "svc");
                assert_eq!(admitted.scheme, Scheme::Token);
                assert!(admitted.carries_context(&authenticator));
            }
            other => panic!("expected Admit, got {other:?}"),
        }
    }

    let twice = headers(&[&format!("Token token={}", key.expose()), "Token token=other"]);
    assert!(matches!(authenticator.decide_cached(&twice, Mode::Required), Decision::Verify), "two credentials");
    let other_scheme = headers(&[&format!("Bearer {}", key.expose())]);
    assert!(matches!(authenticator.decide_cached(&other_scheme, Mode::Required), Decision::Verify));
    let unknown = headers(&["Token token=tg_unknown"]);
    assert!(matches!(authenticator.decide_cached(&unknown, Mode::Required), Decision::Verify));
}
