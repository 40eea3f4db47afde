//! [`ProtectedResourceMetadata`]: RFC 9728 OAuth 2.0 Protected Resource
//! Metadata, so that clients can find which authorization servers issue
//! tokens for this API and which scopes it knows.
//!
//! Opt-in: serve the document at [`ProtectedResourceMetadata::well_known_url`]
//! and announce it in 401 challenges with
//! [`AuthenticatorBuilder::resource_metadata`](crate::AuthenticatorBuilder::resource_metadata)
//! (`WWW-Authenticate: Bearer …, resource_metadata="…"`, RFC 9728 §5.1).
//!
//! ```
//! use tokenguard_core::resource_metadata::ProtectedResourceMetadata;
//!
//! let metadata = ProtectedResourceMetadata::new("https://api.example", ["https://idp.example/realms/demo"])
//!     .scopes(["read", "write"]);
//! assert_eq!(
//!     metadata.well_known_url().unwrap().as_str(),
//!     "https://api.example/.well-known/oauth-protected-resource"
//! );
//! let response = metadata.into_http(http_body_bytes);
//! # fn http_body_bytes(bytes: bytes::Bytes) -> bytes::Bytes { bytes }
//! assert_eq!(response.headers()["content-type"], "application/json");
//! ```

use bytes::Bytes;
use http::HeaderValue;
use reqwest::Url;
use serde::Serialize;

/// The well-known path suffix of RFC 9728 §3.
pub const WELL_KNOWN_PATH: &str = "/.well-known/oauth-protected-resource";

/// An RFC 9728 metadata document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProtectedResourceMetadata {
    /// The resource identifier (an `https` URL without fragment).
    pub resource: String,
    /// Issuers of tokens this resource accepts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorization_servers: Vec<String>,
    /// Scopes the resource uses in authorization decisions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// How bearer tokens may be sent: `header` only (never the query or body).
    pub bearer_methods_supported: Vec<String>,
    /// A human-readable name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// Where developers read about the API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_documentation: Option<String>,
}

impl ProtectedResourceMetadata {
    /// Metadata for `resource`, whose tokens come from `authorization_servers`.
    pub fn new(
        resource: impl Into<String>,
        authorization_servers: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            resource: resource.into(),
            authorization_servers: authorization_servers.into_iter().map(Into::into).collect(),
            scopes_supported: Vec::new(),
            bearer_methods_supported: vec!["header".into()],
            resource_name: None,
            resource_documentation: None,
        }
    }

    /// The scopes the resource knows.
    pub fn scopes(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Where the document is served: the well-known suffix inserted between
    /// the host and the path of the resource (RFC 9728 §3.1).
    pub fn well_known_url(&self) -> Result<Url, &'static str> {
        let mut url = Url::parse(&self.resource).map_err(|_| "the resource is not a URL")?;
        if url.fragment().is_some() {
            return Err("the resource must not have a fragment");
        }
        let path = url.path().trim_end_matches('/');
        let well_known = format!("{WELL_KNOWN_PATH}{path}");
        url.set_path(&well_known);
        Ok(url)
    }

    /// The document as an `http::Response` (`application/json`, cacheable
    /// for an hour), its body made from the JSON bytes by `body`.
    pub fn into_http<B>(&self, body: impl FnOnce(Bytes) -> B) -> http::Response<B> {
        let json = serde_json::to_vec(self).unwrap_or_default();
        let mut response = http::Response::new(body(Bytes::from(json)));
        let headers = response.headers_mut();
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_url_inserts_the_suffix_before_the_path() {
        let with_path = ProtectedResourceMetadata::new("https://api.example/v1/", ["https://as.example"]);
        assert_eq!(
            with_path.well_known_url().unwrap().as_str(),
            "https://api.example/.well-known/oauth-protected-resource/v1"
        );
        assert!(ProtectedResourceMetadata::new("https://api.example#x", ["a"]).well_known_url().is_err());
    }

    #[test]
    fn serializes_the_rfc_9728_members() {
        let metadata = ProtectedResourceMetadata::new("https://api.example", ["https://as.example"]).scopes(["read"]);
        assert_eq!(
            serde_json::to_value(&metadata).unwrap(),
            serde_json::json!({
                "resource": "https://api.example",
                "authorization_servers": ["https://as.example"],
                "scopes_supported": ["read"],
                "bearer_methods_supported": ["header"]
            })
        );
    }
}
