//! Credential sources besides `Authorization`: a header that carries API
//! keys only, and a cookie that carries a JWT — each read only when
//! configured, and never two credentials in one request.

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use tokenguard_core::plumbing::{AuthOutcome, HeaderLookup, RequestView};
use tokenguard_core::store::{ApiKeyRecord, ChangedBy};
use tokenguard_core::{
    ApiKeyVerifier, AuthError, Authenticator, ConfigError, JwksOptions, JwtRules, KeyStore, MemoryKeyStore, Scopes,
    Secret, apikey,
};
use tokenguard_testkit::TestIssuer;

struct Setup {
    key: Secret,
    jwt: String,
    store: Arc<MemoryKeyStore>,
    issuer: TestIssuer,
}

async fn setup() -> Setup {
    let store = Arc::new(MemoryKeyStore::default());
    let key = apikey::generate("tg");
    let record = ApiKeyRecord::for_key(&key, "svc", Scopes::from_space_separated("read"), None, None);
    store.insert(record, &ChangedBy::now("test")).await.unwrap();
    let issuer = TestIssuer::for_audience("api").await;
    let jwt = issuer.token().subject("alice").sign();
    Setup { key, jwt, store, issuer }
}

fn authenticator(setup: &Setup, header: Option<&str>, cookie: Option<&str>) -> Authenticator {
    let mut builder = Authenticator::builder()
        .api_keys(ApiKeyVerifier::new(setup.store.clone(), "tg"))
        .oidc_issuer(JwtRules::new(setup.issuer.issuer(), ["api"]), JwksOptions::default());
    if let Some(header) = header {
        builder = builder.api_key_header(header);
    }
    if let Some(cookie) = cookie {
        builder = builder.jwt_cookie(cookie);
    }
    builder.build().unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
    }
    headers
}

/// Through the `http` view, and through the view another framework's
/// adapter builds: both must decide alike.
async fn both_views(authenticator: &Authenticator, headers: &HeaderMap) -> AuthOutcome {
    let (method, uri) = (Method::GET, Uri::from_static("/me"));
    let http = authenticator.authenticate(&RequestView::from_http(&method, &uri, headers)).await;
    let lookup = Lookup(headers.clone());
    let values = |name| headers.get_all(name).iter().map(HeaderValue::as_bytes).collect::<Vec<_>>();
    let parts =
        RequestView::new("GET", None, None, "/me", values("authorization"), values("dpop")).with_headers(&lookup);
    let other = authenticator.authenticate(&parts).await;
    assert_eq!(format!("{http:?}"), format!("{other:?}"), "the two views disagree");
    // And the synchronous path, once verified, answers the same from the cache.
    if let Some(cached) = authenticator.authenticate_cached(&RequestView::from_http(&method, &uri, headers)) {
        assert_eq!(format!("{cached:?}"), format!("{http:?}"));
    }
    http
}

struct Lookup(HeaderMap);

impl HeaderLookup for Lookup {
    fn values<'s>(&'s self, name: &str) -> Box<dyn Iterator<Item = &'s [u8]> + 's> {
        Box::new(self.0.get_all(name).iter().map(HeaderValue::as_bytes))
    }
}

fn subject(outcome: &AuthOutcome) -> Option<&str> {
    outcome.principal().map(|principal| principal.subject())
}

