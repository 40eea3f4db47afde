//! The key administration API (`/keys…`) and its console page on both
//! examples, over a real SQLite file and a real PostgreSQL: every route,
//! admin and self-service access, the audit log, and no secret anywhere
//! but the one answer that shows a new key.

mod common;

use common::{Reply, Server, TempDir, adapters, assert_no_secret, error_challenge, plain_challenges};
use serde_json::{Value, json};

/// A caller: the `Authorization` value it sends.
struct Caller(String);

impl Caller {
    fn key(key: &str) -> Self {
        Caller(format!("Token {key}"))
    }

    async fn call(&self, server: &Server, method: &str, path: &str, body: Option<Value>) -> Reply {
        let body = body.map(|body| body.to_string());
        server.request(method, path, &[("authorization", self.0.as_bytes())], body.as_deref()).await
    }
}

fn created(reply: &Reply) -> (String, String) {
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    let body = reply.json();
    (body["id"].as_str().expect("id").to_owned(), body["key"].as_str().expect("key").to_owned())
}

/// The ids listed, in the order listed.
fn listed(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["keys"].as_array().expect("keys").iter().map(|key| key["id"].as_str().unwrap().to_owned()).collect()
}

/// The ids listed, sorted: keys made within one second are listed by id.
fn ids(reply: &Reply) -> Vec<String> {
    sorted(listed(reply))
}

fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items
}

