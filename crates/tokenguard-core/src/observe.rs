//! Metrics, through the [`metrics`](https://docs.rs/metrics) facade (feature
//! `metrics`): the service installs whichever recorder it likes (Prometheus,
//! StatsD…); without the feature every call here compiles to nothing.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `tokenguard_authentications_total` | counter | `kind` (`jwt`, `introspected`, `api_key`, `unknown` for a malformed header), `outcome` (`accepted`, `refused`, `malformed`, `unavailable`, `forbidden`) |
//! | `tokenguard_token_cache_total` | counter | `result` (`hit`, `miss`) |
//! | `tokenguard_verification_seconds` | histogram | `kind`: verifications the token cache did not answer |
//! | `tokenguard_key_store_query_seconds` | histogram | — |
//! | `tokenguard_key_store_errors_total` | counter | — |
//! | `tokenguard_jwks_fetches_total` | counter | `issuer` (or JWKS URL), `result` (`ok`, `error`); discovery included |
//! | `tokenguard_jwks_keys` | gauge | `issuer`: usable keys after the last fetch |
//! | `tokenguard_introspections_total` | counter | `issuer`, `result` (`active`, `inactive`, `error`) |
//!
//! Labels never hold a credential, a subject or anything a client chose:
//! their values come from the configuration or the lists above, so the
//! number of series is bounded.

#[cfg(feature = "metrics")]
mod enabled {
    use std::time::Duration;

    pub(crate) fn authentication(kind: &'static str, outcome: &'static str) {
        metrics::counter!("tokenguard_authentications_total", "kind" => kind, "outcome" => outcome).increment(1);
    }

    pub(crate) fn token_cache(hit: bool) {
        metrics::counter!("tokenguard_token_cache_total", "result" => if hit { "hit" } else { "miss" }).increment(1);
    }

    pub(crate) fn verification(kind: &'static str, took: Duration) {
        metrics::histogram!("tokenguard_verification_seconds", "kind" => kind).record(took);
    }

    pub(crate) fn key_store_query(took: Duration, failed: bool) {
        metrics::histogram!("tokenguard_key_store_query_seconds").record(took);
        if failed {
            metrics::counter!("tokenguard_key_store_errors_total").increment(1);
        }
    }

    pub(crate) fn jwks_fetch(issuer: &str, keys: Option<usize>) {
        let result = if keys.is_some() { "ok" } else { "error" };
        metrics::counter!("tokenguard_jwks_fetches_total", "issuer" => issuer.to_owned(), "result" => result)
            .increment(1);
        if let Some(keys) = keys {
            metrics::gauge!("tokenguard_jwks_keys", "issuer" => issuer.to_owned()).set(keys as f64);
        }
    }

    pub(crate) fn introspection(issuer: &str, result: &'static str) {
        metrics::counter!("tokenguard_introspections_total", "issuer" => issuer.to_owned(), "result" => result)
            .increment(1);
    }
}

#[cfg(not(feature = "metrics"))]
#[allow(clippy::missing_const_for_fn)]
mod enabled {
    use std::time::Duration;

    #[inline(always)]
    pub(crate) fn authentication(_: &'static str, _: &'static str) {}
    #[inline(always)]
    pub(crate) fn token_cache(_: bool) {}
    #[inline(always)]
    pub(crate) fn verification(_: &'static str, _: Duration) {}
    #[inline(always)]
    pub(crate) fn key_store_query(_: Duration, _: bool) {}
    #[inline(always)]
    pub(crate) fn jwks_fetch(_: &str, _: Option<usize>) {}
    #[inline(always)]
    pub(crate) fn introspection(_: &str, _: &'static str) {}
}

pub(crate) use enabled::*;

use crate::error::AuthError;
use crate::principal::PrincipalKind;

/// Counts a credential refused with `error`; `kind` is what it looked like
/// (`None`: unreadable). No credential at all is not an authentication.
pub(crate) fn refusal(kind: Option<PrincipalKind>, error: &AuthError) {
    if let Some(outcome) = refusal_outcome(error) {
        authentication(kind.map_or("unknown", PrincipalKind::as_str), outcome);
    }
}

/// The `outcome` label of a refusal; `None` for no credential at all.
fn refusal_outcome(error: &AuthError) -> Option<&'static str> {
    Some(match error {
        AuthError::MissingCredentials => return None,
        AuthError::InvalidRequest(_) => "malformed",
        AuthError::Unavailable { .. } => "unavailable",
        AuthError::InsufficientScope { .. } | AuthError::InsufficientRole { .. } => "forbidden",
        _ => "refused",
    })
}
