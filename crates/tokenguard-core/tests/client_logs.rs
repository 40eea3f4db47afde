//! What the client side logs and reports while logging in, refreshing,
//! logging in again and failing: never a password, client secret or token.
//! Its own test binary: the subscriber is global, so no other test's
//! threads can make tracing skip these events.

use std::sync::Arc;
use std::time::Duration;

use tokenguard_core::Secret;
use tokenguard_core::client::{ClientCredentials, OAuthClient, Password, PasswordGrant, TokenSource};
use tokenguard_core::time::ManualClock;
use tokenguard_testkit::{PUBLIC_CLIENT_ID, TOKEN_CLIENT_ID, TOKEN_CLIENT_SECRET, TestIssuer, USER, USER_PASSWORD};

/// A log sink for one test.
#[derive(Clone, Default)]
struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_never_reach_logs_or_errors() {
    let logs = Logs::default();
    let sink = logs.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(move || sink.clone()).finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this binary");
    let issuer = TestIssuer::start().await;
    let clock = ManualClock::new();
    issuer.set_token_ttl(300);
    let public = OAuthClient::discover_public(issuer.issuer(), PUBLIC_CLIENT_ID).unwrap();
    let login = Password::new(USER, Secret::new(USER_PASSWORD)).scope("openid read");
    let source = PasswordGrant::new(public, login).clock(clock.clock());
    let mut shown = vec![source.authorization().await.unwrap()];
    clock.advance(Duration::from_secs(280));
    shown.push(source.authorization().await.unwrap());
    issuer.revoke_refresh_tokens();
    clock.advance(Duration::from_secs(280));
    shown.push(source.authorization().await.unwrap());
    issuer.revoke_refresh_tokens();
    issuer.set_user_password("changed");
    clock.advance(Duration::from_secs(301));
    let mut errors = vec![source.authorization().await.unwrap_err().to_string()];
    let secret_client = OAuthClient::discover(issuer.issuer(), TOKEN_CLIENT_ID, TOKEN_CLIENT_SECRET).unwrap();
    let cc = ClientCredentials::new(secret_client);
    shown.push(cc.authorization().await.unwrap());
    issuer.set_fault(tokenguard_testkit::Fault::Status(500));
    cc.invalidate(shown.last().unwrap());
    errors.push(cc.authorization().await.unwrap_err().to_string());

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("logging in again"), "the re-login is logged: {logs}");
    assert!(logs.contains("token request failed"), "{logs}");
    let everything = format!("{logs}\n{}\n{shown:?}", errors.join("\n"));
    for secret in [USER_PASSWORD, TOKEN_CLIENT_SECRET] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
    for authorization in &shown {
        let token = authorization.header_value().to_str().unwrap().trim_start_matches("Bearer ");
        let signature = token.rsplit('.').next().unwrap();
        assert!(!everything.contains(signature), "an access token leaked");
    }
}
