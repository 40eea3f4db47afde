//! Reading an RFC 7662 introspection answer into a [`Principal`].
//!
//! Pure functions, no I/O: what the authorization server said, checked
//! against what this resource server expects.

use serde_json::{Map, Value};

use crate::principal::{Parts, Principal, PrincipalKind};
use crate::scope::Scopes;

/// What a resource server requires of an active token, besides `active: true`.
#[derive(Debug, Clone)]
pub(crate) struct Expectations {
    /// The `iss` the answer must name, when it names one.
    pub(crate) issuer: String,
    /// One of these must be in the answer's `aud`, when it names one.
    pub(crate) audiences: Vec<String>,
    /// Refuse answers that name no `aud` at all.
    pub(crate) require_audience: bool,
    /// Refuse answers that name no `token_type`.
    pub(crate) require_token_type: bool,
}

/// The answer, judged.
#[derive(Debug, Clone)]
pub(crate) enum Verdict {
    /// An active token for us.
    Active(Principal),
    /// Inactive, or active but not acceptable here; the reason is for logs
    /// and the client's `error_description`.
    Refused(&'static str),
}

/// Why an answer cannot be read at all (an upstream fault, not the token's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MalformedAnswer {
    /// The body is not a JSON object.
    #[error("the introspection answer is not a JSON object")]
    NotAnObject,
    /// `active` is missing or not a boolean (RFC 7662 §2.2 requires it).
    #[error("the introspection answer has no boolean `active`")]
    NoActive,
}

/// Judges an introspection answer (RFC 7662 §2.2) at time `now` (Unix seconds).
///
/// Refused: `active: false`; `exp` passed or `nbf` in the future (the server
/// should not call such a token active, but its clock may differ); an `iss`
/// other than ours; an `aud` that names none of our audiences; a
/// `token_type` other than `Bearer` (a refresh token; `DPoP` only for a
/// token bound with `cnf.jkt`, whose proof the authenticator then checks); a
/// confirmation method other than DPoP's; and members of the wrong JSON type.
pub(crate) fn judge(answer: Value, expect: &Expectations, now: u64) -> Result<Verdict, MalformedAnswer> {
    let Value::Object(claims) = answer else {
        return Err(MalformedAnswer::NotAnObject);
    };
    match claims.get("active") {
        Some(Value::Bool(true)) => Ok(match accept(claims, expect, now) {
            Ok(principal) => Verdict::Active(principal),
            Err(reason) => Verdict::Refused(reason),
        }),
        Some(Value::Bool(false)) => Ok(Verdict::Refused("token is not active")),
        _ => Err(MalformedAnswer::NoActive),
    }
}

fn accept(claims: Map<String, Value>, expect: &Expectations, now: u64) -> Result<Principal, &'static str> {
    let expires_at = optional_time(&claims, "exp")?;
    if expires_at.is_some_and(|exp| now >= exp) {
        return Err("token expired");
    }
    if optional_time(&claims, "nbf")?.is_some_and(|nbf| now < nbf) {
        return Err("token not yet valid");
    }
    let issuer = optional_str(&claims, "iss")?;
    if issuer.is_some_and(|iss| iss != expect.issuer) {
        return Err("untrusted issuer");
    }
    check_audience(claims.get("aud"), expect)?;
    let dpop_jkt = claims.get("cnf").map(crate::confirmation::confirmation_jkt).transpose()?.flatten();
    check_token_type(&claims, expect.require_token_type, dpop_jkt.is_some())?;
    let client_id = optional_str(&claims, "client_id")?.map(str::to_owned);
    // RFC 7662 makes `sub` optional: a client-credentials token names only
    // its client, and that client is then the subject (as in RFC 9068 §2.2).
    let subject = optional_str(&claims, "sub")?
        .or(optional_str(&claims, "username")?)
        .map(str::to_owned)
        .or_else(|| client_id.clone())
        .ok_or("token names no subject")?;
    let scopes = match claims.get("scope") {
        None | Some(Value::Null) => Scopes::empty(),
        Some(Value::String(scope)) => Scopes::from_space_separated(scope),
        Some(_) => return Err("malformed scope"),
    };
    let parts = Parts {
        subject,
        kind: PrincipalKind::Introspected,
        issuer: Some(issuer.unwrap_or(&expect.issuer).to_owned()),
        client_id,
        scopes,
        roles: Scopes::empty(),
        expires_at,
        claims,
    };
    Ok(Principal::bound(parts, dpop_jkt))
}

