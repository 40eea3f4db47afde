//! [`Config`]: an authenticator described as data — read from the
//! `TOKENGUARD_*` environment variables ([`Config::from_env`]) or from any
//! serde format (a TOML file, say) — and built with
//! [`Authenticator::from_config`](crate::Authenticator::from_config).
//!
//! ```
//! let config: tokenguard_core::Config = serde_json::from_str(r#"{
//!     "issuers": [{"url": "https://idp.example/realms/staff", "claims": "keycloak", "client": "my-api"}],
//!     "audience": "my-api",
//!     "key_store": "sqlite://keys.db"
//! }"#).expect("valid");
//! assert_eq!(config.leeway_seconds, 30);
//! ```
//!
//! Unknown fields are refused, and every error names the setting at fault
//! (the environment variable, for a configuration read from the environment).

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde::Deserialize;

use crate::api_key_verifier::ApiKeyVerifier;
use crate::dpop::{DpopOptions, DpopPolicy, MemoryReplayCache};
use crate::introspection::{IntrospectionOptions, IntrospectionVerifier};
use crate::jwks::JwksOptions;
use crate::jwt::{ClaimMapping, JwtRules, StaticKey};
use crate::resource_metadata::ProtectedResourceMetadata;
use crate::secret::Secret;
use crate::store::{self, CacheOptions};
use crate::{Authenticator, ConfigError};

/// Everything an authenticator is configured with. See the module docs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// OpenID issuers whose JWTs are accepted (keys found by discovery).
    #[serde(default)]
    pub issuers: Vec<IssuerConfig>,
    /// The `aud` a JWT must carry (and the resource an introspection answer
    /// must name, if it names one). Default `tokenguard-example`.
    #[serde(default = "default_audience")]
    pub audience: String,
    /// Clock skew allowed for `exp` / `nbf`. Default 30.
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
    /// JWTs signed with a shared secret.
    #[serde(default)]
    pub hs256: Option<Hs256Config>,
    /// Opaque tokens checked with RFC 7662 introspection.
    #[serde(default)]
    pub introspection: Option<IntrospectionConfig>,
    /// API key store: `sqlite://PATH`, `postgres://…` or `memory:`. None: no API keys.
    #[serde(default)]
    pub key_store: Option<String>,
    /// Prefix of the API keys this deployment issues. Default `tg`.
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
    /// How long a recently verified API key keeps working while the store
    /// is unreachable (0: never). Default 300.
    #[serde(default = "default_key_stale")]
    pub key_stale_seconds: u64,
    /// This API's resource identifier: RFC 9728 metadata is announced in challenges.
    #[serde(default)]
    pub resource: Option<String>,
    /// A header that carries API keys only (e.g. `X-API-Key`). Default: none.
    #[serde(default)]
    pub api_key_header: Option<String>,
    /// A cookie that carries a JWT (backend-for-frontend). Default: none.
    #[serde(default)]
    pub jwt_cookie: Option<String>,
    #[serde(skip)]
    from_env: bool,
}

/// One trusted issuer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The issuer identifier; discovery at `{url}/.well-known/openid-configuration`.
    pub url: String,
    /// This issuer's audience instead of [`Config::audience`].
    #[serde(default)]
    pub audience: Option<String>,
    /// Where scopes and roles are read: `standard`, `keycloak`, `auth0`, `entra`, `okta`.
    #[serde(default = "default_claims")]
    pub claims: String,
    /// Keycloak's client, for `resource_access` roles.
    #[serde(default)]
    pub client: Option<String>,
    /// DPoP for this issuer's tokens: `off` (default), `allowed`, `required`.
    #[serde(default = "dpop_off")]
    pub dpop: DpopPolicy,
}

/// An issuer of HS256 JWTs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hs256Config {
    /// The shared secret, at least 32 bytes.
    pub secret: Secret,
    /// The `iss` of its tokens. Default `tokenguard-local`.
    #[serde(default = "default_hs256_issuer")]
    pub issuer: String,
}

