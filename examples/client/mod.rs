//! What the client examples share: where to call (an API and its issuer
//! from the environment, or an embedded development issuer and API so that
//! `cargo run --example …` works with no setup) and how to show the answers.
#![allow(dead_code)]

use std::sync::Arc;

use axum::routing::get;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokenguard::store::{ApiKeyRecord, ChangedBy};
use tokenguard::tower::{AuthLayer, RequireScopeLayer};
use tokenguard::{ApiKeyVerifier, Authenticator, JwksOptions, JwtRules, KeyStore, MemoryKeyStore, Principal, Scopes};
use tokenguard_testkit::TestIssuer;
use tower::{Service, ServiceExt};

pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

pub fn fail(example: &str, message: &str) -> ! {
    eprintln!("{example}: {message}");
    std::process::exit(2);
}

/// Where the example calls.
pub struct Target {
    /// The authorization server.
    pub issuer: String,
    /// The API's base URL.
    pub api: String,
    /// An API key the embedded API accepts (scope `read`), when embedded.
    pub api_key: Option<tokenguard::Secret>,
    /// Keeps the embedded issuer running.
    pub embedded: Option<TestIssuer>,
}

/// `TOKENGUARD_ISSUER` and `TOKENGUARD_API` when set; otherwise an
/// embedded development issuer (tokens of `token_ttl` seconds) and an API
/// trusting it on a loopback port, as the examples' API answers `/me` and
/// `/recordings` (scope `read`), also accepting API keys.
pub async fn target(token_ttl: i64) -> Target {
    if let (Some(issuer), Some(api)) = (var("TOKENGUARD_ISSUER"), var("TOKENGUARD_API")) {
        return Target { issuer, api, api_key: None, embedded: None };
    }
    let issuer = TestIssuer::for_audience("tokenguard-example").await;
    issuer.set_token_ttl(token_ttl);
    let store = Arc::new(MemoryKeyStore::new());
    let key = tokenguard::apikey::generate("tg");
    let record = ApiKeyRecord::for_key(&key, "reports-service", Scopes::from_space_separated("read"), None, None);
    if let Err(error) = store.insert(record, &ChangedBy::now("example")).await {
        fail("client", &error.to_string());
    }
    let authenticator = Authenticator::builder()
        .oidc_issuer(JwtRules::new(issuer.issuer(), ["tokenguard-example"]), JwksOptions::default())
        .api_keys(ApiKeyVerifier::new(store, "tg"))
        .build()
        .unwrap_or_else(|error| fail("client", &error.to_string()));
    let app = axum::Router::new()
        .route("/me", get(|principal: Principal| async move { axum::Json(principal) }))
        .route(
            "/recordings",
            get(|| async { axum::Json(serde_json::json!([])) }).route_layer(RequireScopeLayer::new("read")),
        )
        .layer(AuthLayer::required(authenticator));
    let listener =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| fail("client", &e.to_string()));
    let api = format!("http://{}", listener.local_addr().unwrap_or_else(|e| fail("client", &e.to_string())));
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("embedded development issuer {} and API {api}", issuer.issuer());
    Target { issuer: issuer.issuer().to_owned(), api, api_key: Some(key), embedded: Some(issuer) }
}

/// GETs each of `paths` on `api` through `client`, printing status and
/// body; whether all succeeded.
pub async fn call<S, B>(client: &S, api: &str, paths: &[&str]) -> bool
where
    S: Service<http::Request<Full<Bytes>>, Response = http::Response<B>> + Clone,
    S::Error: std::fmt::Display,
    B: axum::body::HttpBody,
{
    let mut all_ok = true;
    for path in paths {
        let request = match http::Request::get(format!("{api}{path}")).body(Full::default()) {
            Ok(request) => request,
            Err(error) => fail("client", &format!("TOKENGUARD_API: {error}")),
        };
        match client.clone().oneshot(request).await {
            Ok(response) => {
                let status = response.status();
                let body = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                println!("GET {path} → {status} {}", String::from_utf8_lossy(&body));
                all_ok &= status.is_success();
            }
            Err(error) => {
                println!("GET {path} → error: {error}");
                all_ok = false;
            }
        }
    }
    all_ok
}
