//! The JWKS cache against a real local issuer, in process: bounds, timeouts,
//! `Cache-Control`, stale-if-error.

use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, Uri, header::AUTHORIZATION};
use tokenguard_core::fetch::HttpOptions;
use tokenguard_core::plumbing::RequestView;
use tokenguard_core::{AuthError, Authenticator, JwksOptions, JwtRules, Principal, TokenCacheOptions};
use tokenguard_testkit::{DEFAULT_AUDIENCE, Fault, TestIssuer};

/// Without the verified-token cache: these tests are about the JWKS cache,
/// so every verification must reach it.
fn authenticator(issuer: &TestIssuer, options: JwksOptions) -> Authenticator {
    Authenticator::builder()
        .oidc_issuer(JwtRules::new(issuer.issuer(), [DEFAULT_AUDIENCE]), options)
        .token_cache(TokenCacheOptions { max_bytes: 0, ..TokenCacheOptions::default() })
        .build()
        .expect("valid configuration")
}

/// With the default verified-token cache.
fn cached_authenticator(issuer: &TestIssuer) -> Authenticator {
    Authenticator::builder()
        .oidc_issuer(JwtRules::new(issuer.issuer(), [DEFAULT_AUDIENCE]), JwksOptions::default())
        .build()
        .expect("valid configuration")
}

async fn verify(authenticator: &Authenticator, token: &str) -> Result<String, AuthError> {
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
    authenticate(authenticator, &headers).await.map(|principal| principal.subject().to_owned())
}

/// The principal of a request with `headers`, or why it was refused.
async fn authenticate(authenticator: &Authenticator, headers: &HeaderMap) -> Result<Principal, AuthError> {
    let (method, uri) = (Method::GET, Uri::from_static("/"));
    let outcome = authenticator.authenticate(&RequestView::from_http(&method, &uri, headers)).await;
    outcome.principal().cloned().ok_or_else(|| outcome.error().cloned().unwrap_or(AuthError::MissingCredentials))
}

