//! The tokenguard example API on actix-web: the whole of CONTRACT.md, with
//! the same behaviour as `axum_api`.
//!
//! ```text
//! cargo run --example actix_api --features actix
//! ```

#[path = "common/mod.rs"]
mod common;

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::json;
use tokenguard::Principal;
use tokenguard::actix::{Authentication, RequireScope};

use common::{Config, Recordings};

#[actix_web::main]
async fn main() {
    common::init_tracing();
    if let Err(message) = run().await {
        eprintln!("error: {message}");
        std::process::exit(2);
    }
}

async fn run() -> Result<(), String> {
    let config = Config::from_env()?;
    let setup = common::setup(&config).await?;
    let authenticator = setup.authenticator;
    let recordings = web::Data::new(Recordings::default());

    let resource_metadata = setup.resource_metadata;
    let server = HttpServer::new(move || {
        let required = || Authentication::required(authenticator.clone());
        let metadata = resource_metadata.clone();
        let metadata_path = metadata
            .as_ref()
            .map_or_else(|| "/.well-known/oauth-protected-resource".to_owned(), |(path, _)| path.clone());
        App::new()
            .route(
                &metadata_path,
                web::get().to(move || {
                    let metadata = metadata.clone();
                    async move {
                        match metadata {
                            Some((_, metadata)) => HttpResponse::Ok()
                                .insert_header(("cache-control", "public, max-age=3600"))
                                .json(metadata),
                            None => HttpResponse::NotFound().finish(),
                        }
                    }
                }),
            )
            .app_data(recordings.clone())
            .route("/health", web::get().to(|| async { HttpResponse::Ok().json(json!({ "status": "ok" })) }))
            .service(web::resource("/me").wrap(required()).route(web::get().to(me)))
            .service(
                web::resource("/recordings")
                    .wrap(required())
                    .route(web::get().to(list_recordings).wrap(RequireScope::new("read")))
                    .route(web::post().to(create_recording).wrap(RequireScope::new("write"))),
            )
            .service(
                web::resource("/admin").wrap(required()).route(web::get().to(admin).wrap(RequireScope::new("admin"))),
            )
            .service(
                web::resource("/greeting")
                    .wrap(Authentication::optional(authenticator.clone()))
                    .route(web::get().to(greeting)),
            )
    })
    .workers(2)
    .bind(&config.bind)
    .map_err(|e| format!("cannot listen on {}: {e}", config.bind))?;
    let addr = server.addrs().first().copied().ok_or("no listening address")?;
    let running = server.run();
    common::announce(addr, setup.dev.as_ref());
    running.await.map_err(|e| e.to_string())
}

async fn me(principal: Principal) -> HttpResponse {
    HttpResponse::Ok().json(principal)
}

async fn list_recordings(recordings: web::Data<Recordings>) -> HttpResponse {
    HttpResponse::Ok().json(recordings.list())
}

async fn create_recording(recordings: web::Data<Recordings>, body: web::Bytes) -> HttpResponse {
    match recordings.create(&body) {
        Ok(created) => HttpResponse::Created().json(created),
        Err(error) => HttpResponse::BadRequest().json(error),
    }
}

async fn admin() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok", "admin": true }))
}

async fn greeting(principal: Option<Principal>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "subject": principal.as_ref().map(Principal::subject) }))
}
