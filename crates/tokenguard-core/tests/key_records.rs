//! Key records that evolve — update, rotation with a grace period, bulk
//! import, listing pages, the audit log — on every store: memory, a real
//! SQLite file and a private PostgreSQL server.
#![cfg(feature = "sqlite")]

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokenguard_core::apikey;
use tokenguard_core::store::{
    ApiKeyRecord, ChangedBy, ImportSummary, KeyCursor, KeyQuery, KeyUpdate, MemoryKeyStore, SqliteKeyStore,
};
use tokenguard_core::time::ManualClock;
use tokenguard_core::{ApiKeyVerifier, AuthError, Authenticator, Credential, KeyStore, Scheme, Scopes, Secret};

fn by(actor: &str) -> ChangedBy {
    ChangedBy::now(actor)
}

fn record(key: &Secret, subject: &str, scopes: &str) -> ApiKeyRecord {
    ApiKeyRecord::for_key(key, subject, Scopes::from_space_separated(scopes), None, None)
}

async fn sqlite_store(name: &str) -> (SqliteKeyStore, std::path::PathBuf) {
    let path = std::env::temp_dir().join(format!("tg-records-{name}-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let store = SqliteKeyStore::open(&format!("sqlite://{}", path.display())).await.expect("open");
    (store, path)
}

/// Everything a store must do for key administration.
async fn administers_keys(store: Arc<dyn KeyStore>) {
    let alice_key = apikey::generate("tg");
    let alice = record(&alice_key, "alice", "read").with_metadata(json!({"plan": "pro"}).as_object().unwrap().clone());
    assert!(store.insert(alice.clone(), &by("cli:ops")).await.unwrap());
    assert!(!store.insert(alice.clone(), &by("cli:ops")).await.unwrap(), "a second insert of one key");
    let found = store.find_by_id(&alice.id).await.unwrap().expect("found by id");
    assert_eq!(found, alice);

    // Pages in creation order, with a subject filter.
    let mut later = Vec::new();
    for (n, subject) in ["bob", "alice", "bob"].into_iter().enumerate() {
        let mut other = record(&apikey::generate("tg"), subject, "read");
        other.created_at = alice.created_at + 1 + n as u64;
        store.insert(other.clone(), &by("cli:ops")).await.unwrap();
        later.push(other);
    }
    let first = store.list(&KeyQuery { limit: 2, ..KeyQuery::all() }).await.unwrap();
    assert_eq!(first.iter().map(|r| &r.id).collect::<Vec<_>>(), [&alice.id, &later[0].id]);
    let after = KeyCursor::parse(&KeyCursor::after(&first[1]).to_string()).unwrap();
    let rest = store.list(&KeyQuery { after: Some(after), ..KeyQuery::all() }).await.unwrap();
    assert_eq!(rest.iter().map(|r| &r.id).collect::<Vec<_>>(), [&later[1].id, &later[2].id]);
    let bobs = store.list(&KeyQuery { subject: Some("bob".into()), ..KeyQuery::all() }).await.unwrap();
    assert_eq!(bobs.iter().map(|r| &r.id).collect::<Vec<_>>(), [&later[0].id, &later[2].id]);

    // Update: only the given fields change.
    let update = KeyUpdate {
        scopes: Some(Scopes::from_space_separated("read write")),
        roles: Some(Scopes::from_space_separated("editor")),
        ..KeyUpdate::default()
    };
    let updated = store.update(&alice.id, &update, &by("jwt:admin")).await.unwrap().expect("updated");
    assert_eq!((updated.scopes.as_str(), updated.roles.as_str()), ("read write", "editor"));
    assert_eq!(updated.metadata, alice.metadata, "metadata untouched");
    assert_eq!(store.find_by_digest(&alice.digest).await.unwrap(), Some(updated.clone()));
    assert_eq!(store.update("0000000000000000", &update, &by("x")).await.unwrap(), None);

    // Rotation: a successor, the old key revoked from the end of the grace on.
    let rotated_by = by("api_key:alice");
    let next = updated.successor(&apikey::generate("tg"), rotated_by.at);
    let until = rotated_by.at + 3600;
    assert!(store.rotate(next.clone(), until, &rotated_by).await.unwrap());
    let old = store.find_by_id(&alice.id).await.unwrap().unwrap();
    assert_eq!(old.revoked_at, Some(until));
    let new = store.find_by_id(&next.id).await.unwrap().unwrap();
    assert_eq!(new.replaces.as_deref(), Some(alice.id.as_str()));
    assert_eq!((new.subject.as_str(), new.scopes.as_str(), new.roles.as_str()), ("alice", "read write", "editor"));
    assert_eq!(new.metadata, alice.metadata);

    // Revocation during the grace brings it forward; a revoked key cannot be rotated.
    assert!(store.revoke(&alice.id, &by("cli:ops")).await.unwrap());
    let revoked_at = store.find_by_id(&alice.id).await.unwrap().unwrap().revoked_at.unwrap();
    assert!(revoked_at < until);
    let again = updated.successor(&apikey::generate("tg"), rotated_by.at);
    assert!(!store.rotate(again.clone(), until, &by("cli:ops")).await.unwrap());
    assert_eq!(store.find_by_id(&again.id).await.unwrap(), None, "nothing added");
    assert!(!store.revoke("0000000000000000", &by("cli:ops")).await.unwrap());

    // Import: one transaction, idempotent.
    let keys: Vec<_> = (0..50).map(|n| Secret::new(format!("{n:040x}"))).collect();
    let batch = |keys: &[Secret]| keys.iter().map(|key| record(key, "legacy", "read")).collect::<Vec<_>>();
    let summary = store.import(batch(&keys), &by("cli:ops")).await.unwrap();
    assert_eq!(summary, ImportSummary { imported: 50, existing: 0 });
    let summary = store.import(batch(&keys), &by("cli:ops")).await.unwrap();
    assert_eq!(summary, ImportSummary { imported: 0, existing: 50 });

    // The audit log: who, what, which key, when — never a key.
    let log = store.audit_log(Some(&alice.id)).await.unwrap();
    let actions: Vec<_> = log.iter().map(|entry| (entry.action.as_str(), entry.actor.as_str())).collect();
    assert_eq!(
        actions,
        [("create", "cli:ops"), ("update", "jwt:admin"), ("rotate", "api_key:alice"), ("revoke", "cli:ops")]
    );
    assert!(log[2].detail.as_deref().unwrap().contains(&next.id));
    let everything = store.audit_log(None).await.unwrap();
    // Creates: alice, 3 others, the successor, 50 imported; update, rotate, revoke.
    assert_eq!(everything.len(), 1 + 3 + 1 + 50 + 3, "{everything:#?}");
    let text = format!("{everything:?}");
    for key in [&alice_key, &keys[0]] {
        assert!(!text.contains(key.expose()), "a key in the audit log");
    }
}

#[tokio::test]
async fn memory_store_administers_keys() {
    administers_keys(Arc::new(MemoryKeyStore::new())).await;
}

#[tokio::test]
async fn sqlite_store_administers_keys() {
    let (store, path) = sqlite_store("admin").await;
    administers_keys(Arc::new(store)).await;
    let _ = std::fs::remove_file(path);
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_store_administers_keys() {
    let postgres = tokenguard_testkit::TestPostgres::start().unwrap_or_else(|error| panic!("{error}"));
    let store = tokenguard_core::store::PostgresKeyStore::open(&postgres.url()).await.expect("open");
    administers_keys(Arc::new(store)).await;
}

/// A store made by an earlier version (schema version 2) is migrated, its keys untouched.
#[tokio::test]
async fn an_existing_store_is_migrated_with_its_keys() {
    use sqlx::Connection;
    let path = std::env::temp_dir().join(format!("tg-records-v2-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
    for statement in [
        "CREATE TABLE tokenguard_schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        "CREATE TABLE tokenguard_api_keys (id TEXT PRIMARY KEY, digest BLOB NOT NULL UNIQUE, subject TEXT NOT NULL, \
         scopes TEXT NOT NULL, name TEXT, created_at BIGINT NOT NULL, expires_at BIGINT, revoked_at BIGINT, last_used_at BIGINT)",
        "CREATE TABLE tokenguard_dpop_proofs (id BLOB PRIMARY KEY, expires_at BIGINT NOT NULL)",
        "INSERT INTO tokenguard_schema_migrations VALUES (1, 0), (2, 0)",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&mut connection).await.unwrap();
    }
    let key = Secret::new("0123456789abcdef0123456789abcdef01234567".to_owned());
    let digest = tokenguard_core::apikey::KeyDigest::of(key.expose());
    sqlx::query("INSERT INTO tokenguard_api_keys VALUES ($1, $2, 'legacy', 'read', 'old', 1, NULL, NULL, NULL)")
        .bind(digest.key_id())
        .bind(digest.as_bytes().to_vec())
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();

    let store = SqliteKeyStore::open(&format!("sqlite://{}", path.display())).await.expect("migrated");
    let record = store.find_by_digest(&digest).await.unwrap().expect("kept");
    assert_eq!(
        (record.subject.as_str(), record.scopes.as_str(), record.name.as_deref()),
        ("legacy", "read", Some("old"))
    );
    assert!(record.roles.is_empty() && record.metadata.is_empty() && record.replaces.is_none());
    let update = KeyUpdate { roles: Some(Scopes::from_space_separated("reader")), ..KeyUpdate::default() };
    assert!(store.update(&record.id, &update, &by("cli:ops")).await.unwrap().is_some());
    drop(store);
    let _ = std::fs::remove_file(path);
}

/// Roles and metadata reach the principal; a rotated key works until its
/// grace period ends (on the authenticator's clock), then is refused as revoked.
#[tokio::test]
async fn a_rotated_key_works_until_its_grace_ends() {
    let store: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::new());
    let old_key = apikey::generate("tg");
    let old = record(&old_key, "svc", "read")
        .with_roles(Scopes::from_space_separated("billing"))
        .with_metadata(json!({"tenant": 7}).as_object().unwrap().clone());
    store.insert(old.clone(), &by("cli:ops")).await.unwrap();
    let clock = ManualClock::new();
    let authenticator = Authenticator::builder()
        .api_keys(ApiKeyVerifier::new(store.clone(), "tg"))
        .clock(clock.clock())
        .build()
        .unwrap();
    let verify = |key: &Secret| {
        let (authenticator, key) = (authenticator.clone(), key.expose().to_owned());
        async move { authenticator.verify(Credential::new(Scheme::Token, &key)).await }
    };
    let principal = verify(&old_key).await.unwrap();
    assert!(principal.has_role("billing"));
    assert_eq!(principal.claims()["metadata"], json!({"tenant": 7}));

    let cache = authenticator.api_keys().unwrap().cache();
    let now = clock.clock().unix_seconds();
    let new_key = apikey::generate("tg");
    assert!(cache.rotate(old.successor(&new_key, now), now + 3600, &by("cli:ops")).await.unwrap());
    let inside = verify(&old_key).await.expect("the old key inside the grace period");
    assert_eq!(inside.expires_at(), Some(now + 3600), "the grace end is the principal's expiry");
    let new = verify(&new_key).await.unwrap();
    assert!(new.has_role("billing") && new.subject() == "svc");
    clock.advance(Duration::from_secs(3600));
    assert_eq!(verify(&old_key).await.unwrap_err(), AuthError::InvalidToken("API key revoked"));
    assert!(verify(&new_key).await.is_ok());
}

/// A PostgreSQL store made by an earlier version (schema 2, the change
/// trigger of migrations 1001–1002) is migrated, its keys untouched, and
/// the new trigger announces a change of roles too.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn an_existing_postgres_store_is_migrated_and_announces_role_changes() {
    use sqlx::Connection;
    let postgres = tokenguard_testkit::TestPostgres::start().unwrap_or_else(|error| panic!("{error}"));
    let mut connection = sqlx::PgConnection::connect(&postgres.url()).await.unwrap();
    let key = Secret::new("0123456789abcdef0123456789abcdef01234567".to_owned());
    let digest = tokenguard_core::apikey::KeyDigest::of(key.expose());
    for statement in [
        "CREATE TABLE tokenguard_schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        "CREATE TABLE tokenguard_api_keys (id TEXT PRIMARY KEY, digest BYTEA NOT NULL UNIQUE, subject TEXT NOT NULL, \
         scopes TEXT NOT NULL, name TEXT, created_at BIGINT NOT NULL, expires_at BIGINT, revoked_at BIGINT, last_used_at BIGINT)",
        "CREATE TABLE tokenguard_dpop_proofs (id BYTEA PRIMARY KEY, expires_at BIGINT NOT NULL)",
        "CREATE OR REPLACE FUNCTION tokenguard_api_keys_notify() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF TG_OP = 'DELETE' THEN PERFORM pg_notify('tokenguard_api_keys', encode(OLD.digest, 'hex'));
             ELSE PERFORM pg_notify('tokenguard_api_keys', encode(NEW.digest, 'hex')); END IF;
             RETURN NULL;
         END $$",
        "CREATE TRIGGER tokenguard_api_keys_changed AFTER INSERT OR DELETE OR UPDATE OF digest, subject, scopes, name, \
         expires_at, revoked_at ON tokenguard_api_keys FOR EACH ROW EXECUTE FUNCTION tokenguard_api_keys_notify()",
        "INSERT INTO tokenguard_schema_migrations VALUES (1, 0), (2, 0), (1001, 0), (1002, 0)",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&mut connection).await.unwrap();
    }
    sqlx::query("INSERT INTO tokenguard_api_keys VALUES ($1, $2, 'legacy', 'read', 'old', 1, NULL, NULL, NULL)")
        .bind(digest.key_id())
        .bind(digest.as_bytes().to_vec())
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();

    let store = tokenguard_core::store::PostgresKeyStore::open(&postgres.url()).await.expect("migrated");
    let record = store.find_by_digest(&digest).await.unwrap().expect("kept");
    assert_eq!(
        (record.subject.as_str(), record.scopes.as_str(), record.name.as_deref()),
        ("legacy", "read", Some("old"))
    );
    assert!(record.roles.is_empty() && record.metadata.is_empty());
    let mut changes = store.changes().expect("PostgreSQL pushes changes");
    // The listener reports its (re)connection as an unknown change first.
    let first = tokio::time::timeout(Duration::from_secs(10), changes.recv()).await.expect("connected").unwrap();
    assert_eq!(first, tokenguard_core::store::KeyChange::Unknown);
    // Plain SQL setting roles alone (the store's own UPDATE names every
    // column, which any trigger would see): announced by the new trigger.
    let mut connection = sqlx::PgConnection::connect(&postgres.url()).await.unwrap();
    for statement in [
        "UPDATE tokenguard_api_keys SET roles = 'reader'",
        "UPDATE tokenguard_api_keys SET metadata = '{\"plan\":\"pro\"}'",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&mut connection).await.unwrap();
        let change = tokio::time::timeout(Duration::from_secs(10), changes.recv()).await.expect("announced").unwrap();
        assert_eq!(change, tokenguard_core::store::KeyChange::Key(digest), "{statement}");
    }
    let record = store.find_by_digest(&digest).await.unwrap().unwrap();
    assert_eq!((record.roles.as_str(), record.metadata["plan"].as_str()), ("reader", Some("pro")));
}
