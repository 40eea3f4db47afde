//! Interoperability with a real, independent OpenID Provider: npm's
//! `oidc-provider` (pinned in interop/package.json, installed with `npm ci`
//! on first use), driven through both example servers.

mod common;

use std::time::{Duration, Instant};

use common::oidc_provider::SERVICE;
use common::oidc_provider::{INTROSPECTION_CLIENT, OidcProvider, wait_closed};
use common::{Adapter, Server, TempDir, adapters, assert_no_secret, cli, error_challenge, eventually, run_example};
use serde_json::json;

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// An example server trusting `issuer`, introspecting with the provider's
/// resource-server client.
async fn example(adapter: Adapter, issuer: &str, extra: &[(&str, &str)]) -> Server {
    let mut env = vec![
        ("TOKENGUARD_ISSUER", issuer),
        ("TOKENGUARD_INTROSPECTION_CLIENT_ID", INTROSPECTION_CLIENT.0),
        ("TOKENGUARD_INTROSPECTION_SECRET", INTROSPECTION_CLIENT.1),
    ];
    env.extend_from_slice(extra);
    Server::start(adapter, &env).await
}

fn header_alg(jwt: &str) -> String {
    use base64::Engine;
    let header = jwt.split('.').next().expect("header");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).expect("base64url");
    let header: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON header");
    assert_eq!(header["typ"], "at+jwt", "RFC 9068 access token");
    header["alg"].as_str().expect("alg").to_owned()
}

