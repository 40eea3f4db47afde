//! RFC 7662 introspection against a real local issuer, in process: routing,
//! caching and its bounds, single flight, revocation, back-off when down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokenguard_core::introspection::ClientAuth;
use tokenguard_core::store::{ApiKeyRecord, ChangedBy};
use tokenguard_core::{
    ApiKeyVerifier, AuthError, Authenticator, Credential, IntrospectionOptions, IntrospectionVerifier, JwksOptions,
    JwtRules, KeyStore, MemoryKeyStore, PrincipalKind, Scheme, Scopes, Secret,
};
use tokenguard_testkit::{DEFAULT_AUDIENCE, Fault, INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET, TestIssuer};

fn options(issuer: &TestIssuer) -> IntrospectionOptions {
    IntrospectionOptions::new(issuer.issuer(), INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET, [DEFAULT_AUDIENCE])
}

fn verifier(options: IntrospectionOptions) -> IntrospectionVerifier {
    IntrospectionVerifier::new(options).expect("valid configuration")
}

/// Polls `check` until it holds, failing after `deadline`.
async fn eventually(deadline: Duration, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < deadline, "condition not met within {deadline:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_active_token_becomes_an_introspected_principal_and_is_cached() {
    let issuer = TestIssuer::start().await;
    let verifier = verifier(options(&issuer));
    let token = issuer.token().subject("bob").scope("read write").claim("client_id", "portal").opaque();
    for _ in 0..5 {
        let principal = verifier.verify(&token).await.expect("active token");
        assert_eq!(principal.subject(), "bob");
        assert_eq!(principal.kind(), PrincipalKind::Introspected);
        assert_eq!(principal.client_id(), Some("portal"));
        assert_eq!(principal.issuer(), Some(issuer.issuer()));
        assert!(principal.has_scope("read") && principal.has_scope("write") && !principal.has_scope("admin"));
    }
    assert_eq!(issuer.introspections(), 1);
    assert_eq!(issuer.discovery_fetches(), 1);
    assert_eq!(issuer.jwks_fetches(), 0);
}

#[tokio::test]
async fn client_secret_post_works_too() {
    let issuer = TestIssuer::start().await;
    let verifier = verifier(IntrospectionOptions { client_auth: ClientAuth::Post, ..options(&issuer) });
    assert_eq!(verifier.verify(&issuer.token().opaque()).await.expect("active").subject(), "alice");
}

#[tokio::test]
async fn inactive_and_foreign_answers_are_invalid_tokens_and_briefly_cached() {
    let issuer = TestIssuer::start().await;
    let verifier = verifier(options(&issuer));
    for _ in 0..3 {
        assert_eq!(verifier.verify("no-such-token").await.err(), Some(AuthError::InvalidToken("token is not active")));
    }
    assert_eq!(issuer.introspections(), 1, "the inactive answer is cached");
    let cases = [
        (issuer.token().audience("another-api").opaque(), "wrong audience"),
        (issuer.token().claim("iss", "https://elsewhere.example").opaque(), "untrusted issuer"),
        (issuer.token().claim("token_type", "refresh_token").opaque(), "not a bearer access token"),
        (
            issuer.token().claim("cnf", serde_json::json!({"jkt": "abc"})).opaque(),
            "a DPoP-bound token must be sent with a DPoP proof",
        ),
        (
            issuer.token().claim("cnf", serde_json::json!({"x5t#S256": "abc"})).opaque(),
            "unsupported confirmation method",
        ),
        (issuer.token().expires_in(-1).opaque(), "token is not active"),
    ];
    for (token, reason) in cases {
        assert_eq!(verifier.verify(&token).await.err(), Some(AuthError::InvalidToken(reason)));
    }
}

#[tokio::test]
async fn revocation_is_felt_within_the_cache_ttl() {
    let issuer = TestIssuer::start().await;
    let ttl = Duration::from_secs(1);
    let verifier = verifier(IntrospectionOptions { cache_ttl: ttl, ..options(&issuer) });
    let token = issuer.token().opaque();
    assert!(verifier.verify(&token).await.is_ok());
    issuer.revoke(&token);
    let revoked = Instant::now();
    eventually(Duration::from_secs(5), async || verifier.verify(&token).await.is_err()).await;
    assert!(revoked.elapsed() < ttl + Duration::from_secs(1), "refused after {:?}", revoked.elapsed());
}

#[tokio::test]
async fn a_cached_answer_never_outlives_the_token() {
    let issuer = TestIssuer::start().await;
    let verifier = verifier(IntrospectionOptions { cache_ttl: Duration::from_secs(3600), ..options(&issuer) });
    let clock = tokenguard_core::time::ManualClock::new();
    let authenticator = Authenticator::builder().introspection(verifier).clock(clock.clock()).build().expect("valid");
    let token = issuer.token().expires_in(2).opaque();
    let credential = Credential::new(Scheme::Bearer, &token);
    assert!(authenticator.verify(credential).await.is_ok());
    clock.advance(Duration::from_secs(1));
    assert!(authenticator.verify(credential).await.is_ok(), "cached, still valid");
    // Past the 2 s token whichever second it was minted in.
    clock.advance(Duration::from_secs(3));
    assert_eq!(authenticator.verify(credential).await.err(), Some(AuthError::InvalidToken("token expired")));
    assert_eq!(issuer.introspections(), 1, "answered from the cache, which knows the token's expiry");
}

