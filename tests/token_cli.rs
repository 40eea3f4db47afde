//! `tokenguard token get`: an access token for curl, by each grant, from the
//! testkit issuer — the secrets read from standard input, never from argv,
//! and never printed.

mod common;

use common::cli_with_input;
use serde_json::Value;
use tokenguard::testkit::{PUBLIC_CLIENT_ID, TOKEN_CLIENT_ID, TOKEN_CLIENT_SECRET, TestIssuer, USER, USER_PASSWORD};

fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn no_secret(outputs: &[&str]) {
    for output in outputs {
        assert!(!output.contains(USER_PASSWORD) && !output.contains(TOKEN_CLIENT_SECRET), "a secret was printed");
    }
}

#[tokio::test]
async fn token_get_by_every_grant() {
    let issuer = TestIssuer::start().await;
    let url = issuer.issuer().to_owned();

    // Client credentials: the client secret on stdin; the token alone on stdout.
    let args = ["token", "get", "--issuer", &url, "--client-id", TOKEN_CLIENT_ID, "--scope", "user_email api_write"];
    let (code, stdout, stderr) = cli_with_input(&args, &format!("{TOKEN_CLIENT_SECRET}\n")).await;
    assert_eq!(code, 0, "{stderr}");
    let token = stdout.trim();
    assert_eq!(stdout.lines().count(), 1);
    assert_eq!(
        (claims(token)["sub"].clone(), claims(token)["scope"].clone()),
        (TOKEN_CLIENT_ID.into(), "user_email api_write".into())
    );
    no_secret(&[&stdout, &stderr]);

    // Password grant with a public client: the password alone on stdin.
    let args = [
        "token",
        "get",
        "--issuer",
        &url,
        "--client-id",
        PUBLIC_CLIENT_ID,
        "--grant",
        "password",
        "--username",
        USER,
        "--json",
    ];
    let (code, stdout, stderr) = cli_with_input(&args, &format!("{USER_PASSWORD}\n")).await;
    assert_eq!(code, 0, "{stderr}");
    let answer: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(claims(answer["access_token"].as_str().unwrap())["sub"], USER);
    assert_eq!(answer["token_type"], "Bearer");
    let refresh_token = answer["refresh_token"].as_str().expect("a refresh token").to_owned();
    no_secret(&[&stdout, &stderr]);

    // Refresh: the refresh token on stdin.
    let args = ["token", "get", "--issuer", &url, "--client-id", PUBLIC_CLIENT_ID, "--grant", "refresh_token"];
    let (code, stdout, stderr) = cli_with_input(&args, &format!("{refresh_token}\n")).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(claims(stdout.trim())["sub"], USER);
    assert!(!stdout.contains(&refresh_token));

    // A confidential client's password grant at an explicit endpoint, as JSON
    // with client_secret_post: two lines, the client secret first.
    let endpoint = format!("{url}/token");
    let args = [
        "token",
        "get",
        "--token-endpoint",
        &endpoint,
        "--client-id",
        TOKEN_CLIENT_ID,
        "--grant",
        "password",
        "--username",
        USER,
        "--client-auth",
        "post",
        "--json-request",
    ];
    let (code, stdout, stderr) = cli_with_input(&args, &format!("{TOKEN_CLIENT_SECRET}\n{USER_PASSWORD}\n")).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(claims(stdout.trim())["client_id"], TOKEN_CLIENT_ID);
    no_secret(&[&stdout, &stderr]);

    // A wrong password: a clear error, exit 1, nothing echoed.
    let args =
        ["token", "get", "--issuer", &url, "--client-id", PUBLIC_CLIENT_ID, "--grant", "password", "--username", USER];
    let (code, stdout, stderr) = cli_with_input(&args, "not-the-password\n").await;
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert_eq!(stderr.trim(), "error: the authorization server refused the token request: invalid_grant");
    // No secret on stdin for a grant that needs one: a usage error.
    let (code, _, stderr) = cli_with_input(&args, "").await;
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(issuer.grant_requests("password"), 3, "the usage error made no request");
}
