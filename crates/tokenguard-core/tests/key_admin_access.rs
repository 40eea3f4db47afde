//! `KeyAdmin` access chosen by the service: a role instead of a scope, and
//! self-service turned off — decided in process from a real authentication.

use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Method, Uri};
use tokenguard_core::key_admin::{AdminRequest, Grant, KeyAdmin, KeyAdminAccess};
use tokenguard_core::plumbing::{AuthOutcome, RequestView};
use tokenguard_core::store::{ApiKeyRecord, ChangedBy};
use tokenguard_core::{ApiKeyVerifier, Authenticator, KeyStore, MemoryKeyStore, Scopes, apikey};

async fn outcome(authenticator: &Authenticator, key: &str) -> AuthOutcome {
    let mut headers = HeaderMap::new();
    headers.insert(http::header::AUTHORIZATION, HeaderValue::from_str(&format!("Token {key}")).unwrap());
    let (method, uri) = (Method::GET, Uri::from_static("/keys"));
    authenticator.authenticate(&RequestView::from_http(&method, &uri, &headers)).await
}

#[tokio::test]
async fn a_role_can_be_the_admin_grant() {
    let store = Arc::new(MemoryKeyStore::new());
    let mut keys = Vec::new();
    for (subject, scopes, roles) in [("ops", "read", "key-admin"), ("alice", "admin keys", "")] {
        let key = apikey::generate("tg");
        let record = ApiKeyRecord::for_key(&key, subject, Scopes::from_space_separated(scopes), None, None)
            .with_roles(Scopes::from_space_separated(roles));
        store.insert(record, &ChangedBy::now("test")).await.unwrap();
        keys.push(key);
    }
    let verifier = ApiKeyVerifier::new(store, "tg");
    let access = KeyAdminAccess { admin: Grant::Role("key-admin".into()), self_service: None };
    let admin = KeyAdmin::new(Arc::new(verifier.cache().clone()), "tg").access(access);
    let authenticator = Authenticator::builder().api_keys(verifier).build().unwrap();

    let ops = outcome(&authenticator, keys[0].expose()).await;
    let listed = admin.handle(Some(&ops), AdminRequest::List { query: None }).await;
    assert_eq!(listed.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(listed.body()).unwrap();
    assert_eq!(body["keys"].as_array().map(Vec::len), Some(2));

    // Scopes `admin` and `keys` mean nothing here: the role is what counts.
    let alice = outcome(&authenticator, keys[1].expose()).await;
    let refused = admin.handle(Some(&alice), AdminRequest::List { query: None }).await;
    assert_eq!(refused.status(), 403);
    let challenge = refused.headers().find(|(name, _)| *name == http::header::WWW_AUTHENTICATE).unwrap().1;
    assert!(challenge.to_str().unwrap().contains(r#"error="insufficient_scope""#), "{challenge:?}");
    let body: serde_json::Value = serde_json::from_slice(refused.body()).unwrap();
    assert_eq!(body["error_description"], "the credential lacks the required role");

    // No layer in front: a wiring mistake, 500.
    assert_eq!(admin.handle(None, AdminRequest::List { query: None }).await.status(), 500);
}
