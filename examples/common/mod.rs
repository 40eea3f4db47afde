//! What both example servers share: configuration from the environment
//! (../shared/CONTRACT.md), the authenticator built from it, the development
//! issuer, and the recordings "database". Only the web framework differs.

use std::time::Duration;

use tokenguard::apikey;
use tokenguard::dpop::DpopOptions;
use tokenguard::dpop::DpopPolicy;
use tokenguard::jwt::ClaimMapping;
use tokenguard::resource_metadata::ProtectedResourceMetadata;
use tokenguard::store::ApiKeyRecord;
use tokenguard::{
    Algorithm, ApiKeyVerifier, Authenticator, IntrospectionOptions, IntrospectionVerifier, JwksOptions, JwtRules,
    Scopes, Secret, StaticKey,
};
use tokenguard_testkit::TestIssuer;

mod recordings;
pub use recordings::Recordings;

/// The settings of CONTRACT.md.
pub struct Config {
    pub bind: String,
    /// `TOKENGUARD_ISSUER`: one or more issuers (see [`parse_issuers`]).
    pub issuers: Vec<IssuerConfig>,
    pub audience: String,
    pub key_store: String,
    pub key_prefix: String,
    pub hs256: Option<(Secret, String)>,
    /// `TOKENGUARD_RESOURCE`: this API's resource identifier; when set, RFC 9728
    /// metadata is served and announced in 401 challenges.
    pub resource: Option<String>,
    /// Client id and secret for RFC 7662 introspection of opaque tokens.
    pub introspection: Option<(String, Secret)>,
    pub leeway: Duration,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

impl Config {
    pub fn from_env() -> Result<Self, String> {
        let hs256 = match var("TOKENGUARD_HS256_SECRET") {
            Some(secret) if secret.len() < 32 => {
                return Err("TOKENGUARD_HS256_SECRET must be at least 32 bytes long".into());
            }
            Some(secret) => {
                Some((Secret::new(secret), var("TOKENGUARD_HS256_ISSUER").unwrap_or_else(|| "tokenguard-local".into())))
            }
            None => None,
        };
        let leeway = match var("TOKENGUARD_LEEWAY_SECONDS") {
            Some(seconds) => seconds
                .parse()
                .map(Duration::from_secs)
                .map_err(|_| "TOKENGUARD_LEEWAY_SECONDS must be a whole number of seconds".to_string())?,
            None => Duration::from_secs(30),
        };
        let introspection = match (var("TOKENGUARD_INTROSPECTION_CLIENT_ID"), var("TOKENGUARD_INTROSPECTION_SECRET")) {
            (Some(client_id), Some(secret)) => Some((client_id, Secret::new(secret))),
            (None, None) => None,
            _ => return Err("set both TOKENGUARD_INTROSPECTION_CLIENT_ID and TOKENGUARD_INTROSPECTION_SECRET".into()),
        };
        Ok(Self {
            bind: var("TOKENGUARD_BIND").unwrap_or_else(|| "127.0.0.1:3000".into()),
            issuers: match var("TOKENGUARD_ISSUER") {
                Some(list) => parse_issuers(&list)?,
                None => Vec::new(),
            },
            audience: var("TOKENGUARD_AUDIENCE").unwrap_or_else(|| "tokenguard-example".into()),
            key_store: var("TOKENGUARD_KEY_STORE").unwrap_or_else(|| "sqlite://tokenguard-keys.db".into()),
            key_prefix: var("TOKENGUARD_KEY_PREFIX").unwrap_or_else(|| "tg".into()),
            hs256,
            resource: var("TOKENGUARD_RESOURCE"),
            introspection,
            leeway,
        })
    }
}

/// One trusted issuer of `TOKENGUARD_ISSUER`.
#[derive(Clone, Debug)]
pub struct IssuerConfig {
    pub url: String,
    /// Overrides `TOKENGUARD_AUDIENCE` for this issuer.
    pub audience: Option<String>,
    pub mapping: ClaimMapping,
    /// DPoP for this issuer's tokens (`dpop=allowed|required`; default off).
    pub dpop: DpopPolicy,
}

/// `TOKENGUARD_ISSUER`: a comma-separated list of issuer URLs, each
/// optionally followed by `#` and `&`-separated settings (an issuer URL has
/// no fragment, so `#` is free): `aud=` (this issuer's audience instead of
/// `TOKENGUARD_AUDIENCE`), `claims=` (`standard`, `keycloak`, `auth0`,
/// `entra`, `okta`), `client=` (Keycloak's client for `resource_access`
/// roles) and `dpop=` (`off`, `allowed`, `required`: RFC 9449 DPoP-bound
/// tokens; any issuer other than `off` turns DPoP on). Example:
/// `https://kc.example/realms/staff#claims=keycloak&client=my-api,https://tenant.eu.auth0.com/#aud=https://api.example`
pub fn parse_issuers(list: &str) -> Result<Vec<IssuerConfig>, String> {
    let mut issuers = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
        let (url, settings) = entry.split_once('#').unwrap_or((entry, ""));
        let (mut audience, mut mapping, mut client, mut dpop) = (None, "standard", None, DpopPolicy::Off);
        for setting in settings.split('&').filter(|s| !s.is_empty()) {
            match setting.split_once('=') {
                Some(("aud", value)) => audience = Some(value.to_owned()),
                Some(("claims", value)) => mapping = value,
                Some(("client", value)) => client = Some(value),
                Some(("dpop", "off")) => dpop = DpopPolicy::Off,
                Some(("dpop", "allowed")) => dpop = DpopPolicy::Allowed,
                Some(("dpop", "required")) => dpop = DpopPolicy::Required,
                _ => {
                    return Err(format!(
                        "TOKENGUARD_ISSUER: unknown setting {setting:?} (aud=, claims=, client=, dpop=off|allowed|required)"
                    ));
                }
            }
        }
        let mapping = ClaimMapping::from_name(mapping, client)
            .ok_or_else(|| format!("TOKENGUARD_ISSUER: unknown claims preset {mapping:?}"))?;
        issuers.push(IssuerConfig { url: url.to_owned(), audience, mapping, dpop });
    }
    if issuers.is_empty() {
        return Err("TOKENGUARD_ISSUER names no issuer".into());
    }
    Ok(issuers)
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
    pub api_key: Secret,
    /// An opaque token, when introspection is configured.
    pub opaque: Option<String>,
}

