//! The example's routes with no authentication at all: the baseline of the
//! load benchmark (benches/load/run.sh).

use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

#[tokio::main]
async fn main() {
    let app = Router::new()
        .route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
        .route("/recordings", get(|| async { Json(json!([{ "id": 0, "title": "Welcome to tokenguard" }])) }));
    let bind = std::env::var("TOKENGUARD_BIND").unwrap_or_else(|_| "127.0.0.1:3001".into());
    let listener = tokio::net::TcpListener::bind(&bind).await.expect("bind");
    println!("listening on http://{}", listener.local_addr().expect("address"));
    axum::serve(listener, app).await.expect("serve");
}
