//! A user's token the way Keycloak's direct access grant hands it out (as
//! movingimage's API docs describe it): a public client (`anonymous`, no
//! secret), `grant_type=password`, `scope=openid`, 300-second access
//! tokens. `PasswordGrant` logs in once, refreshes with the refresh token
//! before each access token expires, and logs in again when the refresh
//! token has expired or is refused.
//!
//! ```sh
//! cargo run --example password_grant          # embedded development issuer and API, no setup
//! TOKENGUARD_ISSUER=https://kc.example/realms/demo TOKENGUARD_API=https://api.example \
//!   TOKENGUARD_CLIENT_ID=anonymous TOKENGUARD_USERNAME=alice cargo run --example password_grant   # password on stdin
//! ```
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `TOKENGUARD_ISSUER` / `TOKENGUARD_API` | unset (both): an embedded issuer (300 s tokens) and API | the realm and the API to call |
//! | `TOKENGUARD_CLIENT_ID` | the testkit's public client | the public client |
//! | `TOKENGUARD_USERNAME` | the testkit's user | who logs in; the password is read from standard input (the testkit's, embedded) |
//! | `TOKENGUARD_SCOPE` | `openid read` | the scope to request |

#[path = "client/mod.rs"]
mod client;

use std::io::BufRead;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokenguard::Secret;
use tokenguard::client::{OAuthClient, Password, PasswordGrant};
use tokenguard::tower::AuthorizeRequestLayer;
use tokenguard_testkit::{PUBLIC_CLIENT_ID, USER, USER_PASSWORD};
use tower::Layer;

use client::{fail, var};

#[tokio::main]
async fn main() {
    let target = client::target(300).await;
    let client_id = var("TOKENGUARD_CLIENT_ID").unwrap_or_else(|| PUBLIC_CLIENT_ID.into());
    let username = var("TOKENGUARD_USERNAME").unwrap_or_else(|| USER.into());
    let password = match &target.embedded {
        Some(_) => USER_PASSWORD.to_owned(),
        None => std::io::stdin().lock().lines().next().and_then(Result::ok).unwrap_or_default(),
    };
    let oauth = OAuthClient::discover_public(&target.issuer, client_id)
        .unwrap_or_else(|error| fail("password_grant", &format!("TOKENGUARD_ISSUER: {error}")));
    let scope = var("TOKENGUARD_SCOPE").unwrap_or_else(|| "openid read".into());
    let source = PasswordGrant::new(oauth, Password::new(username, Secret::new(password)).scope(scope));
    let http = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let client = AuthorizeRequestLayer::new(Arc::new(source)).layer(http);
    let all_ok = client::call(&client, &target.api, &["/me", "/recordings"]).await;
    std::process::exit(if all_ok { 0 } else { 1 });
}
