//! A real local OpenID issuer for tests and demos.
//!
//! [`TestIssuer`] serves `/.well-known/openid-configuration`, `/jwks` and an
//! RFC 7662 `/introspect` endpoint and a `/token` endpoint (client
//! credentials, password and refresh-token grants, with rotation) over
//! loopback HTTP, mints tokens (JWTs
//! with any header and claims, and opaque tokens), revokes opaque tokens,
//! rotates and retires keys, injects faults (error statuses, garbage, slowness, oversized bodies,
//! a full stop) and counts fetches, so tests can assert how politely a
//! verifier treats its issuer.
//!
//! ```no_run
//! # async fn demo() {
//! use tokenguard_testkit::TestIssuer;
//!
//! let issuer = TestIssuer::start().await;
//! let token = issuer.token().subject("alice").scope("read write").sign();
//! assert_eq!(issuer.jwks_fetches(), 0);
//! # }
//! ```
#![warn(missing_docs)]

mod dpop;
mod keys;
pub mod postgres;
mod server;
mod token;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use std::collections::HashMap;

use serde_json::{Map, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use dpop::{DpopKey, ProofBuilder};
pub use keys::KeyAlg;
use keys::SigningKey;
pub use postgres::TestPostgres;
pub use token::{TokenBuilder, now};

/// A fault the issuer's endpoints can be told to show.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fault {
    /// Answer normally.
    #[default]
    None,
    /// Answer every request with this status and an empty body.
    Status(u16),
    /// Answer 200 with an HTML page.
    Html,
    /// Answer 200 with bytes that are not JSON.
    Garbage,
    /// Wait this long before answering normally.
    Slow(Duration),
    /// Answer 200 with a JSON document of this many bytes.
    Oversized(usize),
}

/// The default audience of minted tokens (the examples' default).
pub const DEFAULT_AUDIENCE: &str = "tokenguard-example";

/// The client id the introspection endpoint accepts (HTTP Basic or form).
pub const INTROSPECTION_CLIENT_ID: &str = "tokenguard-example";

/// The client secret the introspection endpoint accepts.
pub const INTROSPECTION_CLIENT_SECRET: &str = "testkit-introspection-secret";

/// The client the token endpoint serves (client credentials, password and
/// refresh grants), with [`TOKEN_CLIENT_SECRET`].
pub const TOKEN_CLIENT_ID: &str = "testkit-client";

/// The secret of [`TOKEN_CLIENT_ID`].
pub const TOKEN_CLIENT_SECRET: &str = "testkit-client-secret";

/// A public client of the token endpoint (token endpoint auth method
/// `none`: its id in the body, no secret), for the password and refresh
/// grants, like a Keycloak realm's `anonymous` client.
pub const PUBLIC_CLIENT_ID: &str = "testkit-public";

/// The user of the password grant, with [`USER_PASSWORD`].
pub const USER: &str = "alice";

/// The password of [`USER`].
pub const USER_PASSWORD: &str = "wonderland";

pub(crate) struct Shared {
    issuer: String,
    keys: Mutex<Vec<SigningKey>>,
    extra_jwks: Mutex<Vec<Value>>,
    current_kid: Mutex<String>,
    fault: Mutex<Fault>,
    cache_control: Mutex<Option<String>>,
    discovery_fetches: AtomicUsize,
    jwks_fetches: AtomicUsize,
    introspections: AtomicUsize,
    next_kid: AtomicUsize,
    /// Opaque tokens still active, and the claims introspection reports.
    opaque: Mutex<HashMap<String, Map<String, Value>>>,
    /// Live refresh tokens: subject, scope and expiry (Unix seconds).
    refresh_tokens: Mutex<HashMap<String, (String, String, i64)>>,
    token_requests: AtomicUsize,
    /// Token requests by grant type.
    grants: Mutex<HashMap<String, usize>>,
    token_ttl: std::sync::atomic::AtomicI64,
    refresh_ttl: std::sync::atomic::AtomicI64,
    user_password: Mutex<String>,
    /// The `aud` of minted tokens.
    audience: Mutex<String>,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running local issuer. Stops when dropped.
pub struct TestIssuer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestIssuer {
    /// Starts an issuer on a free loopback port with one RS256 key.
    pub async fn start() -> Self {
        Self::start_with(KeyAlg::Rs256).await
    }

