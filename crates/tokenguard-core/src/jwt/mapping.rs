//! [`ClaimMapping`]: where an issuer's access tokens keep scopes and roles.
//!
//! Presets follow each provider's public documentation of its access tokens:
//!
//! | preset | scopes from | roles from |
//! |---|---|---|
//! | [`ClaimMapping::Standard`] | `scope` (space-separated) or `scp` (array or string) | `roles` (array) |
//! | [`ClaimMapping::Keycloak`] | `scope` | `realm_access.roles` and `resource_access.<client>.roles` |
//! | [`ClaimMapping::Auth0`] | `scope` and `permissions` (RBAC) | — |
//! | [`ClaimMapping::EntraId`] | `scp` (delegated permissions) | `roles` (app roles) |
//! | [`ClaimMapping::Okta`] | `scp` (array) | `groups` (when the authorization server adds it) |
//!
//! Scopes and roles stay apart in the [`Principal`](crate::Principal):
//! guards require one or the other. A claim of the wrong JSON type makes
//! the token invalid rather than silently granting nothing.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::jwt::jose::ClaimsView;
use crate::scope::Scopes;

/// Where scopes and roles live in an issuer's tokens. Default [`ClaimMapping::Standard`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimMapping {
    /// RFC 9068 / RFC 8693: `scope` or `scp` → scopes; `roles` → roles.
    #[default]
    Standard,
    /// Keycloak: `scope` → scopes; realm roles (`realm_access.roles`) and the
    /// roles of `client` (`resource_access.<client>.roles`) → roles. Without a
    /// client, only realm roles.
    Keycloak {
        /// The client whose `resource_access` roles count (usually the API's own client id).
        client: Option<String>,
    },
    /// Auth0: `scope` and, with RBAC's "Add Permissions in the Access
    /// Token", `permissions` → scopes.
    Auth0,
    /// Azure AD / Entra ID (v1 and v2 tokens): `scp` (space-separated
    /// delegated permissions) → scopes; `roles` (app roles, also the only
    /// permissions of app-only tokens) → roles.
    EntraId,
    /// Okta: `scp` (array) → scopes; `groups` → roles.
    Okta,
}

impl ClaimMapping {
    /// The preset named `name` (`standard`, `keycloak`, `auth0`, `entra`,
    /// `okta`), as written in configuration. Keycloak's client is `client`.
    pub fn from_name(name: &str, client: Option<&str>) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "standard" | "generic" => ClaimMapping::Standard,
            "keycloak" => ClaimMapping::Keycloak { client: client.map(str::to_owned) },
            "auth0" => ClaimMapping::Auth0,
            "entra" | "entraid" | "azure" | "azuread" => ClaimMapping::EntraId,
            "okta" => ClaimMapping::Okta,
            _ => return None,
        })
    }

    /// Scopes and roles of a token's claims.
    pub(crate) fn map(&self, claims: &ClaimsView<'_>) -> Result<(Scopes, Scopes), &'static str> {
        let scopes = Scopes::from_raw_claims(claims.scope, claims.scp).map_err(|_| "malformed scope")?;
        Ok(match self {
            ClaimMapping::Standard | ClaimMapping::EntraId => (scopes, names(claims.roles, "malformed roles")?),
            ClaimMapping::Keycloak { client } => (scopes, keycloak_roles(claims, client.as_deref())?),
            ClaimMapping::Auth0 => {
                let permissions = names(claims.permissions, "malformed permissions")?;
                (scopes.iter().chain(permissions.iter()).collect(), Scopes::empty())
            }
            ClaimMapping::Okta => (scopes, names(claims.groups, "malformed groups")?),
        })
    }
}

/// An optional array of strings.
fn names(raw: Option<&RawValue>, malformed: &'static str) -> Result<Scopes, &'static str> {
    match raw {
        None => Ok(Scopes::empty()),
        Some(raw) => {
            let names: Vec<Cow<'_, str>> = serde_json::from_str(raw.get()).map_err(|_| malformed)?;
            Ok(names.iter().map(|name| &**name).collect())
        }
    }
}

#[derive(Deserialize)]
struct Access<'a> {
    #[serde(borrow, default)]
    roles: Vec<Cow<'a, str>>,
}

