//! OpenID Provider metadata (OIDC Discovery 1.0 §4, RFC 8414).

use reqwest::Url;
use serde::Deserialize;
use tokio::sync::OnceCell;

use crate::ConfigError;
use crate::fetch::{Fetcher, check_url};

/// The parts of an issuer's metadata tokenguard uses.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ProviderMetadata {
    /// The issuer identifier; must equal the configured issuer exactly.
    pub issuer: String,
    /// Where the signing keys are published.
    pub jwks_uri: String,
    /// RFC 7662 token introspection endpoint, if offered.
    #[serde(default)]
    pub introspection_endpoint: Option<String>,
    /// OAuth 2.0 token endpoint, if offered.
    #[serde(default)]
    pub token_endpoint: Option<String>,
}

/// `{issuer}/.well-known/openid-configuration`, with one trailing slash of
/// the issuer dropped first (OIDC Discovery §4.1).
pub fn discovery_url(issuer: &str) -> Result<Url, &'static str> {
    let base = issuer.strip_suffix('/').unwrap_or(issuer);
    crate::fetch::check_url(&format!("{base}/.well-known/openid-configuration"))
}

/// One endpoint of an issuer (token, introspection…): configured, or read
/// from the issuer's discovery document on first use and kept.
pub(crate) enum LazyEndpoint {
    Configured(Url),
    Discovered {
        issuer: String,
        discovery: Url,
        /// Which member of the metadata names the endpoint.
        member: fn(&ProviderMetadata) -> Option<&String>,
        found: OnceCell<Url>,
    },
}

impl LazyEndpoint {
    /// `configured`, or the endpoint `member` picks from `issuer`'s metadata.
    pub(crate) fn new(
        issuer: &str,
        configured: Option<&Url>,
        member: fn(&ProviderMetadata) -> Option<&String>,
    ) -> Result<Self, ConfigError> {
        Ok(match configured {
            Some(url) => LazyEndpoint::Configured(check_url(url.as_str()).map_err(ConfigError::Url)?),
            None => LazyEndpoint::Discovered {
                issuer: issuer.to_owned(),
                discovery: discovery_url(issuer).map_err(ConfigError::Url)?,
                member,
                found: OnceCell::new(),
            },
        })
    }

    /// The endpoint, fetching the discovery document once if needed (a
    /// failed discovery is retried on the next call). Errors are for logs.
    pub(crate) async fn resolve(&self, fetcher: &Fetcher) -> Result<&Url, String> {
        match self {
            LazyEndpoint::Configured(url) => Ok(url),
            LazyEndpoint::Discovered { issuer, discovery, member, found } => {
                found
                    .get_or_try_init(|| async {
                        let metadata =
                            fetcher.get_json::<ProviderMetadata>(discovery).await.map_err(|e| e.to_string())?;
                        if metadata.value.issuer != *issuer {
                            return Err("discovery document names issuer that differs from the configured one".into());
                        }
                        let endpoint = member(&metadata.value).ok_or("the issuer's metadata names no such endpoint")?;
                        check_url(endpoint).map_err(|reason| format!("endpoint unusable: {reason}"))
                    })
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_well_known_url() {
        assert_eq!(
            discovery_url("https://idp.example/realms/demo/").unwrap().as_str(),
            "https://idp.example/realms/demo/.well-known/openid-configuration"
        );
        assert!(discovery_url("http://idp.example").is_err());
    }
}
