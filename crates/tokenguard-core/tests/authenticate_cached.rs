//! `Authenticator::authenticate_cached`: what adapters decide before any
//! verification — a credential verified before (the hot path), no
//! credential, a malformed one — and what they leave to `authenticate`.

use std::sync::Arc;
use std::time::Duration;

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use tokenguard_core::plumbing::{AuthOutcome, RequestView};
use tokenguard_core::store::{ApiKeyRecord, ChangedBy};
use tokenguard_core::time::ManualClock;
use tokenguard_core::{
    ApiKeyVerifier, AuthError, Authenticator, KeyStore, MemoryKeyStore, Mode, Scopes, TokenCacheOptions, apikey,
};

fn headers(values: &[&str]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for value in values {
        headers.append(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
    }
    headers
}

fn cached(authenticator: &Authenticator, headers: &HeaderMap) -> Option<AuthOutcome> {
    let (method, uri) = (Method::GET, Uri::from_static("/recordings"));
    authenticator.authenticate_cached(&RequestView::from_http(&method, &uri, headers))
}

async fn authenticate(authenticator: &Authenticator, headers: &HeaderMap) -> AuthOutcome {
    let (method, uri) = (Method::GET, Uri::from_static("/recordings"));
    authenticator.authenticate(&RequestView::from_http(&method, &uri, headers)).await
}

#[tokio::test]
async fn a_verified_credential_is_answered_from_the_cache_and_nothing_unverified_is() {
    let store = Arc::new(MemoryKeyStore::default());
    let key = apikey::generate("tg");
    let record = ApiKeyRecord::for_key(&key, "svc", Scopes::from_space_separated("read"), None, None);
    store.insert(record, &ChangedBy::now("test")).await.unwrap();
    let authenticator = Authenticator::builder().api_keys(ApiKeyVerifier::new(store, "tg")).build().unwrap();
    let presented = headers(&[&format!("Token token={}", key.expose())]);

    let anonymous = cached(&authenticator, &HeaderMap::new()).expect("decided without I/O");
    assert!(anonymous.principal().is_none() && anonymous.error().is_none());
    assert_eq!(anonymous.answer(Mode::Required).map(|answer| answer.status), Some(StatusCode::UNAUTHORIZED));
    assert!(anonymous.answer(Mode::Optional).is_none() && anonymous.answer(Mode::Deferred).is_none());
    assert!(cached(&authenticator, &presented).is_none(), "not verified yet");

    let verified = authenticate(&authenticator, &presented).await;
    assert_eq!(verified.principal().map(|p| p.subject()), Some("svc"));
    for _ in 0..3 {
        let outcome = cached(&authenticator, &presented).expect("from the cache");
        assert_eq!(outcome.principal().map(|p| p.subject()), Some("svc"));
        assert!(outcome.answer(Mode::Required).is_none());
    }
    // Cached by the exact value: the same key in another form is parsed and
    // verified once more, then answered from the cache too.
    let drf = headers(&[&format!("token   {}", key.expose())]);
    assert!(cached(&authenticator, &drf).is_none());
    assert_eq!(authenticate(&authenticator, &drf).await.principal().map(|p| p.subject()), Some("svc"));
    assert!(cached(&authenticator, &drf).is_some());

    let twice = headers(&[&format!("Token token={}", key.expose()), "Token token=other"]);
    let refused = cached(&authenticator, &twice).expect("malformed, decided without I/O");
    assert_eq!(refused.error(), Some(&AuthError::InvalidRequest("more than one Authorization header")));
    assert_eq!(refused.answer(Mode::Optional).map(|answer| answer.status), Some(StatusCode::BAD_REQUEST));
    assert!(refused.answer(Mode::Deferred).is_none(), "left to the extractors");
    let other_scheme = headers(&[&format!("Bearer {}", key.expose())]);
    assert!(cached(&authenticator, &other_scheme).is_none(), "another scheme is another credential");
    assert!(cached(&authenticator, &headers(&["Token token=tg_unknown"])).is_none());
    // What the parser refuses is never answered from the cache.
    for malformed in [format!("Token {} extra", key.expose()), format!("Token token=\"{}", key.expose())] {
        let outcome = cached(&authenticator, &headers(&[&malformed])).expect("decided");
        assert!(matches!(outcome.error(), Some(AuthError::InvalidRequest(_))), "{outcome:?}");
    }
}

#[tokio::test]
async fn a_cached_verification_ends_with_its_ttl_and_with_the_key() {
    let store = Arc::new(MemoryKeyStore::default());
    let clock = ManualClock::new();
    let expires_at = clock.clock().unix_seconds() + 60;
    let key = apikey::generate("tg");
    let record = ApiKeyRecord::for_key(&key, "svc", Scopes::from_space_separated("read"), None, Some(expires_at));
    store.insert(record, &ChangedBy::now("test")).await.unwrap();
    let authenticator = Authenticator::builder()
        .api_keys(ApiKeyVerifier::new(store, "tg"))
        .token_cache(TokenCacheOptions { api_key_ttl: Duration::from_secs(2), ..TokenCacheOptions::default() })
        .clock(clock.clock())
        .build()
        .unwrap();
    let presented = headers(&[&format!("Token {}", key.expose())]);
    assert!(authenticate(&authenticator, &presented).await.principal().is_some());
    assert!(cached(&authenticator, &presented).is_some());
    clock.advance(Duration::from_secs(2));
    assert!(cached(&authenticator, &presented).is_none(), "the 2 s TTL is over");
    assert!(authenticate(&authenticator, &presented).await.principal().is_some(), "verified again");
    clock.advance(Duration::from_secs(60));
    assert!(cached(&authenticator, &presented).is_none());
    let expired = authenticate(&authenticator, &presented).await;
    assert_eq!(expired.error(), Some(&AuthError::InvalidToken("API key expired")));
}
