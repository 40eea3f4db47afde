//! [`Readiness`]: whether an [`Authenticator`](crate::Authenticator) can
//! verify what it accepts right now — every issuer's keys fetched, the key
//! store answering — for a service's readiness route.
//!
//! Serialized, it is the body CONTRACT.md gives `GET /ready`:
//! `{"ready":…,"issuers":{"<issuer>":{"ready":…,"keys":N,"error":…}},"store":{"ready":…,"error":…}}`.
//! Errors name what failed (a status, a refused connection), never a secret.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

/// The state of every upstream an authenticator depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    /// Every issuer is ready and the store (if any) answers.
    pub ready: bool,
    /// Issuers whose keys are fetched (discovery or a JWKS URL), by issuer
    /// (or JWKS URL). Issuers with static keys are always ready and not listed.
    pub issuers: BTreeMap<String, IssuerReadiness>,
    /// The API key store, when API keys are accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreReadiness>,
}

/// One issuer's key set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuerReadiness {
    /// Usable keys are cached.
    pub ready: bool,
    /// How many.
    pub keys: usize,
    /// When they were last fetched.
    #[serde(skip)]
    pub fetched_at: Option<SystemTime>,
    /// Why the last fetch failed, if it did.
    pub error: Option<String>,
}

/// The API key store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreReadiness {
    /// Its last query succeeded.
    pub ready: bool,
    /// Why it failed, while it is down.
    pub error: Option<String>,
}
