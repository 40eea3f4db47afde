//! Every kind and outcome of authentication counted through the `metrics`
//! facade, read back with `metrics-util`'s debugging recorder.
#![cfg(feature = "metrics")]

use std::collections::BTreeMap;
use std::sync::Arc;

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue, Method, Uri};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tokenguard_core::plumbing::RequestView;
use tokenguard_core::store::{ApiKeyRecord, ChangedBy};
use tokenguard_core::{
    ApiKeyVerifier, Authenticator, IntrospectionOptions, IntrospectionVerifier, JwksOptions, JwtRules, KeyStore,
    MemoryKeyStore, ScopeRequirement, Scopes, apikey,
};
use tokenguard_testkit::{DEFAULT_AUDIENCE, INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET, TestIssuer};

#[path = "support/down.rs"]
mod down;
use down::Down;

/// Counter and gauge values by `name{label=value,…}` (labels sorted).
fn snapshot(snapshotter: &metrics_util::debugging::Snapshotter) -> BTreeMap<String, f64> {
    let mut values = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let mut labels: Vec<String> = key.labels().map(|label| format!("{}={}", label.key(), label.value())).collect();
        labels.sort();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        let value = match value {
            DebugValue::Counter(count) => count as f64,
            DebugValue::Gauge(gauge) => gauge.into_inner(),
            DebugValue::Histogram(samples) => samples.len() as f64,
        };
        values.insert(name, value);
    }
    values
}

async fn authenticate(authenticator: &Authenticator, authorization: &str) -> tokenguard_core::plumbing::AuthOutcome {
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, HeaderValue::from_str(authorization).unwrap());
    let (method, uri) = (Method::GET, Uri::from_static("/recordings"));
    let view = RequestView::from_http(&method, &uri, &headers);
    match authenticator.authenticate_cached(&view) {
        Some(outcome) => outcome,
        None => authenticator.authenticate(&view).await,
    }
}

#[tokio::test]
async fn authentications_are_counted_by_kind_and_outcome() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().expect("the only recorder of this test binary");

    let issuer = TestIssuer::start().await;
    let store = Arc::new(MemoryKeyStore::default());
    let key = apikey::generate("tg");
    store
        .insert(
            ApiKeyRecord::for_key(&key, "svc", Scopes::from_space_separated("read"), None, None),
            &ChangedBy::now("test"),
        )
        .await
        .unwrap();
    let introspection = IntrospectionVerifier::new(IntrospectionOptions::new(
        issuer.issuer(),
        INTROSPECTION_CLIENT_ID,
        INTROSPECTION_CLIENT_SECRET,
        [DEFAULT_AUDIENCE],
    ))
    .unwrap();
    let authenticator = Authenticator::builder()
        .oidc_issuer(JwtRules::new(issuer.issuer(), [DEFAULT_AUDIENCE]), JwksOptions::default())
        .api_keys(ApiKeyVerifier::new(store, "tg"))
        .introspection(introspection)
        .build()
        .unwrap();
    let down = Authenticator::builder().api_keys(ApiKeyVerifier::new(Arc::new(Down), "tg")).build().unwrap();

    let token = issuer.token().scope("read").sign();
    let forged = format!("{}x", &token[..token.len() - 1]);
    let opaque = issuer.token().scope("read").opaque();
    // Accepted: a JWT (verified, then twice from the cache), an API key, an opaque token.
    for _ in 0..3 {
        assert!(authenticate(&authenticator, &format!("Bearer {token}")).await.principal().is_some());
    }
    assert!(authenticate(&authenticator, &format!("Token {}", key.expose())).await.principal().is_some());
    assert!(authenticate(&authenticator, &format!("Bearer {opaque}")).await.principal().is_some());
    // Refused: a forged JWT, an unknown key of ours, an opaque token the issuer does not know.
    assert!(authenticate(&authenticator, &format!("Bearer {forged}")).await.error().is_some());
    assert!(
        authenticate(&authenticator, &format!("Token {}", apikey::generate("tg").expose())).await.error().is_some()
    );
    assert!(authenticate(&authenticator, "Bearer not-a-token-anyone-issued").await.error().is_some());
    // Malformed, before any verification.
    assert!(authenticate(&authenticator, &format!("Bearer {token} extra")).await.error().is_some());
    // Unavailable: the key store is down.
    assert!(authenticate(&down, &format!("Token {}", key.expose())).await.error().is_some());
    // Forbidden: valid, without the route's scope.
    let outcome = authenticate(&authenticator, &format!("Bearer {token}")).await;
    assert!(outcome.check(&ScopeRequirement::new("admin")).is_err());

    let values = snapshot(&snapshotter);
    let count = |name: &str| values.get(name).copied().unwrap_or_default();
    let issuer_label = issuer.issuer();
    for (series, expected) in [
        ("tokenguard_authentications_total{kind=jwt,outcome=accepted}", 4.0),
        ("tokenguard_authentications_total{kind=api_key,outcome=accepted}", 1.0),
        ("tokenguard_authentications_total{kind=introspected,outcome=accepted}", 1.0),
        ("tokenguard_authentications_total{kind=jwt,outcome=refused}", 1.0),
        ("tokenguard_authentications_total{kind=api_key,outcome=refused}", 1.0),
        ("tokenguard_authentications_total{kind=introspected,outcome=refused}", 1.0),
        ("tokenguard_authentications_total{kind=unknown,outcome=malformed}", 1.0),
        ("tokenguard_authentications_total{kind=api_key,outcome=unavailable}", 1.0),
        ("tokenguard_authentications_total{kind=jwt,outcome=forbidden}", 1.0),
        ("tokenguard_token_cache_total{result=hit}", 3.0),
        ("tokenguard_token_cache_total{result=miss}", 7.0),
        ("tokenguard_verification_seconds{kind=jwt}", 2.0),
        ("tokenguard_key_store_errors_total{}", 1.0),
        (&format!("tokenguard_jwks_fetches_total{{issuer={issuer_label},result=ok}}"), 1.0),
        (&format!("tokenguard_jwks_keys{{issuer={issuer_label}}}"), 1.0),
        (&format!("tokenguard_introspections_total{{issuer={issuer_label},result=active}}"), 1.0),
        (&format!("tokenguard_introspections_total{{issuer={issuer_label},result=inactive}}"), 1.0),
    ] {
        assert_eq!(count(series), expected, "{series} in {values:#?}");
    }
    let labels = format!("{values:?}");
    for secret in [token.as_str(), forged.as_str(), opaque.as_str(), key.expose()] {
        assert!(!labels.contains(&secret[secret.len() - 16..]), "a credential reached a metric label");
    }
}
