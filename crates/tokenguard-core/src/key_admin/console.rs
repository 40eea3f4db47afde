//! The key console: one HTML page, its script and its style, served from
//! the binary (no front-end build). It holds the caller's bearer token in
//! memory only and calls the JSON API with it — no cookies, so no CSRF
//! surface — under a content security policy that allows nothing but this
//! origin's own script, style and API.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode, header};

use super::AdminReply;

/// The page's path, relative to where the API is mounted.
pub const PAGE_PATH: &str = "/admin/keys";
/// The script's path.
pub const SCRIPT_PATH: &str = "/admin/keys/console.js";
/// The style sheet's path.
pub const STYLE_PATH: &str = "/admin/keys/console.css";

/// The policy every console answer carries.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE: &str = include_str!("console/console.html");
const SCRIPT: &str = include_str!("console/console.js");
const STYLE: &str = include_str!("console/console.css");

/// One of the console's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleAsset {
    /// The HTML page.
    Page,
    /// Its script.
    Script,
    /// Its style sheet.
    Style,
}

impl ConsoleAsset {
    /// The answer serving it.
    pub fn reply(self) -> AdminReply {
        let (content_type, body) = match self {
            ConsoleAsset::Page => ("text/html; charset=utf-8", PAGE),
            ConsoleAsset::Script => ("text/javascript; charset=utf-8", SCRIPT),
            ConsoleAsset::Style => ("text/css; charset=utf-8", STYLE),
        };
        let headers: Vec<(HeaderName, HeaderValue)> = vec![
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ];
        AdminReply::new(StatusCode::OK, headers, Bytes::from_static(body.as_bytes()))
    }
}