#[tokio::test]
async fn an_api_key_header_is_read_when_configured() {
    let setup = setup().await;
    let key = setup.key.expose();
    let configured = authenticator(&setup, Some("X-API-Key"), None);
    for _ in 0..2 {
        assert_eq!(subject(&both_views(&configured, &headers(&[("x-api-key", key)])).await), Some("svc"));
    }
    // The whole value is the key; it is an API key, never a JWT.
    let jwt_in_header = both_views(&configured, &headers(&[("x-api-key", &setup.jwt)])).await;
    assert_eq!(jwt_in_header.error(), Some(&AuthError::InvalidToken("unknown API key")));
    let spaced = both_views(&configured, &headers(&[("x-api-key", &format!("Token {key}"))])).await;
    assert_eq!(spaced.error(), Some(&AuthError::InvalidRequest("token contains illegal characters")));
    let twice = both_views(&configured, &headers(&[("x-api-key", key), ("x-api-key", key)])).await;
    assert_eq!(twice.error(), Some(&AuthError::InvalidRequest("the API key header is repeated")));
    let with_authorization = headers(&[("x-api-key", key), ("authorization", &format!("Bearer {}", setup.jwt))]);
    let two = both_views(&configured, &with_authorization).await;
    assert_eq!(two.error(), Some(&AuthError::InvalidRequest("more than one credential")));
    // Not configured: the header means nothing.
    let plain = authenticator(&setup, None, None);
    let ignored = both_views(&plain, &headers(&[("x-api-key", key)])).await;
    assert!(ignored.principal().is_none() && ignored.error().is_none(), "{ignored:?}");
}

#[tokio::test]
async fn a_jwt_cookie_is_read_when_configured() {
    let setup = setup().await;
    let configured = authenticator(&setup, None, Some("tg_session"));
    let cookie = format!("theme=dark; tg_session={}; other=1", setup.jwt);
    for _ in 0..2 {
        assert_eq!(subject(&both_views(&configured, &headers(&[("cookie", &cookie)])).await), Some("alice"));
    }
    let quoted = format!("tg_session=\"{}\"", setup.jwt);
    assert_eq!(subject(&both_views(&configured, &headers(&[("cookie", &quoted)])).await), Some("alice"));
    // A JWT only: an API key in the cookie is refused.
    let key_cookie = format!("tg_session={}", setup.key.expose());
    let refused = both_views(&configured, &headers(&[("cookie", &key_cookie)])).await;
    assert_eq!(refused.error(), Some(&AuthError::InvalidToken("the token cookie does not hold a JWT")));
    let two = headers(&[("cookie", &cookie), ("authorization", &format!("Token {}", setup.key.expose()))]);
    assert_eq!(
        both_views(&configured, &two).await.error(),
        Some(&AuthError::InvalidRequest("more than one credential"))
    );
    let repeated = headers(&[("cookie", &cookie), ("cookie", &format!("tg_session={}", setup.jwt))]);
    let refused = both_views(&configured, &repeated).await;
    assert_eq!(refused.error(), Some(&AuthError::InvalidRequest("the token cookie is repeated")));
    // Not configured: cookies mean nothing.
    let plain = authenticator(&setup, None, None);
    let ignored = both_views(&plain, &headers(&[("cookie", &cookie)])).await;
    assert!(ignored.principal().is_none() && ignored.error().is_none(), "{ignored:?}");
}

#[tokio::test]
async fn header_and_cookie_together_are_two_credentials() {
    let setup = setup().await;
    let configured = authenticator(&setup, Some("X-API-Key"), Some("tg_session"));
    let both = headers(&[("x-api-key", setup.key.expose()), ("cookie", &format!("tg_session={}", setup.jwt))]);
    assert_eq!(
        both_views(&configured, &both).await.error(),
        Some(&AuthError::InvalidRequest("more than one credential"))
    );
}

#[test]
fn misnamed_sources_are_configuration_errors() {
    let build = |header: Option<&str>, cookie: Option<&str>| {
        let mut builder = Authenticator::builder().api_keys(ApiKeyVerifier::new(Arc::new(MemoryKeyStore::new()), "tg"));
        if let Some(header) = header {
            builder = builder.api_key_header(header);
        }
        if let Some(cookie) = cookie {
            builder = builder.jwt_cookie(cookie);
        }
        builder.build().err()
    };
    assert_eq!(build(Some("Authorization"), None), Some(ConfigError::ApiKeyHeader));
    assert_eq!(build(Some("x api key"), None), Some(ConfigError::ApiKeyHeader));
    assert_eq!(build(None, Some("a=b")), Some(ConfigError::JwtCookie));
}
