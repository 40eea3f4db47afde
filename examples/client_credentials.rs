//! The other side of the wire: a service calling the example API with an
//! OAuth 2.0 client-credentials token, which `AuthorizeRequestLayer`
//! fetches, caches, refreshes before it expires and renews once on a 401.
//!
//! ```sh
//! cargo run -p tokenguard-testkit --bin tokenguard-issuer        # prints: issuer http://127.0.0.1:PORT
//! TOKENGUARD_ISSUER=http://127.0.0.1:PORT cargo run --example axum_api
//! TOKENGUARD_ISSUER=http://127.0.0.1:PORT cargo run --example client_credentials
//! ```
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `TOKENGUARD_ISSUER` | unset: start the embedded testkit issuer (then the API must trust it) | the authorization server; its `token_endpoint` comes from discovery |
//! | `TOKENGUARD_CLIENT_ID` / `_SECRET` | the testkit's client | this service's client credentials (`client_secret_basic`) |
//! | `TOKENGUARD_SCOPE` | `read` | the scope to request |
//! | `TOKENGUARD_RESOURCE` | unset | an RFC 8707 `resource` to request |
//! | `TOKENGUARD_API` | `http://127.0.0.1:3000` | the API to call |
//!
//! Calls `GET /me` and `GET /recordings`, prints each status and body, and
//! exits 0 when both succeed, 1 otherwise.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokenguard::Secret;
use tokenguard::client::{ClientCredentials, OAuthClient};
use tokenguard::tower::AuthorizeRequestLayer;
use tokenguard_testkit::{TOKEN_CLIENT_ID, TOKEN_CLIENT_SECRET, TestIssuer};
use tower::{Layer, ServiceExt};

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

#[tokio::main]
async fn main() {
    let embedded;
    let issuer = match var("TOKENGUARD_ISSUER") {
        Some(issuer) => issuer,
        None => {
            embedded = TestIssuer::start().await;
            println!("embedded issuer: {} (the API must trust it)", embedded.issuer());
            embedded.issuer().to_owned()
        }
    };
    let client_id = var("TOKENGUARD_CLIENT_ID").unwrap_or_else(|| TOKEN_CLIENT_ID.into());
    let secret = Secret::new(var("TOKENGUARD_CLIENT_SECRET").unwrap_or_else(|| TOKEN_CLIENT_SECRET.into()));
    let oauth = match OAuthClient::discover(&issuer, client_id, secret) {
        Ok(oauth) => oauth,
        Err(error) => fail(&format!("TOKENGUARD_ISSUER: {error}")),
    };
    let mut source = ClientCredentials::new(oauth).scope(var("TOKENGUARD_SCOPE").unwrap_or_else(|| "read".into()));
    if let Some(resource) = var("TOKENGUARD_RESOURCE") {
        source = source.resource(resource);
    }
    let http = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let client = AuthorizeRequestLayer::new(Arc::new(source)).layer(http);
    let api = var("TOKENGUARD_API").unwrap_or_else(|| "http://127.0.0.1:3000".into());
    let mut all_ok = true;
    for path in ["/me", "/recordings"] {
        let request = match http::Request::get(format!("{api}{path}")).body(Full::default()) {
            Ok(request) => request,
            Err(error) => fail(&format!("TOKENGUARD_API: {error}")),
        };
        match client.clone().oneshot(request).await {
            Ok(response) => {
                let status = response.status();
                let body = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                println!("GET {path} → {status} {}", String::from_utf8_lossy(&body));
                all_ok &= status.is_success();
            }
            Err(error) => {
                println!("GET {path} → error: {error}");
                all_ok = false;
            }
        }
    }
    std::process::exit(if all_ok { 0 } else { 1 });
}

fn fail(message: &str) -> ! {
    eprintln!("client_credentials: {message}");
    std::process::exit(2);
}
