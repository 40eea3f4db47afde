//! The outgoing side: token sources against the testkit issuer's token
//! endpoint, and `AuthorizeRequestLayer` in front of a real HTTP client and
//! a real tokenguard-protected server on loopback.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokenguard_core::client::{
    ApiKeyForm, ClientCredentials, OAuthClient, RefreshingToken, RetryOn, StaticApiKey, TokenError, TokenSource,
};
use tokenguard_core::introspection::ClientAuth;
use tokenguard_core::time::ManualClock;
use tokenguard_core::{Authenticator, JwksOptions, JwtRules, Secret};
use tokenguard_testkit::{
    DEFAULT_AUDIENCE, Fault, TOKEN_CLIENT_ID, TOKEN_CLIENT_SECRET, TestIssuer, USER, USER_PASSWORD,
};
use tokenguard_tower::authorize_request::BoxError;
use tokenguard_tower::{AuthLayer, AuthorizeRequestLayer, Principal};
use tower::{Layer, Service, ServiceExt, service_fn};

fn oauth(issuer: &TestIssuer) -> OAuthClient {
    OAuthClient::discover(issuer.issuer(), TOKEN_CLIENT_ID, TOKEN_CLIENT_SECRET).expect("valid client")
}

/// A tokenguard-protected axum server trusting `issuer`: `/me` echoes the principal.
async fn protected_server(issuer: &TestIssuer) -> String {
    let authenticator = Authenticator::builder()
        .oidc_issuer(JwtRules::new(issuer.issuer(), [DEFAULT_AUDIENCE]), JwksOptions::default())
        .build()
        .expect("authenticator");
    let app = axum::Router::new()
        .route("/me", axum::routing::get(|principal: Principal| async move { axum::Json(principal) }))
        .layer(AuthLayer::required(authenticator));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

fn http_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn get_json<S>(client: &mut S, url: &str) -> (StatusCode, serde_json::Value)
where
    S: Service<Request<Full<Bytes>>, Response = Response<hyper::body::Incoming>, Error = BoxError>,
{
    let request = Request::get(url).body(Full::default()).expect("request");
    let response = client.ready().await.expect("ready").call(request).await.expect("response");
    let status = response.status();
    let body = response.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or_default())
}

#[tokio::test]
async fn a_client_credentials_token_is_fetched_once_and_reused() {
    let issuer = TestIssuer::start().await;
    let base = protected_server(&issuer).await;
    let source = Arc::new(ClientCredentials::new(oauth(&issuer)).scope("read write"));
    let mut client = AuthorizeRequestLayer::new(source).layer(http_client());
    for _ in 0..20 {
        let (status, me) = get_json(&mut client, &format!("{base}/me")).await;
        assert_eq!(status, StatusCode::OK, "{me}");
        assert_eq!(me["subject"], TOKEN_CLIENT_ID);
        assert_eq!(me["scopes"], serde_json::json!(["read", "write"]));
    }
    assert_eq!(issuer.token_requests(), 1);
}

#[tokio::test]
async fn client_secret_post_and_resource_are_sent() {
    let issuer = TestIssuer::start().await;
    let client = oauth(&issuer).client_auth(ClientAuth::Post);
    let source = ClientCredentials::new(client).resource("https://api.example");
    let token = source.authorization().await.expect("token");
    let value = token.header_value().to_str().expect("ASCII");
    let payload = value.trim_start_matches("Bearer ").split('.').nth(1).expect("JWT payload");
    use base64::Engine;
    let claims: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("b64"))
            .expect("JSON");
    assert_eq!(claims["aud"], "https://api.example");
    assert!(token.header_value().is_sensitive());
    assert_eq!(format!("{token:?}"), "Authorization([redacted])");
}