/// RFC 7662 introspection (`client_secret_basic`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionConfig {
    /// Our client id at the issuer.
    pub client_id: String,
    /// Its secret.
    pub client_secret: Secret,
    /// The issuer whose endpoint is used. Default: the first of [`Config::issuers`].
    #[serde(default)]
    pub issuer: Option<String>,
}

/// A configuration that cannot work, naming the setting at fault.
///
/// Shown as `TOKENGUARD_HS256_SECRET must be at least 32 bytes long` when the
/// message says what the setting must be, else as `setting: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidConfig {
    /// The field (`issuers[0].url`) or environment variable (`TOKENGUARD_ISSUER`).
    pub setting: String,
    /// What is wrong with it.
    pub message: String,
}

impl std::fmt::Display for InvalidConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.message.starts_with("must ") {
            true => write!(f, "{} {}", self.setting, self.message),
            false => write!(f, "{}: {}", self.setting, self.message),
        }
    }
}

impl std::error::Error for InvalidConfig {}

fn default_audience() -> String {
    "tokenguard-example".into()
}
fn default_leeway() -> u64 {
    30
}
fn default_key_prefix() -> String {
    "tg".into()
}
fn default_key_stale() -> u64 {
    300
}
fn default_claims() -> String {
    "standard".into()
}
fn dpop_off() -> DpopPolicy {
    DpopPolicy::Off
}
fn default_hs256_issuer() -> String {
    "tokenguard-local".into()
}

/// Environment variables and the fields they set.
const VARIABLES: &[(&str, &str)] = &[
    ("issuers", "TOKENGUARD_ISSUER"),
    ("audience", "TOKENGUARD_AUDIENCE"),
    ("leeway_seconds", "TOKENGUARD_LEEWAY_SECONDS"),
    ("hs256.secret", "TOKENGUARD_HS256_SECRET"),
    ("hs256.issuer", "TOKENGUARD_HS256_ISSUER"),
    ("introspection", "TOKENGUARD_INTROSPECTION_CLIENT_ID"),
    ("key_store", "TOKENGUARD_KEY_STORE"),
    ("key_prefix", "TOKENGUARD_KEY_PREFIX"),
    ("key_stale_seconds", "TOKENGUARD_KEY_STALE_SECONDS"),
    ("resource", "TOKENGUARD_RESOURCE"),
    ("api_key_header", "TOKENGUARD_API_KEY_HEADER"),
    ("jwt_cookie", "TOKENGUARD_JWT_COOKIE"),
];

impl Config {
    /// A configuration with every default and nothing trusted yet.
    pub fn new() -> Self {
        serde_json::from_value(serde_json::json!({})).unwrap_or_else(|_| unreachable!("every field has a default"))
    }