/// Some servers call refresh tokens active too. What kind of token was
/// introspected is named by RFC 7662's `token_type` (`Bearer`), Keycloak's
/// `typ` (`Bearer`, `Refresh`, `ID`) or Ory Hydra's `token_use`
/// (`access_token`, `refresh_token`); oidc-provider names none for refresh
/// tokens. Every name present must say "bearer access token" (or, for a
/// DPoP-bound token, RFC 9449 §6.2's `token_type` `DPoP`), and when
/// required, at least one must be present.
fn check_token_type(claims: &Map<String, Value>, required: bool, dpop_bound: bool) -> Result<(), &'static str> {
    let bearer = |kind: &str| kind.eq_ignore_ascii_case("bearer");
    let dpop = |kind: &str| dpop_bound && kind.eq_ignore_ascii_case("dpop");
    let token_type = optional_str(claims, "token_type")?;
    let typ = optional_str(claims, "typ")?;
    let token_use = optional_str(claims, "token_use")?;
    let named = token_type.is_some() || typ.is_some() || token_use.is_some();
    let wrong = token_type.is_some_and(|t| !bearer(t) && !dpop(t))
        || typ.is_some_and(|t| !bearer(t))
        || token_use.is_some_and(|u| u != "access_token");
    if wrong || (required && !named) { Err("not a bearer access token") } else { Ok(()) }
}

fn check_audience(aud: Option<&Value>, expect: &Expectations) -> Result<(), &'static str> {
    let ours = |value: &Value| value.as_str().is_some_and(|aud| expect.audiences.iter().any(|a| a == aud));
    match aud {
        None | Some(Value::Null) if expect.require_audience => Err("missing audience"),
        None | Some(Value::Null) => Ok(()),
        Some(value @ Value::String(_)) if ours(value) => Ok(()),
        Some(Value::Array(values)) if values.iter().any(ours) => Ok(()),
        Some(Value::String(_) | Value::Array(_)) => Err("wrong audience"),
        Some(_) => Err("malformed audience"),
    }
}

fn optional_str<'a>(claims: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, &'static str> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value)),
        Some(_) => Err("malformed introspection answer"),
    }
}

