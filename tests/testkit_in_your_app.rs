//! What a user's own test looks like with the testkit as a dev-dependency
//! (`tokenguard = { version = "0.1", features = ["testkit"] }`): three lines
//! of setup, and their app answers 200 to a minted token.

use axum::routing::get;
use axum::{Router, ServiceExt, extract::Request};
use tokenguard::tower::{AuthLayer, Layer};
use tokenguard::{Authenticator, JwksOptions, JwtRules, Principal};

/// The user's app, as they build it in production: trusting `issuer` for "my-api".
fn my_app(issuer: &str) -> Router {
    let authenticator = Authenticator::builder()
        .oidc_issuer(JwtRules::new(issuer, ["my-api"]), JwksOptions::default())
        .build()
        .expect("valid configuration");
    let router = Router::new().route("/me", get(|principal: Principal| async move { principal.subject().to_owned() }));
    Router::new().fallback_service(AuthLayer::deferred(authenticator).layer(router))
}

#[tokio::test]
async fn my_api_accepts_a_minted_token() {
    let issuer = tokenguard::testkit::TestIssuer::for_audience("my-api").await;
    let app = my_app(issuer.issuer());
    let token = issuer.token().subject("alice").sign();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, ServiceExt::<Request>::into_make_service(app)).await });
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let reply = client.get(format!("http://{addr}/me")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.text().await.unwrap(), "alice");
}
