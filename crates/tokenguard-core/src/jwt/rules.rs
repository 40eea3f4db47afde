//! Claim checks, strict by default (RFC 7519 §4.1, RFC 8725 §3, RFC 9068 §4).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::error::AuthError;
use crate::jwt::jose::JoseHeader;
use crate::scope::Scopes;

/// What to require of the JOSE `typ` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TypPolicy {
    /// Accept any `typ`, or none (most providers' access tokens).
    #[default]
    Any,
    /// Require `at+jwt` (RFC 9068 §2.1), which keeps ID tokens and other JWTs
    /// of the same issuer from passing as access tokens.
    AccessTokenJwt,
}

/// The claim rules for one issuer.
#[derive(Debug, Clone)]
pub struct JwtRules {
    issuer: String,
    audiences: Vec<String>,
    leeway: Duration,
    typ: TypPolicy,
}

/// The claims a verified token yielded.
#[derive(Debug)]
pub(crate) struct CheckedClaims {
    pub(crate) subject: String,
    pub(crate) client_id: Option<String>,
    pub(crate) scopes: Scopes,
    pub(crate) expires_at: u64,
}

impl JwtRules {
    /// Tokens must carry `iss` equal to `issuer` (exactly, byte for byte) and
    /// an `aud` naming one of `audiences`. Leeway defaults to 30 s.
    pub fn new(issuer: impl Into<String>, audiences: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences: audiences.into_iter().map(Into::into).collect(),
            leeway: Duration::from_secs(30),
            typ: TypPolicy::Any,
        }
    }

    /// Clock skew allowed for `exp`, `nbf` and `iat`.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The `typ` header policy.
    pub fn typ(mut self, typ: TypPolicy) -> Self {
        self.typ = typ;
        self
    }

    /// The issuer these rules accept.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub(crate) fn check(&self, header: &JoseHeader, claims: &Map<String, Value>) -> Result<CheckedClaims, AuthError> {
        self.check_at(header, claims, now())
    }

    pub(crate) fn check_at(
        &self,
        header: &JoseHeader,
        claims: &Map<String, Value>,
        now: u64,
    ) -> Result<CheckedClaims, AuthError> {
        if self.typ == TypPolicy::AccessTokenJwt {
            let typ = header.typ.as_deref().unwrap_or_default().to_ascii_lowercase();
            if typ != "at+jwt" && typ != "application/at+jwt" {
                return Err(AuthError::InvalidToken("not an access token"));
            }
        }
        match claims.get("iss") {
            Some(Value::String(iss)) if *iss == self.issuer => {}
            Some(_) => return Err(AuthError::InvalidToken("wrong issuer")),
            None => return Err(AuthError::InvalidToken("missing issuer")),
        }
        self.check_audience(claims.get("aud"))?;
        let leeway = self.leeway.as_secs();
        let expires_at = match claims.get("exp") {
            None => return Err(AuthError::InvalidToken("missing expiry")),
            Some(exp) => numeric_date(exp).ok_or(AuthError::InvalidToken("malformed expiry"))?,
        };
        // RFC 7519 §4.1.4: the current time MUST be before exp.
        if now >= expires_at.saturating_add(leeway) {
            return Err(AuthError::InvalidToken("token expired"));
        }
        if let Some(nbf) = claims.get("nbf") {
            let nbf = numeric_date(nbf).ok_or(AuthError::InvalidToken("malformed not-before"))?;
            if now.saturating_add(leeway) < nbf {
                return Err(AuthError::InvalidToken("token not yet valid"));
            }
        }
        if let Some(iat) = claims.get("iat") {
            let iat = numeric_date(iat).ok_or(AuthError::InvalidToken("malformed issued-at"))?;
            if now.saturating_add(leeway) < iat {
                return Err(AuthError::InvalidToken("token issued in the future"));
            }
        }
        let subject = match claims.get("sub") {
            Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
            _ => return Err(AuthError::InvalidToken("missing subject")),
        };
        let scopes = Scopes::from_claims(claims).map_err(|_| AuthError::InvalidToken("malformed scope"))?;
        let client_id = ["client_id", "azp", "cid"]
            .iter()
            .find_map(|name| claims.get(*name).and_then(Value::as_str))
            .map(str::to_owned);
        Ok(CheckedClaims { subject, client_id, scopes, expires_at })
    }

    fn check_audience(&self, aud: Option<&Value>) -> Result<(), AuthError> {
        let ours = |aud: &str| self.audiences.iter().any(|a| a == aud);
        let matches = match aud {
            None => return Err(AuthError::InvalidToken("missing audience")),
            Some(Value::String(aud)) => ours(aud),
            Some(Value::Array(auds)) => {
                if auds.iter().any(|a| !a.is_string()) {
                    return Err(AuthError::InvalidToken("malformed audience"));
                }
                auds.iter().filter_map(Value::as_str).any(ours)
            }
            Some(_) => return Err(AuthError::InvalidToken("malformed audience")),
        };
        if matches { Ok(()) } else { Err(AuthError::InvalidToken("wrong audience")) }
    }
}

