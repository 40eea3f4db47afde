//! How the examples treat their issuer: key rotation, floods of unknown
//! `kid`s, an issuer that goes down, answers HTML or garbage.

mod common;

use std::time::Duration;

use common::{Server, adapters, error_challenge};
use futures::future::join_all;
use serde_json::json;
use tokenguard_testkit::{Fault, KeyAlg, TestIssuer};

async fn start(issuer: &TestIssuer, adapter: common::Adapter) -> Server {
    Server::start(adapter, &[("TOKENGUARD_ISSUER", issuer.issuer())]).await
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_keys_are_picked_up_on_first_use() {
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let issuer = TestIssuer::start().await;
        let server = start(&issuer, adapter).await;
        let old = issuer.token().sign();
        assert_eq!(server.get("/me", Some(&bearer(&old))).await.status, 200);
        assert_eq!(issuer.jwks_fetches(), 1);

        let old_kid = issuer.current_kid();
        issuer.rotate(KeyAlg::Es256);
        let new = issuer.token().sign();
        let reply = server.get("/me", Some(&bearer(&new))).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(server.get("/me", Some(&bearer(&old))).await.status, 200, "old key still published");
        assert_eq!(issuer.jwks_fetches(), 2);

        // A retired key stops verifying once the keys are refreshed. The
        // refresh cool-down (30 s) keeps this instance on its cached set, so
        // the old token is still accepted here: the documented staleness bound.
        issuer.retire(&old_kid);
        assert_eq!(server.get("/me", Some(&bearer(&old))).await.status, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_random_kids_costs_at_most_one_extra_fetch() {
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let issuer = TestIssuer::start().await;
        let server = start(&issuer, adapter).await;
        assert_eq!(server.get("/me", Some(&bearer(&issuer.token().sign()))).await.status, 200);
        for n in 0..200 {
            let token = issuer.token().header("kid", format!("random-{n}")).sign();
            let reply = server.get("/me", Some(&bearer(&token))).await;
            assert_eq!(reply.status, 401);
            assert_eq!(reply.www_authenticate, error_challenge("Bearer", "invalid_token", "unknown signing key"));
        }
        assert!(issuer.jwks_fetches() <= 2, "{} JWKS fetches", issuer.jwks_fetches());
        assert_eq!(issuer.discovery_fetches(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_cold_requests_share_one_fetch() {
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let issuer = TestIssuer::start().await;
        let server = start(&issuer, adapter).await;
        let token = bearer(&issuer.token().sign());
        let replies = join_all((0..32).map(|_| server.get("/me", Some(&token)))).await;
        assert!(replies.iter().all(|reply| reply.status == 200));
        assert_eq!((issuer.discovery_fetches(), issuer.jwks_fetches()), (1, 1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_cache_survives_the_issuer_going_down() {
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let mut issuer = TestIssuer::start().await;
        let server = start(&issuer, adapter).await;
        let token = issuer.token().sign();
        assert_eq!(server.get("/me", Some(&bearer(&token))).await.status, 200);
        let minted_later = issuer.token().subject("bob").sign();
        issuer.stop().await;
        assert_eq!(server.get("/me", Some(&bearer(&token))).await.status, 200);
        let reply = server.get("/me", Some(&bearer(&minted_later))).await;
        assert_eq!((reply.status, reply.json()["subject"].clone()), (200, json!("bob")));
    }
}

fn assert_unavailable(reply: &common::Reply) {
    assert_eq!(reply.status, 503, "{}", reply.text);
    assert!(reply.www_authenticate.is_empty());
    let retry_after: u64 = reply.retry_after.as_deref().and_then(|v| v.parse().ok()).expect("Retry-After seconds");
    assert!((1..=5).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(
        reply.json(),
        json!({"error": "temporarily_unavailable", "error_description": "the token issuer is unavailable"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_cache_with_the_issuer_down_answers_503() {
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let mut issuer = TestIssuer::start().await;
        let token = issuer.token().sign();
        issuer.stop().await;
        let server = start(&issuer, adapter).await;
        assert_eq!(server.get("/health", None).await.status, 200);
        assert_unavailable(&server.get("/me", Some(&bearer(&token))).await);
        // Within the retry back-off nothing is fetched and the answer stays 503.
        assert_unavailable(&server.get("/recordings", Some(&bearer(&token))).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_answering_html_or_garbage_is_a_503_never_a_500() {
    for adapter in adapters() {
        for fault in [Fault::Html, Fault::Garbage, Fault::Status(500), Fault::Oversized(512 * 1024)] {
            println!("adapter: {adapter:?}, fault: {fault:?}");
            let issuer = TestIssuer::start().await;
            issuer.set_fault(fault.clone());
            let server = start(&issuer, adapter).await;
            let token = issuer.token().sign();
            assert_unavailable(&server.get("/me", Some(&bearer(&token))).await);
            // Once the issuer recovers and the back-off has passed, tokens verify.
            issuer.set_fault(Fault::None);
            let recovered = common::eventually(Duration::from_secs(15), || async {
                server.get("/me", Some(&bearer(&token))).await.status == 200
            })
            .await;
            assert!(recovered, "{fault:?}: never recovered");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_credentials_example_calls_the_api_with_a_fetched_token() {
    let issuer = TestIssuer::start().await;
    let server = start(&issuer, common::Adapter::Axum).await;
    let env = [("TOKENGUARD_ISSUER", issuer.issuer()), ("TOKENGUARD_API", server.base.as_str())];
    let (code, out, err) = common::run_example("client_credentials", &env).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(r#"GET /me → 200 OK {"subject":"testkit-client","kind":"jwt""#), "{out}");
    assert!(out.contains("GET /recordings → 200 OK"), "{out}");
    assert_eq!(issuer.token_requests(), 1, "one token for both calls");
    // Without the scope the API asks for, the second call is refused (403).
    let env = [
        ("TOKENGUARD_ISSUER", issuer.issuer()),
        ("TOKENGUARD_API", server.base.as_str()),
        ("TOKENGUARD_SCOPE", "write"),
    ];
    let (code, out, _) = common::run_example("client_credentials", &env).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("GET /recordings → 403 Forbidden"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_issuers_each_with_its_own_audience() {
    let staff = TestIssuer::start().await;
    let partners = TestIssuer::start().await;
    let list = format!("{}#aud=staff-api&claims=keycloak&client=staff-api, {}", staff.issuer(), partners.issuer());
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let server = Server::start(adapter, &[("TOKENGUARD_ISSUER", &list)]).await;
        let staff_token = staff.token().audience("staff-api").subject("sam").sign();
        let me = server.get("/me", Some(&bearer(&staff_token))).await;
        assert_eq!((me.status, me.json()["subject"].clone()), (200, json!("sam")), "{}", me.text);
        // The second issuer uses TOKENGUARD_AUDIENCE (the default, tokenguard-example).
        assert_eq!(server.get("/me", Some(&bearer(&partners.token().sign()))).await.status, 200);
        for (token, reason) in [
            (staff.token().sign(), "wrong audience"),
            (partners.token().audience("staff-api").sign(), "wrong audience"),
            (partners.token().claim("iss", staff.issuer()).audience("staff-api").sign(), "invalid signature"),
            (partners.token().claim("iss", "https://stranger.example").sign(), "untrusted issuer"),
        ] {
            let reply = server.get("/me", Some(&bearer(&token))).await;
            assert_eq!(reply.status, 401, "{reason}: {}", reply.text);
            assert_eq!(reply.www_authenticate, error_challenge("Bearer", "invalid_token", reason));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_issuer_list_is_refused_at_start() {
    for adapter in adapters() {
        let failed = Server::try_start(adapter, &[("TOKENGUARD_ISSUER", "https://a.example#claims=nope")]).await;
        let (output, status) = failed.err().expect("the example refuses to start");
        assert_ne!(status, Some(0));
        assert!(output.contains("unknown claims preset"), "{output}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_resource_metadata_is_served_and_announced_when_configured() {
    let issuer = TestIssuer::start().await;
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let env = [("TOKENGUARD_ISSUER", issuer.issuer()), ("TOKENGUARD_RESOURCE", "https://api.example")];
        let server = Server::start(adapter, &env).await;
        let document = server.get("/.well-known/oauth-protected-resource", None).await;
        assert_eq!(document.status, 200);
        assert_eq!(document.content_type.as_deref(), Some("application/json"));
        assert_eq!(
            document.json(),
            json!({
                "resource": "https://api.example",
                "authorization_servers": [issuer.issuer()],
                "scopes_supported": ["read", "write", "admin"],
                "bearer_methods_supported": ["header"]
            })
        );
        let url = r#"resource_metadata="https://api.example/.well-known/oauth-protected-resource""#;
        let anonymous = server.get("/me", None).await;
        assert_eq!(
            anonymous.www_authenticate,
            [format!(r#"Bearer realm="tokenguard", {url}"#), r#"Token realm="tokenguard""#.to_owned()]
        );
        let expired = server.get("/me", Some(&bearer(&issuer.token().expires_in(-3600).sign()))).await;
        assert!(expired.www_authenticate[0].ends_with(url), "{:?}", expired.www_authenticate);
        let forbidden = server.get("/admin", Some(&bearer(&issuer.token().scope("read").sign()))).await;
        assert!(!forbidden.www_authenticate[0].contains("resource_metadata"), "403 is not cured by a new token");
    }
}
