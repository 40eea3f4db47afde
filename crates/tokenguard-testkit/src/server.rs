//! The issuer's HTTP endpoints.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Form;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::token::{now, random_token, sign_claims};
use crate::{
    Fault, INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET, PUBLIC_CLIENT_ID, Shared, TOKEN_CLIENT_ID,
    TOKEN_CLIENT_SECRET, USER, lock,
};

pub(crate) fn spawn(listener: TcpListener, shared: Arc<Shared>) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let router = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/introspect", post(introspect))
        .route("/token", post(token))
        .with_state(shared);
    let (shutdown, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    (shutdown, task)
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Response {
    shared.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    let issuer = &shared.issuer;
    let document = json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/jwks"),
        "token_endpoint": format!("{issuer}/token"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "PS256", "ES256", "EdDSA"],
    });
    answer(&shared, document, None).await
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let mut keys: Vec<Value> = lock(&shared.keys).iter().map(|key| key.jwk()).collect();
    keys.extend(lock(&shared.extra_jwks).iter().cloned());
    let cache_control = lock(&shared.cache_control).clone();
    answer(&shared, json!({ "keys": keys }), cache_control).await
}

/// RFC 7662: the client authenticates with HTTP Basic or form parameters;
/// an unknown, expired or revoked token is `{"active": false}`.
async fn introspect(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    shared.introspections.fetch_add(1, Ordering::SeqCst);
    let param = |name: &str| form.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    if !client_authenticated(&headers, &form, INTROSPECTION_CLIENT_ID, INTROSPECTION_CLIENT_SECRET) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let claims = param("token").and_then(|token| lock(&shared.opaque).get(token).cloned());
    let document = match claims {
        Some(mut claims) if claims.get("exp").and_then(Value::as_i64).is_none_or(|exp| exp > now()) => {
            claims.insert("active".into(), Value::Bool(true));
            Value::Object(claims)
        }
        _ => json!({ "active": false }),
    };
    answer(&shared, document, None).await
}

/// RFC 6749 §2.3.1: HTTP Basic, or `client_id` and `client_secret` in the form.
fn client_authenticated(headers: &HeaderMap, form: &[(String, String)], id: &str, secret: &str) -> bool {
    let param = |name: &str| form.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| STANDARD.decode(encoded).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok());
    match basic {
        Some(pair) => pair == format!("{id}:{secret}"),
        None => param("client_id") == Some(id) && param("client_secret") == Some(secret),
    }
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({ "error": error }))).into_response()
}

/// The parameters of a token request: a form (RFC 6749), or a JSON object
/// of strings (servers such as Camdram's take one).
fn token_params(headers: &HeaderMap, body: &[u8]) -> Option<Vec<(String, String)>> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("");
    if content_type.starts_with("application/json") {
        let object: serde_json::Map<String, Value> = serde_json::from_slice(body).ok()?;
        return object.into_iter().map(|(name, value)| Some((name, value.as_str()?.to_owned()))).collect();
    }
    Some(url::form_urlencoded::parse(body).into_owned().collect())
}

/// RFC 6749 token endpoint: `client_credentials` (the client is the
/// subject), `password` (user [`USER`]) and `refresh_token` (rotated on
/// every use, `refresh_expires_in` given), for [`TOKEN_CLIENT_ID`] and the
/// public [`PUBLIC_CLIENT_ID`] (no client credentials grant); forms or
/// JSON. Access tokens are JWTs for `resource` (default the issuer's
/// audience) with the requested `scope` (default `read`).
async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    shared.token_requests.fetch_add(1, Ordering::SeqCst);
    let Some(form) = token_params(&headers, &body) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let param = |name: &str| form.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    *lock(&shared.grants).entry(param("grant_type").unwrap_or_default().to_owned()).or_default() += 1;
    let public = param("client_id") == Some(PUBLIC_CLIENT_ID) && param("client_secret").is_none();
    let public = public && !headers.contains_key(header::AUTHORIZATION);
    if !public && !client_authenticated(&headers, &form, TOKEN_CLIENT_ID, TOKEN_CLIENT_SECRET) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let client_id = if public { PUBLIC_CLIENT_ID } else { TOKEN_CLIENT_ID };
    let now = now();
    let password = lock(&shared.user_password).clone();
    let (subject, scope, refresh) = match param("grant_type") {
        Some("client_credentials") if public => return oauth_error(StatusCode::BAD_REQUEST, "unauthorized_client"),
        Some("client_credentials") => (TOKEN_CLIENT_ID.to_owned(), param("scope").unwrap_or("read").to_owned(), false),
        Some("password") if param("username") == Some(USER) && param("password") == Some(password.as_str()) => {
            (USER.to_owned(), param("scope").unwrap_or("read").to_owned(), true)
        }
        Some("password") => return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant"),
        Some("refresh_token") => match param("refresh_token").and_then(|t| lock(&shared.refresh_tokens).remove(t)) {
            Some((subject, scope, expires_at)) if now < expires_at => (subject, scope, true),
            _ => return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant"),
        },
        _ => return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    };
    let ttl = shared.token_ttl.load(Ordering::SeqCst);
    let audience = lock(&shared.audience).clone();
    let mut claims = serde_json::Map::new();
    for (name, value) in [
        ("iss", json!(shared.issuer)),
        ("sub", json!(subject)),
        ("aud", json!(param("resource").unwrap_or(&audience))),
        ("iat", json!(now)),
        ("exp", json!(now + ttl)),
        ("client_id", json!(client_id)),
        ("scope", json!(scope)),
        ("jti", json!(random_token())),
    ] {
        claims.insert(name.to_owned(), value);
    }
    let kid = lock(&shared.current_kid).clone();
    let mut document = json!({
        "access_token": sign_claims(&shared, &kid, serde_json::Map::new(), &claims),
        "token_type": "Bearer", "expires_in": ttl, "scope": scope,
    });
    if refresh {
        let refresh_token = random_token();
        let refresh_ttl = shared.refresh_ttl.load(Ordering::SeqCst);
        lock(&shared.refresh_tokens).insert(refresh_token.clone(), (subject, scope, now + refresh_ttl));
        document["refresh_token"] = Value::String(refresh_token);
        document["refresh_expires_in"] = json!(refresh_ttl);
    }
    answer(&shared, document, None).await
}

async fn answer(shared: &Shared, document: Value, cache_control: Option<String>) -> Response {
    let fault = lock(&shared.fault).clone();
    match fault {
        Fault::None => {}
        Fault::Status(status) => {
            return StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR).into_response();
        }
        Fault::Html => {
            return ([(header::CONTENT_TYPE, "text/html")], "<html><body>Maintenance</body></html>").into_response();
        }
        Fault::Garbage => {
            return ([(header::CONTENT_TYPE, "application/json")], "{\"keys\": [").into_response();
        }
        Fault::Slow(delay) => tokio::time::sleep(delay).await,
        Fault::Oversized(bytes) => {
            let padding = "x".repeat(bytes);
            return axum::Json(json!({ "keys": [], "padding": padding })).into_response();
        }
    }
    let mut response = axum::Json(document).into_response();
    if let Some(value) = cache_control.and_then(|v| HeaderValue::from_str(&v).ok()) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}
