//! The tokenguard example API on axum: the whole of CONTRACT.md.
//!
//! ```text
//! cargo run --example axum_api
//! ```

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router, ServiceExt};
use serde_json::{Value, json};
use tokenguard::tower::{AuthLayer, key_admin, scope_guard};
use tokenguard::{Authenticator, Principal};
use tower::Layer;

use common::{Recordings, Settings};

#[tokio::main]
async fn main() {
    common::init_tracing();
    if let Err(message) = run().await {
        eprintln!("error: {message}");
        std::process::exit(2);
    }
}

async fn run() -> Result<(), String> {
    let settings = Settings::from_env()?;
    let metrics = common::install_metrics(&settings)?;
    let setup = common::setup(&settings.config).await?;
    let authenticator = setup.authenticator;
    let recordings = Arc::new(Recordings::default());
    let readiness = authenticator.clone();

    // The routes; each handler's extractor says who may call it: `Principal`
    // (anyone authenticated), a scope guard (below), `Option<Principal>`
    // (anyone, but presented credentials must be valid), or none (public).
    let mut router = Router::new()
        .route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
        .route("/me", get(me))
        .route("/recordings", get(list_recordings).post(create_recording))
        .route("/admin", get(admin))
        .route("/greeting", get(greeting))
        .route("/ready", get(move || std::future::ready(ready(&readiness))));
    // `/keys…` and the `/admin/keys` console, over the store keys are verified with.
    if let Some(admin) = common::key_admin(&authenticator) {
        router = router.merge(key_admin::router(admin));
    }
    let mut router = router.with_state(recordings);
    if let Some((path, metadata)) = setup.resource_metadata {
        router = router.route(&path, get(move || async move { metadata.into_http(axum::body::Body::from) }));
    }
    // One layer around the whole router authenticates each request once,
    // before routing, and leaves the verdict to those extractors.
    let app = AuthLayer::deferred(authenticator).layer(router);

    if let (Some(bind), Some(metrics)) = (&settings.metrics_bind, metrics) {
        let listener = bind_to(bind, "TOKENGUARD_METRICS_BIND").await?;
        let exporter = Router::new().route("/metrics", get(move || std::future::ready(metrics.render())));
        tokio::spawn(async move { axum::serve(listener, exporter).await });
    }
    let listener = bind_to(&settings.bind, "TOKENGUARD_BIND").await?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    common::announce(addr, setup.dev.as_ref());
    axum::serve(listener, ServiceExt::<Request>::into_make_service(app)).await.map_err(|e| e.to_string())
}

async fn bind_to(address: &str, variable: &str) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(address).await.map_err(|e| format!("{variable}: cannot listen on {address}: {e}"))
}

/// 200 once every issuer's keys are fetched and the key store answers; else 503.
fn ready(authenticator: &Authenticator) -> Response {
    let (status, body) = common::readiness(authenticator);
    let mut response =
        (StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE), Json(body)).into_response();
    if status != 200 {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(common::READY_RETRY_AFTER));
    }
    response
}

scope_guard! {
    /// Callers with scope `read`.
    struct CanRead = scopes("read");
    /// Callers with scope `write`.
    struct CanWrite = scopes("write");
    /// Callers with scope `admin`.
    struct Administrator = scopes("admin");
}

async fn me(principal: Principal) -> Json<Principal> {
    Json(principal)
}

async fn list_recordings(_: CanRead, State(recordings): State<Arc<Recordings>>) -> Json<Value> {
    Json(recordings.list())
}

// The guard comes first: a caller without `write` is answered before the body is read.
async fn create_recording(
    _: CanWrite,
    State(recordings): State<Arc<Recordings>>,
    body: Bytes,
) -> (StatusCode, Json<Value>) {
    match recordings.create(&body) {
        Ok(created) => (StatusCode::CREATED, Json(created)),
        Err(error) => (StatusCode::BAD_REQUEST, Json(error)),
    }
}

async fn admin(_: Administrator) -> Json<Value> {
    Json(json!({ "status": "ok", "admin": true }))
}

async fn greeting(principal: Option<Principal>) -> Json<Value> {
    Json(json!({ "subject": principal.as_ref().map(Principal::subject) }))
}
