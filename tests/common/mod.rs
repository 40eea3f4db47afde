//! The black-box harness: runs the example servers as real processes on
//! loopback ports and talks HTTP to them.
#![allow(dead_code)]

pub mod oidc_provider;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// An example server implementing CONTRACT.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    Axum,
    Actix,
    /// `examples/grpc_health.rs`: a tonic service behind the tower layer.
    Grpc,
}

impl Adapter {
    pub fn example(self) -> &'static str {
        match self {
            Adapter::Axum => "axum_api",
            Adapter::Actix => "actix_api",
            Adapter::Grpc => "grpc_health",
        }
    }
}

/// Every adapter built in this test run.
pub fn adapters() -> Vec<Adapter> {
    let mut adapters = vec![Adapter::Axum];
    if cfg!(feature = "actix") {
        adapters.push(Adapter::Actix);
    }
    adapters
}

/// A running example server. Killed on drop.
pub struct Server {
    pub adapter: Adapter,
    pub base: String,
    pub stdout: Vec<String>,
    logs: Arc<Mutex<String>>,
    child: Child,
    client: reqwest::Client,
}

/// What the server answered.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub www_authenticate: Vec<String>,
    pub retry_after: Option<String>,
    pub content_type: Option<String>,
    pub allow: Option<String>,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

fn profile_dir() -> PathBuf {
    // Test binaries live in target/<profile>/deps; examples in target/<profile>/examples.
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().and_then(|deps| deps.parent()).expect("target profile directory").to_owned()
}

fn example_path(name: &str) -> PathBuf {
    profile_dir().join("examples").join(name)
}

/// Runs the `tokenguard` CLI (built by `cargo test --workspace`) and returns
/// (exit code, stdout, stderr).
pub async fn cli(args: &[&str]) -> (i32, String, String) {
    let path = profile_dir().join("tokenguard");
    assert!(path.exists(), "{} is missing: run the tests with `cargo test --workspace`", path.display());
    let output = Command::new(&path).args(args).stdin(Stdio::null()).output().await.expect("run the CLI");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs the CLI with `input` on its standard input (secrets never go in argv).
pub async fn cli_with_input(args: &[&str], input: &str) -> (i32, String, String) {
    use tokio::io::AsyncWriteExt;
    let path = profile_dir().join("tokenguard");
    let mut child = Command::new(&path)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the CLI");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).await.expect("write stdin");
    drop(stdin);
    let output = child.wait_with_output().await.expect("the CLI finishes");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs example `name` to completion with `env` (and nothing else inherited
/// but `PATH`); returns (exit code, stdout, stderr).
pub async fn run_example(name: &str, env: &[(&str, &str)]) -> (i32, String, String) {
    let path = example_path(name);
    let mut command = Command::new(&path);
    command.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the example finishes within a minute")
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A fresh, empty directory under the target directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = profile_dir().join("test-tmp").join(format!("{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const STARTUP_DEADLINE: Duration = Duration::from_secs(30);

impl Server {
    /// Starts `adapter`'s example with `env` (plus a free port and verbose logs)
    /// and waits until it prints its `listening on` line.
    pub async fn start(adapter: Adapter, env: &[(&str, &str)]) -> Server {
        match Self::try_start(adapter, env).await {
            Ok(server) => server,
            Err((message, _)) => panic!("{adapter:?} example did not start: {message}"),
        }
    }

    /// Like [`Server::start`], but returns the exit status and output when
    /// the example refuses to start.
    pub async fn try_start(adapter: Adapter, env: &[(&str, &str)]) -> Result<Server, (String, Option<i32>)> {
        Self::try_start_in(adapter, env, None).await
    }

    /// Like [`Server::try_start`], in working directory `dir`.
    pub async fn try_start_in(
        adapter: Adapter,
        env: &[(&str, &str)],
        dir: Option<&std::path::Path>,
    ) -> Result<Server, (String, Option<i32>)> {
        let path = example_path(adapter.example());
        let mut command = Command::new(&path);
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TOKENGUARD_BIND", "127.0.0.1:0")
            .env("TOKENGUARD_KEY_STORE", "memory:")
            .env("RUST_LOG", "debug,tokenguard=trace,tokenguard_core=trace")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
        let logs = Arc::new(Mutex::new(String::new()));
        let stderr_done = collect(child.stderr.take().expect("stderr"), logs.clone());
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut lines = Vec::new();
        let deadline = Instant::now() + STARTUP_DEADLINE;
        let base = loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(remaining, stdout.next_line()).await {
                Ok(Ok(Some(line))) => {
                    if let Some(addr) = line.strip_prefix("listening on ") {
                        let base = addr.to_owned();
                        lines.push(line);
                        break base;
                    }
                    lines.push(line);
                }
                Ok(_) => {
                    let status = child.wait().await.ok().and_then(|s| s.code());
                    // The process has exited: wait until everything it wrote to stderr is read.
                    let _ = tokio::time::timeout(STARTUP_DEADLINE, stderr_done).await;
                    let output = format!("{}{}", lines.join("\n"), logs.lock().unwrap());
                    return Err((output, status));
                }
                Err(_) => return Err(("no `listening on` line within the deadline".into(), None)),
            }
        };
        // The development mode prints its curl lines right after; read what is there.
        let stdout_logs = logs.clone();
        let mut extra = Vec::new();
        while let Ok(Ok(Some(line))) = tokio::time::timeout(Duration::from_millis(200), stdout.next_line()).await {
            extra.push(line);
            if extra.len() == 3 {
                break;
            }
        }
        lines.extend(extra);
        tokio::spawn(async move {
            while let Ok(Some(line)) = stdout.next_line().await {
                stdout_logs.lock().unwrap().push_str(&line);
            }
        });
        let client = reqwest::Client::builder().no_proxy().build().expect("client");
        Ok(Server { adapter, base, stdout: lines, logs, child, client })
    }

    /// Everything the server logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// GET `path` with an optional `Authorization` value.
    pub async fn get(&self, path: &str, authorization: Option<&str>) -> Reply {
        let headers: Vec<(&str, &[u8])> = authorization.iter().map(|a| ("authorization", a.as_bytes())).collect();
        self.request("GET", path, &headers, None).await
    }

    /// Sends a request with raw header values (repeated names are sent repeatedly).
    pub async fn request(&self, method: &str, path: &str, headers: &[(&str, &[u8])], body: Option<&str>) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.client.request(method, format!("{}{}", self.base, path));
        for (name, value) in headers {
            let value = reqwest::header::HeaderValue::from_bytes(value).expect("header value");
            request = request.header(*name, value);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_owned());
        }
        let response = request.send().await.expect("request reaches the server");
        let header_values = |name: &str| -> Vec<String> {
            response.headers().get_all(name).iter().map(|v| v.to_str().unwrap_or("<non-ascii>").to_owned()).collect()
        };
        let www_authenticate = header_values("www-authenticate");
        let retry_after = header_values("retry-after").into_iter().next();
        let content_type = header_values("content-type").into_iter().next();
        let allow = header_values("allow").into_iter().next();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        Reply { status, www_authenticate, retry_after, content_type, allow, text }
    }

    /// The development-mode credential printed on the curl line with `marker`.
    pub fn printed_credential(&self, marker: &str) -> Option<String> {
        let line = self.stdout.iter().find(|line| line.starts_with("curl") && line.contains(marker))?;
        let start = line.find(marker)? + marker.len();
        let end = line[start..].find('\'')? + start;
        Some(line[start..end].to_owned())
    }
}

fn collect(stream: impl AsyncRead + Unpin + Send + 'static, sink: Arc<Mutex<String>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut sink = sink.lock().unwrap();
            sink.push_str(&line);
            sink.push('\n');
        }
    })
}

