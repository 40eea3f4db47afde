//! What an operator sees: one `tokenguard.authenticate` span per
//! authentication with what was decided, an event per key fetch naming the
//! issuer — and never a credential, in any field.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue, Method, Uri};
use tokenguard_core::plumbing::RequestView;
use tokenguard_core::store::{ApiKeyRecord, ChangedBy};
use tokenguard_core::{ApiKeyVerifier, Authenticator, JwksOptions, JwtRules, KeyStore, MemoryKeyStore, Scopes, apikey};
use tokenguard_testkit::{DEFAULT_AUDIENCE, TestIssuer};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

type Fields = BTreeMap<String, String>;

/// Every span (name and fields, as recorded so far) and every event seen.
#[derive(Clone, Default)]
struct Captured {
    spans: Arc<Mutex<Vec<(u64, String, Fields)>>>,
    events: Arc<Mutex<Vec<Fields>>>,
}

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Captured {
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut fields = Fields::new();
        attributes.record(&mut Collect(&mut fields));
        let name = attributes.metadata().name().to_owned();
        self.spans.lock().unwrap().push((id.into_u64(), name, fields));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut spans = self.spans.lock().unwrap();
        if let Some((_, _, fields)) = spans.iter_mut().rev().find(|(span, _, _)| *span == id.into_u64()) {
            values.record(&mut Collect(fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::new();
        event.record(&mut Collect(&mut fields));
        self.events.lock().unwrap().push(fields);
    }
}

impl Captured {
    /// The fields of the last `tokenguard.authenticate` span.
    fn last_authentication(&self) -> Fields {
        let spans = self.spans.lock().unwrap();
        let last = spans.iter().rev().find(|(_, name, _)| name == "tokenguard.authenticate");
        last.map(|(_, _, fields)| fields.clone()).expect("an authentication span")
    }

    fn everything(&self) -> String {
        format!("{:?}{:?}", self.spans.lock().unwrap(), self.events.lock().unwrap())
    }
}

fn headers(authorization: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(value) = authorization {
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
    }
    headers
}

fn expect(fields: &Fields, wanted: &[(&str, &str)]) {
    for (name, value) in wanted {
        assert_eq!(fields.get(*name).map(String::as_str), Some(*value), "{name} in {fields:?}");
    }
}

#[path = "support/down.rs"]
mod down;
use down::Down;

#[tokio::test]
async fn every_authentication_is_one_span_that_names_no_credential() {
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(captured.clone()));

    let issuer = TestIssuer::start().await;
    let store = Arc::new(MemoryKeyStore::default());
    let key = apikey::generate("tg");
    store
        .insert(
            ApiKeyRecord::for_key(&key, "svc", Scopes::from_space_separated("read"), None, None),
            &ChangedBy::now("test"),
        )
        .await
        .unwrap();
    let authenticator = Authenticator::builder()
        .oidc_issuer(JwtRules::new(issuer.issuer(), [DEFAULT_AUDIENCE]), JwksOptions::default())
        .api_keys(ApiKeyVerifier::new(store, "tg"))
        .build()
        .unwrap();
    let (method, uri) = (Method::GET, Uri::from_static("/recordings"));
    let token = issuer.token().sign();
    let forged = format!("{}x", &token[..token.len() - 1]);
    let secrets = [token.clone(), forged.clone(), key.expose().to_owned()];

    let jwt = headers(Some(&format!("Bearer {token}")));
    let view = RequestView::from_http(&method, &uri, &jwt);
    assert!(authenticator.authenticate_cached(&view).is_none(), "not verified yet");
    assert!(authenticator.authenticate(&view).await.principal().is_some());
    let issuer_url = issuer.issuer().to_owned();
    expect(
        &captured.last_authentication(),
        &[
            ("cached", "false"),
            ("scheme", "Bearer"),
            ("outcome", "authenticated"),
            ("kind", "jwt"),
            ("issuer", &issuer_url),
        ],
    );
    let fetched = captured.events.lock().unwrap().iter().any(|event| {
        event.get("message").is_some_and(|message| message == "fetched signing keys")
            && event.get("source").is_some_and(|source| source.contains(&issuer_url))
            && event.get("keys").is_some_and(|keys| keys == "1")
    });
    assert!(fetched, "the key fetch names its issuer: {:?}", captured.events.lock().unwrap());

    assert!(authenticator.authenticate_cached(&view).is_some());
    expect(&captured.last_authentication(), &[("cached", "true"), ("outcome", "authenticated"), ("kind", "jwt")]);

    let api_key = headers(Some(&format!("Token token={}", key.expose())));
    let view = RequestView::from_http(&method, &uri, &api_key);
    assert!(authenticator.authenticate(&view).await.principal().is_some());
    expect(&captured.last_authentication(), &[("scheme", "Token"), ("outcome", "authenticated"), ("kind", "api_key")]);

    let anonymous = headers(None);
    assert!(authenticator.authenticate_cached(&RequestView::from_http(&method, &uri, &anonymous)).is_some());
    expect(&captured.last_authentication(), &[("cached", "true"), ("outcome", "anonymous")]);

    let bad = headers(Some(&format!("Bearer {forged}")));
    assert!(authenticator.authenticate(&RequestView::from_http(&method, &uri, &bad)).await.principal().is_none());
    expect(
        &captured.last_authentication(),
        &[("cached", "false"), ("scheme", "Bearer"), ("outcome", "refused"), ("reason", "invalid signature")],
    );

    let malformed = headers(Some(&format!("Bearer {token} extra")));
    let refused = authenticator.authenticate_cached(&RequestView::from_http(&method, &uri, &malformed));
    assert!(refused.is_some_and(|outcome| outcome.error().is_some()), "malformed: decided without I/O");
    expect(
        &captured.last_authentication(),
        &[("cached", "true"), ("outcome", "refused"), ("reason", "unexpected fields after the token")],
    );

    // The warnings of a store that goes down and an issuer that fails name neither.
    let down = Authenticator::builder().api_keys(ApiKeyVerifier::new(Arc::new(Down), "tg")).build().unwrap();
    let outcome = down.authenticate(&RequestView::from_http(&method, &uri, &api_key)).await;
    assert!(matches!(outcome.error(), Some(tokenguard_core::AuthError::Unavailable { .. })));
    expect(&captured.last_authentication(), &[("outcome", "refused"), ("reason", "the key store is unavailable")]);
    let warned = captured.events.lock().unwrap().iter().any(|event| {
        event.get("message").is_some_and(|message| message.starts_with("API key store unavailable"))
            && event.get("error").is_some_and(|error| error.contains("connection refused"))
    });
    assert!(warned, "the outage is logged: {:?}", captured.events.lock().unwrap());
    let mut failing = TestIssuer::start().await;
    let failing_token = failing.token().sign();
    failing.stop().await;
    let unreachable = Authenticator::builder()
        .oidc_issuer(JwtRules::new(failing.issuer(), [DEFAULT_AUDIENCE]), JwksOptions::default())
        .build()
        .unwrap();
    let failing_jwt = headers(Some(&format!("Bearer {failing_token}")));
    assert!(unreachable.authenticate(&RequestView::from_http(&method, &uri, &failing_jwt)).await.error().is_some());
    let failed = captured.events.lock().unwrap().iter().any(|event| {
        event.get("message").is_some_and(|message| message == "could not fetch signing keys")
            && event.get("source").is_some_and(|source| source.contains(failing.issuer()))
    });
    assert!(failed, "the failed fetch names its issuer");
    let secrets: Vec<String> = secrets.into_iter().chain([failing_token]).collect();

    let everything = captured.everything();
    for secret in &secrets {
        assert!(!everything.contains(secret.as_str()), "a credential reached the traces");
        let tail = &secret[secret.len() - 16..];
        assert!(!everything.contains(tail), "part of a credential reached the traces");
    }
}
