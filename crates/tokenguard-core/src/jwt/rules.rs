//! Claim checks, strict by default (RFC 7519 §4.1, RFC 8725 §3, RFC 9068 §4).

use std::time::Duration;

use std::borrow::Cow;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::confirmation::DpopPolicy;
use crate::error::AuthError;
use crate::jwt::jose::{ClaimsView, JoseHeader, string};
use crate::jwt::mapping::ClaimMapping;
use crate::scope::Scopes;

/// What to require of the JOSE `typ` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TypPolicy {
    /// Accept `typ` `JWT`, `at+jwt`, or none (most providers' access
    /// tokens); any other explicit type (`dpop+jwt`, `logout+jwt`…) is refused.
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
    mapping: ClaimMapping,
    dpop: DpopPolicy,
}

/// The claims a verified token yielded.
#[derive(Debug)]
pub(crate) struct CheckedClaims {
    pub(crate) subject: String,
    pub(crate) client_id: Option<String>,
    pub(crate) scopes: Scopes,
    pub(crate) roles: Scopes,
    pub(crate) expires_at: u64,
    /// `cnf.jkt`: the DPoP key the token is bound to.
    pub(crate) dpop_jkt: Option<String>,
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
            mapping: ClaimMapping::Standard,
            dpop: DpopPolicy::Allowed,
        }
    }

    /// Whether this issuer's tokens may or must be DPoP-bound (RFC 9449).
    /// Default [`DpopPolicy::Allowed`]: DPoP-bound tokens are accepted
    /// with a valid proof once the authenticator has DPoP enabled
    /// ([`AuthenticatorBuilder::dpop`](crate::AuthenticatorBuilder::dpop)).
    pub fn dpop(mut self, policy: DpopPolicy) -> Self {
        self.dpop = policy;
        self
    }

    /// The DPoP policy.
    pub fn dpop_policy(&self) -> DpopPolicy {
        self.dpop
    }

    /// Where this issuer's tokens keep scopes and roles. Default
    /// [`ClaimMapping::Standard`].
    pub fn claim_mapping(mut self, mapping: ClaimMapping) -> Self {
        self.mapping = mapping;
        self
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

    pub(crate) fn check_at(
        &self,
        header: &JoseHeader,
        claims: &ClaimsView<'_>,
        now: u64,
    ) -> Result<CheckedClaims, AuthError> {
        check_token_kind(self.typ, header, claims)?;
        match (claims.iss, claims.issuer()) {
            (None, _) => return Err(AuthError::InvalidToken("missing issuer")),
            (Some(_), Some(iss)) if iss == self.issuer => {}
            (Some(_), _) => return Err(AuthError::InvalidToken("wrong issuer")),
        }
        self.check_audience(claims.aud)?;
        let leeway = self.leeway.as_secs();
        let expires_at = match claims.exp {
            None => return Err(AuthError::InvalidToken("missing expiry")),
            Some(exp) => numeric_date(exp).ok_or(AuthError::InvalidToken("malformed expiry"))?,
        };
        // RFC 7519 §4.1.4: the current time MUST be before exp.
        if now >= expires_at.saturating_add(leeway) {
            return Err(AuthError::InvalidToken("token expired"));
        }
        if let Some(nbf) = claims.nbf {
            let nbf = numeric_date(nbf).ok_or(AuthError::InvalidToken("malformed not-before"))?;
            if now.saturating_add(leeway) < nbf {
                return Err(AuthError::InvalidToken("token not yet valid"));
            }
        }
        if let Some(iat) = claims.iat {
            let iat = numeric_date(iat).ok_or(AuthError::InvalidToken("malformed issued-at"))?;
            if now.saturating_add(leeway) < iat {
                return Err(AuthError::InvalidToken("token issued in the future"));
            }
        }
        let subject = match string(claims.sub) {
            Some(sub) if !sub.is_empty() => sub.into_owned(),
            _ => return Err(AuthError::InvalidToken("missing subject")),
        };
        let (scopes, roles) = self.mapping.map(claims).map_err(AuthError::InvalidToken)?;
        let client_id = [claims.client_id, claims.azp, claims.cid].into_iter().find_map(string).map(Cow::into_owned);
        let dpop_jkt = match claims.cnf {
            None => None,
            Some(cnf) => {
                let cnf =
                    serde_json::from_str(cnf.get()).map_err(|_| AuthError::InvalidToken("malformed confirmation"))?;
                crate::confirmation::confirmation_jkt(&cnf).map_err(AuthError::InvalidToken)?
            }
        };
        Ok(CheckedClaims { subject, client_id, scopes, roles, expires_at, dpop_jkt })
    }

    fn check_audience(&self, aud: Option<&RawValue>) -> Result<(), AuthError> {
        let Some(aud) = aud else {
            return Err(AuthError::InvalidToken("missing audience"));
        };
        let ours = |aud: &str| self.audiences.iter().any(|a| a == aud);
        // One string or an array of strings (RFC 7519 §4.1.3). Dispatching on
        // the first byte avoids serde's slow buffering of untagged enums.
        let malformed = || AuthError::InvalidToken("malformed audience");
        let matches = match aud.get().as_bytes().first() {
            Some(b'"') => ours(&string(Some(aud)).ok_or_else(malformed)?),
            Some(b'[') => serde_json::from_str::<Vec<Cow<'_, str>>>(aud.get())
                .map_err(|_| malformed())?
                .iter()
                .any(|aud| ours(aud)),
            _ => return Err(malformed()),
        };
        if matches { Ok(()) } else { Err(AuthError::InvalidToken("wrong audience")) }
    }
}