/// Polls `check` until it returns true or `deadline` passes.
pub async fn eventually<F, Fut>(deadline: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + deadline;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `WWW-Authenticate` of a 401 without credentials.
pub fn plain_challenges() -> Vec<String> {
    vec![r#"Bearer realm="tokenguard""#.to_owned(), r#"Token realm="tokenguard""#.to_owned()]
}

/// `WWW-Authenticate` of an error.
pub fn error_challenge(scheme: &str, code: &str, description: &str) -> Vec<String> {
    vec![format!(r#"{scheme} realm="tokenguard", error="{code}", error_description="{description}""#)]
}

/// Asserts that no secret appears in `haystack`.
pub fn assert_no_secret(haystack: &str, secrets: &[String], context: &str) {
    for secret in secrets {
        // The signature (or the whole key) is what makes a credential usable.
        let needle = secret.rsplit('.').next().unwrap_or(secret);
        assert!(needle.len() >= 16, "secret too short to search for");
        assert!(!haystack.contains(needle), "a credential leaked into {context}");
    }
}

/// A schema of its own on a private PostgreSQL server (started for the
/// test from the installed binaries, removed at the end), reached through
/// `search_path` as a user keeping keys in their own schema would.
pub struct PgSchema {
    name: String,
    server: tokenguard_testkit::TestPostgres,
}

impl PgSchema {
    pub async fn create() -> PgSchema {
        let server = tokenguard_testkit::TestPostgres::start().unwrap_or_else(|error| panic!("{error}"));
        let pool = sqlx::PgPool::connect(&server.url()).await.expect("the private PostgreSQL server");
        let name = format!("tg_test_{}", std::process::id());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}"))).execute(&pool).await.expect("create schema");
        pool.close().await;
        PgSchema { name, server }
    }

    pub fn url(&self) -> String {
        format!("{}?options=-c%20search_path%3D{}", self.server.url(), self.name)
    }

    /// Stops and removes the server.
    pub async fn drop_schema(self) {
        drop(self.server);
    }
}
