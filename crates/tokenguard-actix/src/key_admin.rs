//! The key administration API and its web console for actix-web: the
//! routes of [`tokenguard_core::key_admin`], answered by a [`KeyAdmin`].
//!
//! The routes read the caller from the [`Authentication`](crate::Authentication)
//! middleware in front of them (any mode); the console page itself is public.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use actix_web::{App, HttpServer};
//! use tokenguard_actix::{Authentication, key_admin};
//! use tokenguard_core::key_admin::KeyAdmin;
//! use tokenguard_core::store::MemoryKeyStore;
//! use tokenguard_core::{ApiKeyVerifier, Authenticator};
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let keys = ApiKeyVerifier::new(Arc::new(MemoryKeyStore::new()), "tg");
//!     // The verifier's own cache: this instance sees its changes at once.
//!     let admin = KeyAdmin::new(Arc::new(keys.cache().clone()), "tg");
//!     let authenticator = Authenticator::builder().api_keys(keys).build().expect("valid configuration");
//!     HttpServer::new(move || {
//!         App::new().configure(key_admin::configure(admin.clone())).wrap(Authentication::deferred(authenticator.clone()))
//!     })
//!     .bind("127.0.0.1:3000")?
//!     .run()
//!     .await
//! }
//! ```

use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use tokenguard_core::key_admin::console::{self, ConsoleAsset};
use tokenguard_core::key_admin::{AdminReply, AdminRequest, KeyAdmin, MAX_BODY_BYTES};
use tokenguard_core::plumbing::AuthOutcome;

/// Registers the API's routes (`/keys`, `/keys/{id}`, `/keys/{id}/rotate`)
/// and the console's (`/admin/keys` and its two files): `App::configure`
/// or `Scope::configure`.
pub fn configure(admin: KeyAdmin) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config
            .app_data(web::Data::new(admin))
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
            .service(
                web::resource("/keys")
                    .route(web::get().to(list))
                    .route(web::head().to(list))
                    .route(web::post().to(create))
                    .default_service(web::to(|| method_not_allowed("GET,HEAD,POST"))),
            )
            .service(
                web::resource("/keys/{id}")
                    .route(web::get().to(show))
                    .route(web::head().to(show))
                    .route(web::patch().to(update))
                    .route(web::delete().to(revoke))
                    .default_service(web::to(|| method_not_allowed("GET,HEAD,PATCH,DELETE"))),
            )
            .service(
                web::resource("/keys/{id}/rotate")
                    .route(web::post().to(rotate))
                    .default_service(web::to(|| method_not_allowed("POST"))),
            );
        for (path, file) in [
            (console::PAGE_PATH, ConsoleAsset::Page),
            (console::SCRIPT_PATH, ConsoleAsset::Script),
            (console::STYLE_PATH, ConsoleAsset::Style),
        ] {
            config.service(
                web::resource(path)
                    .route(web::get().to(move || asset(file)))
                    .route(web::head().to(move || asset(file)))
                    .default_service(web::to(|| method_not_allowed("GET,HEAD"))),
            );
        }
    }
}

/// 405 with the methods the resource has, written as axum writes them.
async fn method_not_allowed(allow: &'static str) -> HttpResponse {
    HttpResponse::MethodNotAllowed().insert_header(("allow", allow)).finish()
}

type Admin = web::Data<KeyAdmin>;

async fn answer(admin: &KeyAdmin, request: &HttpRequest, call: AdminRequest<'_>) -> HttpResponse {
    // The extensions cannot stay borrowed across the store's await.
    let outcome = request.extensions().get::<AuthOutcome>().cloned();
    response(admin.handle(outcome.as_ref(), call).await)
}

/// actix-web's `http` types are not the `http` crate's: the answer is copied over.
fn response(reply: AdminReply) -> HttpResponse {
    let status = StatusCode::from_u16(reply.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    for (name, value) in reply.headers() {
        response.append_header((name.as_str(), value.as_bytes()));
    }
    response.body(reply.body().clone())
}

async fn asset(asset: ConsoleAsset) -> HttpResponse {
    response(asset.reply())
}

async fn create(admin: Admin, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    answer(&admin, &request, AdminRequest::Create { body: &body }).await
}

async fn list(admin: Admin, request: HttpRequest) -> HttpResponse {
    let query = Some(request.query_string()).filter(|query| !query.is_empty());
    answer(&admin, &request, AdminRequest::List { query }).await
}

async fn show(admin: Admin, request: HttpRequest, id: web::Path<String>) -> HttpResponse {
    answer(&admin, &request, AdminRequest::Show { id: &id }).await
}

async fn update(admin: Admin, request: HttpRequest, id: web::Path<String>, body: web::Bytes) -> HttpResponse {
    answer(&admin, &request, AdminRequest::Update { id: &id, body: &body }).await
}

async fn revoke(admin: Admin, request: HttpRequest, id: web::Path<String>) -> HttpResponse {
    answer(&admin, &request, AdminRequest::Revoke { id: &id }).await
}

async fn rotate(admin: Admin, request: HttpRequest, id: web::Path<String>, body: web::Bytes) -> HttpResponse {
    answer(&admin, &request, AdminRequest::Rotate { id: &id, body: &body }).await
}