    /// Reads the `TOKENGUARD_*` variables of CONTRACT.md (empty counts as
    /// unset). Unset `TOKENGUARD_KEY_STORE` means `sqlite://tokenguard-keys.db`.
    /// `TOKENGUARD_ISSUER` is a comma-separated list of issuer URLs, each
    /// optionally followed by `#` and `&`-separated settings: `aud=`,
    /// `claims=`, `client=`, `dpop=off|allowed|required`, e.g.
    /// `https://kc.example/realms/staff#claims=keycloak&client=my-api`.
    pub fn from_env() -> Result<Self, InvalidConfig> {
        Self::from_vars(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
    }

    /// [`Config::from_env`] with the variables read from `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, InvalidConfig> {
        let invalid = |setting: &str, message: &str| InvalidConfig { setting: setting.into(), message: message.into() };
        let seconds = |name: &str, default: u64| match var(name) {
            Some(value) => value.parse().map_err(|_| invalid(name, "must be a whole number of seconds")),
            None => Ok(default),
        };
        let hs256 = var("TOKENGUARD_HS256_SECRET").map(|secret| Hs256Config {
            secret: Secret::new(secret),
            issuer: var("TOKENGUARD_HS256_ISSUER").unwrap_or_else(default_hs256_issuer),
        });
        let introspection = match (var("TOKENGUARD_INTROSPECTION_CLIENT_ID"), var("TOKENGUARD_INTROSPECTION_SECRET")) {
            (Some(client_id), Some(secret)) => {
                Some(IntrospectionConfig { client_id, client_secret: Secret::new(secret), issuer: None })
            }
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "TOKENGUARD_INTROSPECTION_CLIENT_ID",
                    "set both TOKENGUARD_INTROSPECTION_CLIENT_ID and TOKENGUARD_INTROSPECTION_SECRET",
                ));
            }
        };
        let config = Self {
            issuers: match var("TOKENGUARD_ISSUER") {
                Some(list) => parse_issuers(&list).map_err(|message| invalid("TOKENGUARD_ISSUER", &message))?,
                None => Vec::new(),
            },
            audience: var("TOKENGUARD_AUDIENCE").unwrap_or_else(default_audience),
            leeway_seconds: seconds("TOKENGUARD_LEEWAY_SECONDS", default_leeway())?,
            hs256,
            introspection,
            key_store: Some(var("TOKENGUARD_KEY_STORE").unwrap_or_else(|| "sqlite://tokenguard-keys.db".into())),
            key_prefix: var("TOKENGUARD_KEY_PREFIX").unwrap_or_else(default_key_prefix),
            key_stale_seconds: seconds("TOKENGUARD_KEY_STALE_SECONDS", default_key_stale())?,
            resource: var("TOKENGUARD_RESOURCE"),
            api_key_header: var("TOKENGUARD_API_KEY_HEADER"),
            jwt_cookie: var("TOKENGUARD_JWT_COOKIE"),
            from_env: true,
        };
        config.check()?;
        Ok(config)
    }

    /// Checks what can be checked without I/O; called again when building.
    pub fn check(&self) -> Result<(), InvalidConfig> {
        if let Some(hs256) = &self.hs256
            && hs256.secret.len() < 32
        {
            return Err(self.invalid("hs256.secret", "must be at least 32 bytes long"));
        }
        for (n, issuer) in self.issuers.iter().enumerate() {
            if ClaimMapping::from_name(&issuer.claims, issuer.client.as_deref()).is_none() {
                let message =
                    format!("unknown claims preset {:?} (standard, keycloak, auth0, entra, okta)", issuer.claims);
                return Err(self.invalid(&format!("issuers[{n}].claims"), &message));
            }
        }
        if self.introspection.as_ref().is_some_and(|i| i.issuer.is_none()) && self.issuers.is_empty() {
            return Err(self.invalid("introspection", "needs an issuer (set introspection.issuer or issuers)"));
        }
        Ok(())
    }

    /// The RFC 9728 metadata of [`Config::resource`], and the path to serve it at.
    pub fn resource_metadata(&self) -> Result<Option<(String, ProtectedResourceMetadata)>, InvalidConfig> {
        Ok(self.resource_metadata_url()?.map(|(url, metadata)| (url.path().to_owned(), metadata)))
    }

    fn resource_metadata_url(&self) -> Result<Option<(url::Url, ProtectedResourceMetadata)>, InvalidConfig> {
        let Some(resource) = &self.resource else { return Ok(None) };
        let metadata = ProtectedResourceMetadata::new(resource, self.issuers.iter().map(|i| i.url.clone()));
        let url = metadata.well_known_url().map_err(|error| self.invalid("resource", error))?;
        Ok(Some((url, metadata)))
    }

    /// How long a recently verified key survives a store outage.
    pub(crate) fn key_stale(&self) -> Duration {
        Duration::from_secs(self.key_stale_seconds)
    }

    /// An error about `field`, named as the user wrote it.
    pub(crate) fn invalid(&self, field: &str, message: &str) -> InvalidConfig {
        let top = field.split(['[', '.']).next().unwrap_or(field);
        let variable = VARIABLES.iter().find(|(name, _)| *name == field || *name == top).map(|(_, var)| *var);
        let setting = match variable {
            Some(variable) if self.from_env => variable.to_owned(),
            _ => field.to_owned(),
        };
        InvalidConfig { setting, message: message.to_owned() }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

impl IssuerConfig {
    /// An issuer with the default settings.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), audience: None, claims: default_claims(), client: None, dpop: DpopPolicy::Off }
    }

    pub(crate) fn claim_mapping(&self) -> ClaimMapping {
        ClaimMapping::from_name(&self.claims, self.client.as_deref()).unwrap_or(ClaimMapping::Standard)
    }
}

