//! Calling an API with a static API key, in the form Filmmakers' and
//! Rails APIs document: `Authorization: Token token=API_KEY` (also
//! `Token KEY`, DRF's, and `Bearer KEY`: see `ApiKeyForm`).
//!
//! ```sh
//! cargo run --example api_key_client          # an embedded API and a key it accepts, no setup
//! TOKENGUARD_API=https://api.example TOKENGUARD_API_KEY=… cargo run --example api_key_client
//! ```

#[path = "client/mod.rs"]
mod client;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokenguard::Secret;
use tokenguard::client::{ApiKeyForm, StaticApiKey};
use tokenguard::tower::AuthorizeRequestLayer;
use tower::Layer;

use client::{fail, var};

#[tokio::main]
async fn main() {
    let (api, key, _target) = match (var("TOKENGUARD_API"), var("TOKENGUARD_API_KEY")) {
        (Some(api), Some(key)) => (api, Secret::new(key), None),
        _ => {
            let target = client::target(3600).await;
            let key = target.api_key.clone().unwrap_or_else(|| fail("api_key_client", "set TOKENGUARD_API_KEY"));
            (target.api.clone(), key, Some(target))
        }
    };
    let source = StaticApiKey::new(key, ApiKeyForm::RailsToken)
        .unwrap_or_else(|error| fail("api_key_client", &format!("TOKENGUARD_API_KEY: {error}")));
    let http = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let client = AuthorizeRequestLayer::new(Arc::new(source)).layer(http);
    let all_ok = client::call(&client, &api, &["/me", "/recordings"]).await;
    std::process::exit(if all_ok { 0 } else { 1 });
}
