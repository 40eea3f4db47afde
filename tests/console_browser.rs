//! The key console in a real headless browser (Debian's `chromium`, driven
//! through `chromedriver` over the W3C WebDriver protocol): connect with a
//! token, create a key and see it once, see it listed, revoke it — and the
//! revoked key is refused by the API.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Server, adapters};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

const DEADLINE: Duration = Duration::from_secs(20);
/// The W3C name of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session. Both end on drop.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    closed: bool,
}

impl Browser {
    async fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver: install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            let status = http.get(format!("{base}/status")).send().await;
            if let Ok(status) = status
                && status.json::<Value>().await.is_ok_and(|body| body["value"]["ready"] == true)
            {
                break;
            }
            assert!(started.elapsed() < DEADLINE, "chromedriver never became ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
            },
        }}});
        let created: Value =
            http.post(format!("{base}/session")).json(&capabilities).send().await.unwrap().json().await.unwrap();
        let session =
            created["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {created}")).to_owned();
        Browser { driver, base, session, http, closed: false }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.expect("chromedriver answers").json().await.expect("JSON");
        answer["value"].clone()
    }

    /// Ends the session: chromedriver quits the browser.
    async fn close(mut self) {
        self.command(reqwest::Method::DELETE, "", None).await;
        self.closed = true;
    }

    async fn open(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url }))).await;
    }

    async fn script(&self, script: &str) -> Value {
        self.command(reqwest::Method::POST, "/execute/sync", Some(json!({ "script": script, "args": [] }))).await
    }

    /// The element matching `selector`, once there is one.
    async fn element(&self, selector: &str) -> String {
        let started = Instant::now();
        loop {
            let found = self
                .command(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": selector})))
                .await;
            if let Some(id) = found[ELEMENT].as_str() {
                return id.to_owned();
            }
            assert!(started.elapsed() < DEADLINE, "no element {selector}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn type_into(&self, selector: &str, text: &str) {
        let element = self.element(selector).await;
        self.command(reqwest::Method::POST, &format!("/element/{element}/value"), Some(json!({ "text": text }))).await;
    }

    async fn click(&self, selector: &str) {
        let element = self.element(selector).await;
        self.command(reqwest::Method::POST, &format!("/element/{element}/click"), Some(json!({}))).await;
    }

    async fn text(&self, selector: &str) -> String {
        let element = self.element(selector).await;
        let text = self.command(reqwest::Method::GET, &format!("/element/{element}/text"), None).await;
        text.as_str().unwrap_or_default().to_owned()
    }

    /// Waits until the text of `selector` satisfies `check`; returns it.
    async fn text_until(&self, selector: &str, check: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let text = self.text(selector).await;
            if check(&text) {
                return text;
            }
            assert!(started.elapsed() < DEADLINE, "{selector} still reads {text:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Browser {
    /// Ends the session first — chromedriver then quits the browser, which
    /// would outlive a killed driver — with a plain blocking request, as
    /// drop cannot await (and must work while a failed test unwinds).
    fn drop(&mut self) {
        use std::io::{Read, Write};
        if self.closed {
            let _ = self.driver.start_kill();
            return;
        }
        let address = self.base.trim_start_matches("http://");
        if let Ok(mut stream) = std::net::TcpStream::connect(address) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session
            );
            let _ = stream.write_all(request.as_bytes());
            let _ = stream.read_to_end(&mut Vec::new());
        }
        let _ = self.driver.start_kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_creates_lists_and_revokes_a_key_in_a_real_browser() {
    for adapter in adapters() {
        println!("adapter: {adapter:?}");
        let server = Server::start(adapter, &[("TOKENGUARD_KEY_STORE", "memory:")]).await;
        let token = server.printed_credential("Bearer ").expect("the development token (scope admin)");
        let browser = Browser::start().await;
        browser.open(&format!("{}/admin/keys", server.base)).await;

        // The page runs under its CSP: its script is what connects.
        browser.type_into("#token", &token).await;
        browser.click("#connect-button").await;
        browser.text_until("#status", |text| text == "Connected.").await;
        let storage = browser.script("return [localStorage.length, sessionStorage.length, document.cookie];").await;
        assert_eq!(storage, json!([0, 0, ""]), "the token is kept in memory only");

        // Create: the key is shown once.
        browser.type_into("#subject", "browser-user").await;
        browser.type_into("#scopes", "read").await;
        browser.type_into("#name", "made in a browser").await;
        browser.click("#create-button").await;
        let status = browser.text_until("#status", |text| text.starts_with("Created ")).await;
        let id = status.trim_start_matches("Created ").trim_end_matches('.').to_owned();
        let key = browser.text_until("#new-key-value", |text| !text.is_empty()).await;
        assert!(key.starts_with("tg_"), "{key}");
        let me = server.get("/me", Some(&format!("Token {key}"))).await;
        assert_eq!((me.status, me.json()["subject"].clone()), (200, json!("browser-user")));

        // Listed (never with its key); once dismissed, the key is gone from the page.
        let row = format!(r#"tr[data-id="{id}"]"#);
        let listed = browser.text(&row).await;
        assert!(
            listed.contains("browser-user") && listed.contains("made in a browser") && listed.contains("active"),
            "{listed}"
        );
        browser.click("#dismiss").await;
        let page = browser.script("return document.documentElement.outerHTML;").await;
        assert!(!page.as_str().unwrap().contains(&key), "the key is still in the page");
        assert!(!page.as_str().unwrap().contains(&token), "the token is in the page");

        // Revoke: the row says so, and the API refuses the key.
        browser.click(&format!("{row} td:last-child button:nth-of-type(2)")).await;
        browser.text_until("#status", |text| text == format!("Revoked {id}.")).await;
        browser.text_until(&row, |text| text.contains("revoked")).await;
        let refused = server.get("/me", Some(&format!("Token {key}"))).await;
        assert_eq!(refused.status, 401);
        browser.close().await;
    }
}
