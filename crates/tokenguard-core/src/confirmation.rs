//! Sender-constrained tokens (RFC 7800 `cnf`): what a token's confirmation
//! claim binds it to, and [`DpopPolicy`], whether an issuer's tokens may or
//! must be bound. Read by the JWT and introspection verifiers; the proofs
//! themselves are checked in [`dpop`](crate::dpop).

use serde_json::Value;

use crate::error::AuthError;
use crate::scheme::Scheme;

/// Whether an issuer's tokens may, or must, be DPoP-bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DpopPolicy {
    /// Only bearer tokens; `Authorization: DPoP` is refused for this issuer.
    Off,
    /// Bearer tokens and DPoP-bound tokens with a valid proof (when the
    /// authenticator has DPoP enabled).
    #[default]
    Allowed,
    /// Only DPoP-bound tokens with a valid proof.
    Required,
}

impl DpopPolicy {
    /// Whether a token with confirmation `jkt`, presented with `scheme`, fits
    /// this policy. Bound tokens never pass as bearer tokens (RFC 9449 §7.2).
    pub(crate) fn check(self, scheme: Scheme, jkt: Option<&str>) -> Result<(), AuthError> {
        match (scheme, self, jkt) {
            (Scheme::DPoP, DpopPolicy::Off, _) => Err(AuthError::InvalidToken("DPoP is not accepted for this issuer")),
            (Scheme::DPoP, _, None) => Err(AuthError::InvalidToken("the token is not DPoP-bound")),
            (Scheme::DPoP, _, Some(_)) => Ok(()),
            (_, _, Some(_)) => Err(AuthError::InvalidToken("a DPoP-bound token must be sent with a DPoP proof")),
            (_, DpopPolicy::Required, None) => Err(AuthError::InvalidToken("this issuer requires DPoP-bound tokens")),
            (_, _, None) => Ok(()),
        }
    }
}

/// Reads a confirmation claim (`cnf`, RFC 7800): `Some(jkt)` for a DPoP
/// binding (RFC 9449 §6), `None` when absent. Any other confirmation method
/// (mTLS `x5t#S256`, RFC 8705…) cannot be checked here, so such a token is
/// refused rather than accepted unconstrained.
pub(crate) fn confirmation_jkt(cnf: &Value) -> Result<Option<String>, &'static str> {
    match cnf {
        Value::Null => Ok(None),
        Value::Object(members) => match (members.get("jkt"), members.len()) {
            (Some(Value::String(jkt)), 1) if !jkt.is_empty() => Ok(Some(jkt.clone())),
            (Some(_), 1) => Err("malformed confirmation"),
            _ => Err("unsupported confirmation method"),
        },
        _ => Err("malformed confirmation"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn policies_decide_by_scheme_and_binding() {
        let bound = Some("jkt");
        for (scheme, policy, jkt, accepted) in [
            (Scheme::DPoP, DpopPolicy::Allowed, bound, true),
            (Scheme::DPoP, DpopPolicy::Required, bound, true),
            (Scheme::DPoP, DpopPolicy::Off, bound, false),
            (Scheme::DPoP, DpopPolicy::Allowed, None, false),
            (Scheme::Bearer, DpopPolicy::Allowed, None, true),
            (Scheme::Bearer, DpopPolicy::Off, None, true),
            (Scheme::Bearer, DpopPolicy::Required, None, false),
            (Scheme::Bearer, DpopPolicy::Off, bound, false),
            (Scheme::Bearer, DpopPolicy::Allowed, bound, false),
        ] {
            assert_eq!(policy.check(scheme, jkt).is_ok(), accepted, "{scheme} {policy:?} {jkt:?}");
        }
    }

    #[test]
    fn only_dpop_confirmations_are_understood() {
        assert_eq!(confirmation_jkt(&json!({"jkt": "abc"})), Ok(Some("abc".to_owned())));
        assert_eq!(confirmation_jkt(&Value::Null), Ok(None));
        assert_eq!(confirmation_jkt(&json!({"x5t#S256": "abc"})), Err("unsupported confirmation method"));
        assert_eq!(confirmation_jkt(&json!({"jkt": "abc", "x5t#S256": "d"})), Err("unsupported confirmation method"));
        assert_eq!(confirmation_jkt(&json!({"jkt": ""})), Err("malformed confirmation"));
        assert_eq!(confirmation_jkt(&json!("abc")), Err("malformed confirmation"));
    }
}
