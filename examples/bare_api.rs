//! The example's routes with no authentication at all: the baseline of the
//! load benchmark (benches/load/run.sh). The same routing table, state and
//! response bodies as `axum_api`, so that the difference between the two
//! is tokenguard alone.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

// The example's own handler code, not a copy of it.
#[path = "common/recordings.rs"]
mod recordings;
use recordings::Recordings;

#[tokio::main]
async fn main() {
    let app = Router::new()
        .route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
        .route("/me", get(|| async { Json(json!({ "subject": "anonymous" })) }))
        .route("/recordings", get(list_recordings).post(create_recording))
        .route("/admin", get(|| async { Json(json!({ "status": "ok", "admin": true })) }))
        .route("/greeting", get(|| async { Json(json!({ "subject": null })) }))
        .with_state(Arc::new(Recordings::default()));
    let bind = std::env::var("TOKENGUARD_BIND").unwrap_or_else(|_| "127.0.0.1:3001".into());
    let listener = tokio::net::TcpListener::bind(&bind).await.expect("bind");
    println!("listening on http://{}", listener.local_addr().expect("address"));
    axum::serve(listener, app).await.expect("serve");
}

async fn list_recordings(State(recordings): State<Arc<Recordings>>) -> Json<Value> {
    Json(recordings.list())
}

async fn create_recording(State(recordings): State<Arc<Recordings>>, body: Bytes) -> (StatusCode, Json<Value>) {
    match recordings.create(&body) {
        Ok(created) => (StatusCode::CREATED, Json(created)),
        Err(error) => (StatusCode::BAD_REQUEST, Json(error)),
    }
}
