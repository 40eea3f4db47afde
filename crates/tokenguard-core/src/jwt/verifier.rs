//! [`JwtVerifier`]: JWTs of the trusted issuers, each checked against its
//! own keys (a JWKS found by discovery or named, or static keys).

use std::sync::Arc;

use super::jose::{self, ParsedJwt};
use super::{JwtRules, VerificationKey};
use crate::ConfigError;
use crate::credential::Scheme;
use crate::error::AuthError;
use crate::jwks::JwksCache;
use crate::principal::Principal;
use crate::time::Clock;

/// Verifies JWTs of the issuers it trusts. The token's unverified `iss`
/// only *selects* a configured issuer: an unknown `iss` fails without any
/// network I/O, and the issuer's own rules and keys do the rest.
#[derive(Clone, Default)]
pub struct JwtVerifier {
    issuers: Vec<Issuer>,
}

#[derive(Clone)]
struct Issuer {
    rules: JwtRules,
    keys: IssuerKeys,
}

/// Where an issuer's keys come from.
#[derive(Clone)]
pub(crate) enum IssuerKeys {
    Jwks(JwksCache),
    Static(Vec<Arc<VerificationKey>>),
}

/// A verified JWT: its principal, and the key that verified it (a cached
/// verification dies when that key leaves the issuer's JWKS).
pub(crate) struct Verified {
    pub(crate) principal: Principal,
    pub(crate) key: Arc<VerificationKey>,
}

impl JwtVerifier {
    /// Trusts one more issuer.
    pub(crate) fn add(&mut self, rules: JwtRules, keys: IssuerKeys) -> Result<(), ConfigError> {
        if self.issuers.iter().any(|i| i.rules.issuer() == rules.issuer()) {
            return Err(ConfigError::DuplicateIssuer(rules.issuer().to_owned()));
        }
        self.issuers.push(Issuer { rules, keys });
        Ok(())
    }

    /// Whether any issuer is trusted.
    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    /// The trusted issuers' identifiers.
    pub(crate) fn key_sets(&self) -> impl Iterator<Item = (&str, &JwksCache)> {
        self.issuers.iter().filter_map(|issuer| match &issuer.keys {
            IssuerKeys::Jwks(cache) => Some((issuer.rules.issuer(), cache)),
            IssuerKeys::Static(_) => None,
        })
    }

    /// The issuers trusted.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.issuers.iter().map(|i| i.rules.issuer())
    }

    /// The JWKS cache of `issuer`, if its keys come from a JWKS.
    pub fn jwks(&self, issuer: &str) -> Option<&JwksCache> {
        self.issuers.iter().find_map(|i| match &i.keys {
            IssuerKeys::Jwks(cache) if i.rules.issuer() == issuer => Some(cache),
            _ => None,
        })
    }

    /// Verifies `token`, presented with `scheme`, at the time `clock` tells.
    pub(crate) async fn verify(&self, token: &str, scheme: Scheme, clock: &Clock) -> Result<Verified, AuthError> {
        let jwt = jose::parse(token)?;
        let claims = jwt.claims()?;
        let issuer = match claims.issuer() {
            Some(iss) => self.issuers.iter().find(|i| i.rules.issuer() == iss),
            None => return Err(AuthError::InvalidToken("missing issuer")),
        }
        .ok_or(AuthError::InvalidToken("untrusted issuer"))?;
        let key = issuer.key_for(&jwt).await?;
        let checked = super::verify(&jwt, &claims, &key, &issuer.rules, clock.unix_seconds())?;
        issuer.rules.dpop_policy().check(scheme, checked.dpop_jkt.as_deref())?;
        let principal = super::principal(checked, &issuer.rules, jwt.payload());
        Ok(Verified { principal, key })
    }
}

impl Issuer {
    async fn key_for(&self, jwt: &ParsedJwt<'_>) -> Result<Arc<VerificationKey>, AuthError> {
        match &self.keys {
            IssuerKeys::Jwks(cache) => cache.key_for(jwt.header.kid.as_deref(), jwt.header.alg).await,
            IssuerKeys::Static(keys) => keys
                .iter()
                .find(|key| key.allows(jwt.header.alg))
                .or_else(|| keys.first())
                .cloned()
                .ok_or(AuthError::InvalidToken("unknown signing key")),
        }
    }
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.issuers()).finish()
    }
}