pub async fn setup(config: &Config) -> Result<Setup, String> {
    // A PostgreSQL key store also holds used DPoP proofs, so a fleet shares replay protection.
    let (store, replay_cache) = tokenguard::store::open_with_replay_cache(&config.key_store)
        .await
        .map_err(|e| format!("TOKENGUARD_KEY_STORE: {e}"))?;
    let (issuers, dev) = match config.issuers.as_slice() {
        [_, ..] => (config.issuers.clone(), None),
        [] => {
            let issuer = TestIssuer::start().await;
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
            store.insert(record).await.map_err(|e| e.to_string())?;
            let embedded = IssuerConfig {
                url: issuer.issuer().to_owned(),
                audience: None,
                mapping: ClaimMapping::Standard,
                dpop: DpopPolicy::Off,
            };
            (vec![embedded], Some((issuer, token, api_key)))
        }
    };
    let rules = |issuer: &str| JwtRules::new(issuer, [config.audience.as_str()]).leeway(config.leeway);
    let mut builder = Authenticator::builder().api_keys(ApiKeyVerifier::new(store, config.key_prefix.as_str()));
    for issuer in &issuers {
        let audience = issuer.audience.as_deref().unwrap_or(&config.audience);
        let rules = JwtRules::new(&issuer.url, [audience])
            .leeway(config.leeway)
            .claim_mapping(issuer.mapping.clone())
            .dpop(issuer.dpop);
        builder = builder.oidc_issuer(rules, JwksOptions::default());
    }
    if issuers.iter().any(|issuer| issuer.dpop != DpopPolicy::Off) {
        builder = builder.dpop(DpopOptions { replay_cache, ..DpopOptions::default() });
    }
    // Opaque tokens are introspected at the first issuer.
    let issuer = issuers[0].url.clone();
    if let Some((secret, hs_issuer)) = &config.hs256 {
        let key = StaticKey::hmac(Algorithm::HS256, secret).map_err(|e| e.to_string())?;
        builder = builder.static_key(rules(hs_issuer), key);
    }
    let resource_metadata = match &config.resource {
        Some(resource) => {
            let metadata = ProtectedResourceMetadata::new(resource, issuers.iter().map(|i| i.url.clone()))
                .scopes(["read", "write", "admin"]);
            let url = metadata.well_known_url().map_err(|e| format!("TOKENGUARD_RESOURCE: {e}"))?;
            builder = builder.resource_metadata(url.as_str());
            Some((url.path().to_owned(), metadata))
        }
        None => None,
    };
    if let Some((client_id, secret)) = &config.introspection {
        let options = IntrospectionOptions::new(&issuer, client_id, secret.clone(), [config.audience.as_str()]);
        builder = builder.introspection(IntrospectionVerifier::new(options).map_err(|e| e.to_string())?);
    }
    let authenticator = builder.build().map_err(|e| format!("configuration: {e}"))?;
    let dev = dev.map(|(issuer, token, api_key)| {
        let opaque = config
            .introspection
            .as_ref()
            .map(|_| issuer.token().subject("dev-user").audience(config.audience.as_str()).scope("read").opaque());
        DevMode { issuer, token, api_key, opaque }
    });
    Ok(Setup { authenticator, resource_metadata, dev })
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
        println!("curl -H 'Authorization: Token token={}' http://{addr}/me", dev.api_key.expose());
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