    /// Starts an issuer on a free loopback port whose first key uses `alg`.
    pub async fn start_with(alg: KeyAlg) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            issuer: format!("http://{addr}"),
            keys: Mutex::new(Vec::new()),
            extra_jwks: Mutex::new(Vec::new()),
            current_kid: Mutex::new(String::new()),
            fault: Mutex::new(Fault::None),
            cache_control: Mutex::new(None),
            discovery_fetches: AtomicUsize::new(0),
            jwks_fetches: AtomicUsize::new(0),
            introspections: AtomicUsize::new(0),
            opaque: Mutex::new(HashMap::new()),
            refresh_tokens: Mutex::new(HashMap::new()),
            token_requests: AtomicUsize::new(0),
            grants: Mutex::new(HashMap::new()),
            token_ttl: std::sync::atomic::AtomicI64::new(3600),
            refresh_ttl: std::sync::atomic::AtomicI64::new(86_400),
            user_password: Mutex::new(USER_PASSWORD.to_owned()),
            next_kid: AtomicUsize::new(1),
            audience: Mutex::new(DEFAULT_AUDIENCE.to_owned()),
        });
        let (shutdown, task) = server::spawn(listener, shared.clone());
        let issuer = Self { addr, shared, shutdown: Some(shutdown), task: Some(task) };
        issuer.rotate(alg);
        issuer
    }

    /// Starts an issuer whose tokens are for `audience` (your API's), so
    /// that `issuer.token().sign()` is accepted by it as is.
    pub async fn for_audience(audience: &str) -> Self {
        let issuer = Self::start().await;
        *lock(&issuer.shared.audience) = audience.to_owned();
        issuer
    }

    /// The `aud` of the tokens it mints ([`DEFAULT_AUDIENCE`] unless started
    /// [`TestIssuer::for_audience`]).
    pub fn audience(&self) -> String {
        lock(&self.shared.audience).clone()
    }

    /// The issuer identifier, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    /// The socket address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The JWKS URL.
    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.shared.issuer)
    }

    /// Starts minting a token: by default signed with the current key, for
    /// `sub` `alice`, `aud` [`DEFAULT_AUDIENCE`], valid for an hour.
    pub fn token(&self) -> TokenBuilder<'_> {
        TokenBuilder::new(self)
    }

    /// Adds a new key of `alg`, publishes it and signs new tokens with it.
    /// Older keys stay published. Returns the new `kid`.
    pub fn rotate(&self, alg: KeyAlg) -> String {
        let kid = format!("key-{}", self.shared.next_kid.fetch_add(1, Ordering::Relaxed));
        let key = SigningKey::generate(&kid, alg);
        lock(&self.shared.keys).push(key);
        *lock(&self.shared.current_kid) = kid.clone();
        kid
    }

    /// Stops publishing the key `kid` (tokens it signed can no longer verify).
    pub fn retire(&self, kid: &str) {
        lock(&self.shared.keys).retain(|key| key.kid != kid);
    }

    /// The `kid` new tokens are signed with.
    pub fn current_kid(&self) -> String {
        lock(&self.shared.current_kid).clone()
    }

    /// Publishes an arbitrary extra JWK (weak, symmetric, encryption keys…).
    pub fn publish_raw_jwk(&self, jwk: Value) {
        lock(&self.shared.extra_jwks).push(jwk);
    }

    /// Signs arbitrary bytes with key `kid` (its own algorithm) and returns
    /// the base64url signature: for hand-made headers and payloads such as
    /// duplicate JSON members, which the token builder cannot express.
    pub fn signature(&self, kid: &str, signing_input: &str) -> Option<String> {
        use base64::Engine;
        let keys = lock(&self.shared.keys);
        let key = keys.iter().find(|key| key.kid == kid)?;
        Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.sign(signing_input.as_bytes())))
    }

    /// The public JWK of key `kid` (to republish it under another `kid`,
    /// `use` or `alg` with [`TestIssuer::publish_raw_jwk`]).
    pub fn public_jwk(&self, kid: &str) -> Option<Value> {
        lock(&self.shared.keys).iter().find(|key| key.kid == kid).map(SigningKey::jwk)
    }

    /// The PEM (`BEGIN PUBLIC KEY`) of key `kid`, for static-key configurations.
    pub fn public_key_pem(&self, kid: &str) -> Option<String> {
        lock(&self.shared.keys).iter().find(|key| key.kid == kid).map(SigningKey::public_pem)
    }

    /// Makes the endpoints show `fault` from now on.
    pub fn set_fault(&self, fault: Fault) {
        *lock(&self.shared.fault) = fault;
    }

    /// Sends this `Cache-Control` header with the JWKS (`None`: no header).
    pub fn set_cache_control(&self, value: Option<&str>) {
        *lock(&self.shared.cache_control) = value.map(str::to_owned);
    }

    /// Revokes an opaque token: introspection calls it inactive from now on.
    pub fn revoke(&self, token: &str) {
        lock(&self.shared.opaque).remove(token);
    }

    /// How many token endpoint requests arrived (authenticated or not).
    pub fn token_requests(&self) -> usize {
        self.shared.token_requests.load(Ordering::SeqCst)
    }

    /// How many token requests of `grant_type` arrived (authenticated or not).
    pub fn grant_requests(&self, grant_type: &str) -> usize {
        lock(&self.shared.grants).get(grant_type).copied().unwrap_or(0)
    }

    /// Lifetime of access tokens from the token endpoint (default an hour).
    pub fn set_token_ttl(&self, seconds: i64) {
        self.shared.token_ttl.store(seconds, Ordering::SeqCst);
    }

    /// Lifetime of refresh tokens (`refresh_expires_in`; default a day).
    pub fn set_refresh_token_ttl(&self, seconds: i64) {
        self.shared.refresh_ttl.store(seconds, Ordering::SeqCst);
    }

    /// Forgets every refresh token: the next refresh is `invalid_grant`.
    pub fn revoke_refresh_tokens(&self) {
        lock(&self.shared.refresh_tokens).clear();
    }

    /// Changes [`USER`]'s password (from [`USER_PASSWORD`]).
    pub fn set_user_password(&self, password: &str) {
        *lock(&self.shared.user_password) = password.to_owned();
    }

    /// How many introspection requests arrived (authenticated or not).
    pub fn introspections(&self) -> usize {
        self.shared.introspections.load(Ordering::SeqCst)
    }

    /// How many times the discovery document was requested.
    pub fn discovery_fetches(&self) -> usize {
        self.shared.discovery_fetches.load(Ordering::SeqCst)
    }

    /// How many times the JWKS was requested.
    pub fn jwks_fetches(&self) -> usize {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Stops serving and closes every connection; the port refuses from now on.
    pub async fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(mut task) = self.task.take() {
            // Idle keep-alive connections close at once; give in-flight ones a moment.
            if tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
