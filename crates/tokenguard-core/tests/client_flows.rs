//! The flows of real API docs, from the caller's side, against the testkit
//! issuer's token endpoint: a public client's password grant, JSON token
//! requests, refresh rotation, logging in again when the refresh token
//! expires or is refused, and one token request for a thousand callers.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use tokenguard_core::Secret;
use tokenguard_core::client::{
    BodyFormat, ClientCredentials, OAuthClient, Password, PasswordGrant, RefreshingToken, TokenError, TokenSource,
};
use tokenguard_core::time::ManualClock;
use tokenguard_testkit::{PUBLIC_CLIENT_ID, TOKEN_CLIENT_ID, TOKEN_CLIENT_SECRET, TestIssuer, USER, USER_PASSWORD};

fn claims(source_value: &http::HeaderValue) -> serde_json::Value {
    let payload = source_value.to_str().unwrap().trim_start_matches("Bearer ").split('.').nth(1).unwrap().to_owned();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn password() -> Password {
    Password::new(USER, Secret::new(USER_PASSWORD.to_owned())).scope("openid read")
}

/// A public client's password grant with 300 s tokens, on a manual clock.
fn keycloak_style(issuer: &TestIssuer, clock: &ManualClock) -> PasswordGrant {
    issuer.set_token_ttl(300);
    let client = OAuthClient::discover_public(issuer.issuer(), PUBLIC_CLIENT_ID).unwrap();
    PasswordGrant::new(client, password()).clock(clock.clock())
}

#[tokio::test]
async fn a_public_client_logs_in_with_a_password_and_refreshes_with_rotation() {
    let issuer = TestIssuer::start().await;
    let clock = ManualClock::new();
    let source = keycloak_style(&issuer, &clock);
    let first = source.authorization().await.expect("the password grant");
    let claims = claims(first.header_value());
    assert_eq!((claims["sub"].as_str(), claims["client_id"].as_str()), (Some(USER), Some(PUBLIC_CLIENT_ID)));
    assert_eq!(claims["scope"], "openid read");
    assert_eq!(source.authorization().await.unwrap(), first, "cached");
    assert_eq!((issuer.grant_requests("password"), issuer.token_requests()), (1, 1));
    // Refreshed 30 s before expiry, three times: each refresh token is accepted once only.
    let mut previous = first;
    for refreshes in 1..=3 {
        clock.advance(Duration::from_secs(271));
        let next = source.authorization().await.expect("refreshed");
        assert_ne!(next, previous);
        assert_eq!(issuer.grant_requests("refresh_token"), refreshes);
        previous = next;
    }
    assert_eq!(issuer.grant_requests("password"), 1, "never logged in again");
}

#[tokio::test]
async fn an_expired_refresh_token_means_one_password_grant() {
    let issuer = TestIssuer::start().await;
    issuer.set_refresh_token_ttl(600);
    let clock = ManualClock::new();
    let source = keycloak_style(&issuer, &clock);
    source.authorization().await.unwrap();
    // Past both the access token and the refresh token (600 s): no refresh
    // request that could only fail, one password grant.
    clock.advance(Duration::from_secs(700));
    source.authorization().await.expect("logged in again");
    assert_eq!((issuer.grant_requests("refresh_token"), issuer.grant_requests("password")), (0, 2));
}

#[tokio::test]
async fn a_refused_refresh_token_means_one_password_grant() {
    let issuer = TestIssuer::start().await;
    let clock = ManualClock::new();
    let source = keycloak_style(&issuer, &clock);
    source.authorization().await.unwrap();
    issuer.revoke_refresh_tokens();
    clock.advance(Duration::from_secs(280));
    source.authorization().await.expect("logged in again");
    assert_eq!((issuer.grant_requests("refresh_token"), issuer.grant_requests("password")), (1, 2));
}

#[tokio::test]
async fn refresh_and_password_both_refused_is_one_clear_error_and_no_loop() {
    let issuer = TestIssuer::start().await;
    let clock = ManualClock::new();
    let source = keycloak_style(&issuer, &clock);
    source.authorization().await.unwrap();
    issuer.revoke_refresh_tokens();
    issuer.set_user_password("changed");
    clock.advance(Duration::from_secs(301));
    let before = issuer.token_requests();
    let error = source.authorization().await.expect_err("nothing works");
    assert_eq!(error, TokenError::Refused { error: "invalid_grant".into() });
    assert_eq!(error.to_string(), "the authorization server refused the token request: invalid_grant");
    assert_eq!(issuer.token_requests() - before, 2, "one refresh, one password grant");
    for _ in 0..50 {
        assert!(source.authorization().await.is_err());
    }
    assert_eq!(issuer.token_requests() - before, 2, "no retry loop: the back-off holds");
    assert!(!error.to_string().contains(USER_PASSWORD));
}

#[tokio::test]
async fn a_refreshing_token_can_log_in_again() {
    let issuer = TestIssuer::start().await;
    let client = Arc::new(OAuthClient::discover(issuer.issuer(), TOKEN_CLIENT_ID, TOKEN_CLIENT_SECRET).unwrap());
    let initial =
        client.request(&[("grant_type", "password"), ("username", USER), ("password", USER_PASSWORD)]).await.unwrap();
    let clock = ManualClock::new();
    let source = RefreshingToken::new(client, initial).unwrap().relogin(password()).clock(clock.clock());
    issuer.revoke_refresh_tokens();
    clock.advance(Duration::from_secs(3600));
    source.authorization().await.expect("logged in again");
    assert_eq!(issuer.grant_requests("password"), 2);
    // Without a login, an expired refresh token is the end.
    let initial = Arc::new(OAuthClient::discover(issuer.issuer(), TOKEN_CLIENT_ID, TOKEN_CLIENT_SECRET).unwrap());
    let first = initial.request(&[("grant_type", "password"), ("username", USER), ("password", USER_PASSWORD)]);
    let clock = ManualClock::new();
    let plain = RefreshingToken::new(initial.clone(), first.await.unwrap()).unwrap().clock(clock.clock());
    issuer.revoke_refresh_tokens();
    // Past the access token's expiry too, so it cannot stand in meanwhile.
    clock.advance(Duration::from_secs(3700));
    assert_eq!(plain.authorization().await, Err(TokenError::Refused { error: "invalid_grant".into() }));
}

#[tokio::test]
async fn token_requests_can_be_json() {
    let issuer = TestIssuer::start().await;
    for client_auth in [tokenguard_core::client::ClientAuth::Basic, tokenguard_core::client::ClientAuth::Post] {
        let client = OAuthClient::discover(issuer.issuer(), TOKEN_CLIENT_ID, TOKEN_CLIENT_SECRET)
            .unwrap()
            .client_auth(client_auth)
            .body_format(BodyFormat::Json);
        let source = ClientCredentials::new(client).scope("user_email api_write");
        let token = source.authorization().await.expect("a JSON token request");
        assert_eq!(claims(token.header_value())["scope"], "user_email api_write");
    }
    let public = OAuthClient::discover_public(issuer.issuer(), PUBLIC_CLIENT_ID).unwrap().body_format(BodyFormat::Json);
    PasswordGrant::new(public, password()).authorization().await.expect("a public client's JSON password grant");
    // A public client has no client credentials grant.
    let public = OAuthClient::discover_public(issuer.issuer(), PUBLIC_CLIENT_ID).unwrap();
    let refused = ClientCredentials::new(public).authorization().await;
    assert_eq!(refused, Err(TokenError::Refused { error: "unauthorized_client".into() }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_callers_at_expiry_share_one_refresh() {
    let issuer = TestIssuer::start().await;
    let clock = ManualClock::new();
    let source = Arc::new(keycloak_style(&issuer, &clock));
    source.authorization().await.unwrap();
    clock.advance(Duration::from_secs(290));
    let callers: Vec<_> = (0..1000)
        .map(|_| {
            let source = source.clone();
            tokio::spawn(async move { source.authorization().await })
        })
        .collect();
    let mut tokens = Vec::new();
    for caller in callers {
        tokens.push(caller.await.unwrap().expect("a token"));
    }
    assert!(tokens.iter().all(|token| *token == tokens[0]));
    assert_eq!((issuer.grant_requests("refresh_token"), issuer.token_requests()), (1, 2));
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let login = Password::new("alice", Secret::new("hunter2-hunter2".to_owned()));
    assert!(!format!("{login:?}").contains("hunter2"));
    let client =
        OAuthClient::with_token_endpoint("http://127.0.0.1:1/token".parse().unwrap(), "svc", "s3cr3t-s3cr3t").unwrap();
    assert!(!format!("{client:?}").contains("s3cr3t"));
}