#[tokio::test]
async fn ten_thousand_random_kids_cost_at_most_two_fetches() {
    let issuer = TestIssuer::start().await;
    let authenticator = authenticator(&issuer, JwksOptions::default());
    assert_eq!(verify(&authenticator, &issuer.token().sign()).await.as_deref(), Ok("alice"));
    let template = issuer.token().sign();
    let (_, payload_and_signature) = template.split_once('.').unwrap();
    for n in 0..10_000 {
        // Only the header changes: the signature no longer matches, but the
        // kid must be looked up first, which is what a flood attacks.
        let header = base64_url(&format!(r#"{{"alg":"RS256","kid":"junk-{n}"}}"#));
        let token = format!("{header}.{payload_and_signature}");
        assert_eq!(verify(&authenticator, &token).await, Err(AuthError::InvalidToken("unknown signing key")));
    }
    assert!(issuer.jwks_fetches() <= 2, "{} fetches", issuer.jwks_fetches());
}

fn base64_url(text: &str) -> String {
    base64_simd::URL_SAFE_NO_PAD.encode_to_string(text)
}

#[tokio::test]
async fn a_slow_issuer_times_out_into_503() {
    let issuer = TestIssuer::start().await;
    issuer.set_fault(Fault::Slow(Duration::from_secs(10)));
    let options = JwksOptions {
        http: HttpOptions { timeout: Duration::from_millis(300), ..HttpOptions::default() },
        ..JwksOptions::default()
    };
    let authenticator = authenticator(&issuer, options);
    match verify(&authenticator, &issuer.token().sign()).await {
        Err(AuthError::Unavailable { retry_after, .. }) => {
            assert!(retry_after <= Duration::from_secs(5))
        }
        other => panic!("expected 503, got {other:?}"),
    }
}

#[tokio::test]
async fn cache_control_max_age_is_honoured_within_bounds() {
    let issuer = TestIssuer::start().await;
    issuer.set_cache_control(Some("public, max-age=1"));
    let options = JwksOptions { min_ttl: Duration::ZERO, ..JwksOptions::default() };
    let authenticator = authenticator(&issuer, options);
    let token = issuer.token().sign();
    assert!(verify(&authenticator, &token).await.is_ok());
    assert_eq!(issuer.jwks_fetches(), 1);
    // The keys expire after one second: the next use refetches them.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while issuer.jwks_fetches() < 2 && std::time::Instant::now() < deadline {
        assert!(verify(&authenticator, &token).await.is_ok());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(issuer.jwks_fetches(), 2);

    // With the default bounds, max-age=1 is raised to the 30 s minimum.
    let issuer = TestIssuer::start().await;
    issuer.set_cache_control(Some("max-age=1"));
    let authenticator = authenticator_default(&issuer);
    let token = issuer.token().sign();
    for _ in 0..20 {
        assert!(verify(&authenticator, &token).await.is_ok());
    }
    assert_eq!(issuer.jwks_fetches(), 1);
}

fn authenticator_default(issuer: &TestIssuer) -> Authenticator {
    authenticator(issuer, JwksOptions::default())
}

#[tokio::test]
async fn expired_keys_keep_serving_while_the_issuer_fails() {
    let issuer = TestIssuer::start().await;
    issuer.set_cache_control(Some("no-store"));
    let options = JwksOptions { min_ttl: Duration::ZERO, ..JwksOptions::default() };
    let authenticator = authenticator(&issuer, options);
    let token = issuer.token().sign();
    assert!(verify(&authenticator, &token).await.is_ok());
    issuer.set_fault(Fault::Status(503));
    // The keys are already stale (no-store); the refresh fails; the stale keys serve.
    assert_eq!(verify(&authenticator, &token).await.as_deref(), Ok("alice"));
    assert_eq!(issuer.jwks_fetches(), 2);
    // During the back-off no further fetch is made.
    assert!(verify(&authenticator, &token).await.is_ok());
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[tokio::test]
async fn unusable_published_keys_never_verify() {
    let issuer = TestIssuer::start().await;
    issuer.publish_raw_jwk(
        serde_json::json!({"kty": "oct", "kid": "shared", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}),
    );
    let authenticator = authenticator_default(&issuer);
    assert!(verify(&authenticator, &issuer.token().sign()).await.is_ok());
    let hs = issuer.token().header("kid", "shared").sign_hs256(b"secret-secret-secret-secret-secret");
    assert_eq!(verify(&authenticator, &hs).await, Err(AuthError::InvalidToken("unknown signing key")));
}

#[tokio::test]
async fn discovery_must_name_the_configured_issuer() {
    let issuer = TestIssuer::start().await;
    // Configured with a trailing slash: the discovery document says otherwise.
    let authenticator = Authenticator::builder()
        .oidc_issuer(JwtRules::new(format!("{}/", issuer.issuer()), [DEFAULT_AUDIENCE]), JwksOptions::default())
        .build()
        .unwrap();
    let token = issuer.token().claim("iss", format!("{}/", issuer.issuer())).sign();
    assert!(matches!(verify(&authenticator, &token).await, Err(AuthError::Unavailable { .. })));
    assert_eq!(issuer.jwks_fetches(), 0);
}

#[tokio::test]
async fn cached_verifications_die_with_their_signing_key() {
    let issuer = TestIssuer::start().await;
    let authenticator = cached_authenticator(&issuer);
    let old_kid = issuer.current_kid();
    let old = issuer.token().sign();
    assert!(verify(&authenticator, &old).await.is_ok());
    assert!(verify(&authenticator, &old).await.is_ok(), "answered from the cache");
    assert_eq!(authenticator.token_cache_stats().entries, 1);

    // The issuer rotates and stops publishing the old key; the first token of
    // the new key triggers a refresh, which drops the old key.
    issuer.rotate(tokenguard_testkit::KeyAlg::Rs256);
    issuer.retire(&old_kid);
    assert!(verify(&authenticator, &issuer.token().sign()).await.is_ok());
    assert_eq!(issuer.jwks_fetches(), 2);
    assert_eq!(verify(&authenticator, &old).await, Err(AuthError::InvalidToken("unknown signing key")));
    // The dead entry was dropped when found; the new token's stays.
    assert_eq!(authenticator.token_cache_stats().entries, 1);
    assert_eq!(verify(&authenticator, &old).await, Err(AuthError::InvalidToken("unknown signing key")));
}

#[tokio::test]
async fn keys_still_published_keep_their_cached_verifications() {
    let issuer = TestIssuer::start().await;
    let authenticator = cached_authenticator(&issuer);
    let old = issuer.token().sign();
    assert!(verify(&authenticator, &old).await.is_ok());
    issuer.rotate(tokenguard_testkit::KeyAlg::Es256);
    assert!(verify(&authenticator, &issuer.token().sign()).await.is_ok());
    assert_eq!(issuer.jwks_fetches(), 2);
    // Served from the cache: the refresh kept the same key object.
    issuer.set_fault(Fault::Status(503));
    assert!(verify(&authenticator, &old).await.is_ok());
}

#[tokio::test]
async fn static_pem_keys_verify_every_testkit_algorithm() {
    use tokenguard_core::{Algorithm, StaticKey};
    for (alg, jwa) in [
        (tokenguard_testkit::KeyAlg::Rs256, Algorithm::RS256),
        (tokenguard_testkit::KeyAlg::Ps256, Algorithm::PS256),
        (tokenguard_testkit::KeyAlg::Es256, Algorithm::ES256),
        (tokenguard_testkit::KeyAlg::EdDsa, Algorithm::EdDSA),
    ] {
        let issuer = TestIssuer::start_with(alg).await;
        let pem = issuer.public_key_pem(&issuer.current_kid()).unwrap();
        let key = StaticKey::public_pem(jwa, pem.as_bytes()).expect("PEM key");
        let authenticator = Authenticator::builder()
            .static_key(JwtRules::new("static-issuer", [DEFAULT_AUDIENCE]), key)
            .build()
            .unwrap();
        let token = issuer.token().claim("iss", "static-issuer").sign();
        assert_eq!(verify(&authenticator, &token).await.as_deref(), Ok("alice"), "{alg:?}");
        let other = TestIssuer::start_with(alg).await.token().claim("iss", "static-issuer").sign();
        assert_eq!(verify(&authenticator, &other).await, Err(AuthError::InvalidToken("invalid signature")), "{alg:?}");
        assert_eq!(issuer.jwks_fetches(), 0);
    }
}

#[tokio::test]
async fn every_algorithm_verifies_through_the_jwks() {
    for alg in [
        tokenguard_testkit::KeyAlg::Rs256,
        tokenguard_testkit::KeyAlg::Ps256,
        tokenguard_testkit::KeyAlg::Es256,
        tokenguard_testkit::KeyAlg::EdDsa,
    ] {
        let issuer = TestIssuer::start_with(alg).await;
        let authenticator = authenticator_default(&issuer);
        assert_eq!(verify(&authenticator, &issuer.token().sign()).await.as_deref(), Ok("alice"), "{alg:?}");
    }
}

#[tokio::test]
async fn the_cached_fast_path_never_accepts_what_the_parser_refuses() {
    let issuer = TestIssuer::start().await;
    let authenticator = cached_authenticator(&issuer);
    let token = issuer.token().sign();
    assert!(verify(&authenticator, &token).await.is_ok());
    let outcome = |value: String| {
        let authenticator = authenticator.clone();
        async move {
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, HeaderValue::from_str(&value).unwrap());
            authenticate(&authenticator, &headers).await.map(|principal| principal.subject().to_owned())
        }
    };
    assert_eq!(outcome(format!("bearer   {token}")).await.unwrap(), "alice");
    for refused in [
        format!("Bearer {token} extra"),
        format!("Bearer {token},"),
        format!("Bearer \"{token}\""),
        format!("Token {token}"),
        format!("Token token={token}"),
    ] {
        assert!(outcome(refused.clone()).await.is_err(), "{}", refused.replace(&token, "TOKEN"));
    }
    let mut two = HeaderMap::new();
    two.append(AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
    two.append(AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
    let refused = authenticate(&authenticator, &two).await.unwrap_err();
    assert_eq!(refused, AuthError::InvalidRequest("more than one Authorization header"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_first_uses_of_a_new_key_all_wait_for_one_refresh() {
    let issuer = TestIssuer::start().await;
    let authenticator = authenticator(&issuer, JwksOptions::default());
    assert_eq!(verify(&authenticator, &issuer.token().sign()).await.as_deref(), Ok("alice"));
    let before = issuer.jwks_fetches();
    let kid = issuer.rotate(tokenguard_testkit::KeyAlg::Rs256);
    // A slow answer, so that the whole burst arrives while the refresh is in flight.
    issuer.set_fault(Fault::Slow(Duration::from_millis(300)));
    let tasks: Vec<_> = (0..50)
        .map(|n| {
            let token = issuer.token().signed_by(&kid).claim("jti", format!("burst-{n}")).sign();
            let authenticator = authenticator.clone();
            tokio::spawn(async move { verify(&authenticator, &token).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().as_deref(), Ok("alice"));
    }
    let fetches = issuer.jwks_fetches() - before;
    assert!((1..=2).contains(&fetches), "{fetches} fetches");
}

#[tokio::test]
async fn a_key_published_during_an_outage_gets_503_then_is_accepted_soon_after_the_issuer_returns() {
    let issuer = TestIssuer::start().await;
    let authenticator = authenticator(&issuer, JwksOptions::default());
    assert_eq!(verify(&authenticator, &issuer.token().sign()).await.as_deref(), Ok("alice"));
    issuer.set_fault(Fault::Status(503));
    let before = issuer.jwks_fetches();
    let old_kid = issuer.current_kid();
    let kid = issuer.rotate(tokenguard_testkit::KeyAlg::Rs256);
    let token = issuer.token().signed_by(&kid).sign();
    match verify(&authenticator, &token).await {
        Err(AuthError::Unavailable { retry_after, .. }) => assert!(retry_after <= Duration::from_secs(2)),
        other => panic!("{other:?}"),
    }
    let random_kids = |tag: &'static str| {
        let template = issuer.token().sign();
        let payload_and_signature = template.split_once('.').unwrap().1.to_owned();
        (0..500).map(move |n| {
            let header = base64_url(&format!(r#"{{"alg":"RS256","kid":"{tag}-{n}"}}"#));
            format!("{header}.{payload_and_signature}")
        })
    };
    for junk in random_kids("during") {
        assert!(matches!(verify(&authenticator, &junk).await, Err(AuthError::Unavailable { .. })));
    }
    // Known keys keep verifying through the outage.
    assert_eq!(verify(&authenticator, &issuer.token().signed_by(&old_kid).sign()).await.as_deref(), Ok("alice"));

    issuer.set_fault(Fault::None);
    let back = std::time::Instant::now();
    while verify(&authenticator, &token).await.is_err() {
        assert!(back.elapsed() < Duration::from_secs(5), "not accepted within 5 s of the issuer's return");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("accepted {:?} after the issuer returned", back.elapsed());
    for junk in random_kids("after") {
        assert_eq!(verify(&authenticator, &junk).await, Err(AuthError::InvalidToken("unknown signing key")));
    }
    let fetches = issuer.jwks_fetches() - before;
    assert!(fetches <= 4, "{fetches} fetches for 1,000 random kids around the outage");
}
