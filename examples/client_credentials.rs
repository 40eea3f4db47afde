//! The other side of the wire: a service calling an API with an OAuth 2.0
//! client-credentials token (`grant_type=client_credentials`, scopes such as
//! `user_email api_write`), which `AuthorizeRequestLayer` fetches, caches,
//! refreshes before it expires and renews once on a 401.
//!
//! ```sh
//! cargo run --example client_credentials      # embedded development issuer and API, no setup
//! TOKENGUARD_ISSUER=https://idp.example TOKENGUARD_API=https://api.example \
//!   TOKENGUARD_CLIENT_ID=reports TOKENGUARD_CLIENT_SECRET=… cargo run --example client_credentials
//! ```
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `TOKENGUARD_ISSUER` / `TOKENGUARD_API` | unset (both): an embedded issuer and API | the authorization server (its `token_endpoint` from discovery) and the API to call |
//! | `TOKENGUARD_CLIENT_ID` / `_SECRET` | the testkit's client | this service's client credentials (`client_secret_basic`) |
//! | `TOKENGUARD_SCOPE` | `read user_email api_write` | the scope to request |
//! | `TOKENGUARD_RESOURCE` | unset | an RFC 8707 `resource` to request |
//!
//! Calls `GET /me` and `GET /recordings`, prints each status and body, and
//! exits 0 when both succeed, 1 otherwise.

#[path = "client/mod.rs"]
mod client;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokenguard::Secret;
use tokenguard::client::{ClientCredentials, OAuthClient};
use tokenguard::tower::AuthorizeRequestLayer;
use tokenguard_testkit::{TOKEN_CLIENT_ID, TOKEN_CLIENT_SECRET};
use tower::Layer;

use client::{fail, var};

#[tokio::main]
async fn main() {
    let target = client::target(3600).await;
    let client_id = var("TOKENGUARD_CLIENT_ID").unwrap_or_else(|| TOKEN_CLIENT_ID.into());
    let secret = Secret::new(var("TOKENGUARD_CLIENT_SECRET").unwrap_or_else(|| TOKEN_CLIENT_SECRET.into()));
    let oauth = OAuthClient::discover(&target.issuer, client_id, secret)
        .unwrap_or_else(|error| fail("client_credentials", &format!("TOKENGUARD_ISSUER: {error}")));
    let scope = var("TOKENGUARD_SCOPE").unwrap_or_else(|| "read user_email api_write".into());
    let mut source = ClientCredentials::new(oauth).scope(scope);
    if let Some(resource) = var("TOKENGUARD_RESOURCE") {
        source = source.resource(resource);
    }
    let http = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let client = AuthorizeRequestLayer::new(Arc::new(source)).layer(http);
    let all_ok = client::call(&client, &target.api, &["/me", "/recordings"]).await;
    std::process::exit(if all_ok { 0 } else { 1 });
}