impl Authenticator {
    /// Builds the authenticator `config` describes: opens its key store
    /// (PostgreSQL lazily, so a server starts while the database is down)
    /// and trusts its issuers; nothing is fetched until needed, or until
    /// [`Authenticator::warm_up`].
    pub async fn from_config(config: &Config) -> Result<Self, InvalidConfig> {
        config.check()?;
        let leeway = Duration::from_secs(config.leeway_seconds);
        let mut builder = Authenticator::builder();
        let mut replay_cache = None;
        if let Some(url) = &config.key_store {
            let (store, replay) = store::open_with_replay_cache(url)
                .await
                .map_err(|error| config.invalid("key_store", &error.to_string()))?;
            let cache = CacheOptions { stale: config.key_stale(), ..CacheOptions::default() };
            builder = builder.api_keys(ApiKeyVerifier::with_cache(store, config.key_prefix.as_str(), cache));
            replay_cache = Some(replay);
        }
        for issuer in &config.issuers {
            let audience = issuer.audience.as_deref().unwrap_or(&config.audience);
            let rules = JwtRules::new(&issuer.url, [audience])
                .leeway(leeway)
                .claim_mapping(issuer.claim_mapping())
                .dpop(issuer.dpop);
            builder = builder.oidc_issuer(rules, JwksOptions::default());
        }
        if config.issuers.iter().any(|issuer| issuer.dpop != DpopPolicy::Off) {
            // A PostgreSQL store also holds used proofs, so a fleet shares replay protection.
            let replay_cache = replay_cache.unwrap_or_else(|| Arc::new(MemoryReplayCache::default()));
            builder = builder.dpop(DpopOptions { replay_cache, ..DpopOptions::default() });
        }
        if let Some(hs256) = &config.hs256 {
            let key = StaticKey::hmac(Algorithm::HS256, &hs256.secret)
                .map_err(|error| config.invalid("hs256.secret", &error.to_string()))?;
            builder = builder.static_key(JwtRules::new(&hs256.issuer, [config.audience.as_str()]).leeway(leeway), key);
        }
        if let Some((url, _)) = config.resource_metadata_url()? {
            builder = builder.resource_metadata(url.as_str());
        }
        if let Some(introspection) = &config.introspection {
            let issuer =
                introspection.issuer.clone().or_else(|| config.issuers.first().map(|issuer| issuer.url.clone()));
            let issuer = issuer.ok_or_else(|| config.invalid("introspection", "needs an issuer"))?;
            let options = IntrospectionOptions::new(
                issuer,
                introspection.client_id.as_str(),
                introspection.client_secret.clone(),
                [config.audience.as_str()],
            );
            let verifier = IntrospectionVerifier::new(options)
                .map_err(|error| config.invalid("introspection", &error.to_string()))?;
            builder = builder.introspection(verifier);
        }
        if let Some(header) = &config.api_key_header {
            builder = builder.api_key_header(header.as_str());
        }
        if let Some(cookie) = &config.jwt_cookie {
            builder = builder.jwt_cookie(cookie.as_str());
        }
        builder.build().map_err(|error| {
            let field = match error {
                ConfigError::Realm => "realm",
                ConfigError::ApiKeyHeader => "api_key_header",
                ConfigError::JwtCookie => "jwt_cookie",
                ConfigError::HttpClient => "http",
                _ => "issuers",
            };
            config.invalid(field, &error.to_string())
        })
    }
}

