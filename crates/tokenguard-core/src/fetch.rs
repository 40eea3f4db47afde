//! Bounded HTTP fetches of issuer metadata: every request has a timeout, every
//! answer a size cap, and redirects are never followed.

use std::time::Duration;

use http::HeaderValue;
use http::header::{ACCEPT, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HeaderMap};
use reqwest::Url;
use serde::de::DeserializeOwned;

/// Limits applied to every fetch of discovery documents and key sets.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Total time allowed for one request, connection included. Default 5 s.
    pub timeout: Duration,
    /// Largest accepted response body. Default 256 KiB.
    pub max_body_bytes: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(5), max_body_bytes: 256 * 1024 }
    }
}

/// Why a fetch failed. Only for logs: clients see "temporarily unavailable".
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("request failed: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("unexpected status {0}")]
    Status(u16),
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    #[error("client credentials cannot be put in a header")]
    Header,
    #[error("response is not the expected JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// A parsed JSON answer and how long it may be cached, if the server said.
pub(crate) struct Fetched<T> {
    pub(crate) value: T,
    pub(crate) max_age: Option<Duration>,
    /// The size of the body, in bytes.
    pub(crate) body_len: usize,
}

/// Idle keep-alive connections kept per issuer host (JWKS, introspection).
const MAX_IDLE_CONNECTIONS_PER_HOST: usize = 8;

/// A shared HTTP client with the limits of [`HttpOptions`].
#[derive(Debug, Clone)]
pub(crate) struct Fetcher {
    client: reqwest::Client,
    max_body_bytes: usize,
}

impl Fetcher {
    pub(crate) fn new(options: &HttpOptions) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            // A few idle connections per host, closed after the default idle
            // timeout (90 s): never none, so that one behind a load balancer
            // that drops idle flows silently is not reused hours later.
            .pool_max_idle_per_host(MAX_IDLE_CONNECTIONS_PER_HOST)
            .user_agent(concat!("tokenguard/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, max_body_bytes: options.max_body_bytes })
    }

    /// GETs `url` and parses the JSON body into `T`.
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, url: &Url) -> Result<Fetched<T>, FetchError> {
        let response = self.client.get(url.clone()).header(ACCEPT, "application/json").send().await?;
        self.read_json(response).await
    }

    /// POSTs a client's `request` to `url` and parses the JSON answer into `T`.
    pub(crate) async fn post_json<T: DeserializeOwned>(
        &self,
        url: &Url,
        request: ClientRequest,
    ) -> Result<Fetched<T>, FetchError> {
        let response = self.post(url, request).await?;
        self.read_json(response).await
    }

    /// Like [`Fetcher::post_json`], but any status is an answer: the
    /// status and the body as JSON (`Null` when it is not JSON).
    pub(crate) async fn post_any(
        &self,
        url: &Url,
        request: ClientRequest,
    ) -> Result<(u16, serde_json::Value), FetchError> {
        let response = self.post(url, request).await?;
        let status = response.status().as_u16();
        let body = self.read_body(response).await?;
        Ok((status, serde_json::from_slice(&body).unwrap_or_default()))
    }

    async fn post(&self, url: &Url, client: ClientRequest) -> Result<reqwest::Response, FetchError> {
        let mut request = self
            .client
            .post(url.clone())
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, client.content_type)
            .body(client.body);
        if let Some(credentials) = client.basic {
            let mut value = HeaderValue::try_from(format!("Basic {credentials}")).map_err(|_| FetchError::Header)?;
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
        Ok(request.send().await?)
    }

    async fn read_json<T: DeserializeOwned>(&self, response: reqwest::Response) -> Result<Fetched<T>, FetchError> {
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        let max_age = max_age(response.headers());
        let body = self.read_body(response).await?;
        Ok(Fetched { value: serde_json::from_slice(&body)?, max_age, body_len: body.len() })
    }

    async fn read_body(&self, mut response: reqwest::Response) -> Result<Vec<u8>, FetchError> {
        if response.content_length().is_some_and(|len| len > self.max_body_bytes as u64) {
            return Err(FetchError::TooLarge(self.max_body_bytes));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(FetchError::TooLarge(self.max_body_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// How tokenguard authenticates itself as an OAuth client to a token or
/// introspection endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// HTTP Basic with the form-encoded client id and secret (`client_secret_basic`).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    Post,
    /// A public client (`none`): `client_id` in the body, no secret.
    None,
}

/// How a request body to an authorization server is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyFormat {
    /// `application/x-www-form-urlencoded`, as RFC 6749 says.
    #[default]
    Form,
    /// `application/json`, for servers that want it (all values strings).
    Json,
}

/// A request body for an authorization server: its bytes, content type,
/// and `client_secret_basic` credentials if any. Its `Debug` shows none of them.
pub(crate) struct ClientRequest {
    pub(crate) body: String,
    pub(crate) content_type: &'static str,
    pub(crate) basic: Option<String>,
}

/// The body of a request to an authorization server with `params`, and
/// the client's credentials as `auth` puts them (RFC 6749 §2.3.1):
/// `client_secret_basic` in an `Authorization` header, `client_secret_post`
/// in the body, a public client's id alone in the body.
pub(crate) fn client_request(
    params: &[(&str, &str)],
    client_id: &str,
    secret: &crate::Secret,
    auth: ClientAuth,
    format: BodyFormat,
) -> ClientRequest {
    let mut pairs: Vec<(&str, &str)> = params.to_vec();
    let basic = match auth {
        ClientAuth::Basic => Some(basic_credentials(client_id, secret.expose())),
        ClientAuth::Post => {
            pairs.extend([("client_id", client_id), ("client_secret", secret.expose())]);
            None
        }
        ClientAuth::None => {
            pairs.push(("client_id", client_id));
            None
        }
    };
    let (body, content_type) = match format {
        BodyFormat::Form => {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.extend_pairs(&pairs);
            (form.finish(), "application/x-www-form-urlencoded")
        }
        BodyFormat::Json => {
            let object: serde_json::Map<String, serde_json::Value> =
                pairs.iter().map(|(name, value)| ((*name).to_owned(), serde_json::Value::from(*value))).collect();
            (serde_json::Value::Object(object).to_string(), "application/json")
        }
    };
    ClientRequest { body, content_type, basic }
}

/// `client_secret_basic` credentials: id and secret form-encoded, then
/// base64 (RFC 6749 §2.3.1).
fn basic_credentials(client_id: &str, secret: &str) -> String {
    let encode = |value: &str| url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
    base64_simd::STANDARD.encode_to_string(format!("{}:{}", encode(client_id), encode(secret)))
}

/// `Cache-Control: max-age=N` → `Some(N s)`; `no-cache`/`no-store` → `Some(0)`.
fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(CACHE_CONTROL)?.to_str().ok()?;
    let mut result = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return Some(Duration::ZERO);
        }
        if let Some(seconds) = lower.strip_prefix("max-age=") {
            result = seconds.trim_matches('"').parse().ok().map(Duration::from_secs);
        }
    }
    result
}

/// Checks that a URL is fit to fetch keys from: `https`, or `http` to a
/// loopback address (local development and tests only).
pub fn check_url(url: &str) -> Result<Url, &'static str> {
    let url = Url::parse(url).map_err(|_| "not a valid URL")?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err("plain http is allowed only for loopback addresses"),
        _ => Err("the URL must use https"),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn reads_max_age() {
        let mut headers = HeaderMap::new();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=600"));
        assert_eq!(max_age(&headers), Some(Duration::from_secs(600)));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=600, no-store"));
        assert_eq!(max_age(&headers), Some(Duration::ZERO));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("private"));
        assert_eq!(max_age(&headers), None);
    }

    #[test]
    fn https_or_loopback_only() {
        assert!(check_url("https://idp.example.com/realms/x").is_ok());
        assert!(check_url("http://127.0.0.1:8080").is_ok());
        assert!(check_url("http://localhost:8080").is_ok());
        assert!(check_url("http://[::1]:8080").is_ok());
        assert!(check_url("http://idp.example.com").is_err());
        assert!(check_url("file:///etc/passwd").is_err());
    }
}
