//! What an operator relies on, driven from outside on both examples:
//! `GET /ready`, Prometheus metrics on `TOKENGUARD_METRICS_BIND`, and a
//! PostgreSQL key store that goes down under a running server
//! (`TOKENGUARD_KEY_STALE_SECONDS`) — on a private PostgreSQL server.

mod common;

use std::time::{Duration, Instant};

use common::{Server, adapters, cli, eventually};
use serde_json::{Value, json};
use tokenguard_testkit::{TestIssuer, TestPostgres};

fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_reports_every_issuer_and_the_store() {
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let issuer = TestIssuer::start().await;
        let server = Server::start(adapter, &[("TOKENGUARD_ISSUER", issuer.issuer())]).await;
        // Warmed up in the background at start: no request needed.
        let ready =
            eventually(Duration::from_secs(10), || async { server.get("/ready", None).await.status == 200 }).await;
        assert!(ready, "never ready: {}", server.logs());
        let reply = server.get("/ready", None).await;
        assert_eq!(reply.content_type.as_deref(), Some("application/json"));
        let expected = json!({
            "ready": true,
            "issuers": {issuer.issuer(): {"ready": true, "keys": 1, "error": null}},
            "store": {"ready": true, "error": null},
        });
        assert_eq!(reply.json(), expected);
        assert_eq!(issuer.jwks_fetches(), 1, "the warm-up fetched the keys once");
        let token = issuer.token().sign();
        assert_eq!(server.get("/me", Some(&format!("Bearer {token}"))).await.status, 200);
        assert_eq!(issuer.jwks_fetches(), 1, "the first request found them cached");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_is_503_with_retry_after_while_the_issuer_is_down() {
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let mut issuer = TestIssuer::start().await;
        issuer.stop().await;
        let server = Server::start(adapter, &[("TOKENGUARD_ISSUER", issuer.issuer())]).await;
        let failed = eventually(Duration::from_secs(15), || async {
            server.get("/ready", None).await.json()["issuers"][issuer.issuer()]["error"].is_string()
        })
        .await;
        assert!(failed, "the failed fetch is reported");
        let reply = server.get("/ready", None).await;
        assert_eq!(reply.status, 503);
        assert_eq!(reply.retry_after.as_deref(), Some("1"));
        let body = reply.json();
        assert_eq!(body["ready"], false);
        assert_eq!(body["issuers"][issuer.issuer()]["ready"], false);
        assert_eq!(body["issuers"][issuer.issuer()]["keys"], 0);
        assert_eq!(body["store"], json!({"ready": true, "error": null}));
        assert_eq!(server.get("/health", None).await.status, 200, "the server runs");
    }
}