/// `TOKENGUARD_ISSUER`'s list syntax (see [`Config::from_env`]).
fn parse_issuers(list: &str) -> Result<Vec<IssuerConfig>, String> {
    let mut issuers = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
        // An issuer URL has no fragment, so `#` is free to start the settings.
        let (url, settings) = entry.split_once('#').unwrap_or((entry, ""));
        let mut issuer = IssuerConfig::new(url);
        for setting in settings.split('&').filter(|s| !s.is_empty()) {
            match setting.split_once('=') {
                Some(("aud", value)) => issuer.audience = Some(value.to_owned()),
                Some(("claims", value)) => issuer.claims = value.to_owned(),
                Some(("client", value)) => issuer.client = Some(value.to_owned()),
                Some(("dpop", "off")) => issuer.dpop = DpopPolicy::Off,
                Some(("dpop", "allowed")) => issuer.dpop = DpopPolicy::Allowed,
                Some(("dpop", "required")) => issuer.dpop = DpopPolicy::Required,
                _ => {
                    return Err(format!(
                        "unknown setting {setting:?} (aud=, claims=, client=, dpop=off|allowed|required)"
                    ));
                }
            }
        }
        // Presets are checked with the rest, by `Config::check`.
        issuers.push(issuer);
    }
    if issuers.is_empty() {
        return Err("names no issuer".into());
    }
    Ok(issuers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned())
    }

    #[test]
    fn the_environment_has_the_contracts_defaults() {
        let config = Config::from_vars(vars(&[])).unwrap();
        assert!(config.issuers.is_empty());
        assert_eq!(config.audience, "tokenguard-example");
        assert_eq!(config.key_store.as_deref(), Some("sqlite://tokenguard-keys.db"));
        assert_eq!((config.key_prefix.as_str(), config.leeway_seconds, config.key_stale_seconds), ("tg", 30, 300));
    }

    #[test]
    fn the_issuer_list_carries_per_issuer_settings() {
        let config = Config::from_vars(vars(&[(
            "TOKENGUARD_ISSUER",
            "https://kc.example/realms/a#claims=keycloak&client=api&dpop=required, https://t.auth0.com/#aud=https://api",
        )]))
        .unwrap();
        let [kc, auth0] = &config.issuers[..] else { panic!("{:?}", config.issuers) };
        assert_eq!(
            (kc.url.as_str(), kc.claims.as_str(), kc.client.as_deref()),
            ("https://kc.example/realms/a", "keycloak", Some("api"))
        );
        assert_eq!(kc.dpop, DpopPolicy::Required);
        assert_eq!((auth0.url.as_str(), auth0.audience.as_deref()), ("https://t.auth0.com/", Some("https://api")));
    }

    #[test]
    fn errors_name_the_variable() {
        let error = |pairs| Config::from_vars(vars(pairs)).unwrap_err().setting;
        assert_eq!(error(&[("TOKENGUARD_HS256_SECRET", "short")]), "TOKENGUARD_HS256_SECRET");
        assert_eq!(error(&[("TOKENGUARD_ISSUER", "https://a#colour=blue")]), "TOKENGUARD_ISSUER");
        assert_eq!(error(&[("TOKENGUARD_ISSUER", "https://a#claims=nope")]), "TOKENGUARD_ISSUER");
        assert_eq!(error(&[("TOKENGUARD_LEEWAY_SECONDS", "soon")]), "TOKENGUARD_LEEWAY_SECONDS");
        assert_eq!(error(&[("TOKENGUARD_KEY_STALE_SECONDS", "-1")]), "TOKENGUARD_KEY_STALE_SECONDS");
        assert_eq!(error(&[("TOKENGUARD_INTROSPECTION_SECRET", "s")]), "TOKENGUARD_INTROSPECTION_CLIENT_ID");
    }

    #[test]
    fn a_file_names_the_field() {
        let config: Config = serde_json::from_str(r#"{"hs256": {"secret": "short"}}"#).unwrap();
        assert_eq!(config.check().unwrap_err().to_string(), "hs256.secret must be at least 32 bytes long");
        let unknown = serde_json::from_str::<Config>(r#"{"audiance": "x"}"#).unwrap_err().to_string();
        assert!(unknown.contains("unknown field `audiance`"), "{unknown}");
    }
}
