//! The layer on plain tower services and on axum routers, in process.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use serde::Deserialize;
use tokenguard_core::plumbing::AuthOutcome;
use tokenguard_core::{ApiKeyVerifier, Authenticator, JwksOptions, JwtRules, MemoryKeyStore};
use tokenguard_testkit::{DEFAULT_AUDIENCE, TestIssuer};
use tokenguard_tower::{AuthLayer, Claims, Principal, RequireRole, RequireScopeLayer};
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
        let outcome = request.extensions().get::<AuthOutcome>();
        let subject = outcome.and_then(AuthOutcome::principal).map(|p| p.subject().to_owned());
        Ok::<_, Infallible>(Response::new(Full::new(bytes::Bytes::from(subject.unwrap_or_default()))))
    });
    let service = ServiceBuilder::new()
        .layer(AuthLayer::required(authenticator(&issuer)))
        .layer(RequireScopeLayer::new("read"))
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
            .layer(RequireScopeLayer::any("read admin"))
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

tokenguard_tower::scope_guard! {
    /// Scope `read`.
    struct CanRead = scopes("read");
    /// Scope `read` or `admin`.
    struct ReadsOrAdministers = any_scope("read admin");
    /// Role `auditor`.
    struct Auditor = roles("auditor");
    /// Role `auditor` or `admin`.
    struct Staff = any_role("auditor admin");
}

/// The scope guard extractors answer exactly as the `RequireScopeLayer` layer does.
#[tokio::test]
async fn scope_guard_extractors_answer_as_the_layer_does() {
    let issuer = TestIssuer::start().await;
    let authenticator = authenticator(&issuer);
    let guarded: Router = Router::new()
        .route("/read", get(|CanRead(p): CanRead| async move { p.subject().to_owned() }))
        .route("/any", get(|_: ReadsOrAdministers| async { "ok" }))
        .route("/auditor", get(|_: Auditor| async { "ok" }))
        .route("/staff", get(|_: Staff| async { "ok" }))
        .layer(AuthLayer::optional(authenticator.clone()));
    let layered: Router = Router::new()
        .route("/read", get(|| async { "alice" }).route_layer(RequireScopeLayer::new("read")))
        .route("/any", get(|| async { "ok" }).route_layer(RequireScopeLayer::any("read admin")))
        .route("/auditor", get(|| async { "ok" }).route_layer(RequireRole::new("auditor")))
        .route("/staff", get(|| async { "ok" }).route_layer(RequireRole::any("auditor admin")))
        .layer(AuthLayer::optional(authenticator));

    let read = issuer.token().scope("read").sign();
    let admin = issuer.token().scope("admin").sign();
    let write = issuer.token().scope("write").sign();
    let auditor = issuer.token().claim("roles", serde_json::json!(["auditor"])).sign();
    let cases: [(&str, Option<&str>, StatusCode); 13] = [
        ("/read", Some(&read), StatusCode::OK),
        ("/read", Some(&write), StatusCode::FORBIDDEN),
        ("/read", Some(&auditor), StatusCode::FORBIDDEN),
        ("/read", None, StatusCode::UNAUTHORIZED),
        ("/read", Some("not-a-key"), StatusCode::UNAUTHORIZED),
        ("/any", Some(&admin), StatusCode::OK),
        ("/any", Some(&read), StatusCode::OK),
        ("/any", Some(&write), StatusCode::FORBIDDEN),
        ("/auditor", Some(&auditor), StatusCode::OK),
        ("/auditor", Some(&admin), StatusCode::FORBIDDEN),
        ("/staff", Some(&auditor), StatusCode::OK),
        ("/staff", Some(&write), StatusCode::FORBIDDEN),
        ("/staff", None, StatusCode::UNAUTHORIZED),
    ];
    for (path, token, status) in cases {
        // Twice: the second request is served from the verified-token cache.
        for round in 0..2 {
            let from_guard = guarded.clone().oneshot(request_to(path, token)).await.unwrap();
            let from_layer = layered.clone().oneshot(request_to(path, token)).await.unwrap();
            let case = format!("{path} {token:?} round {round}");
            assert_eq!(from_guard.status(), status, "{case}");
            assert_eq!(from_layer.status(), status, "{case}");
            assert_eq!(from_guard.headers(), from_layer.headers(), "{case}");
            assert_eq!(text(from_guard).await, text(from_layer).await, "{case}");
        }
    }
    let response = guarded.oneshot(request_to("/read", Some(&write))).await.unwrap();
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer realm="tokenguard", error="insufficient_scope", error_description="the credential lacks the required scope", scope="read""#
    );
    assert_eq!(
        text(response).await,
        r#"{"error":"insufficient_scope","error_description":"the credential lacks the required scope"}"#
    );

    let unwired: Router = Router::new().route("/read", get(|_: CanRead| async { "ok" }));
    let response = unwired.oneshot(request_to("/read", Some(&read))).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

/// A credential the token cache holds is answered by the authenticator that
/// ran (two of them on one key store, with two realms) for the scheme the
/// client used; the layer puts one `AuthOutcome` into the request.
#[tokio::test]
async fn cached_principals_answer_with_their_own_authenticator_and_scheme() {
    use tokenguard_core::store::ApiKeyRecord;
    use tokenguard_core::{KeyStore, Scopes, apikey};

    let store = Arc::new(MemoryKeyStore::new());
    let key = apikey::generate("tg");
    let record = ApiKeyRecord::for_key(&key, "svc", Scopes::from_space_separated("write"), None, None);
    store.insert(record, &tokenguard_core::store::ChangedBy::now("test")).await.unwrap();
    let verifier = ApiKeyVerifier::new(store, "tg");
    let app = |realm: &str| -> Router {
        let authenticator = Authenticator::builder().api_keys(verifier.clone()).realm(realm).build().unwrap();
        Router::new()
            .route("/read", get(|_: CanRead| async { "ok" }))
            .route(
                "/context",
                get(|request: Request<axum::body::Body>| async move {
                    request.extensions().get::<tokenguard_core::plumbing::AuthOutcome>().is_some().to_string()
                }),
            )
            .layer(AuthLayer::required(authenticator))
    };
    let (first, second) = (app("first"), app("second"));
    let send = |app: &Router, path: &str, authorization: String| {
        let request = Request::builder().uri(path).header(header::AUTHORIZATION, authorization);
        app.clone().oneshot(request.body(axum::body::Body::empty()).unwrap())
    };
    for round in 0..2 {
        for (app, realm) in [(&first, "first"), (&second, "second")] {
            for (scheme, authorization) in
                [("Token", format!("Token {}", key.expose())), ("Bearer", format!("Bearer {}", key.expose()))]
            {
                let response = send(app, "/read", authorization.clone()).await.unwrap();
                assert_eq!(response.status(), StatusCode::FORBIDDEN);
                assert_eq!(
                    response.headers()[header::WWW_AUTHENTICATE],
                    format!(
                        r#"{scheme} realm="{realm}", error="insufficient_scope", error_description="the credential lacks the required scope", scope="read""#
                    ),
                    "round {round}"
                );
                let context = text(send(app, "/context", authorization).await.unwrap()).await;
                assert_eq!(context, "true", "{scheme} {realm} round {round}: the outcome is in the extensions");
            }
        }
    }
}
