//! A tonic gRPC service behind the tower layer (`examples/grpc_health.rs`),
//! called by a real tonic client: authentication failures are gRPC statuses.

mod common;

use common::{Adapter, Server};
use tokenguard_testkit::{Fault, TestIssuer};
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

async fn check(server: &Server, authorization: Option<&str>) -> Result<i32, tonic::Status> {
    let channel = tonic::transport::Endpoint::from_shared(server.base.clone()).expect("URL").connect().await;
    let mut client = HealthClient::new(channel.expect("connect"));
    let mut request = tonic::Request::new(HealthCheckRequest { service: String::new() });
    if let Some(value) = authorization {
        request.metadata_mut().insert("authorization", MetadataValue::try_from(value).expect("ASCII"));
    }
    client.check(request).await.map(|response| response.into_inner().status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_failures_are_grpc_statuses() {
    let issuer = TestIssuer::start().await;
    let server = Server::start(Adapter::Grpc, &[("TOKENGUARD_ISSUER", issuer.issuer())]).await;
    let token = format!("Bearer {}", issuer.token().scope("read").sign());
    assert_eq!(check(&server, Some(&token)).await.expect("serving"), 1, "SERVING");

    let missing = check(&server, None).await.expect_err("no credentials");
    assert_eq!(missing.code(), Code::Unauthenticated);
    assert_eq!(missing.message(), "authentication is required");
    let expired = check(&server, Some(&format!("Bearer {}", issuer.token().expires_in(-3600).sign()))).await;
    let expired = expired.expect_err("expired");
    assert_eq!((expired.code(), expired.message()), (Code::Unauthenticated, "token expired"));
    let challenge = expired.metadata().get("www-authenticate").expect("challenge").to_str().expect("ASCII");
    assert!(challenge.contains(r#"error="invalid_token""#), "{challenge}");

    let no_scope = check(&server, Some(&format!("Bearer {}", issuer.token().scope("write").sign()))).await;
    let no_scope = no_scope.expect_err("lacks read");
    assert_eq!(
        (no_scope.code(), no_scope.message()),
        (Code::PermissionDenied, "the credential lacks the required scope")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_that_is_down_is_unavailable() {
    let issuer = TestIssuer::start().await;
    issuer.set_fault(Fault::Status(500));
    let server = Server::start(Adapter::Grpc, &[("TOKENGUARD_ISSUER", issuer.issuer())]).await;
    let status = check(&server, Some(&format!("Bearer {}", issuer.token().scope("read").sign()))).await;
    let status = status.expect_err("issuer down");
    assert_eq!(status.code(), Code::Unavailable);
    assert!(status.metadata().get("retry-after").is_some());
}
