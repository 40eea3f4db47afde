//! The client examples, one per flow real API docs describe, each run as a
//! user would first run it: no setup, against the embedded development
//! issuer and API.

mod common;

use common::run_example;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_example_runs_with_no_setup() {
    for (example, me) in [
        ("client_credentials", r#"GET /me → 200 OK {"subject":"testkit-client","kind":"jwt""#),
        ("password_grant", r#"GET /me → 200 OK {"subject":"alice","kind":"jwt""#),
        ("api_key_client", r#"GET /me → 200 OK {"subject":"reports-service","kind":"api_key""#),
    ] {
        let (code, out, err) = run_example(example, &[]).await;
        assert_eq!(code, 0, "{example}: {out}{err}");
        assert!(out.contains(me), "{example}: {out}");
        assert!(out.contains("GET /recordings → 200 OK []"), "{example}: {out}");
    }
    let (_, out, _) = run_example("client_credentials", &[]).await;
    assert!(out.contains(r#""scopes":["read","user_email","api_write"]"#), "{out}");
    let (_, out, _) = run_example("password_grant", &[]).await;
    assert!(out.contains(r#""client_id":"testkit-public","scopes":["openid","read"]"#), "{out}");
}