#[tokio::test]
async fn concurrent_requests_for_one_token_share_one_call() {
    let issuer = TestIssuer::start().await;
    issuer.set_fault(Fault::Slow(Duration::from_millis(200)));
    let verifier = verifier(options(&issuer));
    let token = issuer.token().opaque();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (verifier, token) = (verifier.clone(), token.clone());
            tokio::spawn(async move { verifier.verify(&token).await.map(|p| p.subject().to_owned()) })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.expect("task").as_deref(), Ok("alice"));
    }
    assert_eq!(issuer.introspections(), 1);
}

#[tokio::test]
async fn wrong_client_secret_is_an_outage_not_the_callers_fault() {
    let issuer = TestIssuer::start().await;
    let verifier = verifier(IntrospectionOptions { client_secret: Secret::new("wrong"), ..options(&issuer) });
    match verifier.verify(&issuer.token().opaque()).await {
        Err(AuthError::Unavailable { retry_after, .. }) => assert!(retry_after >= Duration::from_secs(1)),
        other => panic!("expected 503, got {other:?}"),
    }
}

#[tokio::test]
async fn endpoint_down_from_the_start_is_unavailable_with_retry_after() {
    let mut issuer = TestIssuer::start().await;
    let verifier = verifier(options(&issuer));
    issuer.stop().await;
    match verifier.verify("opaque-token").await {
        Err(AuthError::Unavailable { reason, retry_after }) => {
            assert_eq!(reason, "the introspection endpoint is unavailable");
            assert_eq!(retry_after, Duration::from_secs(2));
        }
        other => panic!("expected 503, got {other:?}"),
    }
}

#[tokio::test]
async fn a_flood_of_distinct_tokens_while_the_endpoint_fails_costs_one_call_per_backoff() {
    let issuer = TestIssuer::start().await;
    let verifier = verifier(options(&issuer));
    let good = issuer.token().opaque();
    assert!(verifier.verify(&good).await.is_ok());
    issuer.set_fault(Fault::Status(500));
    let start = Instant::now();
    let before = issuer.introspections();
    for n in 0..100_000 {
        let error = verifier.verify(&format!("junk-{n}")).await.expect_err("endpoint is failing");
        assert!(matches!(error, AuthError::Unavailable { .. }), "{error:?}");
    }
    let calls = issuer.introspections() - before;
    let backoffs = start.elapsed().as_secs() / 2 + 1;
    assert!(calls as u64 <= backoffs + 1, "{calls} calls in {:?}", start.elapsed());
    // What was cached before the outage still answers.
    assert_eq!(verifier.verify(&good).await.expect("cached").subject(), "alice");
    let (entries, _) = verifier.cache_stats().await;
    assert_eq!(entries, 1, "failures are never cached");
}

#[tokio::test]
async fn the_cache_stays_within_its_byte_bound() {
    let issuer = TestIssuer::start().await;
    let bound = 64 * 1024;
    let verifier = verifier(IntrospectionOptions { max_cache_bytes: bound, ..options(&issuer) });
    for n in 0..3_000 {
        let token = issuer.token().claim("jti", n.to_string()).opaque();
        assert!(verifier.verify(&token).await.is_ok());
        assert!(verifier.verify(&format!("unknown-{n}")).await.is_err());
    }
    let (entries, bytes) = verifier.cache_stats().await;
    assert!(bytes <= bound, "{bytes} bytes in {entries} entries");
    assert!(entries > 100, "the cache is in use: {entries} entries");
}

#[tokio::test]
async fn the_authenticator_routes_each_bearer_credential_to_its_verifier() {
    let issuer = TestIssuer::start().await;
    let store = Arc::new(MemoryKeyStore::new());
    let imported = "0123456789abcdef0123456789abcdef01234567";
    let record =
        ApiKeyRecord::for_key(&Secret::new(imported), "legacy-user", Scopes::from_space_separated("read"), None, None);
    store.insert(record, &ChangedBy::now("test")).await.expect("insert");
    let authenticator = Authenticator::builder()
        .oidc_issuer(JwtRules::new(issuer.issuer(), [DEFAULT_AUDIENCE]), JwksOptions::default())
        .api_keys(ApiKeyVerifier::new(store, "tg"))
        .introspection(verifier(options(&issuer)))
        .build()
        .expect("valid configuration");
    let kind = async |token: &str| {
        authenticator.verify(Credential::new(Scheme::Bearer, token)).await.map(|principal| principal.kind())
    };
    assert_eq!(kind(&issuer.token().sign()).await.ok(), Some(PrincipalKind::Jwt));
    assert_eq!(kind(&issuer.token().opaque()).await.ok(), Some(PrincipalKind::Introspected));
    assert_eq!(kind(imported).await.ok(), Some(PrincipalKind::ApiKey));
    assert_eq!(issuer.introspections(), 1, "the imported key never reached introspection");
    // A key with our prefix is never introspected, even when unknown.
    let unknown_key = tokenguard_core::apikey::generate("tg");
    assert_eq!(kind(unknown_key.expose()).await.err(), Some(AuthError::InvalidToken("unknown API key")));
    assert_eq!(issuer.introspections(), 1);
}