/// A NumericDate (RFC 7519 §2): a non-negative JSON number of seconds.
/// Fractions are truncated; anything else (strings, negatives, huge floats) is refused.
fn numeric_date(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number
            .as_u64()
            .or_else(|| number.as_f64().filter(|f| f.is_finite() && *f >= 0.0 && *f < 1e15).map(|f| f as u64)),
        _ => None,
    }
}

pub(crate) fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::Algorithm;
    use serde_json::json;

    const NOW: u64 = 1_700_000_000;

    fn header(typ: Option<&str>) -> JoseHeader {
        JoseHeader { alg: Algorithm::RS256, kid: None, typ: typ.map(str::to_owned) }
    }

    fn rules() -> JwtRules {
        JwtRules::new("https://issuer.example", ["api"])
    }

    fn check(claims: Value) -> Result<CheckedClaims, AuthError> {
        rules().check_at(&header(None), claims.as_object().unwrap(), NOW)
    }

    fn valid() -> Value {
        json!({"iss": "https://issuer.example", "aud": "api", "sub": "alice", "exp": NOW + 60, "scope": "read"})
    }

    fn with(key: &str, value: Value) -> Value {
        let mut claims = valid();
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(key);
        } else {
            claims[key] = value;
        }
        claims
    }

    #[test]
    fn accepts_a_valid_token() {
        let checked = check(valid()).unwrap();
        assert_eq!(checked.subject, "alice");
        assert!(checked.scopes.contains("read"));
        assert!(check(with("aud", json!(["other", "api"]))).is_ok());
        assert!(check(with("exp", json!(NOW as f64 + 10.5))).is_ok());
    }

    #[test]
    fn refuses_each_broken_claim() {
        let cases = [
            ("iss", json!("https://issuer.example/"), "wrong issuer"),
            ("iss", json!("HTTPS://issuer.example"), "wrong issuer"),
            ("iss", json!(["https://issuer.example"]), "wrong issuer"),
            ("iss", Value::Null, "missing issuer"),
            ("aud", json!("other"), "wrong audience"),
            ("aud", json!([]), "wrong audience"),
            ("aud", json!([1]), "malformed audience"),
            ("aud", Value::Null, "missing audience"),
            ("exp", Value::Null, "missing expiry"),
            ("exp", json!("9999999999"), "malformed expiry"),
            ("exp", json!(-1), "malformed expiry"),
            ("exp", json!(NOW - 30), "token expired"),
            ("nbf", json!(NOW + 31), "token not yet valid"),
            ("iat", json!(NOW + 31), "token issued in the future"),
            ("sub", Value::Null, "missing subject"),
            ("sub", json!(""), "missing subject"),
            ("scope", json!(["read"]), "malformed scope"),
        ];
        for (claim, value, reason) in cases {
            assert_eq!(
                check(with(claim, value.clone())).unwrap_err(),
                AuthError::InvalidToken(reason),
                "{claim}={value}"
            );
        }
    }

    #[test]
    fn leeway_edges() {
        assert!(check(with("exp", json!(NOW - 29))).is_ok());
        assert!(check(with("nbf", json!(NOW + 30))).is_ok());
        let strict = rules().leeway(Duration::ZERO);
        let claims = with("exp", json!(NOW));
        assert!(strict.check_at(&header(None), claims.as_object().unwrap(), NOW).is_err());
    }

    #[test]
    fn typ_policy() {
        let strict = rules().typ(TypPolicy::AccessTokenJwt);
        let claims = valid();
        let claims = claims.as_object().unwrap();
        assert!(strict.check_at(&header(Some("at+JWT")), claims, NOW).is_ok());
        assert!(strict.check_at(&header(Some("application/at+jwt")), claims, NOW).is_ok());
        assert!(strict.check_at(&header(Some("JWT")), claims, NOW).is_err());
        assert!(strict.check_at(&header(None), claims, NOW).is_err());
    }
}
