//! The key administration API and its web console as an axum [`Router`]
//! (feature `key-admin`): the routes of [`tokenguard_core::key_admin`],
//! answered by a [`KeyAdmin`].
//!
//! The routes read the caller from the [`AuthLayer`](crate::AuthLayer) in
//! front of them (any mode); the console page itself is public.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use axum::Router;
//! use tokenguard_core::key_admin::KeyAdmin;
//! use tokenguard_core::store::MemoryKeyStore;
//! use tokenguard_core::{ApiKeyVerifier, Authenticator};
//! use tokenguard_tower::{AuthLayer, key_admin};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let keys = ApiKeyVerifier::new(Arc::new(MemoryKeyStore::new()), "tg");
//! // The verifier's own cache: this instance sees its changes at once.
//! let admin = KeyAdmin::new(Arc::new(keys.cache().clone()), "tg");
//! let authenticator = Authenticator::builder().api_keys(keys).build()?;
//! let app: Router = Router::new()
//!     .merge(key_admin::router(admin))
//!     .layer(AuthLayer::deferred(authenticator));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Extension, Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use tokenguard_core::key_admin::console::{self, ConsoleAsset};
use tokenguard_core::key_admin::{AdminRequest, KeyAdmin, MAX_BODY_BYTES};
use tokenguard_core::plumbing::AuthOutcome;

/// The API's routes (`/keys`, `/keys/{id}`, `/keys/{id}/rotate`) and the
/// console's (`/admin/keys` and its two files), to `merge` or `nest` into
/// an application.
pub fn router<S: Clone + Send + Sync + 'static>(admin: KeyAdmin) -> Router<S> {
    Router::new()
        .route("/keys", get(list).post(create))
        .route("/keys/{id}", get(show).patch(update).delete(revoke))
        .route("/keys/{id}/rotate", post(rotate))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .route(console::PAGE_PATH, get(|| asset(ConsoleAsset::Page)))
        .route(console::SCRIPT_PATH, get(|| asset(ConsoleAsset::Script)))
        .route(console::STYLE_PATH, get(|| asset(ConsoleAsset::Style)))
        .with_state(Arc::new(admin))
}

type Admin = State<Arc<KeyAdmin>>;
type Outcome = Option<Extension<AuthOutcome>>;

async fn answer(admin: &KeyAdmin, outcome: Outcome, request: AdminRequest<'_>) -> Response {
    let outcome = outcome.map(|Extension(outcome)| outcome);
    admin.handle(outcome.as_ref(), request).await.into_http(Body::from)
}

async fn asset(asset: ConsoleAsset) -> Response {
    asset.reply().into_http(Body::from)
}

async fn create(State(admin): Admin, outcome: Outcome, body: Bytes) -> Response {
    answer(&admin, outcome, AdminRequest::Create { body: &body }).await
}

async fn list(State(admin): Admin, outcome: Outcome, RawQuery(query): RawQuery) -> Response {
    answer(&admin, outcome, AdminRequest::List { query: query.as_deref() }).await
}

async fn show(State(admin): Admin, outcome: Outcome, Path(id): Path<String>) -> Response {
    answer(&admin, outcome, AdminRequest::Show { id: &id }).await
}

async fn update(State(admin): Admin, outcome: Outcome, Path(id): Path<String>, body: Bytes) -> Response {
    answer(&admin, outcome, AdminRequest::Update { id: &id, body: &body }).await
}

async fn revoke(State(admin): Admin, outcome: Outcome, Path(id): Path<String>) -> Response {
    answer(&admin, outcome, AdminRequest::Revoke { id: &id }).await
}

async fn rotate(State(admin): Admin, outcome: Outcome, Path(id): Path<String>, body: Bytes) -> Response {
    answer(&admin, outcome, AdminRequest::Rotate { id: &id, body: &body }).await
}