/// Everything the API does, on a server whose store is `store`.
async fn administers_keys(server: &Server, store: &str) {
    let admin = Caller(format!("Bearer {}", server.printed_credential("Bearer ").expect("the development token")));
    let mut secrets = Vec::new();

    // Who may call: nobody anonymous, nobody without `admin` or `keys`.
    let anonymous = server.get("/keys", None).await;
    assert_eq!((anonymous.status, anonymous.www_authenticate.clone()), (401, plain_challenges()));
    let demo_key = server.printed_credential("token=").expect("the demo key");
    let reader = Caller::key(&demo_key);
    let refused = reader.call(server, "GET", "/keys", None).await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.www_authenticate,
        vec![
            r#"Token realm="tokenguard", error="insufficient_scope", error_description="the credential lacks the required scope", scope="keys""#
        ]
    );

    // An admin creates keys for anyone; the key is shown once.
    let alice_body = json!({
        "subject": "alice", "scopes": ["keys", "read"], "roles": ["editor"], "name": "alice's laptop",
        "metadata": {"plan": "pro"}, "expires_in": 86400,
    });
    let reply = admin.call(server, "POST", "/keys", Some(alice_body)).await;
    let (alice_id, alice_key) = created(&reply);
    let body = reply.json();
    assert!(alice_key.starts_with("tg_"));
    assert_eq!(
        (&body["subject"], &body["scopes"], &body["roles"], &body["name"], &body["metadata"]),
        (
            &json!("alice"),
            &json!(["keys", "read"]),
            &json!(["editor"]),
            &json!("alice's laptop"),
            &json!({"plan": "pro"})
        )
    );
    let expires_at = body["expires_at"].as_u64().expect("expires_at");
    assert_eq!(expires_at - body["created_at"].as_u64().unwrap(), 86400);
    let (bob_id, bob_key) =
        created(&admin.call(server, "POST", "/keys", Some(json!({"subject": "bob", "scopes": ["keys"]}))).await);
    secrets.extend([alice_key.clone(), bob_key.clone()]);
    let missing_subject = admin.call(server, "POST", "/keys", Some(json!({"scopes": ["read"]}))).await;
    assert_eq!((missing_subject.status, missing_subject.json()["error"].clone()), (400, json!("invalid_request")));
    let malformed = admin.call(server, "POST", "/keys", Some(json!({"subject": "x", "scopes": "read"}))).await;
    assert_eq!(malformed.status, 400, "{}", malformed.text);
    let me = server.get("/me", Some(&format!("Token {alice_key}"))).await;
    assert_eq!(me.json()["subject"], "alice", "{}", me.text);

    // Self-service: alice manages her own keys only.
    let alice = Caller::key(&alice_key);
    let (own_id, own_key) = created(&alice.call(server, "POST", "/keys", Some(json!({"scopes": ["read"]}))).await);
    secrets.push(own_key.clone());
    let for_bob = alice.call(server, "POST", "/keys", Some(json!({"subject": "bob", "scopes": ["read"]}))).await;
    assert_eq!(for_bob.status, 403);
    assert!(for_bob.www_authenticate[0].contains(r#"error="insufficient_scope""#), "{:?}", for_bob.www_authenticate);
    assert_eq!(ids(&alice.call(server, "GET", "/keys", None).await), sorted(vec![alice_id.clone(), own_id.clone()]));
    assert!(ids(&alice.call(server, "GET", "/keys?subject=bob", None).await).is_empty());
    let bob_path = format!("/keys/{bob_id}");
    for (method, path, body) in [
        ("GET", bob_path.clone(), None),
        ("PATCH", bob_path.clone(), Some(json!({"scopes": ["admin"]}))),
        ("DELETE", bob_path.clone(), None),
        ("POST", format!("{bob_path}/rotate"), Some(json!({"grace_seconds": 0}))),
    ] {
        let reply = alice.call(server, method, &path, body).await;
        assert_eq!(
            (reply.status, reply.json()),
            (404, json!({"error": "not_found", "error_description": "no such key"})),
            "{method} {path}"
        );
    }
    assert_eq!(server.get("/me", Some(&format!("Token {bob_key}"))).await.status, 200, "bob's key untouched");

    // Pages: every key, in creation order, with a cursor; never a key.
    let mut seen = Vec::new();
    let mut path = "/keys?limit=2".to_owned();
    loop {
        let page = admin.call(server, "GET", &path, None).await;
        assert_no_secret(&page.text, &secrets, "a key list");
        seen.extend(listed(&page));
        match page.json()["next"].as_str() {
            Some(cursor) => path = format!("/keys?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 4, "the demo key, alice's two and bob's, once each: {seen:?}");
    let seen = sorted(seen);
    for id in [&alice_id, &bob_id, &own_id] {
        assert!(seen.binary_search(id).is_ok(), "{id} not listed");
    }
    assert_eq!(ids(&admin.call(server, "GET", "/keys?subject=bob", None).await), std::slice::from_ref(&bob_id));
    assert_eq!(admin.call(server, "GET", "/keys?limit=101", None).await.status, 400);

    // Show and update: seen by this server at once.
    let shown = alice.call(server, "GET", &format!("/keys/{own_id}"), None).await;
    assert_eq!((shown.status, shown.json()["scopes"].clone()), (200, json!(["read"])));
    assert!(shown.json().get("key").is_none());
    let own = format!("Token {own_key}");
    assert_eq!(server.request("POST", "/recordings", &[("authorization", own.as_bytes())], None).await.status, 403);
    let update = json!({"scopes": ["read", "write"], "name": "ci", "metadata": {"team": "qa"}});
    let updated = alice.call(server, "PATCH", &format!("/keys/{own_id}"), Some(update)).await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(
        (updated.json()["scopes"].clone(), updated.json()["name"].clone()),
        (json!(["read", "write"]), json!("ci"))
    );
    assert_eq!(server.request("POST", "/recordings", &[("authorization", own.as_bytes())], None).await.status, 201);
    let nothing = alice.call(server, "PATCH", &format!("/keys/{own_id}"), Some(json!({}))).await;
    assert_eq!(nothing.status, 400);

    // Rotation: with a grace period both keys work; without, the old one stops at once.
    let rotated =
        alice.call(server, "POST", &format!("/keys/{own_id}/rotate"), Some(json!({"grace_seconds": 3600}))).await;
    let (next_id, next_key) = created(&rotated);
    secrets.push(next_key.clone());
    assert_eq!(rotated.json()["replaces"], json!(own_id));
    assert_eq!(
        (rotated.json()["scopes"].clone(), rotated.json()["subject"].clone()),
        (json!(["read", "write"]), json!("alice"))
    );
    assert_eq!(server.get("/me", Some(&own)).await.status, 200, "the old key inside its grace period");
    assert_eq!(server.get("/me", Some(&format!("Token {next_key}"))).await.status, 200);
    let rotated = alice.call(server, "POST", &format!("/keys/{next_id}/rotate"), None).await;
    let (last_id, last_key) = created(&rotated);
    secrets.push(last_key.clone());
    let old = server.get("/me", Some(&format!("Token {next_key}"))).await;
    assert_eq!(
        (old.status, old.www_authenticate.clone()),
        (401, error_challenge("Token", "invalid_token", "API key revoked"))
    );
    let again = alice.call(server, "POST", &format!("/keys/{next_id}/rotate"), None).await;
    assert_eq!(again.status, 409, "a revoked key cannot be rotated: {}", again.text);

    // Revocation.
    let revoked = alice.call(server, "DELETE", &format!("/keys/{last_id}"), None).await;
    assert_eq!((revoked.status, revoked.text.as_str()), (204, ""));
    assert_eq!(server.get("/me", Some(&format!("Token {last_key}"))).await.status, 401);
    assert_eq!(admin.call(server, "DELETE", "/keys/ffffffffffffffff", None).await.status, 404);
    let put = admin.call(server, "PUT", &format!("/keys/{alice_id}"), None).await;
    assert_eq!((put.status, put.allow.as_deref()), (405, Some("GET,HEAD,PATCH,DELETE")));

    // The audit log: who, what, which key — and never a key.
    let store = tokenguard::store::open(store).await.expect("the store");
    let log = store.audit_log(None).await.expect("audit log");
    let changes = ["create", "update", "rotate", "revoke"];
    let entries: Vec<_> = log
        .iter()
        .filter(|entry| changes.contains(&entry.action.as_str()) && entry.actor != "example")
        .map(|entry| (entry.actor.as_str(), entry.action.as_str(), entry.key_id.clone().unwrap_or_default()))
        .collect();
    let alice_actor = "api_key:alice";
    assert_eq!(
        entries,
        [
            ("jwt:dev-user", "create", alice_id.clone()),
            ("jwt:dev-user", "create", bob_id.clone()),
            (alice_actor, "create", own_id.clone()),
            (alice_actor, "update", own_id.clone()),
            (alice_actor, "create", next_id.clone()),
            (alice_actor, "rotate", own_id.clone()),
            (alice_actor, "create", last_id.clone()),
            (alice_actor, "rotate", next_id.clone()),
            (alice_actor, "revoke", last_id.clone()),
        ]
    );
    // Reads and refused attempts are on record too.
    let uses = |actor: &str, action: &str| log.iter().filter(|e| e.actor == actor && e.action == action).count();
    assert_eq!(uses(alice_actor, "denied"), 6, "create for bob, list bob's, and bob's key four times");
    let denied: Vec<_> = log.iter().filter(|e| e.action == "denied" && e.key_id.is_some()).collect();
    assert!(denied.iter().all(|entry| entry.key_id.as_deref() == Some(bob_id.as_str())));
    assert_eq!(uses(alice_actor, "list"), 1);
    assert_eq!(uses(alice_actor, "show"), 1);
    assert!(uses("jwt:dev-user", "list") >= 3, "the pages");
    assert_no_secret(&format!("{log:?}"), &secrets, "the audit log");
    assert_no_secret(&server.logs(), &secrets, "the server's logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_over_sqlite() {
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let dir = TempDir::new("key-admin");
        let store = format!("sqlite://{}", dir.0.join("keys.db").display());
        let server = Server::start(adapter, &[("TOKENGUARD_KEY_STORE", &store)]).await;
        administers_keys(&server, &store).await;
    }
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_over_postgres() {
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let schema = common::PgSchema::create().await;
        let store = schema.url();
        let server = Server::start(adapter, &[("TOKENGUARD_KEY_STORE", &store)]).await;
        administers_keys(&server, &store).await;
        drop(server);
        schema.drop_schema().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_page_is_public_and_locked_down() {
    for adapter in adapters() {
        let server = Server::start(adapter, &[("TOKENGUARD_KEY_STORE", "memory:")]).await;
        for (path, content_type) in [
            ("/admin/keys", "text/html; charset=utf-8"),
            ("/admin/keys/console.js", "text/javascript; charset=utf-8"),
            ("/admin/keys/console.css", "text/css; charset=utf-8"),
        ] {
            let reply = server.get(path, None).await;
            assert_eq!((reply.status, reply.content_type.as_deref()), (200, Some(content_type)), "{adapter:?} {path}");
        }
        let page = server.request("GET", "/admin/keys", &[], None).await;
        assert!(page.text.contains(r#"<script src="keys/console.js" defer></script>"#));
        assert!(!page.text.contains("<script>"), "no inline script");
        let headers = raw_headers(&server, "/admin/keys").await;
        assert_eq!(
            headers.get("content-security-policy").map(String::as_str),
            Some(
                "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
            )
        );
        assert_eq!(headers.get("x-content-type-options").map(String::as_str), Some("nosniff"));
        assert_eq!(headers.get("cache-control").map(String::as_str), Some("no-store"));
        let post = server.request("POST", "/admin/keys", &[], None).await;
        assert_eq!((post.status, post.allow.as_deref()), (405, Some("GET,HEAD")), "{adapter:?}");
    }
}

async fn raw_headers(server: &Server, path: &str) -> std::collections::HashMap<String, String> {
    let response = reqwest::get(format!("{}{path}", server.base)).await.expect("request");
    response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or_default().to_owned()))
        .collect()
}
