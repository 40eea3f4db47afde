//! What both example servers share: configuration from the environment
//! (../shared/CONTRACT.md, read by `Config::from_env`), the authenticator
//! built from it, the development issuer, readiness, metrics, and the
//! recordings "database". Only the web framework differs.

use std::sync::Arc;

use tokenguard::apikey;
use tokenguard::config::IssuerConfig;
use tokenguard::readiness::Readiness;
use tokenguard::resource_metadata::ProtectedResourceMetadata;
use tokenguard::store::{ApiKeyRecord, ChangedBy};
use tokenguard::{Authenticator, Config, KeyStore, Scopes, Secret};
use tokenguard_testkit::TestIssuer;

mod recordings;
pub use recordings::Recordings;

/// The settings of CONTRACT.md: the server's own (addresses) and the
/// authenticator's ([`Config::from_env`]).
pub struct Settings {
    pub bind: String,
    /// `TOKENGUARD_METRICS_BIND`: Prometheus text at `GET /metrics` on this address.
    pub metrics_bind: Option<String>,
    pub config: Config,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

impl Settings {
    pub fn from_env() -> Result<Self, String> {
        Ok(Self {
            bind: var("TOKENGUARD_BIND").unwrap_or_else(|| "127.0.0.1:3000".into()),
            metrics_bind: var("TOKENGUARD_METRICS_BIND"),
            config: Config::from_env().map_err(|error| error.to_string())?,
        })
    }
}

/// The authenticator and, in development mode, the embedded issuer and a demo API key.
pub struct Setup {
    pub authenticator: Authenticator,
    /// RFC 9728: the path to serve the metadata at, and the document.
    pub resource_metadata: Option<(String, ProtectedResourceMetadata)>,
    pub dev: Option<DevMode>,
}

pub struct DevMode {
    pub issuer: TestIssuer,
    pub token: String,
    /// A demo API key, unless the key store was unreachable at start.
    pub api_key: Option<Secret>,
    /// An opaque token, when introspection is configured.
    pub opaque: Option<String>,
}

pub async fn setup(config: &Config) -> Result<Setup, String> {
    let mut config = config.clone();
    // No issuer configured: the embedded development issuer.
    let dev_issuer = match config.issuers.is_empty() {
        true => {
            let issuer = TestIssuer::start().await;
            config.issuers.push(IssuerConfig::new(issuer.issuer()));
            Some(issuer)
        }
        false => None,
    };
    let authenticator = Authenticator::from_config(&config).await.map_err(|error| error.to_string())?;
    let resource_metadata = config
        .resource_metadata()
        .map_err(|error| error.to_string())?
        .map(|(path, metadata)| (path, metadata.scopes(["read", "write", "admin"])));
    let dev = match dev_issuer {
        Some(issuer) => Some(dev_mode(issuer, &config, &authenticator).await?),
        None => None,
    };
    // Fetch keys and probe the store now, not on the first request; the
    // server listens meanwhile and answers 503 until they are there.
    let warming = authenticator.clone();
    tokio::spawn(async move { log_readiness(&warming.warm_up().await) });
    Ok(Setup { authenticator, resource_metadata, dev })
}

async fn dev_mode(issuer: TestIssuer, config: &Config, authenticator: &Authenticator) -> Result<DevMode, String> {
    let token = issuer
        .token()
        .subject("dev-user")
        .audience(config.audience.as_str())
        .scope("read write admin")
        .expires_in(24 * 3600)
        .sign();
    let api_key = apikey::generate(&config.key_prefix);
    // A throwaway key for the printed curl line; it expires in a day.
    let record = ApiKeyRecord::for_key(
        &api_key,
        "demo-service",
        Scopes::from_space_separated("read"),
        Some("development demo key".into()),
        Some(unix_now() + 24 * 3600),
    );
    let store = authenticator.api_keys().ok_or("no key store")?.cache();
    // The server starts while the store is down; only the demo key is missing then.
    let api_key = match store.insert(record, &ChangedBy::now("example")).await {
        Ok(_) => Some(api_key),
        Err(error) => {
            tracing::warn!(%error, "no demo API key: the key store is unreachable");
            None
        }
    };
    let opaque = config
        .introspection
        .as_ref()
        .map(|_| issuer.token().subject("dev-user").audience(config.audience.as_str()).scope("read").opaque());
    Ok(DevMode { issuer, token, api_key, opaque })
}

fn log_readiness(readiness: &Readiness) {
    for (issuer, state) in &readiness.issuers {
        match &state.error {
            None => tracing::info!(issuer, keys = state.keys, "issuer ready"),
            Some(error) => tracing::warn!(issuer, error, "issuer not ready; retried on demand"),
        }
    }
    if let Some(store) = &readiness.store {
        match &store.error {
            None => tracing::info!("key store ready"),
            Some(error) => tracing::warn!(error, "key store not ready; retried in the background"),
        }
    }
}

/// `GET /ready`: the status and the body CONTRACT.md gives.
/// The key administration API over the store keys are verified with (its
/// cache, so this server sees its own changes at once): scope `admin` for
/// every key, scope `keys` for the caller's own.
pub fn key_admin(authenticator: &Authenticator) -> Option<tokenguard::key_admin::KeyAdmin> {
    let keys = authenticator.api_keys()?;
    Some(tokenguard::key_admin::KeyAdmin::new(Arc::new(keys.cache().clone()), keys.prefix()))
}

pub fn readiness(authenticator: &Authenticator) -> (u16, serde_json::Value) {
    let readiness = authenticator.readiness();
    let status = if readiness.ready { 200 } else { 503 };
    (status, serde_json::to_value(&readiness).unwrap_or_default())
}

/// Seconds a client should wait before asking `/ready` again.
pub const READY_RETRY_AFTER: &str = "1";

/// Installs the Prometheus recorder when `TOKENGUARD_METRICS_BIND` is set;
/// its handle renders the text served at `GET /metrics`.
pub fn install_metrics(settings: &Settings) -> Result<Option<metrics_exporter_prometheus::PrometheusHandle>, String> {
    if settings.metrics_bind.is_none() {
        return Ok(None);
    }
    #[cfg(not(feature = "metrics"))]
    tracing::warn!(
        "built without the `metrics` feature: /metrics has no tokenguard series (build with --features metrics)"
    );
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("TOKENGUARD_METRICS_BIND: {e}"))?;
    Ok(Some(recorder))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Prints the start-up lines: the address, then in development mode how to call it.
pub fn announce(addr: std::net::SocketAddr, dev: Option<&DevMode>) {
    println!("listening on http://{addr}");
    if let Some(dev) = dev {
        // Printing credentials is this mode's purpose: they are throwaway, made at start-up.
        println!("development issuer: {}", dev.issuer.issuer());
        println!("curl -H 'Authorization: Bearer {}' http://{addr}/me", dev.token);
        if let Some(api_key) = &dev.api_key {
            println!("curl -H 'Authorization: Token token={}' http://{addr}/me", api_key.expose());
        }
        if let Some(opaque) = &dev.opaque {
            println!("curl -H 'Authorization: Bearer {opaque}' http://{addr}/me");
        }
    }
}

pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}
