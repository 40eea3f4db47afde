//! npm's `oidc-provider`, a real third-party OpenID Provider, run as a child
//! process from `interop/provider.mjs` (which documents its clients, users
//! and resources).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::TempDir;

/// The resource server's client at the provider (used for introspection).
pub const INTROSPECTION_CLIENT: (&str, &str) = ("tokenguard-example", "introspection-secret");
/// A client-credentials client with scopes `read write admin`.
pub const SERVICE: (&str, &str) = ("service", "service-secret");
/// A password-grant client with scopes `read write`.
pub const APP: (&str, &str) = ("app", "app-secret");

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// Installs the pinned npm packages (`npm ci`) once per test run, unless
/// they are already installed.
fn ensure_installed() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let dir = interop_dir();
        if dir.join("node_modules/oidc-provider/package.json").exists() {
            return;
        }
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .expect("npm is installed (Node 20+)");
        assert!(status.success(), "npm ci in {} failed", dir.display());
    });
}

/// A running provider. Killed on drop.
pub struct OidcProvider {
    pub issuer: String,
    pub port: u16,
    child: Child,
    logs: Arc<Mutex<String>>,
    client: reqwest::Client,
}

/// A token endpoint answer.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
}

impl OidcProvider {
    /// Starts a provider whose signing keys live in `keys` (created on first
    /// start), on `port` (0: any free port), rotating its RSA key first when
    /// `rotate` is set.
    pub async fn start(keys: &TempDir, port: u16, rotate: bool) -> OidcProvider {
        ensure_installed();
        let mut child = Command::new("node")
            .arg(interop_dir().join("provider.mjs"))
            .env("PORT", port.to_string())
            .env("KEYS_FILE", keys.0.join("provider-keys.json"))
            .env("ROTATE", if rotate { "1" } else { "0" })
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node is installed");
        let logs = Arc::new(Mutex::new(String::new()));
        super::collect(child.stderr.take().expect("stderr"), logs.clone());
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let deadline = Duration::from_secs(30);
        let issuer = loop {
            match tokio::time::timeout(deadline, stdout.next_line()).await {
                Ok(Ok(Some(line))) => {
                    if let Some(issuer) = line.strip_prefix("listening on ") {
                        break issuer.to_owned();
                    }
                }
                _ => panic!("oidc-provider did not start: {}", logs.lock().unwrap()),
            }
        };
        super::collect(stdout.into_inner().into_inner(), logs.clone());
        let port = issuer.rsplit(':').next().and_then(|p| p.parse().ok()).expect("issuer has a port");
        let client = reqwest::Client::builder().no_proxy().build().expect("client");
        OidcProvider { issuer, port, child, logs, client }
    }

    /// Stops the provider; its port refuses connections afterwards.
    pub async fn stop(&mut self) {
        let _ = self.child.kill().await;
    }

    /// What the provider wrote to stderr and stdout.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// POSTs a form to `path` with HTTP Basic client authentication.
    pub async fn post(&self, path: &str, client: (&str, &str), form: &[(&str, &str)]) -> (u16, Value) {
        self.post_with(path, client, form, &[]).await
    }

    /// Like [`OidcProvider::post`], with extra request headers.
    pub async fn post_with(
        &self,
        path: &str,
        client: (&str, &str),
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let body: Vec<String> = form.iter().map(|(name, value)| format!("{name}={}", encode(value))).collect();
        let mut request = self
            .client
            .post(format!("{}{path}", self.issuer))
            .basic_auth(client.0, Some(client.1))
            .header("content-type", "application/x-www-form-urlencoded");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.body(body.join("&")).send().await.expect("the provider answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Gets tokens from the token endpoint; panics unless it answers 200.
    pub async fn tokens(&self, client: (&str, &str), form: &[(&str, &str)]) -> Tokens {
        let (status, body) = self.post("/token", client, form).await;
        assert_eq!(status, 200, "token endpoint: {body}");
        Tokens {
            access_token: body["access_token"].as_str().expect("access_token").to_owned(),
            refresh_token: body["refresh_token"].as_str().map(str::to_owned),
        }
    }

    /// A client-credentials access token of the service client.
    pub async fn client_credentials(&self, scope: &str, resource: &str) -> String {
        let form = [("grant_type", "client_credentials"), ("scope", scope), ("resource", resource)];
        self.tokens(SERVICE, &form).await.access_token
    }

    /// A DPoP-bound client-credentials access token (RFC 9449 §5): the
    /// token request carries a proof made with `key`.
    pub async fn dpop_client_credentials(&self, key: &tokenguard_testkit::DpopKey, resource: &str) -> String {
        let proof = key.proof("POST", &format!("{}/token", self.issuer)).sign();
        let form = [("grant_type", "client_credentials"), ("scope", "read"), ("resource", resource)];
        let (status, body) = self.post_with("/token", SERVICE, &form, &[("dpop", &proof)]).await;
        assert_eq!((status, &body["token_type"]), (200, &Value::from("DPoP")), "token endpoint: {body}");
        body["access_token"].as_str().expect("access_token").to_owned()
    }

    /// Tokens for alice through the password grant.
    pub async fn password_grant(&self, scope: &str) -> Tokens {
        let form = [("grant_type", "password"), ("username", "alice"), ("password", "wonderland"), ("scope", scope)];
        self.tokens(APP, &form).await
    }

    /// New tokens from a refresh token.
    pub async fn refresh(&self, refresh_token: &str) -> Tokens {
        self.tokens(APP, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
    }

    /// Revokes a token of the service client (RFC 7009).
    pub async fn revoke(&self, token: &str) {
        let (status, body) = self.post("/token/revocation", SERVICE, &[("token", token)]).await;
        assert_eq!(status, 200, "revocation endpoint: {body}");
    }
}

/// Form-encodes a value (RFC 3986 unreserved characters pass).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Waits until `deadline` for `port` to refuse connections.
pub async fn wait_closed(port: u16, deadline: Duration) {
    let end = Instant::now() + deadline;
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
        assert!(Instant::now() < end, "port {port} still open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