#[tokio::test]
async fn a_token_is_refreshed_before_it_expires() {
    let issuer = TestIssuer::start().await;
    issuer.set_token_ttl(20);
    let base = protected_server(&issuer).await;
    let clock = ManualClock::new();
    let source = Arc::new(ClientCredentials::new(oauth(&issuer)).clock(clock.clock()));
    let mut client = AuthorizeRequestLayer::new(source).layer(http_client());
    let (_, first) = get_json(&mut client, &format!("{base}/me")).await;
    let first_token = first["expires_at"].as_u64().expect("expires_at");
    // Refreshed at half its 20 s lifetime (the 30 s default skew is capped
    // at half), while the server still accepts the first token.
    clock.advance(Duration::from_secs(9));
    assert_eq!(get_json(&mut client, &format!("{base}/me")).await.1["expires_at"].as_u64(), Some(first_token));
    assert_eq!(issuer.token_requests(), 1);
    clock.advance(Duration::from_secs(2));
    let (status, me) = get_json(&mut client, &format!("{base}/me")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(issuer.token_requests(), 2, "refreshed before it expired");
    assert!(me["expires_at"].as_u64() >= Some(first_token));
}

/// A tower HTTP client stand-in.
trait FakeServer:
    Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>, Error = Infallible, Future: Send>
    + Clone
    + Send
    + 'static
{
}

impl<S> FakeServer for S where
    S: Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>, Error = Infallible, Future: Send>
        + Clone
        + Send
        + 'static
{
}

/// An inner "HTTP client" that records the credentials it saw and answers
/// with `answer(credential, call number)`.
/// What the fake server saw: the `Authorization` of every request.
type Seen = Arc<Mutex<Vec<String>>>;

fn recording(answer: impl Fn(&str, usize) -> StatusCode + Clone + Send + Sync + 'static) -> (impl FakeServer, Seen) {
    recording_with(Some(r#"Bearer realm="api", error="invalid_token", error_description="token revoked""#), answer)
}

/// Like [`recording`]; a 401 carries `challenge`, or none at all.
fn recording_with(
    challenge: Option<&'static str>,
    answer: impl Fn(&str, usize) -> StatusCode + Clone + Send + Sync + 'static,
) -> (impl FakeServer, Seen) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let service = service_fn(move |request: Request<Full<Bytes>>| {
        let credential = request.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let calls = {
            let mut seen = record.lock().unwrap();
            seen.push(credential.clone());
            seen.len()
        };
        let status = answer(&credential, calls);
        let mut response = Response::new(Full::default());
        *response.status_mut() = status;
        if let (StatusCode::UNAUTHORIZED, Some(challenge)) = (status, challenge) {
            response.headers_mut().insert("www-authenticate", HeaderValue::from_static(challenge));
        }
        async move { Ok::<_, Infallible>(response) }
    });
    (service, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_requests_at_expiry_cause_one_token_request() {
    let issuer = TestIssuer::start().await;
    issuer.set_token_ttl(1);
    let clock = ManualClock::new();
    let source = Arc::new(ClientCredentials::new(oauth(&issuer)).clock(clock.clock()));
    let first = source.authorization().await.expect("token");
    clock.advance(Duration::from_millis(1200));
    let (inner, seen) = recording(|_, _| StatusCode::OK);
    let client = AuthorizeRequestLayer::new(source).layer(inner);
    let calls = (0..1000).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.oneshot(Request::new(Full::default())).await.map(|r| r.status()) })
    });
    for call in futures_join(calls).await {
        assert_eq!(call.expect("task").expect("response"), StatusCode::OK);
    }
    assert_eq!(issuer.token_requests(), 2, "one token before, exactly one at expiry");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1000);
    assert!(seen.iter().all(|credential| credential == &seen[0]), "every request carried the new token");
    assert_ne!(seen[0], first.header_value().to_str().unwrap());
}

async fn futures_join<T>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<Result<T, tokio::task::JoinError>> {
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await);
    }
    results
}

#[tokio::test]
async fn a_401_invalid_token_is_refreshed_and_retried_once() {
    let issuer = TestIssuer::start().await;
    let source = Arc::new(ClientCredentials::new(oauth(&issuer)));
    // The server has revoked the first token it sees.
    let first = Arc::new(Mutex::new(None::<String>));
    let revoked = first.clone();
    let (inner, seen) = recording(move |credential, _| {
        let mut revoked = revoked.lock().unwrap();
        let revoked = revoked.get_or_insert_with(|| credential.to_owned());
        if credential == revoked { StatusCode::UNAUTHORIZED } else { StatusCode::OK }
    });
    let client = AuthorizeRequestLayer::new(source).layer(inner);
    let response = client.clone().oneshot(Request::new(Full::default())).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(seen.lock().unwrap().len(), 2, "sent twice");
    assert_eq!(issuer.token_requests(), 2);
    // The new token is kept.
    let response = client.oneshot(Request::new(Full::default())).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(issuer.token_requests(), 2);
}

/// A server that has revoked the first token it sees and answers it with a bare 401.
fn revoking_first_token(challenge: Option<&'static str>) -> (impl FakeServer, Seen) {
    let first = Arc::new(Mutex::new(None::<String>));
    recording_with(challenge, move |credential, _| {
        let mut revoked = first.lock().unwrap();
        let revoked = revoked.get_or_insert_with(|| credential.to_owned());
        if credential == revoked { StatusCode::UNAUTHORIZED } else { StatusCode::OK }
    })
}

#[tokio::test]
async fn a_plain_401_is_refreshed_and_retried_once() {
    let issuer = TestIssuer::start().await;
    let source = Arc::new(ClientCredentials::new(oauth(&issuer)));
    let (inner, seen) = revoking_first_token(None);
    let client = AuthorizeRequestLayer::new(source).layer(inner);
    let response = client.oneshot(Request::new(Full::default())).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!((seen.lock().unwrap().len(), issuer.token_requests()), (2, 2));
}

