//! `AuthLayer::deferred` around a whole axum router: the extractors give
//! the verdict, with exactly the answers of the route layers.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde::Deserialize;
use tokenguard_core::{ApiKeyVerifier, Authenticator, JwksOptions, JwtRules, MemoryKeyStore};
use tokenguard_testkit::{DEFAULT_AUDIENCE, TestIssuer};
use tokenguard_tower::{AuthLayer, Claims, Principal, RequireScopeLayer};
use tower::{Layer, ServiceExt};

tokenguard_tower::scope_guard! {
    /// Scope `read`.
    struct CanRead = scopes("read");
}

#[derive(Deserialize)]
struct Tenant {
    tenant: String,
}

fn authenticator(issuer: &str) -> Authenticator {
    Authenticator::builder()
        .oidc_issuer(JwtRules::new(issuer, [DEFAULT_AUDIENCE]), JwksOptions::default())
        .api_keys(ApiKeyVerifier::new(Arc::new(MemoryKeyStore::new()), "tg"))
        .build()
        .unwrap()
}

/// The routes that need a principal, their handlers saying what they need.
fn protected_routes() -> Router {
    Router::new()
        .route("/me", get(|p: Principal| async move { p.subject().to_owned() }))
        .route("/read", get(|CanRead(p): CanRead| async move { p.subject().to_owned() }))
        .route("/layered", get(|| async { "layered" }).route_layer(RequireScopeLayer::new("read")))
        .route("/tenant", get(|Claims(t): Claims<Tenant>| async move { t.tenant }))
}

/// Anyone may call it, but presented credentials must be valid.
fn greeting_route() -> Router {
    Router::new().route(
        "/greeting",
        get(|p: Option<Principal>| async move { p.map_or("anonymous".into(), |p| p.subject().to_owned()) }),
    )
}

/// Every route, for the deferred layer around them all.
fn routes() -> Router {
    Router::new().route("/health", get(|| async { "ok" })).merge(protected_routes()).merge(greeting_route())
}

/// What each request gets, as one comparable value.
async fn answer<S>(service: &S, path: &str, authorization: &[&str]) -> (StatusCode, HeaderMap, String)
where
    S: tower::Service<Request<Body>, Response = axum::response::Response, Error = std::convert::Infallible> + Clone,
{
    let mut request = Request::builder().uri(path);
    for value in authorization {
        request = request.header(header::AUTHORIZATION, *value);
    }
    let response = service.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap();
    (parts.status, parts.headers, body)
}

#[tokio::test]
async fn extractors_answer_as_the_route_layers_do() {
    let issuer = TestIssuer::start().await;
    let authenticator = authenticator(issuer.issuer());
    let deferred = AuthLayer::deferred(authenticator.clone()).layer(routes());
    // The same handlers behind the layer that answers itself: `required`
    // for the protected routes, `optional` for the greeting.
    let protected = protected_routes().route_layer(AuthLayer::required(authenticator.clone()));
    let greeting = greeting_route().route_layer(AuthLayer::optional(authenticator));
    let layered = protected.merge(greeting);

    let read = format!("Bearer {}", issuer.token().scope("read").claim("tenant", "acme").sign());
    let write = format!("Bearer {}", issuer.token().scope("write").sign());
    let expired = format!("Bearer {}", issuer.token().scope("read").expires_in(-3600).sign());
    let credentials: [&[&str]; 7] =
        [&[&read], &[&write], &[], &[&expired], &["Bearer not-a-key"], &["Bearer a b"], &[&read, &read]];
    let mut statuses = Vec::new();
    for path in ["/me", "/read", "/layered", "/tenant", "/greeting"] {
        for authorization in credentials {
            // Twice: the second request is served from the verified-token cache.
            for round in 0..2 {
                let from_extractors = answer(&deferred, path, authorization).await;
                let from_layer = answer(&layered, path, authorization).await;
                assert_eq!(from_extractors, from_layer, "{path} {} round {round}", authorization.len());
                statuses.push(from_extractors.0.as_u16());
            }
        }
    }
    // The table covers every answer: 200, 400, 401 and 403.
    for status in [200, 400, 401, 403] {
        assert!(statuses.contains(&status), "no {status} in {statuses:?}");
    }
    assert_eq!(answer(&deferred, "/me", &[&read]).await.2, "alice");
    assert_eq!(answer(&deferred, "/tenant", &[&read]).await.2, "acme");
    let refused = answer(&deferred, "/greeting", &[&expired]).await;
    assert_eq!(refused.0, StatusCode::UNAUTHORIZED, "presented credentials are never silently anonymous");
    assert_eq!(
        refused.1[header::WWW_AUTHENTICATE],
        r#"Bearer realm="tokenguard", error="invalid_token", error_description="token expired""#
    );
    assert_eq!(refused.2, r#"{"error":"invalid_token","error_description":"token expired"}"#);
    assert_eq!(answer(&deferred, "/greeting", &[]).await.2, "anonymous");
}

#[tokio::test]
async fn public_routes_answer_as_without_the_layer() {
    let issuer = TestIssuer::start().await;
    let deferred = AuthLayer::deferred(authenticator(issuer.issuer())).layer(routes());
    let expired = format!("Bearer {}", issuer.token().expires_in(-3600).sign());
    for authorization in [&[][..], &[expired.as_str()], &["Bearer not-a-key"], &["Bearer a b"]] {
        let health = answer(&deferred, "/health", authorization).await;
        assert_eq!((health.0, health.2.as_str()), (StatusCode::OK, "ok"));
        assert!(health.1.get(header::WWW_AUTHENTICATE).is_none());
        assert_eq!(answer(&deferred, "/nowhere", authorization).await.0, StatusCode::NOT_FOUND);
    }
}

/// The issuer cannot be reached: protected routes answer 503 with
/// `Retry-After`, public routes keep working.
#[tokio::test]
async fn an_unreachable_issuer_closes_only_the_protected_routes() {
    let unreachable = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let issuer = TestIssuer::start().await;
    let token = format!("Bearer {}", issuer.token().claim("iss", unreachable.as_str()).scope("read").sign());
    let deferred = AuthLayer::deferred(authenticator(&unreachable)).layer(routes());
    for path in ["/me", "/read", "/greeting"] {
        let (status, headers, _) = answer(&deferred, path, &[&token]).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(headers.contains_key(header::RETRY_AFTER), "{path}");
    }
    assert_eq!(answer(&deferred, "/health", &[&token]).await.0, StatusCode::OK);
}