/// Neither the example's logs nor the provider's secret may show up where they must not.
fn assert_clean_logs(server: &Server, tokens: &[String]) {
    let mut secrets = tokens.to_vec();
    secrets.push(INTROSPECTION_CLIENT.1.to_owned());
    assert_no_secret(&server.logs(), &secrets, &format!("{:?} logs", server.adapter));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_jwts_are_verified_and_scopes_enforced() {
    let keys = TempDir::new("interop-cc");
    let provider = OidcProvider::start(&keys, 0, false).await;
    let read = provider.client_credentials("read", "urn:tokenguard:rs256").await;
    let all = provider.client_credentials("read write admin", "urn:tokenguard:rs256").await;
    let es256 = provider.client_credentials("read", "urn:tokenguard:es256").await;
    let other_audience = provider.client_credentials("read", "urn:other").await;
    assert_eq!((header_alg(&read), header_alg(&es256)), ("RS256".to_owned(), "ES256".to_owned()));
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let server = example(adapter, &provider.issuer, &[]).await;
        let me = server.get("/me", Some(&bearer(&read))).await;
        assert_eq!(me.status, 200, "{}", me.text);
        let expires_at = me.json()["expires_at"].clone();
        assert!(expires_at.as_u64().is_some(), "{}", me.text);
        assert_eq!(
            me.json(),
            json!({"subject": "service", "kind": "jwt", "issuer": provider.issuer, "client_id": "service",
                   "scopes": ["read"], "expires_at": expires_at})
        );
        assert_eq!(server.get("/recordings", Some(&bearer(&read))).await.status, 200);
        let denied = server.request("POST", "/recordings", &[("authorization", bearer(&read).as_bytes())], None).await;
        assert_eq!(denied.status, 403);
        assert_eq!(
            denied.www_authenticate,
            [
                r#"Bearer realm="tokenguard", error="insufficient_scope", error_description="the credential lacks the required scope", scope="write""#
            ]
        );
        let admin = server.get("/admin", Some(&bearer(&read))).await;
        assert_eq!(admin.status, 403);
        assert_eq!(server.get("/admin", Some(&bearer(&all))).await.status, 200);
        let created = server.request("POST", "/recordings", &[("authorization", bearer(&all).as_bytes())], None).await;
        assert_eq!(created.status, 201);

        let es = server.get("/me", Some(&bearer(&es256))).await;
        assert_eq!((es.status, es.json()["kind"].clone()), (200, json!("jwt")), "{}", es.text);

        let wrong = server.get("/me", Some(&bearer(&other_audience))).await;
        assert_eq!(wrong.status, 401);
        assert_eq!(wrong.www_authenticate, error_challenge("Bearer", "invalid_token", "wrong audience"));
        assert_clean_logs(&server, &[read.clone(), all.clone(), es256.clone(), other_audience.clone()]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_grant_tokens_and_their_refreshes_are_accepted() {
    let keys = TempDir::new("interop-password");
    let provider = OidcProvider::start(&keys, 0, false).await;
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let server = example(adapter, &provider.issuer, &[]).await;
        let first = provider.password_grant("read write").await;
        let refresh_token = first.refresh_token.clone().expect("a refresh token");
        let me = server.get("/me", Some(&bearer(&first.access_token))).await;
        assert_eq!(me.status, 200, "{}", me.text);
        assert_eq!((me.json()["subject"].clone(), me.json()["client_id"].clone()), (json!("alice"), json!("app")));
        assert_eq!(me.json()["scopes"], json!(["read", "write"]));

        let second = provider.refresh(&refresh_token).await;
        assert_ne!(second.access_token, first.access_token);
        let rotated = second.refresh_token.clone().expect("a rotated refresh token");
        assert_ne!(rotated, refresh_token, "the provider rotates refresh tokens");
        let me = server.get("/me", Some(&bearer(&second.access_token))).await;
        assert_eq!((me.status, me.json()["subject"].clone()), (200, json!("alice")), "{}", me.text);
        let third = provider.refresh(&rotated).await;
        assert_eq!(server.get("/recordings", Some(&bearer(&third.access_token))).await.status, 200);
        // A live refresh token is not an access token, though the provider's
        // introspection calls it active (without a `token_type`).
        let live = third.refresh_token.clone().expect("a rotated refresh token");
        let misused = server.get("/me", Some(&bearer(&live))).await;
        assert_eq!(misused.status, 401, "{}", misused.text);
        assert_eq!(misused.www_authenticate, error_challenge("Bearer", "invalid_token", "not a bearer access token"));
        // A consumed one is simply inactive.
        let consumed = server.get("/me", Some(&bearer(&rotated))).await;
        assert_eq!(consumed.www_authenticate, error_challenge("Bearer", "invalid_token", "token is not active"));
        let tokens = [first.access_token, second.access_token, third.access_token, refresh_token, rotated, live];
        assert_clean_logs(&server, &tokens);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_tokens_are_introspected_and_revocation_is_felt_within_ten_seconds() {
    let keys = TempDir::new("interop-opaque");
    let provider = OidcProvider::start(&keys, 0, false).await;
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let server = example(adapter, &provider.issuer, &[]).await;
        let opaque = provider.client_credentials("read", "urn:tokenguard:opaque").await;
        assert!(!opaque.contains('.'), "an opaque token");
        let me = server.get("/me", Some(&bearer(&opaque))).await;
        assert_eq!(me.status, 200, "{}", me.text);
        let expires_at = me.json()["expires_at"].clone();
        assert_eq!(
            me.json(),
            json!({"subject": "service", "kind": "introspected", "issuer": provider.issuer, "client_id": "service",
                   "scopes": ["read"], "expires_at": expires_at})
        );
        assert_eq!(server.get("/recordings", Some(&bearer(&opaque))).await.status, 200);
        let denied = server.get("/admin", Some(&bearer(&opaque))).await;
        assert_eq!(denied.status, 403);

        let junk = server.get("/me", Some(&bearer("not-a-token-the-provider-issued"))).await;
        assert_eq!(junk.status, 401);
        assert_eq!(junk.www_authenticate, error_challenge("Bearer", "invalid_token", "token is not active"));

        provider.revoke(&opaque).await;
        let revoked_at = Instant::now();
        let refused = eventually(Duration::from_secs(15), || async {
            server.get("/me", Some(&bearer(&opaque))).await.status == 401
        })
        .await;
        assert!(refused, "a revoked token is still accepted");
        assert!(revoked_at.elapsed() <= Duration::from_secs(11), "refused after {:?}", revoked_at.elapsed());
        assert_clean_logs(&server, &[opaque]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_second_token_is_refused_once_expired_with_zero_leeway() {
    let keys = TempDir::new("interop-short");
    let provider = OidcProvider::start(&keys, 0, false).await;
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let server = example(adapter, &provider.issuer, &[("TOKENGUARD_LEEWAY_SECONDS", "0")]).await;
        let short = provider.client_credentials("read", "urn:tokenguard:short").await;
        let me = server.get("/me", Some(&bearer(&short))).await;
        assert_eq!(me.status, 200, "{}", me.text);
        assert_clean_logs(&server, std::slice::from_ref(&short));
        // Expiry itself, without waiting for it: the same token, issuer and
        // rules in process, on a clock moved past the token's 2 s.
        let clock = tokenguard::time::ManualClock::new();
        let rules = tokenguard::JwtRules::new(&provider.issuer, ["tokenguard-example"]).leeway(Duration::ZERO);
        let authenticator = tokenguard::Authenticator::builder()
            .oidc_issuer(rules, tokenguard::JwksOptions::default())
            .clock(clock.clock())
            .build()
            .expect("valid configuration");
        let credential = tokenguard::Credential::new(tokenguard::Scheme::Bearer, &short);
        assert!(authenticator.verify(credential).await.is_ok(), "valid for 2 s");
        assert!(authenticator.verify(credential).await.is_ok(), "from the cache");
        clock.advance(Duration::from_secs(3));
        assert_eq!(
            authenticator.verify(credential).await.map(|principal| principal.subject().to_owned()),
            Err(tokenguard::AuthError::InvalidToken("token expired")),
            "the cached verification ends with the token"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_at_the_provider_is_picked_up_on_first_use() {
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let keys = TempDir::new("interop-rotation");
        let mut provider = OidcProvider::start(&keys, 0, false).await;
        let server = example(adapter, &provider.issuer, &[]).await;
        let seen = provider.client_credentials("read", "urn:tokenguard:rs256").await;
        let unseen = provider.client_credentials("read", "urn:tokenguard:rs256").await;
        assert_eq!(server.get("/me", Some(&bearer(&seen))).await.status, 200);

        // The same issuer, restarted with a new RSA key in front of the old one.
        let port = provider.port;
        provider.stop().await;
        wait_closed(port, Duration::from_secs(10)).await;
        let provider = OidcProvider::start(&keys, port, true).await;
        let rotated = provider.client_credentials("read", "urn:tokenguard:rs256").await;
        let new_key = server.get("/me", Some(&bearer(&rotated))).await;
        assert_eq!(new_key.status, 200, "a token signed with the new key: {}", new_key.text);
        let old_key = server.get("/me", Some(&bearer(&unseen))).await;
        assert_eq!(old_key.status, 200, "the old key is still published: {}", old_key.text);
        assert_eq!(server.get("/me", Some(&bearer(&seen))).await.status, 200);
        assert_clean_logs(&server, &[seen, unseen, rotated]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwts_keep_working_when_the_provider_stops_after_warm_up() {
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let keys = TempDir::new("interop-stop");
        let mut provider = OidcProvider::start(&keys, 0, false).await;
        let server = example(adapter, &provider.issuer, &[]).await;
        let warm = provider.client_credentials("read", "urn:tokenguard:rs256").await;
        let fresh = provider.client_credentials("read", "urn:tokenguard:es256").await;
        assert_eq!(server.get("/me", Some(&bearer(&warm))).await.status, 200);
        provider.stop().await;
        wait_closed(provider.port, Duration::from_secs(10)).await;
        assert_eq!(server.get("/me", Some(&bearer(&warm))).await.status, 200, "a verified token");
        let reply = server.get("/me", Some(&bearer(&fresh))).await;
        assert_eq!(reply.status, 200, "a token never seen, checked against the cached keys: {}", reply.text);
        assert_clean_logs(&server, &[warm, fresh]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_down_from_the_start_gives_503_while_api_keys_keep_working() {
    let keys = TempDir::new("interop-down");
    let store = format!("sqlite://{}", keys.0.join("keys.db").display());
    let (code, out, err) =
        cli(&["keys", "create", "--store", &store, "--subject", "ci-bot", "--scope", "read", "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let api_key =
        serde_json::from_str::<serde_json::Value>(&out).expect("JSON")["key"].as_str().expect("key").to_owned();

    // Tokens of an issuer that is gone by the time the examples start.
    let mut provider = OidcProvider::start(&keys, 0, false).await;
    let jwt = provider.client_credentials("read", "urn:tokenguard:rs256").await;
    let opaque = provider.client_credentials("read", "urn:tokenguard:opaque").await;
    let issuer = provider.issuer.clone();
    provider.stop().await;
    wait_closed(provider.port, Duration::from_secs(10)).await;
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let server = example(adapter, &issuer, &[("TOKENGUARD_KEY_STORE", &store)]).await;
        for token in [&jwt, &opaque] {
            let reply = server.get("/me", Some(&bearer(token))).await;
            assert_eq!(reply.status, 503, "{}", reply.text);
            assert!(reply.www_authenticate.is_empty());
            let retry_after: u64 = reply.retry_after.as_deref().and_then(|s| s.parse().ok()).expect("Retry-After");
            assert!((1..=60).contains(&retry_after), "Retry-After: {retry_after}");
            assert_eq!(reply.json()["error"], "temporarily_unavailable");
        }
        let me = server.get("/me", Some(&format!("Token token={api_key}"))).await;
        assert_eq!((me.status, me.json()["kind"].clone()), (200, json!("api_key")), "{}", me.text);
        assert_clean_logs(&server, &[jwt.clone(), opaque.clone(), api_key.clone()]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_side_layer_gets_tokens_from_the_provider() {
    let keys = TempDir::new("interop-client");
    let provider = OidcProvider::start(&keys, 0, false).await;
    let server = example(Adapter::Axum, &provider.issuer, &[]).await;
    let env = [
        ("TOKENGUARD_ISSUER", provider.issuer.as_str()),
        ("TOKENGUARD_API", server.base.as_str()),
        ("TOKENGUARD_CLIENT_ID", SERVICE.0),
        ("TOKENGUARD_CLIENT_SECRET", SERVICE.1),
        ("TOKENGUARD_SCOPE", "read write"),
        ("TOKENGUARD_RESOURCE", "urn:tokenguard:rs256"),
    ];
    let (code, out, err) = run_example("client_credentials", &env).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(r#"GET /me → 200 OK {"subject":"service","kind":"jwt""#), "{out}");
    assert!(out.contains("GET /recordings → 200 OK"), "{out}");
    // A token for another audience is refused, renewed once, refused again.
    let other = [("TOKENGUARD_RESOURCE", "urn:other")];
    let env: Vec<(&str, &str)> =
        env.iter().filter(|(k, _)| *k != "TOKENGUARD_RESOURCE").copied().chain(other).collect();
    let (code, out, _) = run_example("client_credentials", &env).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("GET /me → 401 Unauthorized"), "{out}");
    assert_clean_logs(&server, &[]);
}

/// A public client's password grant (Keycloak's `anonymous` client, as
/// movingimage documents it) through tokenguard's `PasswordGrant`: the
/// token works at the example, and is refreshed — with rotation — by
/// oidc-provider's own refresh_token grant when it is due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_client_password_grant_is_kept_fresh_by_the_client_side() {
    use tokenguard::client::{OAuthClient, Password, PasswordGrant, TokenSource};
    let keys = TempDir::new("interop-public");
    let provider = OidcProvider::start(&keys, 0, false).await;
    let server = example(Adapter::Axum, &provider.issuer, &[]).await;
    let clock = tokenguard::time::ManualClock::new();
    let client = OAuthClient::discover_public(&provider.issuer, "anonymous").expect("a public client");
    let login = Password::new("alice", tokenguard::Secret::new("wonderland".to_owned())).scope("read");
    let source = PasswordGrant::new(client, login).clock(clock.clock());
    let mut seen = Vec::new();
    for round in 0..3 {
        let authorization = source.authorization().await.unwrap_or_else(|error| panic!("round {round}: {error}"));
        let value = authorization.header_value().to_str().expect("ASCII").to_owned();
        let me = server.get("/me", Some(&value)).await;
        assert_eq!(me.status, 200, "round {round}: {}", me.text);
        assert_eq!(
            (me.json()["subject"].clone(), me.json()["client_id"].clone()),
            (json!("alice"), json!("anonymous"))
        );
        assert!(!seen.contains(&value), "round {round}: a new token each time");
        seen.push(value);
        // Past the refresh point of the provider's tokens (an hour at most).
        clock.advance(Duration::from_secs(3600));
    }
    assert!(provider.logs().lines().all(|line| !line.contains("wonderland")));
    let tokens: Vec<String> = seen.iter().map(|value| value.trim_start_matches("Bearer ").to_owned()).collect();
    assert_clean_logs(&server, &tokens);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dpop_bound_tokens_from_the_provider_need_their_proof() {
    let keys = TempDir::new("interop-dpop");
    let provider = OidcProvider::start(&keys, 0, false).await;
    let key = tokenguard_testkit::DpopKey::generate(tokenguard_testkit::KeyAlg::Es256);
    // oidc-provider computes `cnf.jkt` itself: our thumbprint must agree with it.
    let jwt = provider.dpop_client_credentials(&key, "urn:tokenguard:rs256").await;
    let opaque = provider.dpop_client_credentials(&key, "urn:tokenguard:opaque").await;
    let issuers = format!("{}#dpop=allowed", provider.issuer);
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let server = example(adapter, &issuers, &[]).await;
        let url = format!("{}/me", server.base);
        for (token, kind) in [(&jwt, "jwt"), (&opaque, "introspected")] {
            let proof = key.proof("GET", &url).access_token(token).sign();
            let authorization = format!("DPoP {token}");
            let headers: [(&str, &[u8]); 2] = [("authorization", authorization.as_bytes()), ("dpop", proof.as_bytes())];
            let me = server.request("GET", "/me", &headers, None).await;
            assert_eq!((me.status, me.json()["kind"].clone()), (200, json!(kind)), "{}", me.text);
            assert_eq!(me.json()["subject"], "service");
            // The same proof again is a replay; the token as a bearer token is a downgrade.
            let replay = server.request("GET", "/me", &headers, None).await;
            assert_eq!(replay.json()["error_description"], "DPoP proof replayed", "{}", replay.text);
            let bearer = server.get("/me", Some(&bearer(token))).await;
            assert_eq!(bearer.status, 401);
            assert_eq!(
                bearer.www_authenticate,
                error_challenge("Bearer", "invalid_token", "a DPoP-bound token must be sent with a DPoP proof")
            );
        }
        assert_clean_logs(&server, &[jwt.clone(), opaque.clone()]);
    }
}
