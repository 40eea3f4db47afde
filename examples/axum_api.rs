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
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router, ServiceExt};
use serde_json::{Value, json};
use tokenguard::Principal;
use tokenguard::tower::{AuthLayer, scope_guard};
use tower::Layer;

use common::{Config, Recordings};

#[tokio::main]
async fn main() {
    common::init_tracing();
    if let Err(message) = run().await {
        eprintln!("error: {message}");
        std::process::exit(2);
    }
}

async fn run() -> Result<(), String> {
    let config = Config::from_env()?;
    let setup = common::setup(&config).await?;
    let authenticator = setup.authenticator;
    let recordings = Arc::new(Recordings::default());

    // The routes; each handler's extractor says who may call it: `Principal`
    // (anyone authenticated), a scope guard (below), `Option<Principal>`
    // (anyone, but presented credentials must be valid), or none (public).
    let mut router = Router::new()
        .route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
        .route("/me", get(me))
        .route("/recordings", get(list_recordings).post(create_recording))
        .route("/admin", get(admin))
        .route("/greeting", get(greeting))
        .with_state(recordings);
    if let Some((path, metadata)) = setup.resource_metadata {
        router = router.route(&path, get(move || async move { metadata.into_http(axum::body::Body::from) }));
    }
    // One layer around the whole router authenticates each request once,
    // before routing, and leaves the verdict to those extractors.
    let app = AuthLayer::deferred(authenticator).layer(router);

    let listener = tokio::net::TcpListener::bind(&config.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.bind))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    common::announce(addr, setup.dev.as_ref());
    axum::serve(listener, ServiceExt::<Request>::into_make_service(app)).await.map_err(|e| e.to_string())
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