/// The value of `series` (e.g. `name{a="b"}`) in Prometheus text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_in_prometheus_text_on_their_own_listener() {
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let issuer = TestIssuer::start().await;
        let metrics = free_address();
        let env = [("TOKENGUARD_ISSUER", issuer.issuer()), ("TOKENGUARD_METRICS_BIND", metrics.as_str())];
        let server = Server::start(adapter, &env).await;
        let token = issuer.token().scope("read").sign();
        for _ in 0..3 {
            assert_eq!(server.get("/me", Some(&format!("Bearer {token}"))).await.status, 200);
        }
        assert_eq!(server.get("/me", Some("Bearer not-a-key")).await.status, 401);
        assert_eq!(server.get("/admin", Some(&format!("Bearer {token}"))).await.status, 403);
        assert_eq!(server.get("/me", Some("Bearer a b")).await.status, 400);
        assert_eq!(server.get("/metrics", None).await.status, 404, "never on the API's port");

        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let text = client.get(format!("http://{metrics}/metrics")).send().await.unwrap().text().await.unwrap();
        let count = |series: &str| sample(&text, series).unwrap_or_else(|| panic!("{series} missing in:\n{text}"));
        assert_eq!(count(r#"tokenguard_authentications_total{kind="jwt",outcome="accepted"}"#), 4.0);
        assert_eq!(count(r#"tokenguard_authentications_total{kind="api_key",outcome="refused"}"#), 1.0);
        assert_eq!(count(r#"tokenguard_authentications_total{kind="jwt",outcome="forbidden"}"#), 1.0);
        assert_eq!(count(r#"tokenguard_authentications_total{kind="unknown",outcome="malformed"}"#), 1.0);
        assert_eq!(count(&format!(r#"tokenguard_jwks_keys{{issuer="{}"}}"#, issuer.issuer())), 1.0);
        assert!(!text.contains(&token[token.len() - 16..]), "no credential in the metrics");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_server_rides_out_a_key_store_outage() {
    let postgres = TestPostgres::start().unwrap_or_else(|error| panic!("{error}"));
    let store = postgres.url();
    let create = |subject: &'static str| {
        let store = store.clone();
        async move {
            let (code, out, err) = cli(&["keys", "create", "--store", &store, "--subject", subject, "--json"]).await;
            assert_eq!(code, 0, "{err}");
            serde_json::from_str::<Value>(&out).unwrap()["key"].as_str().unwrap().to_owned()
        }
    };
    let recent = create("recent").await;
    let never_used = create("never-used").await;
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let stale = Server::start(adapter, &[("TOKENGUARD_KEY_STORE", &store)]).await;
        let strict =
            Server::start(adapter, &[("TOKENGUARD_KEY_STORE", &store), ("TOKENGUARD_KEY_STALE_SECONDS", "0")]).await;
        for server in [&stale, &strict] {
            assert_eq!(server.get("/me", Some(&format!("Token {recent}"))).await.status, 200);
        }
        postgres.stop().unwrap();
        // Once the caches (2 s token cache, 5 s store cache) have let the key
        // go, the strict server answers 503; the other keeps the key.
        let strict_refuses = eventually(Duration::from_secs(15), || async {
            strict.get("/me", Some(&format!("Token {recent}"))).await.status == 503
        })
        .await;
        assert!(strict_refuses, "TOKENGUARD_KEY_STALE_SECONDS=0: 503 once the caches expire");
        assert!(strict.get("/me", Some(&format!("Token {recent}"))).await.retry_after.is_some());
        let reply = stale.get("/me", Some(&format!("Token {recent}"))).await;
        assert_eq!(reply.status, 200, "a recently verified key keeps working: {}", reply.text);
        let mut latencies = Vec::new();
        for _ in 0..20 {
            let asked = Instant::now();
            let reply = stale.get("/me", Some(&format!("Token {never_used}"))).await;
            latencies.push(asked.elapsed());
            assert_eq!(reply.status, 503, "{}", reply.text);
        }
        latencies.sort();
        println!("unknown key during the outage: p50 {:?}, max {:?}", latencies[10], latencies[19]);
        assert!(latencies[19] < Duration::from_millis(100), "503 without a pool timeout: {latencies:?}");
        assert_eq!(stale.get("/ready", None).await.status, 503);
        postgres.start_again().unwrap();
        let back = eventually(Duration::from_secs(10), || async {
            stale.get("/me", Some(&format!("Token {never_used}"))).await.status == 200
        })
        .await;
        assert!(back, "keys work again once the store answers");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_started_while_the_key_store_is_down_serves_jwts_then_keys() {
    let postgres = TestPostgres::start().unwrap_or_else(|error| panic!("{error}"));
    let store = postgres.url();
    // The schema exists (an earlier start); then the database goes down.
    let (code, _, err) = cli(&["keys", "list", "--store", &store]).await;
    assert_eq!(code, 0, "{err}");
    postgres.stop().unwrap();
    let issuer = TestIssuer::start().await;
    let env = [("TOKENGUARD_ISSUER", issuer.issuer()), ("TOKENGUARD_KEY_STORE", store.as_str())];
    let servers = futures::future::join_all(adapters().into_iter().map(|adapter| Server::start(adapter, &env))).await;
    let token = issuer.token().sign();
    for server in &servers {
        assert_eq!(server.get("/me", Some(&format!("Bearer {token}"))).await.status, 200, "JWTs are unaffected");
        let reply = server.get("/me", Some("Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b")).await;
        assert_eq!(reply.status, 503, "{:?}: {}", server.adapter, reply.text);
        assert!(reply.retry_after.is_some());
        let ready = server.get("/ready", None).await.json();
        assert_eq!(ready["store"]["ready"], false, "{ready}");
    }
    postgres.start_again().unwrap();
    let (code, out, err) = cli(&["keys", "create", "--store", &store, "--subject", "late", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let key = serde_json::from_str::<Value>(&out).unwrap()["key"].as_str().unwrap().to_owned();
    for server in &servers {
        let accepted = eventually(Duration::from_secs(10), || async {
            server.get("/me", Some(&format!("Token {key}"))).await.status == 200
        })
        .await;
        assert!(accepted, "{:?}: keys work once the store answers, without a restart", server.adapter);
        assert_eq!(server.get("/ready", None).await.status, 200);
    }
}
