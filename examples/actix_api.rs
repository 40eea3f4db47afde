//! The tokenguard example API on actix-web: the whole of CONTRACT.md, with
//! the same behaviour as `axum_api`.
//!
//! ```text
//! cargo run --example actix_api --features actix
//! ```

#[path = "common/mod.rs"]
mod common;

use actix_web::dev::HttpServiceFactory;
use actix_web::{App, Handler, HttpResponse, HttpServer, Responder, web};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use tokenguard::actix::{Authentication, OptionalPrincipal, scope_guard};
use tokenguard::{Authenticator, Principal};

use common::{Recordings, Settings};

#[actix_web::main]
async fn main() {
    common::init_tracing();
    if let Err(message) = run().await {
        eprintln!("error: {message}");
        std::process::exit(2);
    }
}

async fn run() -> Result<(), String> {
    let settings = Settings::from_env()?;
    let metrics = common::install_metrics(&settings)?;
    let setup = common::setup(&settings.config).await?;
    let authenticator = setup.authenticator;
    let recordings = web::Data::new(Recordings::default());
    let ready_state = web::Data::new(authenticator.clone());

    let resource_metadata = setup.resource_metadata;
    let key_admin = common::key_admin(&authenticator);
    let server = HttpServer::new(move || {
        let mut app = App::new()
            .app_data(recordings.clone())
            .app_data(ready_state.clone())
            // The routes; each handler's extractor says who may call it, as
            // in `axum_api`: `Principal`, a scope guard, `OptionalPrincipal`,
            // or none (public).
            .service(get_resource("/health", || async { HttpResponse::Ok().json(json!({ "status": "ok" })) }))
            .service(get_resource("/me", me))
            .service(
                web::resource("/recordings")
                    .route(web::get().to(list_recordings))
                    .route(web::head().to(list_recordings))
                    .route(web::post().to(create_recording))
                    .default_service(web::to(|| method_not_allowed("GET,HEAD,POST"))),
            )
            .service(get_resource("/admin", admin))
            .service(get_resource("/greeting", greeting))
            .service(get_resource("/ready", ready));
        // `/keys…` and the `/admin/keys` console, over the store keys are verified with.
        if let Some(admin) = key_admin.clone() {
            app = app.configure(tokenguard::actix::key_admin::configure(admin));
        }
        if let Some((path, metadata)) = resource_metadata.clone() {
            app =
                    app.service(get_resource(&path, move || {
                        let metadata = metadata.clone();
                        async move {
                            HttpResponse::Ok().insert_header(("cache-control", "public, max-age=3600")).json(metadata)
                        }
                    }));
        }
        // One middleware around the whole app authenticates each request
        // once, before routing, and leaves the verdict to those extractors.
        app.wrap(Authentication::deferred(authenticator.clone()))
    })
    .workers(2)
    .bind(&settings.bind)
    .map_err(|e| format!("TOKENGUARD_BIND: cannot listen on {}: {e}", settings.bind))?;
    if let (Some(bind), Some(metrics)) = (&settings.metrics_bind, metrics) {
        let metrics = web::Data::new(metrics);
        let exporter = HttpServer::new(move || {
            App::new().app_data(metrics.clone()).route(
                "/metrics",
                web::get().to(|metrics: web::Data<PrometheusHandle>| async move { metrics.render() }),
            )
        })
        .workers(1)
        .bind(bind)
        .map_err(|e| format!("TOKENGUARD_METRICS_BIND: cannot listen on {bind}: {e}"))?;
        actix_web::rt::spawn(exporter.run());
    }
    let addr = server.addrs().first().copied().ok_or("no listening address")?;
    let running = server.run();
    common::announce(addr, setup.dev.as_ref());
    running.await.map_err(|e| e.to_string())
}

/// A resource answering GET with `handler` — and HEAD alike, the body left
/// out (RFC 9110 §9.3.2) — and any other method with 405, as axum's
/// method router does.
fn get_resource<F, Args>(path: &str, handler: F) -> impl HttpServiceFactory + use<F, Args>
where
    F: Handler<Args> + Clone,
    Args: actix_web::FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
        .default_service(web::to(|| method_not_allowed("GET,HEAD")))
}

/// 405 with the methods the resource has, written as axum writes them.
async fn method_not_allowed(allow: &'static str) -> HttpResponse {
    HttpResponse::MethodNotAllowed().insert_header(("allow", allow)).finish()
}

/// 200 once every issuer's keys are fetched and the key store answers; else 503.
async fn ready(authenticator: web::Data<Authenticator>) -> HttpResponse {
    let (status, body) = common::readiness(&authenticator);
    match status {
        200 => HttpResponse::Ok().json(body),
        _ => HttpResponse::ServiceUnavailable().insert_header(("retry-after", common::READY_RETRY_AFTER)).json(body),
    }
}

scope_guard! {
    /// Callers with scope `read`.
    struct CanRead = scopes("read");
    /// Callers with scope `write`.
    struct CanWrite = scopes("write");
    /// Callers with scope `admin`.
    struct Administrator = scopes("admin");
}

async fn me(principal: Principal) -> HttpResponse {
    HttpResponse::Ok().json(principal)
}

async fn list_recordings(_: CanRead, recordings: web::Data<Recordings>) -> HttpResponse {
    HttpResponse::Ok().json(recordings.list())
}

// The guard comes first: a caller without `write` is answered before the body is read.
async fn create_recording(_: CanWrite, recordings: web::Data<Recordings>, body: web::Bytes) -> HttpResponse {
    match recordings.create(&body) {
        Ok(created) => HttpResponse::Created().json(created),
        Err(error) => HttpResponse::BadRequest().json(error),
    }
}

async fn admin(_: Administrator) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok", "admin": true }))
}

async fn greeting(OptionalPrincipal(principal): OptionalPrincipal) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "subject": principal.as_ref().map(Principal::subject) }))
}
