//! `tokenguard token …` against a real local issuer. (These tests also make
//! `cargo test --workspace` build the binary the facade's API key tests drive.)

use tokenguard_testkit::{DEFAULT_AUDIENCE, TestIssuer};
use tokio::process::Command;

async fn tokenguard(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_tokenguard")).args(args).output().await.expect("run tokenguard");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_decodes_and_says_unverified() {
    let issuer = TestIssuer::start().await;
    let token = issuer.token().subject("carol").sign();
    let (code, stdout, _) = tokenguard(&["token", "inspect", &token]).await;
    assert_eq!(code, 0);
    let output: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(output["verified"], false);
    assert!(output["warning"].as_str().unwrap().starts_with("UNVERIFIED"));
    assert_eq!(output["claims"]["sub"], "carol");
    assert_eq!(output["header"]["alg"], "RS256");
    assert!(!stdout.contains(token.rsplit('.').next().unwrap()), "the signature is not printed");
    let (code, _, stderr) = tokenguard(&["token", "inspect", "not-a-jwt"]).await;
    assert_eq!((code, stderr.trim()), (1, "error: not a JWT: expected three dot-separated parts"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_checks_signature_and_claims() {
    let issuer = TestIssuer::start().await;
    let valid = issuer.token().scope("read").sign();
    let verify = |token: &str| {
        let args = ["token", "verify", "--issuer", issuer.issuer(), "--audience", DEFAULT_AUDIENCE, token];
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        async move { tokenguard(&args.iter().map(String::as_str).collect::<Vec<_>>()).await }
    };
    let (code, stdout, stderr) = verify(&valid).await;
    assert_eq!(code, 0, "{stderr}");
    let output: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(output["verified"], true);
    assert_eq!(output["principal"]["subject"], "alice");
    assert_eq!(output["principal"]["scopes"], serde_json::json!(["read"]));

    let expired = issuer.token().expires_in(-600).sign();
    let (code, stdout, stderr) = verify(&expired).await;
    assert_eq!((code, stdout.as_str(), stderr.trim()), (1, "", "error: token rejected: token expired"));

    let (code, _, stderr) =
        tokenguard(&["token", "verify", "--issuer", "http://idp.example", "--audience", "a", &valid]).await;
    assert_eq!(code, 2, "{stderr}");
}
