//! API keys end to end: created, imported and revoked with the CLI in a real
//! SQLite file and a real PostgreSQL, accepted and refused by the running
//! examples.

mod common;

use std::time::Duration;

use common::{Adapter, PgSchema, Reply, Server, TempDir, adapters, assert_no_secret, cli, error_challenge, eventually};
use serde_json::{Value, json};

/// Creates a key with the CLI; returns (id, key).
async fn create(store: &str, subject: &str, scope: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec!["keys", "create", "--store", store, "--subject", subject, "--scope", scope, "--json"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = cli(&args).await;
    assert_eq!(code, 0, "keys create failed: {stderr}");
    let created: Value = serde_json::from_str(&stdout).expect("JSON output");
    assert_eq!(created["subject"], subject);
    let key = created["key"].as_str().expect("key").to_owned();
    assert!(key.starts_with("tg_"), "generated keys carry the prefix");
    (created["id"].as_str().expect("id").to_owned(), key)
}

async fn revoke(store: &str, id: &str) {
    let (code, stdout, stderr) = cli(&["keys", "revoke", "--store", store, id]).await;
    assert_eq!((code, stdout.trim()), (0, format!("revoked {id}").as_str()), "{stderr}");
}

async fn refused_within_10s(server: &Server, authorization: &str, reason: &'static str) -> Reply {
    let refused =
        eventually(Duration::from_secs(10), || async { server.get("/me", Some(authorization)).await.status == 401 })
            .await;
    assert!(refused, "{:?} still accepted a revoked/expired key after 10 s", server.adapter);
    let reply = server.get("/me", Some(authorization)).await;
    assert_eq!(reply.www_authenticate, error_challenge("Token", "invalid_token", reason));
    reply
}

fn sqlite_url(dir: &TempDir) -> String {
    format!("sqlite://{}", dir.0.join("keys.db").display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keys_created_revoked_and_expired_with_the_cli() {
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let dir = TempDir::new("sqlite-keys");
        let store = sqlite_url(&dir);
        let (id, key) = create(&store, "svc-reports", "read", &["--name", "reports"]).await;
        let server = Server::start(adapter, &[("TOKENGUARD_KEY_STORE", &store)]).await;
        let mut secrets = vec![key.clone()];

        for header in [
            format!("Token {key}"),
            format!("Token token={key}"),
            format!("Token token=\"{key}\""),
            format!("Token token=\"{key}\", nonce=\"def\""),
            format!("Bearer {key}"),
        ] {
            let reply = server.get("/me", Some(&header)).await;
            assert_eq!(reply.status, 200, "{}: {}", header.replace(&key, "KEY"), reply.text);
            assert_no_secret(&reply.text, std::slice::from_ref(&key), "a response");
            assert_eq!(
                reply.json(),
                json!({"subject": "svc-reports", "kind": "api_key", "issuer": null, "client_id": null, "scopes": ["read"], "expires_at": null})
            );
        }
        let token_header = format!("Token {key}");
        assert_eq!(server.get("/recordings", Some(&token_header)).await.status, 200);
        let admin = server.get("/admin", Some(&token_header)).await;
        assert_eq!(admin.status, 403);
        assert!(admin.www_authenticate[0].starts_with(r#"Token realm="tokenguard", error="insufficient_scope""#));
        let post = server.request("POST", "/recordings", &[("authorization", token_header.as_bytes())], None).await;
        assert_eq!(post.status, 403, "read-only key cannot write");

        // A key created while the server runs is accepted at once.
        let (_, writer) = create(&store, "svc-writer", "read write", &[]).await;
        secrets.push(writer.clone());
        let created = server
            .request("POST", "/recordings", &[("authorization", format!("Bearer {writer}").as_bytes())], Some("{}"))
            .await;
        assert_eq!(created.status, 201, "{}", created.text);

        revoke(&store, &id).await;
        refused_within_10s(&server, &token_header, "API key revoked").await;

        let (_, short_lived) = create(&store, "svc-temp", "read", &["--expires-in", "1s"]).await;
        secrets.push(short_lived.clone());
        refused_within_10s(&server, &format!("Token {short_lived}"), "API key expired").await;

        // A DRF-style 40-hex token adopted without reissuing.
        let drf = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b";
        let (code, _, stderr) =
            cli(&["keys", "import", "--store", &store, "--subject", "legacy", "--scope", "read", "--key", drf]).await;
        assert_eq!(code, 0, "{stderr}");
        secrets.push(drf.to_owned());
        let reply = server.get("/me", Some(&format!("Token {drf}"))).await;
        assert_eq!((reply.status, reply.json()["subject"].clone()), (200, json!("legacy")));

        // A mistyped key of our format is refused before any lookup.
        let mut typo = key.clone().into_bytes();
        let last = typo.len() - 1;
        typo[last] = if typo[last] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(typo).unwrap();
        let reply = server.get("/me", Some(&format!("Token {typo}"))).await;
        assert_eq!(reply.www_authenticate, error_challenge("Token", "invalid_token", "malformed API key"));
        assert_no_secret(&reply.text, std::slice::from_ref(&typo), "a response");

        // Listing shows ids and metadata, never a key.
        let (code, listing, _) = cli(&["keys", "list", "--store", &store, "--json"]).await;
        assert_eq!(code, 0);
        let listed: Value = serde_json::from_str(&listing).unwrap();
        // Four made here, and the demo key of the example's development mode.
        assert_eq!(listed.as_array().map(Vec::len), Some(5));
        let (_, table, _) = cli(&["keys", "list", "--store", &store]).await;
        assert_no_secret(&format!("{listing}{table}"), &secrets, "keys list");
        assert_no_secret(&server.logs(), &secrets, "the server's logs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_store_is_a_sqlite_file_created_at_start() {
    for adapter in adapters() {
        let dir = TempDir::new("default-store");
        // An empty value means "unset": the contract's default applies.
        let server = Server::try_start_in(adapter, &[("TOKENGUARD_KEY_STORE", "")], Some(&dir.0))
            .await
            .unwrap_or_else(|(output, _)| panic!("{adapter:?} did not start: {output}"));
        assert!(dir.0.join("tokenguard-keys.db").exists(), "{adapter:?} did not create tokenguard-keys.db");
        let key = server.printed_credential("Authorization: Token token=").expect("demo key line");
        assert_eq!(server.get("/me", Some(&format!("Token {key}"))).await.status, 200);
        drop(server);
        // The CLI sees the same file, and the demo key in it (never its secret).
        let (code, listing, _) =
            cli(&["keys", "list", "--store", &format!("sqlite://{}", dir.0.join("tokenguard-keys.db").display())])
                .await;
        assert_eq!(code, 0);
        assert!(listing.contains("demo-service"));
        assert!(!listing.contains(&key));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_errors_have_clear_messages_and_exit_codes() {
    let dir = TempDir::new("cli-errors");
    let store = sqlite_url(&dir);
    let (code, _, stderr) = cli(&["keys", "revoke", "--store", &store, "no-such-id"]).await;
    assert_eq!((code, stderr.trim()), (1, "error: no key with id no-such-id"));
    let (code, _, stderr) = cli(&["keys", "create", "--store", &store, "--subject", "x", "--expires-in", "3y"]).await;
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = cli(&["keys", "create", "--store", "memory:", "--subject", "x"]).await;
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = cli(&["keys", "list", "--store", "redis://127.0.0.1"]).await;
    assert_eq!(code, 1, "{stderr}");
    let (code, _, stderr) = cli(&["keys", "import", "--store", &store, "--subject", "x", "--key", "short"]).await;
    assert_eq!(code, 2, "{stderr}");
    let (code, _, _) = cli(&["keys", "list"]).await;
    assert_eq!(code, 2, "--store is required");
}

// ---- PostgreSQL: two instances sharing one store ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_keys_in_postgres() {
    let schema = PgSchema::create().await;
    let store = schema.url();
    let env = [("TOKENGUARD_KEY_STORE", store.as_str())];
    // Two instances (both adapters when built), started together on one fresh schema.
    let instances: Vec<Adapter> = adapters().into_iter().chain([Adapter::Axum]).take(2).collect();
    let servers = futures::future::join_all(instances.iter().map(|adapter| Server::start(*adapter, &env))).await;
    let (id, key) = create(&store, "fleet-client", "read", &[]).await;
    let header = format!("Token token={key}");
    for server in &servers {
        let reply = server.get("/recordings", Some(&header)).await;
        assert_eq!(reply.status, 200, "{:?}: {}", server.adapter, reply.text);
    }
    revoke(&store, &id).await;
    for server in &servers {
        refused_within_10s(server, &header, "API key revoked").await;
        assert_no_secret(&server.logs(), std::slice::from_ref(&key), "the server's logs");
    }
    // last_used_at was recorded lazily by the instances.
    let (_, listing, _) = cli(&["keys", "list", "--store", &store, "--json"]).await;
    let listed: Value = serde_json::from_str(&listing).unwrap();
    let fleet = listed.as_array().and_then(|keys| keys.iter().find(|k| k["id"] == id.as_str())).expect("the key");
    assert!(fleet["last_used_at"].is_u64(), "{listing}");
    assert!(fleet["revoked_at"].is_u64(), "{listing}");
    drop(servers);
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_refused_then_imported_is_accepted_on_the_very_next_request() {
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let dir = TempDir::new("sqlite-import");
        let store = sqlite_url(&dir);
        let server = Server::start(adapter, &[("TOKENGUARD_KEY_STORE", &store)]).await;
        // A Django REST Framework token, 40 hex digits, presented before it is imported.
        let token = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b";
        let header = format!("Token {token}");
        let reply = server.get("/me", Some(&header)).await;
        assert_eq!(reply.status, 401);
        assert_eq!(reply.www_authenticate, error_challenge("Token", "invalid_token", "unknown API key"));
        let args = ["keys", "import", "--store", &store, "--subject", "legacy-user", "--scope", "read", "--key", token];
        let (code, _, stderr) = cli(&args).await;
        assert_eq!(code, 0, "{stderr}");
        let reply = server.get("/me", Some(&header)).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json()["subject"], "legacy-user");
    }
}
