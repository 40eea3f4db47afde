//! `AuthorizeMiddleware`: a token source on reqwest requests through
//! reqwest-middleware, against a real server on loopback and the testkit
//! issuer's token endpoint — the behaviour of tower's AuthorizeRequestLayer.
#![cfg(feature = "reqwest")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use tokenguard_core::client::{AuthorizeMiddleware, ClientCredentials, OAuthClient, RetryOn, TokenSource};
use tokenguard_core::time::ManualClock;
use tokenguard_testkit::{TOKEN_CLIENT_ID, TOKEN_CLIENT_SECRET, TestIssuer};

/// What the server saw, and which credential it has revoked (the first it saw, if `revoke_first`).
#[derive(Default)]
struct Api {
    requests: AtomicUsize,
    revoked: Mutex<Option<String>>,
    revoke_first: bool,
    refuse_all: bool,
}

/// Serves `/data`: 401 without a challenge for a revoked credential, 200 otherwise.
async fn serve(api: Arc<Api>) -> String {
    let handler = move |headers: HeaderMap| {
        let api = api.clone();
        async move {
            api.requests.fetch_add(1, Ordering::SeqCst);
            let credential = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            let mut revoked = api.revoked.lock().unwrap();
            if api.revoke_first {
                revoked.get_or_insert_with(|| credential.clone());
            }
            if api.refuse_all || revoked.as_deref() == Some(credential.as_str()) {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::OK
            }
        }
    };
    let app = axum::Router::new().route("/data", axum::routing::get(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn client(source: Arc<dyn TokenSource>, retry: RetryOn) -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(AuthorizeMiddleware::new(source).retry_on(retry))
        .build()
}

fn source(issuer: &TestIssuer) -> Arc<ClientCredentials> {
    let oauth = OAuthClient::discover(issuer.issuer(), TOKEN_CLIENT_ID, TOKEN_CLIENT_SECRET).unwrap();
    Arc::new(ClientCredentials::new(oauth))
}

#[tokio::test]
async fn a_plain_401_is_refreshed_and_retried_once() {
    let issuer = TestIssuer::start().await;
    let api = Arc::new(Api { revoke_first: true, ..Api::default() });
    let base = serve(api.clone()).await;
    let client = client(source(&issuer), RetryOn::default());
    let response = client.get(format!("{base}/data")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!((api.requests.load(Ordering::SeqCst), issuer.token_requests()), (2, 2));
    assert_eq!(client.get(format!("{base}/data")).send().await.unwrap().status(), 200);
    assert_eq!(issuer.token_requests(), 2, "the new token is kept");
}

#[tokio::test]
async fn a_second_401_goes_back_to_the_caller_and_invalid_token_only_means_no_retry() {
    let issuer = TestIssuer::start().await;
    let api = Arc::new(Api { refuse_all: true, ..Api::default() });
    let base = serve(api.clone()).await;
    let response = client(source(&issuer), RetryOn::default()).get(format!("{base}/data")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!((api.requests.load(Ordering::SeqCst), issuer.token_requests()), (2, 2), "one retry, not more");
    let strict = client(source(&issuer), RetryOn::InvalidToken);
    assert_eq!(strict.get(format!("{base}/data")).send().await.unwrap().status(), 401);
    assert_eq!(api.requests.load(Ordering::SeqCst), 3, "a bare 401 is not invalid_token: no retry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_requests_at_expiry_cause_one_token_request() {
    let issuer = TestIssuer::start().await;
    issuer.set_token_ttl(60);
    let api = Arc::new(Api::default());
    let base = serve(api.clone()).await;
    let clock = ManualClock::new();
    let oauth = OAuthClient::discover(issuer.issuer(), TOKEN_CLIENT_ID, TOKEN_CLIENT_SECRET).unwrap();
    let source = Arc::new(ClientCredentials::new(oauth).clock(clock.clock()));
    source.authorization().await.unwrap();
    clock.advance(Duration::from_secs(61));
    let client = client(source, RetryOn::default());
    let calls: Vec<_> = (0..1000)
        .map(|_| {
            let (client, url) = (client.clone(), format!("{base}/data"));
            tokio::spawn(async move { client.get(url).send().await.map(|response| response.status()) })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), 200);
    }
    assert_eq!(issuer.token_requests(), 2, "one token before, exactly one at expiry");
    assert_eq!(api.requests.load(Ordering::SeqCst), 1000);
}