/// Keeps other JWTs of the same issuer (ID tokens, refresh tokens, logout
/// tokens, DPoP proofs…) from passing as access tokens (RFC 8725 §3.11).
/// An explicit `typ` header must name an access token or a plain JWT (or,
/// with [`TypPolicy::AccessTokenJwt`], exactly `at+jwt`); the kind-of-token
/// claims some providers add must say "access token": Keycloak's `typ`
/// (`Bearer`) and Amazon Cognito's `token_use` (`access`).
fn check_token_kind(policy: TypPolicy, header: &JoseHeader, claims: &ClaimsView<'_>) -> Result<(), AuthError> {
    let not_access = || AuthError::InvalidToken("not an access token");
    // Media types are case-insensitive (RFC 7515 §4.1.9).
    let typ_is =
        |names: &[&str]| header.typ.as_deref().is_some_and(|typ| names.iter().any(|n| typ.eq_ignore_ascii_case(n)));
    let typ_ok = typ_is(&["at+jwt", "application/at+jwt"])
        || (policy == TypPolicy::Any && (header.typ.is_none() || typ_is(&["jwt", "application/jwt"])));
    if !typ_ok {
        return Err(not_access());
    }
    let named_kind = |raw: Option<&RawValue>, wanted: &str| match raw {
        None => Ok(()),
        Some(raw) => match string(Some(raw)) {
            Some(kind) if kind.eq_ignore_ascii_case(wanted) => Ok(()),
            _ => Err(not_access()),
        },
    };
    named_kind(claims.typ, "bearer")?;
    named_kind(claims.token_use, "access")
}

/// A NumericDate (RFC 7519 §2): a non-negative JSON number of seconds.
/// Fractions are truncated; anything else (strings, negatives, huge floats) is refused.
pub(crate) fn numeric_date(raw: &RawValue) -> Option<u64> {
    // The common case, a plain integer, without building a `Value`.
    if let Ok(seconds) = raw.get().parse::<u64>() {
        return Some(seconds);
    }
    match serde_json::from_str::<Value>(raw.get()).ok()? {
        Value::Number(number) => number
            .as_u64()
            .or_else(|| number.as_f64().filter(|f| f.is_finite() && *f >= 0.0 && *f < 1e15).map(|f| f as u64)),
        _ => None,
    }
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
        check_with(&rules(), &header(None), &claims)
    }

    fn check_with(rules: &JwtRules, header: &JoseHeader, claims: &Value) -> Result<CheckedClaims, AuthError> {
        let text = claims.to_string();
        let view: ClaimsView<'_> = serde_json::from_str(&text).unwrap();
        rules.check_at(header, &view, NOW)
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
        assert!(check_with(&strict, &header(None), &with("exp", json!(NOW))).is_err());
    }

    #[test]
    fn typ_policy() {
        let strict = rules().typ(TypPolicy::AccessTokenJwt);
        let claims = valid();
        assert!(check_with(&strict, &header(Some("at+JWT")), &claims).is_ok());
        assert!(check_with(&strict, &header(Some("application/at+jwt")), &claims).is_ok());
        assert!(check_with(&strict, &header(Some("JWT")), &claims).is_err());
        assert!(check_with(&strict, &header(None), &claims).is_err());
    }

    #[test]
    fn other_kinds_of_jwt_are_not_access_tokens() {
        let any = rules();
        for typ in [None, Some("JWT"), Some("jwt"), Some("at+jwt"), Some("application/jwt")] {
            assert!(check_with(&any, &header(typ), &valid()).is_ok(), "{typ:?}");
        }
        let refused = AuthError::InvalidToken("not an access token");
        for typ in ["dpop+jwt", "logout+jwt", "secevent+jwt", "JOSE", ""] {
            assert_eq!(check_with(&any, &header(Some(typ)), &valid()).unwrap_err(), refused, "{typ}");
        }
        assert!(check(with("typ", json!("Bearer"))).is_ok());
        assert!(check(with("token_use", json!("access"))).is_ok());
        for (claim, value) in
            [("typ", json!("Refresh")), ("typ", json!("ID")), ("typ", json!(1)), ("token_use", json!("id"))]
        {
            assert_eq!(check(with(claim, value.clone())).unwrap_err(), refused, "{claim}={value}");
        }
    }
}
