//! DPoP (RFC 9449) through both adapters: sender-constrained tokens from
//! the testkit issuer, proofs made by a real client key, every check a
//! resource server must make (§4.3, §7) answered with the exact status,
//! challenge and body.

mod common;

use common::{Reply, Server, adapters, assert_no_secret, plain_challenges};
use serde_json::json;
use tokenguard_testkit::{DpopKey, INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET, KeyAlg, TestIssuer, now};

const ALGS: &str = "ES256 ES384 RS256 PS256 EdDSA";

/// Issuer `allowed` takes bearer and DPoP-bound tokens, issuer `required`
/// only DPoP-bound ones; opaque tokens are introspected at `allowed`.
struct Setup {
    allowed: TestIssuer,
    required: TestIssuer,
}

impl Setup {
    async fn new() -> Self {
        Self { allowed: TestIssuer::start().await, required: TestIssuer::start().await }
    }

    async fn server(&self, adapter: common::Adapter) -> Server {
        let issuers = format!("{}#dpop=allowed,{}#dpop=required", self.allowed.issuer(), self.required.issuer());
        let env = [
            ("TOKENGUARD_ISSUER", issuers.as_str()),
            ("TOKENGUARD_INTROSPECTION_CLIENT_ID", INTROSPECTION_CLIENT_ID),
            ("TOKENGUARD_INTROSPECTION_SECRET", INTROSPECTION_CLIENT_SECRET),
        ];
        Server::start(adapter, &env).await
    }
}

async fn dpop_request(server: &Server, method: &str, path: &str, token: &str, proofs: &[&str]) -> Reply {
    let authorization = format!("DPoP {token}");
    let mut headers: Vec<(&str, &[u8])> = vec![("authorization", authorization.as_bytes())];
    headers.extend(proofs.iter().map(|proof| ("dpop", proof.as_bytes())));
    server.request(method, path, &headers, None).await
}

