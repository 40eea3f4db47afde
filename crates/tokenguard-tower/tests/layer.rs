//! The layer on plain tower services and on axum routers, in process.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use serde::Deserialize;
use tokenguard_core::{ApiKeyVerifier, Authenticator, JwksOptions, JwtRules, MemoryKeyStore};
use tokenguard_testkit::{DEFAULT_AUDIENCE, TestIssuer};
use tokenguard_tower::{AuthLayer, Claims, Principal, RequireRole, RequireScope};
use tower::{ServiceBuilder, ServiceExt, service_fn};

fn authenticator(issuer: &TestIssuer) -> Authenticator {
    Authenticator::builder()
        .oidc_issuer(JwtRules::new(issuer.issuer(), [DEFAULT_AUDIENCE]), JwksOptions::default())
        .api_keys(ApiKeyVerifier::new(Arc::new(MemoryKeyStore::new()), "tg"))
        .build()
        .unwrap()
}

fn request(authorization: Option<&str>) -> Request<Full<bytes::Bytes>> {
    let mut builder = Request::builder().uri("/");
    if let Some(value) = authorization {
        builder = builder.header(header::AUTHORIZATION, value);
    }
    builder.body(Full::default()).unwrap()
}

async fn text<B: http_body::Body>(response: Response<B>) -> String
where
    B::Error: std::fmt::Debug,
{
    String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[tokio::test]
async fn guards_a_plain_tower_service() {
    let issuer = TestIssuer::start().await;
    let handler = service_fn(|request: Request<Full<bytes::Bytes>>| async move {
        let subject = request.extensions().get::<Principal>().map(|p| p.subject().to_owned());
        Ok::<_, Infallible>(Response::new(Full::new(bytes::Bytes::from(subject.unwrap_or_default()))))
    });
    let service = ServiceBuilder::new()
        .layer(AuthLayer::required(authenticator(&issuer)))
        .layer(RequireScope::new("read"))
        .service(handler);

    let token = issuer.token().scope("read").sign();
    let response = service.clone().oneshot(request(Some(&format!("Bearer {token}")))).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response).await, "alice");

    let response = service.clone().oneshot(request(None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers().get_all(header::WWW_AUTHENTICATE).iter().count(), 2);

    let token = issuer.token().scope("write").sign();
    let response = service.oneshot(request(Some(&format!("Bearer {token}")))).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer realm="tokenguard", error="insufficient_scope", error_description="the credential lacks the required scope", scope="read""#
    );
}

#[tokio::test]
async fn role_guards_and_any_of_scopes() {
    let issuer = TestIssuer::start().await;
    let ok = service_fn(|_: Request<Full<bytes::Bytes>>| async { Ok::<_, Infallible>(Response::new(Full::default())) });
    let roles = ServiceBuilder::new()
        .layer(AuthLayer::required(authenticator(&issuer)))
        .layer(RequireRole::any("auditor admin"))
        .service(ok);
    let send = |service: &_, token: String| {
        let service: &tower::util::BoxCloneService<_, _, _> = service;
        service.clone().oneshot(request(Some(&format!("Bearer {token}"))))
    };
    let roles = tower::util::BoxCloneService::new(roles);
    let auditor = issuer.token().claim("roles", serde_json::json!(["auditor"])).sign();
    assert_eq!(send(&roles, auditor).await.unwrap().status(), StatusCode::OK);
    // A scope named like the role is not the role.
    let response = send(&roles, issuer.token().scope("auditor admin").sign()).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer realm="tokenguard", error="insufficient_scope", error_description="the credential lacks the required role""#
    );
    assert_eq!(
        text(response).await,
        r#"{"error":"insufficient_scope","error_description":"the credential lacks the required role"}"#
    );
    let any_scope = tower::util::BoxCloneService::new(
        ServiceBuilder::new()
            .layer(AuthLayer::required(authenticator(&issuer)))
            .layer(RequireScope::any("read admin"))
            .service(ok),
    );
    assert_eq!(send(&any_scope, issuer.token().scope("admin").sign()).await.unwrap().status(), StatusCode::OK);
    let response = send(&any_scope, issuer.token().scope("write").sign()).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().ends_with(r#"scope="read admin""#));
}

#[derive(Deserialize)]
struct Tenant {
    tenant: String,
}

#[tokio::test]
async fn claims_extractor_and_optional_principal() {
    let issuer = TestIssuer::start().await;
    let app: Router = Router::new()
        .route("/tenant", get(|Claims(t): Claims<Tenant>| async move { t.tenant }))
        .route(
            "/who",
            get(|p: Option<Principal>| async move { p.map_or("anonymous".into(), |p| p.subject().to_owned()) }),
        )
        .layer(AuthLayer::optional(authenticator(&issuer)));

    let with_tenant = issuer.token().claim("tenant", "acme").sign();
    let response = app.clone().oneshot(request_to("/tenant", Some(&with_tenant))).await.unwrap();
    assert_eq!(text(response).await, "acme");

    let without_tenant = issuer.token().sign();
    let response = app.clone().oneshot(request_to("/tenant", Some(&without_tenant))).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        text(response).await,
        r#"{"error":"invalid_token","error_description":"the token lacks claims this route needs"}"#
    );

    let response = app.clone().oneshot(request_to("/tenant", None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let response = app.clone().oneshot(request_to("/who", None)).await.unwrap();
    assert_eq!(text(response).await, "anonymous");
    let response = app.oneshot(request_to("/who", Some("not-a-key"))).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "bad credentials are never anonymous");
}

#[tokio::test]
async fn extractors_without_the_layer_are_a_wiring_error() {
    let app: Router = Router::new().route("/", get(|p: Principal| async move { p.subject().to_owned() }));
    let response = app.oneshot(request_to("/", None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

fn request_to(path: &str, token: Option<&str>) -> Request<axum::body::Body> {
    let mut builder = Request::builder().uri(path);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(axum::body::Body::empty()).unwrap()
}