/// A NumericDate; fractions are allowed (RFC 7519 §2) and truncated.
fn optional_time(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, &'static str> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(seconds) => Ok(Some(seconds)),
            None => n
                .as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0 && *f < 1e15)
                .map(|f| Some(f as u64))
                .ok_or("malformed time claim"),
        },
        Some(_) => Err("malformed time claim"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn expect() -> Expectations {
        Expectations {
            issuer: "https://as.example".into(),
            audiences: vec!["my-api".into()],
            require_audience: false,
            require_token_type: true,
        }
    }

    /// Judges `answer`, as a bearer token unless it says otherwise
    /// (`"token_type": null` stands for no `token_type` at all).
    fn judge_ok(mut answer: Value) -> Verdict {
        if let Value::Object(claims) = &mut answer {
            claims.entry("token_type").or_insert("Bearer".into());
        }
        judge(answer, &expect(), NOW).expect("well-formed answer")
    }

    fn refused(answer: Value) -> &'static str {
        match judge_ok(answer) {
            Verdict::Refused(reason) => reason,
            Verdict::Active(principal) => panic!("accepted {principal:?}"),
        }
    }

    #[test]
    fn active_answer_becomes_a_principal() {
        let Verdict::Active(principal) = judge_ok(json!({
            "active": true, "sub": "alice", "client_id": "app", "scope": "read write",
            "exp": NOW + 60, "iss": "https://as.example", "aud": ["other", "my-api"], "token_type": "Bearer"
        })) else {
            panic!("refused")
        };
        assert_eq!(principal.subject(), "alice");
        assert_eq!(principal.kind(), PrincipalKind::Introspected);
        assert_eq!(principal.client_id(), Some("app"));
        assert_eq!(principal.issuer(), Some("https://as.example"));
        assert_eq!(principal.expires_at(), Some(NOW + 60));
        assert!(principal.has_scope("read") && principal.has_scope("write"));
        assert_eq!(principal.claims()["token_type"], "Bearer");
    }

    #[test]
    fn client_credentials_token_has_its_client_as_subject() {
        let Verdict::Active(principal) = judge_ok(json!({"active": true, "client_id": "svc", "token_type": "bearer"}))
        else {
            panic!("refused")
        };
        assert_eq!(principal.subject(), "svc");
        assert_eq!(principal.issuer(), Some("https://as.example"));
        assert!(principal.scopes().iter().next().is_none());
    }

    #[test]
    fn refusals() {
        assert_eq!(refused(json!({"active": false})), "token is not active");
        assert_eq!(refused(json!({"active": true, "sub": "a", "exp": NOW})), "token expired");
        assert_eq!(refused(json!({"active": true, "sub": "a", "nbf": NOW + 5})), "token not yet valid");
        assert_eq!(refused(json!({"active": true, "sub": "a", "iss": "https://as.example/"})), "untrusted issuer");
        assert_eq!(refused(json!({"active": true, "sub": "a", "aud": "other"})), "wrong audience");
        assert_eq!(refused(json!({"active": true, "sub": "a", "aud": ["x", "y"]})), "wrong audience");
        assert_eq!(refused(json!({"active": true, "sub": "a", "aud": 7})), "malformed audience");
        assert_eq!(
            refused(json!({"active": true, "sub": "a", "token_type": "refresh_token"})),
            "not a bearer access token"
        );
        assert_eq!(refused(json!({"active": true, "sub": "a", "token_type": "DPoP"})), "not a bearer access token");
        assert_eq!(
            refused(json!({"active": true, "sub": "a", "cnf": {"x5t#S256": "x"}})),
            "unsupported confirmation method"
        );
        assert_eq!(refused(json!({"active": true, "sub": "a", "cnf": {"jkt": 7}})), "malformed confirmation");
        assert_eq!(
            refused(json!({"active": true, "sub": "a", "token_use": "refresh_token", "token_type": "Bearer"})),
            "not a bearer access token"
        );
        assert_eq!(refused(json!({"active": true, "sub": "a", "token_type": null})), "not a bearer access token");
        let keycloak_refresh = json!({"active": true, "sub": "a", "token_type": null, "typ": "Refresh"});
        assert_eq!(refused(keycloak_refresh), "not a bearer access token");
        assert_eq!(refused(json!({"active": true})), "token names no subject");
        assert_eq!(refused(json!({"active": true, "sub": 5})), "malformed introspection answer");
        assert_eq!(refused(json!({"active": true, "sub": "a", "scope": ["read"]})), "malformed scope");
        assert_eq!(refused(json!({"active": true, "sub": "a", "exp": "soon"})), "malformed time claim");
        assert_eq!(refused(json!({"active": true, "sub": "a", "exp": -1})), "malformed time claim");
    }

    #[test]
    fn audience_can_be_required() {
        let strict = Expectations { require_audience: true, ..expect() };
        let answer = |aud: Value| json!({"active": true, "sub": "a", "token_type": "Bearer", "aud": aud});
        assert!(matches!(judge(answer(Value::Null), &strict, NOW), Ok(Verdict::Refused("missing audience"))));
        assert!(matches!(judge(answer(json!("my-api")), &strict, NOW), Ok(Verdict::Active(_))));
    }

    #[test]
    fn keycloak_and_hydra_name_the_token_type_their_own_way() {
        for answer in [
            json!({"active": true, "sub": "a", "typ": "Bearer"}),
            json!({"active": true, "sub": "a", "token_use": "access_token"}),
        ] {
            assert!(matches!(judge(answer, &expect(), NOW), Ok(Verdict::Active(_))));
        }
    }

    #[test]
    fn a_dpop_bound_token_keeps_its_key_thumbprint() {
        let Verdict::Active(principal) =
            judge_ok(json!({"active": true, "sub": "a", "token_type": "DPoP", "cnf": {"jkt": "thumb"}}))
        else {
            panic!("refused")
        };
        assert_eq!(principal.dpop_jkt(), Some("thumb"));
    }

    #[test]
    fn token_type_may_be_optional() {
        let lenient = Expectations { require_token_type: false, ..expect() };
        assert!(matches!(judge(json!({"active": true, "sub": "a"}), &lenient, NOW), Ok(Verdict::Active(_))));
        let refresh = json!({"active": true, "sub": "a", "token_type": "refresh_token"});
        assert!(matches!(judge(refresh, &lenient, NOW), Ok(Verdict::Refused("not a bearer access token"))));
    }

    #[test]
    fn unreadable_answers_are_upstream_faults() {
        assert_eq!(judge(json!([]), &expect(), NOW).err(), Some(MalformedAnswer::NotAnObject));
        assert_eq!(judge(json!({"sub": "a"}), &expect(), NOW).err(), Some(MalformedAnswer::NoActive));
        assert_eq!(judge(json!({"active": "true"}), &expect(), NOW).err(), Some(MalformedAnswer::NoActive));
    }
}
