//! OpenID Provider metadata (OIDC Discovery 1.0 §4, RFC 8414).

use reqwest::Url;
use serde::Deserialize;

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