fn keycloak_roles(claims: &ClaimsView<'_>, client: Option<&str>) -> Result<Scopes, &'static str> {
    let malformed = "malformed roles";
    let realm: Option<Access<'_>> =
        claims.realm_access.map(|raw| serde_json::from_str(raw.get()).map_err(|_| malformed)).transpose()?;
    let mut roles: Vec<Cow<'_, str>> = realm.map(|access| access.roles).unwrap_or_default();
    if let (Some(client), Some(raw)) = (client, claims.resource_access) {
        let mut clients: HashMap<Cow<'_, str>, Access<'_>> = serde_json::from_str(raw.get()).map_err(|_| malformed)?;
        if let Some(access) = clients.remove(client) {
            roles.extend(access.roles);
        }
    }
    Ok(roles.iter().map(|role| &**role).collect())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn map(mapping: ClaimMapping, claims: Value) -> Result<(Vec<String>, Vec<String>), &'static str> {
        let text = claims.to_string();
        let view: ClaimsView<'_> = serde_json::from_str(&text).expect("claims");
        let (scopes, roles) = mapping.map(&view)?;
        Ok((scopes.iter().map(str::to_owned).collect(), roles.iter().map(str::to_owned).collect()))
    }

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn keycloak_realm_and_client_roles() {
        // The shape of a Keycloak access token (server admin guide, "Role scope mappings").
        let token = json!({
            "scope": "openid profile email",
            "realm_access": {"roles": ["offline_access", "uma_authorization", "user"]},
            "resource_access": {
                "my-api": {"roles": ["reports-reader"]},
                "account": {"roles": ["manage-account", "view-profile"]}
            },
            "typ": "Bearer", "azp": "frontend", "preferred_username": "alice"
        });
        let client = ClaimMapping::Keycloak { client: Some("my-api".into()) };
        let (scopes, roles) = map(client, token.clone()).unwrap();
        assert_eq!(scopes, strings(&["openid", "profile", "email"]));
        assert_eq!(roles, strings(&["offline_access", "uma_authorization", "user", "reports-reader"]));
        let (_, realm_only) = map(ClaimMapping::Keycloak { client: None }, token).unwrap();
        assert!(!realm_only.contains(&"reports-reader".to_owned()) && !realm_only.contains(&"view-profile".to_owned()));
        assert_eq!(
            map(ClaimMapping::Keycloak { client: None }, json!({"realm_access": {"roles": "x"}})),
            Err("malformed roles")
        );
    }

    #[test]
    fn auth0_permissions_are_scopes() {
        // Auth0 RBAC with "Add Permissions in the Access Token".
        let token = json!({"scope": "openid read:messages", "permissions": ["read:messages", "write:messages"],
                           "gty": "client-credentials", "azp": "abc"});
        let (scopes, roles) = map(ClaimMapping::Auth0, token).unwrap();
        assert_eq!(scopes, strings(&["openid", "read:messages", "write:messages"]));
        assert!(roles.is_empty());
        assert_eq!(map(ClaimMapping::Auth0, json!({"permissions": "read"})), Err("malformed permissions"));
    }

    #[test]
    fn entra_delegated_and_app_only_tokens() {
        // v2.0 delegated: `scp` string; app roles in `roles`.
        let delegated =
            json!({"ver": "2.0", "scp": "Files.Read User.Read", "roles": ["Reports.Admin"], "azp": "app-id"});
        let (scopes, roles) = map(ClaimMapping::EntraId, delegated).unwrap();
        assert_eq!((scopes, roles), (strings(&["Files.Read", "User.Read"]), strings(&["Reports.Admin"])));
        // App-only (client credentials): no `scp`, application permissions in `roles`.
        let app_only = json!({"ver": "1.0", "roles": ["Reports.ReadAll"], "appid": "app-id", "idtyp": "app"});
        let (scopes, roles) = map(ClaimMapping::EntraId, app_only).unwrap();
        assert!(scopes.is_empty());
        assert_eq!(roles, strings(&["Reports.ReadAll"]));
    }

    #[test]
    fn okta_scp_array_and_groups() {
        let token =
            json!({"ver": 1, "cid": "0oa1", "scp": ["openid", "reports.read"], "groups": ["Everyone", "Admins"]});
        let (scopes, roles) = map(ClaimMapping::Okta, token).unwrap();
        assert_eq!((scopes, roles), (strings(&["openid", "reports.read"]), strings(&["Everyone", "Admins"])));
    }

    #[test]
    fn standard_reads_scope_and_roles() {
        let (scopes, roles) = map(ClaimMapping::Standard, json!({"scope": "read write", "roles": ["admin"]})).unwrap();
        assert_eq!((scopes, roles), (strings(&["read", "write"]), strings(&["admin"])));
        assert_eq!(map(ClaimMapping::Standard, json!({"roles": [1]})), Err("malformed roles"));
        assert_eq!(map(ClaimMapping::Standard, json!({"scope": 1})), Err("malformed scope"));
    }

    #[test]
    fn names_from_configuration() {
        assert_eq!(
            ClaimMapping::from_name("Keycloak", Some("api")),
            Some(ClaimMapping::Keycloak { client: Some("api".into()) })
        );
        assert_eq!(ClaimMapping::from_name("entra", None), Some(ClaimMapping::EntraId));
        assert_eq!(ClaimMapping::from_name("nope", None), None);
    }
}
