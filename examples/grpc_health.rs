//! The tower layer in front of a gRPC service: tonic's standard health
//! service (`grpc.health.v1.Health`), reachable only with a valid token that
//! has scope `read`. Failures are gRPC statuses: `UNAUTHENTICATED` (no or a
//! bad token), `PERMISSION_DENIED` (missing scope), `UNAVAILABLE` (issuer
//! down, nothing cached) — with the same `WWW-Authenticate` as over HTTP.
//!
//! ```sh
//! cargo run --example grpc_health --features tonic   # TOKENGUARD_ISSUER / _AUDIENCE / _BIND as for axum_api
//! ```

use tokenguard::tower::{AuthLayer, RequireScopeLayer};
use tokenguard::{Authenticator, JwksOptions, JwtRules};
use tokenguard_testkit::TestIssuer;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

#[tokio::main]
async fn main() {
    if let Err(message) = run().await {
        eprintln!("error: {message}");
        std::process::exit(2);
    }
}

async fn run() -> Result<(), String> {
    let audience = var("TOKENGUARD_AUDIENCE").unwrap_or_else(|| "tokenguard-example".into());
    let embedded;
    let issuer = match var("TOKENGUARD_ISSUER") {
        Some(issuer) => issuer,
        None => {
            embedded = TestIssuer::start().await;
            let token = embedded.token().audience(audience.as_str()).scope("read").expires_in(24 * 3600).sign();
            println!("development issuer: {}", embedded.issuer());
            println!("token: {token}");
            embedded.issuer().to_owned()
        }
    };
    let authenticator = Authenticator::builder()
        .oidc_issuer(JwtRules::new(issuer, [audience]), JwksOptions::default())
        .build()
        .map_err(|e| format!("configuration: {e}"))?;
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_service_status("", tonic_health::ServingStatus::Serving).await;

    let bind = var("TOKENGUARD_BIND").unwrap_or_else(|| "127.0.0.1:50051".into());
    let listener = tokio::net::TcpListener::bind(&bind).await.map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    println!("listening on http://{}", listener.local_addr().map_err(|e| e.to_string())?);
    Server::builder()
        .layer(AuthLayer::required(authenticator))
        .layer(RequireScopeLayer::new("read"))
        .add_service(health)
        .serve_with_incoming(TcpIncoming::from(listener))
        .await
        .map_err(|e| e.to_string())
}
