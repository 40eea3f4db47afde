//! Keys over their life, from the command line, with running examples:
//! update, rotation with a grace period, bulk import of a Django REST
//! Framework token table, clear errors; and the extra credential sources
//! (`TOKENGUARD_API_KEY_HEADER`, `TOKENGUARD_JWT_COOKIE`).

mod common;

use std::time::{Duration, Instant};

use common::{Server, TempDir, adapters, cli, error_challenge, eventually, plain_challenges};
use serde_json::Value;

/// `keys create --json`: (id, key).
async fn create(store: &str, subject: &str, scope: &str) -> (String, String) {
    let (code, stdout, stderr) =
        cli(&["keys", "create", "--store", store, "--subject", subject, "--scope", scope, "--json"]).await;
    assert_eq!(code, 0, "{stderr}");
    let created: Value = serde_json::from_str(&stdout).expect("JSON");
    (created["id"].as_str().unwrap().to_owned(), created["key"].as_str().unwrap().to_owned())
}

/// `keys list --json`, the record of `id`.
async fn listed(store: &str, id: &str) -> Value {
    let (code, stdout, stderr) = cli(&["keys", "list", "--store", store, "--json"]).await;
    assert_eq!(code, 0, "{stderr}");
    let list: Vec<Value> = serde_json::from_str(&stdout).expect("JSON");
    list.into_iter().find(|record| record["id"] == id).expect("listed")
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// Update, rotate and the CLI's errors, against a running `server` on `store`;
/// a change is seen within `bound`.
async fn keys_evolve(server: &Server, store: &str, bound: Duration) {
    let (id, key) = create(store, "svc-sync", "read").await;
    let token = format!("Token {key}");
    let post =
        || async { server.request("POST", "/recordings", &[("authorization", token.as_bytes())], None).await.status };
    assert_eq!(post().await, 403);

    let (code, stdout, stderr) = cli(&[
        "keys",
        "update",
        "--store",
        store,
        &id,
        "--scope",
        "read write",
        "--role",
        "editor",
        "--name",
        "sync",
        "--metadata",
        r#"{"plan":"pro"}"#,
        "--expires-in",
        "2w",
    ])
    .await;
    assert_eq!((code, stdout.trim()), (0, format!("updated {id}").as_str()), "{stderr}");
    let started = Instant::now();
    assert!(eventually(bound, || async { post().await == 201 }).await, "update not seen within {bound:?}");
    println!("{:?}: update seen after {:?}", server.adapter, started.elapsed());
    let record = listed(store, &id).await;
    assert_eq!(
        (record["roles"].clone(), record["name"].clone()),
        (serde_json::json!(["editor"]), serde_json::json!("sync"))
    );
    assert_eq!(record["metadata"], serde_json::json!({"plan": "pro"}));
    let expires_at = record["expires_at"].as_u64().unwrap();
    assert!(expires_at.abs_diff(now() + 14 * 86_400) < 60, "two weeks");

    // Rotation with a grace period: both keys work, the list links them.
    let (code, stdout, stderr) = cli(&["keys", "rotate", "--store", store, &id, "--grace", "1h", "--json"]).await;
    assert_eq!(code, 0, "{stderr}");
    let rotated: Value = serde_json::from_str(&stdout).unwrap();
    let (next_id, next_key) = (rotated["id"].as_str().unwrap().to_owned(), rotated["key"].as_str().unwrap().to_owned());
    assert_eq!(
        (rotated["replaces"].as_str(), rotated["scopes"].clone()),
        (Some(id.as_str()), serde_json::json!(["read", "write"]))
    );
    assert!(rotated["old_key_revoked_at"].as_u64().unwrap().abs_diff(now() + 3600) < 60);
    let next = format!("Token {next_key}");
    assert!(eventually(bound, || async { server.get("/me", Some(&next)).await.status == 200 }).await);
    assert_eq!(server.get("/me", Some(&token)).await.status, 200, "the old key inside its grace period");
    assert_eq!(listed(store, &next_id).await["replaces"], id.as_str());
    assert_eq!(listed(store, &next_id).await["metadata"], serde_json::json!({"plan": "pro"}));

    // Without grace, the old key is refused like a revoked one.
    let (code, _, stderr) = cli(&["keys", "rotate", "--store", store, &next_id]).await;
    assert_eq!(code, 0, "{stderr}");
    let started = Instant::now();
    assert!(eventually(bound, || async { server.get("/me", Some(&next)).await.status == 401 }).await);
    println!("{:?}: rotated key refused after {:?}", server.adapter, started.elapsed());
    let refused = server.get("/me", Some(&next)).await;
    assert_eq!(refused.www_authenticate, error_challenge("Token", "invalid_token", "API key revoked"));

    // The audit log, from the command line: who did what to the key, never a key.
    let (code, stdout, stderr) = cli(&["keys", "audit", "--store", store, "--key", &id, "--json"]).await;
    assert_eq!(code, 0, "{stderr}");
    let log: Vec<Value> = serde_json::from_str(&stdout).expect("JSON");
    let actions: Vec<_> = log.iter().map(|entry| entry["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["create", "update", "rotate"]);
    assert!(log.iter().all(|entry| entry["actor"].as_str().unwrap().starts_with("cli:")));
    assert!(!stdout.contains(&key) && !stdout.contains(&next_key));

    // Clear errors.
    let (code, _, stderr) = cli(&["keys", "update", "--store", store, "ffffffffffffffff", "--scope", "read"]).await;
    assert_eq!((code, stderr.trim()), (1, "error: no key with id ffffffffffffffff"));
    let (code, _, stderr) = cli(&["keys", "update", "--store", store, &id]).await;
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = cli(&["keys", "create", "--store", store, "--subject", "x", "--expires-in", "3y"]).await;
    assert_eq!(
        (code, stderr.trim()),
        (2, r#"error: --expires-in: "3y" is not a duration like 4w, 30d, 12h, 15m or 90s"#)
    );
    let (code, _, stderr) = cli(&["keys", "rotate", "--store", store, &id, "--grace", "soon"]).await;
    assert_eq!((code, stderr.contains("--grace: \"soon\" is not a duration")), (2, true), "{stderr}");
    let raw = "0123456789abcdef0123456789abcdef01234567";
    let import = ["keys", "import", "--store", store, "--subject", "legacy", "--key", raw];
    assert_eq!(cli(&import).await.0, 0);
    let (code, _, stderr) = cli(&import).await;
    assert_eq!(code, 1);
    assert!(stderr.starts_with("error: this key is already in the key store (id "), "{stderr}");
    assert!(!stderr.contains(raw));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_evolve_over_sqlite() {
    for adapter in adapters() {
        let dir = TempDir::new("lifecycle");
        let store = format!("sqlite://{}", dir.0.join("keys.db").display());
        let server = Server::start(adapter, &[("TOKENGUARD_KEY_STORE", &store)]).await;
        keys_evolve(&server, &store, Duration::from_secs(10)).await;
    }
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_evolve_over_postgres() {
    for adapter in adapters() {
        let schema = common::PgSchema::create().await;
        let store = schema.url();
        let server = Server::start(adapter, &[("TOKENGUARD_KEY_STORE", &store)]).await;
        keys_evolve(&server, &store, Duration::from_secs(1)).await;
        drop(server);
        schema.drop_schema().await;
    }
}

#[tokio::test]
async fn an_unreachable_store_is_named_without_credentials() {
    let (code, _, stderr) = cli(&["keys", "list", "--store", "postgres://admin:hunter2hunter2@127.0.0.1:1/keys"]).await;
    assert_eq!(code, 1);
    assert!(stderr.starts_with("error: cannot open the key store postgres://127.0.0.1:1/keys: "), "{stderr}");
    assert!(!stderr.contains("hunter2"));
    let (code, _, stderr) = cli(&["keys", "list", "--store", "sqlite:///nonexistent-dir/keys.db"]).await;
    assert_eq!(code, 1);
    assert!(stderr.starts_with("error: cannot open the key store sqlite:///nonexistent-dir/keys.db: "), "{stderr}");
}

/// 10,000 rows of a DRF `authtoken_token` export (`key,user_id,created`
/// reduced to `key,subject`): one command, one transaction, and running
/// it again changes nothing.
async fn imports_a_token_table(store: &str, dir: &TempDir) {
    let keys: Vec<String> = (0..10_000u64).map(|n| format!("{:040x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15))).collect();
    let mut csv = String::from("key,subject\n");
    for (n, key) in keys.iter().enumerate() {
        csv.push_str(&format!("{key},user-{n}\n"));
    }
    let file = dir.0.join("authtoken_token.csv");
    std::fs::write(&file, csv).unwrap();
    let file = file.to_str().unwrap();
    let started = Instant::now();
    let (code, stdout, stderr) = cli(&["keys", "import", "--store", store, "--file", file]).await;
    assert_eq!((code, stdout.trim()), (0, "imported 10000 keys, 0 already present"), "{stderr}");
    println!("10,000 rows imported in {:?}", started.elapsed());
    let (code, stdout, _) = cli(&["keys", "import", "--store", store, "--file", file, "--json"]).await;
    assert_eq!((code, stdout.trim()), (0, r#"{"existing":10000,"imported":0}"#));

    // A bad row anywhere: nothing imported, the line named, the key never shown.
    let mut bad = String::new();
    for n in 0..100 {
        bad.push_str(&format!("{:040x},other-{n}\n", n + 1_000_000));
    }
    bad.push_str("short-key,someone\n");
    let bad_file = dir.0.join("bad.csv");
    std::fs::write(&bad_file, bad).unwrap();
    let (code, _, stderr) = cli(&["keys", "import", "--store", store, "--file", bad_file.to_str().unwrap()]).await;
    assert_eq!(code, 2);
    assert!(
        stderr.trim().ends_with("bad.csv:101: the key must be 16 to 512 characters of A-Z a-z 0-9 - . _ ~ + /"),
        "{stderr}"
    );
    assert!(!stderr.contains("short-key"));
    let (_, stdout, _) = cli(&["keys", "list", "--store", store, "--subject", "other-0", "--json"]).await;
    assert_eq!(stdout.trim(), "[]");

    // JSON lines, with scopes, roles and metadata.
    let jsonl = format!(
        "{}\n{}\n",
        r#"{"key":"jsonlinekey0000000000000000000001","subject":"json-user","scopes":["read"],"roles":["viewer"],"metadata":{"plan":"free"}}"#,
        format_args!(r#"{{"key":"{}","subject":"user-0"}}"#, keys[0]),
    );
    let jsonl_file = dir.0.join("keys.jsonl");
    std::fs::write(&jsonl_file, jsonl).unwrap();
    let (code, stdout, stderr) =
        cli(&["keys", "import", "--store", store, "--file", jsonl_file.to_str().unwrap()]).await;
    assert_eq!((code, stdout.trim()), (0, "imported 1 keys, 1 already present"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drf_token_table_is_imported_into_sqlite() {
    let dir = TempDir::new("import");
    let store = format!("sqlite://{}", dir.0.join("keys.db").display());
    let server = Server::start(common::Adapter::Axum, &[("TOKENGUARD_KEY_STORE", &store)]).await;
    imports_a_token_table(&store, &dir).await;
    let key = format!("Token {:040x}", 4321u64.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let me = server.get("/me", Some(&key)).await;
    assert_eq!((me.status, me.json()["subject"].clone()), (200, serde_json::json!("user-4321")), "{}", me.text);
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drf_token_table_is_imported_into_postgres() {
    let dir = TempDir::new("import-pg");
    let schema = common::PgSchema::create().await;
    imports_a_token_table(&schema.url(), &dir).await;
    schema.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_and_cookie_sources_when_configured() {
    for adapter in adapters() {
        let env = [
            ("TOKENGUARD_KEY_STORE", "memory:"),
            ("TOKENGUARD_API_KEY_HEADER", "X-API-Key"),
            ("TOKENGUARD_JWT_COOKIE", "tg_session"),
        ];
        let server = Server::start(adapter, &env).await;
        let (jwt, key) = (server.printed_credential("Bearer ").unwrap(), server.printed_credential("token=").unwrap());
        let cookie = format!("theme=dark; tg_session={jwt}");
        let me = server.request("GET", "/me", &[("x-api-key", key.as_bytes())], None).await;
        assert_eq!((me.status, me.json()["kind"].clone()), (200, serde_json::json!("api_key")), "{adapter:?}");
        let me = server.request("GET", "/me", &[("cookie", cookie.as_bytes())], None).await;
        assert_eq!((me.status, me.json()["kind"].clone()), (200, serde_json::json!("jwt")), "{adapter:?}");
        let authorization = format!("Bearer {jwt}");
        for two in [
            vec![("x-api-key", key.as_bytes()), ("cookie", cookie.as_bytes())],
            vec![("x-api-key", key.as_bytes()), ("authorization", authorization.as_bytes())],
            vec![("cookie", cookie.as_bytes()), ("authorization", authorization.as_bytes())],
        ] {
            let reply = server.request("GET", "/me", &two, None).await;
            assert_eq!(reply.status, 400, "{adapter:?}");
            assert_eq!(
                reply.www_authenticate,
                error_challenge("Bearer", "invalid_request", "more than one credential")
            );
            assert_eq!(reply.json()["error"], "invalid_request");
        }
        let wrong = server.request("GET", "/me", &[("x-api-key", b"tg_not-a-key".as_slice())], None).await;
        assert_eq!(wrong.status, 401, "{adapter:?}");
        let query = server.get(&format!("/me?access_token={jwt}&api_key={key}"), None).await;
        assert_eq!((query.status, query.www_authenticate), (401, plain_challenges()), "query strings are ignored");

        // Not configured: both sources mean nothing.
        let plain = Server::start(adapter, &[("TOKENGUARD_KEY_STORE", "memory:")]).await;
        for (name, value) in [("x-api-key", key.as_bytes()), ("cookie", cookie.as_bytes())] {
            let reply = plain.request("GET", "/me", &[(name, value)], None).await;
            assert_eq!((reply.status, reply.www_authenticate), (401, plain_challenges()), "{adapter:?} {name}");
        }
    }
}