#[tokio::test]
async fn retrying_only_on_invalid_token_leaves_a_plain_401_to_the_caller() {
    let issuer = TestIssuer::start().await;
    let source = Arc::new(ClientCredentials::new(oauth(&issuer)));
    let (inner, seen) = revoking_first_token(None);
    let client = AuthorizeRequestLayer::new(source).retry_on(RetryOn::InvalidToken).layer(inner);
    let response = client.oneshot(Request::new(Full::default())).await.expect("response");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!((seen.lock().unwrap().len(), issuer.token_requests()), (1, 1));
}

#[tokio::test]
async fn a_second_401_goes_back_to_the_caller() {
    let issuer = TestIssuer::start().await;
    let source = Arc::new(ClientCredentials::new(oauth(&issuer)));
    let (inner, seen) = recording(|_, _| StatusCode::UNAUTHORIZED);
    let client = AuthorizeRequestLayer::new(source).layer(inner);
    let response = client.oneshot(Request::new(Full::default())).await.expect("response");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(seen.lock().unwrap().len(), 2, "one retry, not more");
    assert_eq!(issuer.token_requests(), 2);
}

#[tokio::test]
async fn a_real_server_refusing_the_audience_gets_one_retry() {
    let issuer = TestIssuer::start().await;
    let base = protected_server(&issuer).await;
    let source = Arc::new(ClientCredentials::new(oauth(&issuer)).resource("https://another-api.example"));
    let mut client = AuthorizeRequestLayer::new(source).layer(http_client());
    let (status, body) = get_json(&mut client, &format!("{base}/me")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(issuer.token_requests(), 2);
}

#[tokio::test]
async fn a_token_endpoint_that_is_down_is_a_clear_error_without_a_retry_storm() {
    let issuer = TestIssuer::start().await;
    let source = Arc::new(ClientCredentials::new(oauth(&issuer)));
    assert!(source.authorization().await.is_ok(), "discovery and a first token");
    source.invalidate(&source.authorization().await.expect("cached"));
    issuer.set_fault(Fault::Status(503));
    let (inner, seen) = recording(|_, _| StatusCode::OK);
    let client = AuthorizeRequestLayer::new(source).layer(inner);
    let before = issuer.token_requests();
    let started = Instant::now();
    for _ in 0..200 {
        let error = client.clone().oneshot(Request::new(Full::default())).await.expect_err("no token");
        let error = error.downcast::<TokenError>().expect("a TokenError");
        assert!(matches!(*error, TokenError::Unavailable { .. }), "{error}");
        assert!(error.to_string().contains("HTTP 503"), "{error}");
    }
    // One attempt, then back-off (1 s, doubling): at most one more per second elapsed.
    let attempts = issuer.token_requests() - before;
    assert!(attempts as u64 <= 1 + started.elapsed().as_secs(), "{attempts} token requests");
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent without a credential");
}

#[tokio::test]
async fn refresh_tokens_keep_a_user_token_fresh_and_follow_rotation() {
    let issuer = TestIssuer::start().await;
    issuer.set_token_ttl(1);
    let client = Arc::new(oauth(&issuer));
    let initial = client
        .request(&[("grant_type", "password"), ("username", USER), ("password", USER_PASSWORD), ("scope", "read")])
        .await
        .expect("password grant");
    let clock = ManualClock::new();
    let source = RefreshingToken::new(client, initial).expect("a refresh token").clock(clock.clock());
    let first = source.authorization().await.expect("the initial token");
    assert_eq!(issuer.token_requests(), 1, "the initial token is used as is");
    let mut previous = first;
    // Each refresh rotates the refresh token; the testkit accepts each one once.
    for refreshes in 1..=3 {
        clock.advance(Duration::from_millis(1100));
        let next = source.authorization().await.expect("a refreshed token");
        assert_ne!(next, previous);
        assert_eq!(issuer.token_requests(), 1 + refreshes);
        previous = next;
    }
}

#[tokio::test]
async fn static_api_keys_are_sent_in_the_chosen_form() {
    let key = || Secret::new("tg_0123456789");
    let forms = [
        (ApiKeyForm::RailsToken, "Token token=tg_0123456789"),
        (ApiKeyForm::Token, "Token tg_0123456789"),
        (ApiKeyForm::Bearer, "Bearer tg_0123456789"),
    ];
    for (form, expected) in forms {
        let source = StaticApiKey::new(key(), form).expect("a header-safe key");
        assert_eq!(source.authorization().await.expect("static").header_value(), expected);
    }
    assert!(StaticApiKey::new(Secret::new("bad\nkey"), ApiKeyForm::Token).is_err());
    // A static key has nothing else to offer: the 401 goes back after one try.
    let source = Arc::new(StaticApiKey::new(key(), ApiKeyForm::Token).expect("key"));
    let (inner, seen) = recording(|_, _| StatusCode::UNAUTHORIZED);
    let response = AuthorizeRequestLayer::new(source).layer(inner).oneshot(Request::new(Full::default())).await;
    assert_eq!(response.expect("response").status(), StatusCode::UNAUTHORIZED);
    assert_eq!(seen.lock().unwrap().len(), 1);
}