fn dpop_error(code: &str, description: &str) -> Vec<String> {
    vec![format!(r#"DPoP realm="tokenguard", error="{code}", error_description="{description}", algs="{ALGS}""#)]
}

fn assert_refused(reply: &Reply, status: u16, challenge: Vec<String>, case: &str) {
    assert_eq!(reply.status, status, "{case}: {}", reply.text);
    assert_eq!(reply.www_authenticate, challenge, "{case}");
    let body = reply.json();
    assert_eq!(body["error"], challenge[0].split("error=\"").nth(1).unwrap().split('"').next().unwrap(), "{case}");
    assert!(body["error_description"].is_string(), "{case}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bound_token_with_a_valid_proof_is_accepted_for_every_key_type() {
    let setup = Setup::new().await;
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let server = setup.server(adapter).await;
        let url = format!("{}/me", server.base);
        for alg in [KeyAlg::Es256, KeyAlg::Rs256, KeyAlg::Ps256, KeyAlg::EdDsa] {
            let key = DpopKey::generate(alg);
            let token = setup.allowed.token().subject("dora").bound_to(&key).sign();
            let proof = key.proof("GET", &url).access_token(&token).sign();
            let reply = dpop_request(&server, "GET", "/me", &token, &[&proof]).await;
            assert_eq!(reply.status, 200, "{alg:?}: {}", reply.text);
            assert_eq!(reply.json()["subject"], "dora");
            // A new proof for each request; the token itself is cached.
            let again = key.proof("GET", &url).access_token(&token).sign();
            assert_eq!(dpop_request(&server, "GET", "/me", &token, &[&again]).await.status, 200, "{alg:?}");
        }
        // The query string is not part of htu; a POST needs its own proof.
        let key = DpopKey::generate(KeyAlg::Es256);
        let token = setup.required.token().scope("read write").bound_to(&key).sign();
        let listing = format!("{}/recordings", server.base);
        let proof = key.proof("GET", &listing).access_token(&token).sign();
        let reply = dpop_request(&server, "GET", "/recordings?limit=1", &token, &[&proof]).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_proof_check_has_its_answer() {
    let setup = Setup::new().await;
    let key = DpopKey::generate(KeyAlg::Es256);
    let other = DpopKey::generate(KeyAlg::Es256);
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let server = setup.server(adapter).await;
        let url = format!("{}/me", server.base);
        let token = setup.allowed.token().bound_to(&key).sign();
        let proof = || key.proof("GET", &url).access_token(&token);
        let invalid_proof = |description| (401, dpop_error("invalid_dpop_proof", description));
        let invalid_token = |description| (401, dpop_error("invalid_token", description));
        let mut private = key.public_jwk();
        private["d"] = json!("AAAA");
        let mut cases = vec![
            ("missing proof", Vec::new(), invalid_proof("missing DPoP proof")),
            ("two proofs", vec![proof().sign(), proof().sign()], invalid_proof("more than one DPoP proof")),
            ("not a JWT", vec!["not-a-jwt".to_owned()], invalid_proof("malformed DPoP proof")),
            (
                "wrong typ",
                vec![proof().header("typ", "JWT").sign()],
                invalid_proof("the DPoP proof must have typ dpop+jwt"),
            ),
            ("alg none", vec![proof().header("alg", "none").sign()], invalid_proof("malformed DPoP proof")),
            (
                "HMAC alg",
                vec![proof().header("alg", "HS256").sign()],
                invalid_proof("DPoP proof algorithm not accepted"),
            ),
            (
                "no jwk",
                vec![proof().header("jwk", serde_json::Value::Null).sign()],
                invalid_proof("the DPoP proof carries no public key"),
            ),
            (
                "private key in jwk",
                vec![proof().header("jwk", private).sign()],
                invalid_proof("the DPoP proof key must be a public key"),
            ),
            (
                "signed by another key",
                vec![proof().signed_by(&other).sign()],
                invalid_proof("invalid DPoP proof signature"),
            ),
            (
                "wrong htm",
                vec![key.proof("POST", &url).access_token(&token).sign()],
                invalid_proof("the DPoP proof is for another HTTP method"),
            ),
            (
                "wrong htu path",
                vec![key.proof("GET", &format!("{}/recordings", server.base)).access_token(&token).sign()],
                invalid_proof("the DPoP proof is for another URI"),
            ),
            (
                "wrong htu host",
                vec![key.proof("GET", "http://api.example/me").access_token(&token).sign()],
                invalid_proof("the DPoP proof is for another URI"),
            ),
            ("stale iat", vec![proof().claim("iat", now() - 120).sign()], invalid_proof("the DPoP proof is too old")),
            (
                "future iat",
                vec![proof().claim("iat", now() + 120).sign()],
                invalid_proof("the DPoP proof is from the future"),
            ),
            (
                "no iat",
                vec![proof().claim("iat", serde_json::Value::Null).sign()],
                invalid_proof("the DPoP proof needs an iat"),
            ),
            (
                "no jti",
                vec![proof().claim("jti", serde_json::Value::Null).sign()],
                invalid_proof("the DPoP proof needs a jti"),
            ),
            (
                "no ath",
                vec![key.proof("GET", &url).sign()],
                invalid_proof("the DPoP proof is for another access token"),
            ),
            (
                "ath of another token",
                vec![key.proof("GET", &url).access_token("another-token").sign()],
                invalid_proof("the DPoP proof is for another access token"),
            ),
            (
                "proof key is not the token's key",
                vec![other.proof("GET", &url).access_token(&token).sign()],
                invalid_token("the DPoP proof key does not match the token"),
            ),
        ];
        // The same valid proof twice: the second use is a replay.
        let once = proof().claim("jti", "fixed-jti-1").sign();
        cases.push(("first use", vec![once.clone()], (200, Vec::new())));
        cases.push(("replayed jti", vec![once], invalid_proof("DPoP proof replayed")));
        let mut secrets = vec![token.clone()];
        for (case, proofs, (status, challenge)) in cases {
            let sent: Vec<&str> = proofs.iter().map(String::as_str).collect();
            let reply = dpop_request(&server, "GET", "/me", &token, &sent).await;
            if status == 200 {
                assert_eq!(reply.status, 200, "{case}: {}", reply.text);
            } else {
                assert_refused(&reply, status, challenge, case);
            }
            assert_no_secret(&reply.text, &secrets, case);
            secrets.extend(proofs.into_iter().filter(|proof| proof.len() > 20));
        }
        // Neither the token nor any proof reaches the debug/trace logs.
        assert_no_secret(&server.logs(), &secrets, "server logs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_downgrades_and_unbound_tokens_are_refused() {
    let setup = Setup::new().await;
    let key = DpopKey::generate(KeyAlg::Es256);
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let server = setup.server(adapter).await;
        let url = format!("{}/me", server.base);
        let bound = setup.allowed.token().bound_to(&key).sign();
        let bearer_error = |description: &str| {
            vec![format!(r#"Bearer realm="tokenguard", error="invalid_token", error_description="{description}""#)]
        };
        // A bound token sent as a bearer token, with or without a proof.
        let downgrade = "a DPoP-bound token must be sent with a DPoP proof";
        let reply = server.get("/me", Some(&format!("Bearer {bound}"))).await;
        assert_refused(&reply, 401, bearer_error(downgrade), "bearer downgrade");
        let proof = key.proof("GET", &url).access_token(&bound).sign();
        let auth = format!("Bearer {bound}");
        let headers: [(&str, &[u8]); 2] = [("authorization", auth.as_bytes()), ("dpop", proof.as_bytes())];
        let reply = server.request("GET", "/me", &headers, None).await;
        assert_refused(&reply, 401, bearer_error(downgrade), "bearer downgrade with a proof");
        // Opaque bound tokens are refused as bearer tokens too, and accepted with a proof.
        let opaque = setup.allowed.token().bound_to(&key).claim("token_type", "DPoP").opaque();
        let reply = server.get("/me", Some(&format!("Bearer {opaque}"))).await;
        assert_refused(&reply, 401, bearer_error(downgrade), "opaque bearer downgrade");
        let proof = key.proof("GET", &url).access_token(&opaque).sign();
        let reply = dpop_request(&server, "GET", "/me", &opaque, &[&proof]).await;
        assert_eq!((reply.status, reply.json()["kind"].clone()), (200, json!("introspected")), "{}", reply.text);
        // An unbound token under the DPoP scheme.
        let unbound = setup.allowed.token().sign();
        let proof = key.proof("GET", &url).access_token(&unbound).sign();
        let reply = dpop_request(&server, "GET", "/me", &unbound, &[&proof]).await;
        assert_refused(&reply, 401, dpop_error("invalid_token", "the token is not DPoP-bound"), "unbound as DPoP");
        // Issuer `allowed` still takes plain bearer tokens; issuer `required` does not.
        assert_eq!(server.get("/me", Some(&format!("Bearer {unbound}"))).await.status, 200);
        let reply = server.get("/me", Some(&format!("Bearer {}", setup.required.token().sign()))).await;
        assert_refused(&reply, 401, bearer_error("this issuer requires DPoP-bound tokens"), "required issuer");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenges_announce_dpop_and_scopes_are_still_enforced() {
    let setup = Setup::new().await;
    let key = DpopKey::generate(KeyAlg::Es256);
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let server = setup.server(adapter).await;
        let reply = server.get("/me", None).await;
        let mut challenges = plain_challenges();
        challenges.push(format!(r#"DPoP realm="tokenguard", algs="{ALGS}""#));
        assert_eq!((reply.status, reply.www_authenticate.clone()), (401, challenges));
        // A valid DPoP request without the scope the route needs: 403 in the DPoP scheme.
        let token = setup.allowed.token().scope("read").bound_to(&key).sign();
        let url = format!("{}/recordings", server.base);
        let proof = key.proof("POST", &url).access_token(&token).sign();
        let authorization = format!("DPoP {token}");
        let headers: [(&str, &[u8]); 2] = [("authorization", authorization.as_bytes()), ("dpop", proof.as_bytes())];
        let reply = server.request("POST", "/recordings", &headers, Some(r#"{"title":"t"}"#)).await;
        assert_eq!(reply.status, 403, "{}", reply.text);
        assert_eq!(
            reply.www_authenticate,
            [format!(
                r#"DPoP realm="tokenguard", error="insufficient_scope", error_description="the credential lacks the required scope", scope="write", algs="{ALGS}""#
            )]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_dpop_enabled_the_scheme_is_foreign_and_bound_tokens_are_refused() {
    let issuer = TestIssuer::start().await;
    let key = DpopKey::generate(KeyAlg::Es256);
    for adapter in adapters() {
        let server = Server::start(adapter, &[("TOKENGUARD_ISSUER", issuer.issuer())]).await;
        let token = issuer.token().bound_to(&key).sign();
        let proof = key.proof("GET", &format!("{}/me", server.base)).access_token(&token).sign();
        let reply = dpop_request(&server, "GET", "/me", &token, &[&proof]).await;
        assert_eq!((reply.status, reply.www_authenticate.clone()), (401, plain_challenges()), "{}", reply.text);
        let reply = server.get("/me", Some(&format!("Bearer {token}"))).await;
        assert_eq!(reply.status, 401);
        assert_eq!(reply.json()["error_description"], "a DPoP-bound token must be sent with a DPoP proof");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_sharing_postgres_refuses_a_proof_replayed_at_another_instance() {
    let schema = common::PgSchema::create().await;
    let store = schema.url();
    let issuer = TestIssuer::start().await;
    let issuers = format!("{}#dpop=allowed", issuer.issuer());
    let env = [("TOKENGUARD_ISSUER", issuers.as_str()), ("TOKENGUARD_KEY_STORE", store.as_str())];
    // Two instances (both adapters when built) behind one imaginary load balancer.
    let instances: Vec<common::Adapter> = adapters().into_iter().chain([common::Adapter::Axum]).take(2).collect();
    let first = Server::start(instances[0], &env).await;
    let second = Server::start(instances[1], &env).await;
    let key = DpopKey::generate(KeyAlg::Es256);
    let token = issuer.token().bound_to(&key).sign();
    // Proofs name the URI the client called; both instances answer for it.
    let url = format!("{}/me", first.base);
    let proof = key.proof("GET", &url).access_token(&token).sign();
    let authorization = format!("DPoP {token}");
    let host = first.base.trim_start_matches("http://").to_owned();
    let headers: [(&str, &[u8]); 3] =
        [("authorization", authorization.as_bytes()), ("dpop", proof.as_bytes()), ("host", host.as_bytes())];
    let reply = first.request("GET", "/me", &headers, None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let replayed = second.request("GET", "/me", &headers, None).await;
    assert_refused(
        &replayed,
        401,
        dpop_error("invalid_dpop_proof", "DPoP proof replayed"),
        "replay at another instance",
    );
    let fresh = key.proof("GET", &url).access_token(&token).sign();
    let headers: [(&str, &[u8]); 3] =
        [("authorization", authorization.as_bytes()), ("dpop", fresh.as_bytes()), ("host", host.as_bytes())];
    assert_eq!(second.request("GET", "/me", &headers, None).await.status, 200);
    drop((first, second));
    schema.drop_schema().await;
}
