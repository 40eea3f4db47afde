//! Several issuers in one authenticator: each with its own audience, keys
//! and claim mapping; the unverified `iss` only selects, never widens trust.

use serde_json::json;
use tokenguard_core::jwt::ClaimMapping;
use tokenguard_core::{
    AuthError, Authenticator, Credential, JwksOptions, JwtRules, Principal, Scheme, ScopeRequirement,
};
use tokenguard_testkit::TestIssuer;

async fn verify(authenticator: &Authenticator, token: &str) -> Result<Principal, AuthError> {
    authenticator.verify(Credential::new(Scheme::Bearer, token)).await
}

/// Staff tokens from a Keycloak-like issuer A (audience `staff-api`),
/// partner tokens from an Auth0-like issuer B (audience `partner-api`).
async fn two_issuers() -> (TestIssuer, TestIssuer, Authenticator) {
    let a = TestIssuer::start().await;
    let b = TestIssuer::start().await;
    let authenticator = Authenticator::builder()
        .oidc_issuer(
            JwtRules::new(a.issuer(), ["staff-api"])
                .claim_mapping(ClaimMapping::Keycloak { client: Some("staff-api".into()) }),
            JwksOptions::default(),
        )
        .oidc_issuer(
            JwtRules::new(b.issuer(), ["partner-api"]).claim_mapping(ClaimMapping::Auth0),
            JwksOptions::default(),
        )
        .build()
        .expect("valid configuration");
    (a, b, authenticator)
}

#[tokio::test]
async fn each_issuer_has_its_own_audience() {
    let (a, b, authenticator) = two_issuers().await;
    assert!(verify(&authenticator, &a.token().audience("staff-api").sign()).await.is_ok());
    assert!(verify(&authenticator, &b.token().audience("partner-api").sign()).await.is_ok());
    // A token of issuer A naming issuer B's audience is not for us.
    let crossed = verify(&authenticator, &a.token().audience("partner-api").sign()).await;
    assert_eq!(crossed.err(), Some(AuthError::InvalidToken("wrong audience")));
    let crossed = verify(&authenticator, &b.token().audience("staff-api").sign()).await;
    assert_eq!(crossed.err(), Some(AuthError::InvalidToken("wrong audience")));
}

#[tokio::test]
async fn a_kid_collision_across_issuers_cannot_cross_over() {
    let (a, b, authenticator) = two_issuers().await;
    assert_eq!(a.current_kid(), b.current_kid(), "both issuers use the same kid");
    // Warm both key sets.
    assert!(verify(&authenticator, &a.token().audience("staff-api").sign()).await.is_ok());
    assert!(verify(&authenticator, &b.token().audience("partner-api").sign()).await.is_ok());
    // Signed by B's key (same kid as A's), claiming to be from A.
    let forged = b.token().claim("iss", a.issuer()).audience("staff-api").sign();
    assert_eq!(verify(&authenticator, &forged).await.err(), Some(AuthError::InvalidToken("invalid signature")));
}

#[tokio::test]
async fn an_unknown_issuer_costs_no_fetch() {
    let (a, b, authenticator) = two_issuers().await;
    let stranger = TestIssuer::start().await;
    for n in 0..100 {
        let token = stranger.token().claim("jti", n).audience("staff-api").sign();
        assert_eq!(verify(&authenticator, &token).await.err(), Some(AuthError::InvalidToken("untrusted issuer")));
    }
    let fetches = [a.discovery_fetches(), a.jwks_fetches(), b.discovery_fetches(), b.jwks_fetches()];
    assert_eq!(fetches, [0, 0, 0, 0]);
    assert_eq!(stranger.discovery_fetches() + stranger.jwks_fetches(), 0);
}

#[tokio::test]
async fn claim_mappings_apply_per_issuer_and_keep_roles_apart_from_scopes() {
    let (a, b, authenticator) = two_issuers().await;
    let staff = a
        .token()
        .audience("staff-api")
        .scope("profile")
        .claim("realm_access", json!({"roles": ["employee"]}))
        .claim("resource_access", json!({"staff-api": {"roles": ["auditor"]}, "other": {"roles": ["root"]}}))
        .sign();
    let principal = verify(&authenticator, &staff).await.expect("staff token");
    assert!(principal.has_role("employee") && principal.has_role("auditor") && !principal.has_role("root"));
    assert!(!principal.has_scope("auditor") && principal.has_scope("profile"));
    assert!(ScopeRequirement::all_roles("auditor").check(&principal).is_ok());
    assert!(ScopeRequirement::any_role("root auditor").check(&principal).is_ok());
    assert_eq!(
        ScopeRequirement::all_roles("auditor root").check(&principal),
        Err(AuthError::InsufficientRole { required: "auditor root".into() })
    );
    // The same claims mean nothing for issuer B (Auth0 mapping): no roles.
    let partner = b
        .token()
        .audience("partner-api")
        .scope("openid")
        .claim("permissions", json!(["read:reports"]))
        .claim("realm_access", json!({"roles": ["employee"]}))
        .sign();
    let principal = verify(&authenticator, &partner).await.expect("partner token");
    assert!(principal.roles().is_empty());
    assert!(principal.has_scope("read:reports") && principal.has_scope("openid"));
    assert!(ScopeRequirement::any_scope("write:reports read:reports").check(&principal).is_ok());
    assert!(ScopeRequirement::new("write:reports read:reports").check(&principal).is_err());
}
