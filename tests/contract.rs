//! CONTRACT.md, driven from outside: every route and every row of the error
//! table, against each example server running as a real process, with a real
//! local issuer (the testkit) serving discovery and JWKS over loopback.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Reply, Server, adapters, assert_no_secret, error_challenge, plain_challenges};
use serde_json::{Value, json};
use tokenguard_testkit::TestIssuer;

const HS256_SECRET: &str = "an-hs256-secret-of-at-least-32-bytes!";

/// What a case expects in `WWW-Authenticate` (and therefore in the body).
enum Expect {
    /// A success with exactly this JSON body.
    Json(Value),
    /// 401 without credentials.
    Challenge,
    /// An RFC 6750 error: scheme, code, description.
    Error(&'static str, &'static str, &'static str),
    /// 403 insufficient_scope for this scheme and scope.
    Scope(&'static str, &'static str),
}

struct Case {
    name: String,
    method: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Option<&'static str>,
    status: u16,
    expect: Expect,
}

fn case(name: &str, path: &'static str, authorization: Option<String>, status: u16, expect: Expect) -> Case {
    Case {
        name: name.to_owned(),
        method: "GET",
        path,
        headers: authorization.into_iter().map(|a| ("authorization", a.into_bytes())).collect(),
        body: None,
        status,
        expect,
    }
}

fn bearer(token: &str) -> Option<String> {
    Some(format!("Bearer {token}"))
}

fn check(case: &Case, reply: &Reply) -> Result<(), String> {
    let mut problems = Vec::new();
    if reply.status != case.status {
        problems.push(format!("status {} (wanted {})", reply.status, case.status));
    }
    let (challenge, body) = match &case.expect {
        Expect::Json(body) => (Vec::new(), body.clone()),
        Expect::Challenge => {
            (plain_challenges(), json!({"error": "unauthorized", "error_description": "authentication is required"}))
        }
        Expect::Error(scheme, code, description) => {
            (error_challenge(scheme, code, description), json!({"error": code, "error_description": description}))
        }
        Expect::Scope(scheme, scope) => {
            let description = "the credential lacks the required scope";
            let mut challenge = error_challenge(scheme, "insufficient_scope", description);
            challenge[0].push_str(&format!(r#", scope="{scope}""#));
            (challenge, json!({"error": "insufficient_scope", "error_description": description}))
        }
    };
    if reply.www_authenticate != challenge {
        problems.push(format!("WWW-Authenticate {:?} (wanted {challenge:?})", reply.www_authenticate));
    }
    if reply.json() != body {
        problems.push(format!("body {} (wanted {body})", reply.text));
    }
    if !matches!(case.expect, Expect::Json(_)) && reply.content_type.as_deref() != Some("application/json") {
        problems.push(format!("content-type {:?}", reply.content_type));
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
}

async fn run_cases(server: &Server, cases: &[Case]) -> Vec<String> {
    run_cases_with_replies(server, cases).await.0
}

async fn run_cases_with_replies(server: &Server, cases: &[Case]) -> (Vec<String>, Vec<Reply>) {
    let mut failures = Vec::new();
    let mut replies = Vec::new();
    for case in cases {
        let headers: Vec<(&str, &[u8])> = case.headers.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        let reply = server.request(case.method, case.path, &headers, case.body).await;
        if let Err(problem) = check(case, &reply) {
            failures.push(format!("[{:?}] {}: {problem}", server.adapter, case.name));
        }
        replies.push(reply);
    }
    (failures, replies)
}

fn me(
    subject: &str,
    kind: &str,
    issuer: Option<&str>,
    client_id: Option<&str>,
    scopes: &[&str],
    exp: Option<i64>,
) -> Expect {
    Expect::Json(json!({
        "subject": subject, "kind": kind, "issuer": issuer, "client_id": client_id,
        "scopes": scopes, "expires_at": exp,
    }))
}

/// Swaps one character in the middle of the signature.
fn tamper(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let position = token.rfind('.').unwrap() + 20;
    bytes[position] = if bytes[position] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

fn jwt_cases(issuer: &TestIssuer) -> (Vec<Case>, Vec<String>) {
    let iss = issuer.issuer().to_owned();
    let exp = unix_now() + 3600;
    let token = |scope: &str| issuer.token().scope(scope).claim("exp", exp).sign();
    let valid = token("read write admin");
    let invalid = |reason: &'static str| Expect::Error("Bearer", "invalid_token", reason);
    let public_pem = issuer.public_key_pem(&issuer.current_kid()).unwrap();
    let hs_with_public_key = issuer.token().header("kid", issuer.current_kid()).sign_hs256(public_pem.as_bytes());
    let local_hs256 = issuer.token().claim("iss", "tokenguard-local").sign_hs256(HS256_SECRET.as_bytes());
    let all = ["read", "write", "admin"];
    let mut cases = vec![
        case("health needs nothing", "/health", None, 200, Expect::Json(json!({"status": "ok"}))),
        // Public routes answer whatever credentials come along.
        case(
            "health with an expired token",
            "/health",
            bearer(&issuer.token().expires_in(-120).sign()),
            200,
            Expect::Json(json!({"status": "ok"})),
        ),
        case(
            "health with a malformed header",
            "/health",
            Some("Bearer a,b".into()),
            200,
            Expect::Json(json!({"status": "ok"})),
        ),
        case("no credentials", "/me", None, 401, Expect::Challenge),
        case("basic is not ours", "/me", Some("Basic dXNlcjpwYXNz".into()), 401, Expect::Challenge),
        case("query-string token is ignored", "/me", None, 401, Expect::Challenge),
        case(
            "empty bearer",
            "/me",
            Some("Bearer".into()),
            400,
            Expect::Error("Bearer", "invalid_request", "empty credential"),
        ),
        case(
            "bearer with two fields",
            "/me",
            Some(format!("Bearer {valid} x")),
            400,
            Expect::Error("Bearer", "invalid_request", "unexpected fields after the token"),
        ),
        case(
            "bearer with illegal characters",
            "/me",
            Some("Bearer a,b".into()),
            400,
            Expect::Error("Bearer", "invalid_request", "token contains illegal characters"),
        ),
        case(
            "valid token",
            "/me",
            bearer(&valid),
            200,
            me("alice", "jwt", Some(&iss), Some("testkit-client"), &all, Some(exp)),
        ),
        case(
            "scheme is case-insensitive",
            "/me",
            Some(format!("bEaReR {valid}")),
            200,
            me("alice", "jwt", Some(&iss), Some("testkit-client"), &all, Some(exp)),
        ),
        case("expired", "/me", bearer(&issuer.token().expires_in(-120).sign()), 401, invalid("token expired")),
        case(
            "expired within leeway",
            "/me",
            bearer(&issuer.token().claim("exp", exp - 3610).sign()),
            200,
            me("alice", "jwt", Some(&iss), Some("testkit-client"), &[], Some(exp - 3610)),
        ),
        case(
            "not yet valid",
            "/me",
            bearer(&issuer.token().claim("nbf", exp).sign()),
            401,
            invalid("token not yet valid"),
        ),
        case(
            "wrong issuer",
            "/me",
            bearer(&issuer.token().claim("iss", "https://evil.example").sign()),
            401,
            invalid("untrusted issuer"),
        ),
        case(
            "issuer with trailing slash",
            "/me",
            bearer(&issuer.token().claim("iss", format!("{iss}/")).sign()),
            401,
            invalid("untrusted issuer"),
        ),
        case(
            "issuer as an array",
            "/me",
            bearer(&issuer.token().claim("iss", json!([iss])).sign()),
            401,
            invalid("missing issuer"),
        ),
        case(
            "wrong audience",
            "/me",
            bearer(&issuer.token().audience("other-api").sign()),
            401,
            invalid("wrong audience"),
        ),
        case(
            "missing audience",
            "/me",
            bearer(&issuer.token().claim("aud", Value::Null).sign()),
            401,
            invalid("missing audience"),
        ),
        case(
            "missing expiry",
            "/me",
            bearer(&issuer.token().claim("exp", Value::Null).sign()),
            401,
            invalid("missing expiry"),
        ),
        case(
            "alg none",
            "/me",
            bearer(&issuer.token().header("alg", "none").with_signature("")),
            401,
            invalid("unsupported algorithm"),
        ),
        case(
            "alg none with a signature",
            "/me",
            bearer(&issuer.token().header("alg", "none").with_signature("c2lnbmF0dXJl")),
            401,
            invalid("unsupported algorithm"),
        ),
        case(
            "HS256 signed with the RSA public key",
            "/me",
            bearer(&hs_with_public_key),
            401,
            invalid("algorithm not allowed for the signing key"),
        ),
        case(
            "unknown kid",
            "/me",
            bearer(&issuer.token().header("kid", "no-such-key").sign()),
            401,
            invalid("unknown signing key"),
        ),
        case("bad signature", "/me", bearer(&tamper(&valid)), 401, invalid("invalid signature")),
        case(
            "empty signature",
            "/me",
            bearer(&format!("{}.", valid.rsplit_once('.').unwrap().0)),
            401,
            invalid("invalid signature"),
        ),
        case(
            "crit header",
            "/me",
            bearer(&issuer.token().header("crit", json!(["exp"])).sign()),
            401,
            invalid("unsupported critical header"),
        ),
        case(
            "not a JSON header",
            "/me",
            bearer(&format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode("[1]"))),
            401,
            invalid("malformed token"),
        ),
        case("token over 16 KiB", "/me", bearer(&"a".repeat(17 * 1024)), 401, invalid("token too large")),
        case(
            "readonly never satisfies read",
            "/recordings",
            bearer(&token("readonly")),
            403,
            Expect::Scope("Bearer", "read"),
        ),
        case(
            "read scope lists recordings",
            "/recordings",
            bearer(&token("read")),
            200,
            Expect::Json(json!([{"id": 0, "title": "Welcome to tokenguard"}])),
        ),
        case(
            "scp array",
            "/recordings",
            bearer(&issuer.token().claim("scp", json!(["read"])).sign()),
            200,
            Expect::Json(json!([{"id": 0, "title": "Welcome to tokenguard"}])),
        ),
        case(
            "scp string",
            "/recordings",
            bearer(&issuer.token().claim("scp", "read write").sign()),
            200,
            Expect::Json(json!([{"id": 0, "title": "Welcome to tokenguard"}])),
        ),
        case(
            "scope of the wrong type",
            "/recordings",
            bearer(&issuer.token().claim("scope", json!(["read"])).sign()),
            401,
            invalid("malformed scope"),
        ),
        case("recordings need credentials", "/recordings", None, 401, Expect::Challenge),
        case(
            "admin with admin",
            "/admin",
            bearer(&token("admin")),
            200,
            Expect::Json(json!({"status": "ok", "admin": true})),
        ),
        case("admin without admin", "/admin", bearer(&token("read write")), 403, Expect::Scope("Bearer", "admin")),
        case("greeting anonymous", "/greeting", None, 200, Expect::Json(json!({"subject": null}))),
        case("greeting with a token", "/greeting", bearer(&valid), 200, Expect::Json(json!({"subject": "alice"}))),
        case(
            "greeting with a bad token is never anonymous",
            "/greeting",
            bearer(&tamper(&valid)),
            401,
            invalid("invalid signature"),
        ),
        case(
            "greeting with a malformed header",
            "/greeting",
            Some("Bearer".into()),
            400,
            Expect::Error("Bearer", "invalid_request", "empty credential"),
        ),
        case(
            "HS256 of the local issuer",
            "/me",
            bearer(&local_hs256),
            200,
            me("alice", "jwt", Some("tokenguard-local"), Some("testkit-client"), &[], Some(unix_now() + 3600)),
        ),
        case(
            "HS256 with another secret",
            "/me",
            bearer(
                &issuer.token().claim("iss", "tokenguard-local").sign_hs256(b"another-secret-that-is-32-bytes-long"),
            ),
            401,
            invalid("invalid signature"),
        ),
        case(
            "HS256 secret never verifies the OIDC issuer",
            "/me",
            bearer(&issuer.token().sign_hs256(HS256_SECRET.as_bytes())),
            401,
            invalid("unknown signing key"),
        ),
        case(
            "OIDC keys never verify the local issuer",
            "/me",
            bearer(&issuer.token().claim("iss", "tokenguard-local").sign()),
            401,
            invalid("algorithm not allowed for the signing key"),
        ),
        case("opaque bearer is not a known key", "/me", bearer("opaque-token-value"), 401, invalid("unknown API key")),
        case(
            "token scheme with an unknown key",
            "/me",
            Some("Token 0123456789abcdef0123456789abcdef01234567".into()),
            401,
            Expect::Error("Token", "invalid_token", "unknown API key"),
        ),
        case(
            "token scheme with a corrupt key",
            "/me",
            Some("Token token=tg_0000000000000000000000000000000000000000000".into()),
            401,
            Expect::Error("Token", "invalid_token", "malformed API key"),
        ),
    ];
    let mut two_headers = case(
        "two Authorization headers",
        "/me",
        None,
        400,
        Expect::Error("Bearer", "invalid_request", "more than one Authorization header"),
    );
    two_headers.headers =
        vec![("authorization", format!("Bearer {valid}").into_bytes()), ("authorization", b"Bearer other".to_vec())];
    cases.push(two_headers);
    let mut query = case("token in the query string is ignored", "/me", None, 401, Expect::Challenge);
    query.path = "/me?access_token=ignored";
    cases.push(query);
    let write = token("write");
    let mut create = case("create with write", "/recordings", bearer(&write), 201, Expect::Json(json!({"id": 1})));
    create.method = "POST";
    create.body = Some(r#"{"title":"standup"}"#);
    cases.push(create);
    let mut create_read =
        case("create needs write", "/recordings", bearer(&token("read")), 403, Expect::Scope("Bearer", "write"));
    create_read.method = "POST";
    cases.push(create_read);
    let mut create_empty =
        case("create without a body", "/recordings", bearer(&write), 201, Expect::Json(json!({"id": 2})));
    create_empty.method = "POST";
    cases.push(create_empty);
    let secrets = vec![valid, hs_with_public_key, local_hs256, write];
    (cases, secrets)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_and_error_row() {
    let issuer = TestIssuer::start().await;
    let (cases, mut secrets) = jwt_cases(&issuer);
    secrets.push(HS256_SECRET.to_owned());
    let env = [("TOKENGUARD_ISSUER", issuer.issuer()), ("TOKENGUARD_HS256_SECRET", HS256_SECRET)];
    let mut answers: Vec<(common::Adapter, Vec<Reply>)> = Vec::new();
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let server = Server::start(adapter, &env).await;
        let (failures, replies) = run_cases_with_replies(&server, &cases).await;
        assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
        println!("{adapter:?}: {} cases passed", cases.len());
        let logs = server.logs();
        assert!(logs.contains("credential rejected"), "the server's debug logs were not captured");
        assert_no_secret(&logs, &secrets, "the server's logs");
        for reply in &replies {
            assert_no_secret(&format!("{:?}{}", reply.www_authenticate, reply.text), &secrets, "a response");
        }
        answers.push((adapter, replies));
    }
    // Every adapter answers every case identically (JSON compared as JSON).
    let Some(((first, reference), others)) = answers.split_first() else {
        return;
    };
    for (adapter, replies) in others {
        for ((case, a), b) in cases.iter().zip(reference).zip(replies) {
            let same = (a.status, &a.www_authenticate, &a.retry_after, a.json())
                == (b.status, &b.www_authenticate, &b.retry_after, b.json());
            assert!(same, "{}: {first:?} answered {a:?}, {adapter:?} answered {b:?}", case.name);
        }
        println!("{first:?} and {adapter:?} answered all {} cases identically", cases.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_mode_prints_working_credentials() {
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let server = Server::start(adapter, &[]).await;
        assert!(server.stdout[0].starts_with("listening on http://127.0.0.1:"), "{:?}", server.stdout);
        let token = server.printed_credential("Authorization: Bearer ").expect("a curl line with a token");
        let key = server.printed_credential("Authorization: Token token=").expect("a curl line with an API key");
        let reply = server.get("/me", bearer(&token).as_deref()).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json()["kind"], "jwt");
        assert_eq!(reply.json()["scopes"], json!(["read", "write", "admin"]));
        // The demo key expires a day after start-up.
        let demo_expiry = server.get("/me", Some(&format!("Token {key}"))).await.json()["expires_at"].as_i64();
        assert!(demo_expiry.is_some_and(|at| (at - unix_now() - 24 * 3600).abs() < 60), "{demo_expiry:?}");
        let mut cases: Vec<Case> = [
            format!("Token token={key}"),
            format!("Token token=\"{key}\""),
            format!("Token token=\"{key}\", nonce=\"abc\""),
            format!("Token {key}"),
            format!("token {key}"),
            format!("Bearer {key}"),
        ]
        .into_iter()
        .map(|header| {
            case(
                &header.replace(&key, "KEY"),
                "/me",
                Some(header.clone()),
                200,
                me("demo-service", "api_key", None, None, &["read"], demo_expiry),
            )
        })
        .collect();
        cases.push(case(
            "API key without write",
            "/admin",
            Some(format!("Token {key}")),
            403,
            Expect::Scope("Token", "admin"),
        ));
        cases.push(case(
            "API key with read",
            "/recordings",
            Some(format!("Token {key}")),
            200,
            Expect::Json(json!([{"id": 0, "title": "Welcome to tokenguard"}])),
        ));
        let failures = run_cases(&server, &cases).await;
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert_no_secret(&server.logs(), &[token, key], "the server's logs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_to_start_with_a_short_hs256_secret() {
    for adapter in adapters() {
        let secret = "too-short-secret";
        let Err((output, status)) = Server::try_start(adapter, &[("TOKENGUARD_HS256_SECRET", secret)]).await else {
            panic!("{adapter:?} started with a 16-byte HS256 secret");
        };
        assert_eq!(status, Some(2), "{output}");
        assert!(output.contains("TOKENGUARD_HS256_SECRET must be at least 32 bytes"), "{output}");
        assert!(!output.contains(secret), "the secret leaked into the error output");
    }
}

/// Deterministic junk (xorshift) for the "never a 500" sweep.
fn junk_values(count: usize) -> Vec<Vec<u8>> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let prefixes: [&[u8]; 6] = [b"Bearer ", b"Token ", b"Token token=", b"bearer  ", b"Basic ", b""];
    (0..count)
        .map(|_| {
            let mut value = prefixes[(next() % prefixes.len() as u64) as usize].to_vec();
            let len = (next() % 300) as usize;
            for _ in 0..len {
                // Visible ASCII, space, tab and obs-text: everything a header value may carry.
                let byte = match next() % 10 {
                    0 => b'.',
                    1 => b'=',
                    2 => b'\t',
                    3 => 0x80 + (next() % 0x7f) as u8,
                    _ => 0x20 + (next() % 0x5f) as u8,
                };
                value.push(byte);
            }
            while value.last().is_some_and(|b| *b == b' ' || *b == b'\t') {
                value.pop();
            }
            value
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_authorization_headers_never_cause_a_500() {
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let issuer = TestIssuer::start().await;
        let server = Server::start(adapter, &[("TOKENGUARD_ISSUER", issuer.issuer())]).await;
        let mut statuses = std::collections::BTreeMap::new();
        for value in junk_values(500) {
            let reply = server.request("GET", "/greeting", &[("authorization", &value)], None).await;
            assert!(
                matches!(reply.status, 200 | 400 | 401),
                "{adapter:?}: {:?} gave {} {}",
                String::from_utf8_lossy(&value),
                reply.status,
                reply.text
            );
            assert!(reply.json()["error"].is_string() || reply.status == 200, "{}", reply.text);
            *statuses.entry(reply.status).or_insert(0) += 1;
        }
        println!("{adapter:?}: junk statuses {statuses:?}");
    }
}

/// RFC 9110: HEAD is answered as GET without a body (§9.3.2), and a method
/// a route does not have is 405 with `Allow` (§15.5.6) whoever asks — the
/// routing table is no secret, and no credential makes PUT appear. Both
/// adapters, exactly alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_method_is_answered_alike_on_every_adapter() {
    let issuer = TestIssuer::start().await;
    let reader = issuer.token().scope("read").sign();
    let env = [("TOKENGUARD_ISSUER", issuer.issuer())];
    let challenge = plain_challenges();
    let forbidden = {
        let mut challenge = error_challenge("Bearer", "insufficient_scope", "the credential lacks the required scope");
        challenge[0].push_str(r#", scope="admin""#);
        challenge
    };
    let none: Vec<String> = Vec::new();
    // (method, path, token, status, WWW-Authenticate, Allow)
    type MethodCase<'a> = (&'a str, &'a str, Option<&'a str>, u16, &'a Vec<String>, Option<&'a str>);
    let cases: Vec<MethodCase> = vec![
        ("HEAD", "/me", None, 401, &challenge, None),
        ("HEAD", "/me", Some(&reader), 200, &none, None),
        ("HEAD", "/recordings", None, 401, &challenge, None),
        ("HEAD", "/recordings", Some(&reader), 200, &none, None),
        ("HEAD", "/admin", Some(&reader), 403, &forbidden, None),
        ("HEAD", "/health", None, 200, &none, None),
        ("HEAD", "/greeting", None, 200, &none, None),
        ("OPTIONS", "/me", None, 405, &none, Some("GET,HEAD")),
        ("OPTIONS", "/me", Some(&reader), 405, &none, Some("GET,HEAD")),
        ("PUT", "/recordings", None, 405, &none, Some("GET,HEAD,POST")),
        ("DELETE", "/recordings", Some(&reader), 405, &none, Some("GET,HEAD,POST")),
        ("DELETE", "/admin", None, 405, &none, Some("GET,HEAD")),
        ("POST", "/health", Some("junk junk"), 405, &none, Some("GET,HEAD")),
        ("PATCH", "/greeting", None, 405, &none, Some("GET,HEAD")),
        ("GET", "/nowhere", None, 404, &none, None),
        ("PUT", "/nowhere", Some(&reader), 404, &none, None),
    ];
    for adapter in adapters() {
        let server = Server::start(adapter, &env).await;
        let mut failures = Vec::new();
        for (method, path, token, status, www_authenticate, allow) in &cases {
            let authorization = token.map(|token| format!("Bearer {token}"));
            let headers: Vec<(&str, &[u8])> =
                authorization.iter().map(|value| ("authorization", value.as_bytes())).collect();
            let reply = server.request(method, path, &headers, None).await;
            let seen = (reply.status, &reply.www_authenticate, reply.allow.as_deref());
            if seen != (*status, *www_authenticate, *allow) || (*method == "HEAD" && !reply.text.is_empty()) {
                failures.push(format!("{method} {path} (token: {}): {seen:?} {:?}", token.is_some(), reply.text));
            }
        }
        assert!(failures.is_empty(), "[{adapter:?}]\n{}", failures.join("\n"));
    }
}
