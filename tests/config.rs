//! `Config` read from a TOML file, as the README shows: every setting, an
//! unknown key refused by name, and an authenticator built from it that
//! accepts what the same settings accept from the environment.

use tokenguard::{Authenticator, Config, Credential, Scheme};
use tokenguard_testkit::TestIssuer;

#[test]
fn an_unknown_key_is_refused_by_name() {
    let error = toml::from_str::<Config>("audiance = \"my-api\"\n").unwrap_err().to_string();
    assert!(error.contains("unknown field `audiance`"), "{error}");
    let error = toml::from_str::<Config>("[[issuers]]\nurl = \"https://a.example\"\nclaim = \"keycloak\"\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("unknown field `claim`"), "{error}");
}

#[test]
fn a_short_hs256_secret_is_refused_naming_the_field() {
    let config: Config = toml::from_str("[hs256]\nsecret = \"short\"\n").unwrap();
    assert_eq!(config.check().unwrap_err().to_string(), "hs256.secret must be at least 32 bytes long");
}

#[tokio::test]
async fn a_file_configures_what_the_environment_does() {
    let issuer = TestIssuer::start().await;
    let file = format!(
        r#"
        audience = "reports"
        leeway_seconds = 10
        key_store = "memory:"
        key_prefix = "rp"
        key_stale_seconds = 60

        [[issuers]]
        url = "{}"
        claims = "keycloak"
        client = "reports"
        "#,
        issuer.issuer()
    );
    let from_file: Config = toml::from_str(&file).unwrap();
    let vars = [
        ("TOKENGUARD_ISSUER", format!("{}#claims=keycloak&client=reports", issuer.issuer())),
        ("TOKENGUARD_AUDIENCE", "reports".into()),
        ("TOKENGUARD_LEEWAY_SECONDS", "10".into()),
        ("TOKENGUARD_KEY_STORE", "memory:".into()),
        ("TOKENGUARD_KEY_PREFIX", "rp".into()),
        ("TOKENGUARD_KEY_STALE_SECONDS", "60".into()),
    ];
    let from_env = Config::from_vars(|name| vars.iter().find(|(key, _)| *key == name).map(|(_, v)| v.clone())).unwrap();
    assert_eq!(format!("{from_file:?}").replace("from_env: false", "from_env: true"), format!("{from_env:?}"));

    let authenticator = Authenticator::from_config(&from_file).await.unwrap();
    let token = issuer
        .token()
        .audience("reports")
        .claim("resource_access", serde_json::json!({"reports": {"roles": ["editor"]}}))
        .sign();
    let principal = authenticator.verify(Credential::new(Scheme::Bearer, &token)).await.unwrap();
    assert!(principal.roles().contains("editor"), "the keycloak preset maps the client's roles");
    let other_audience = issuer.token().sign();
    assert!(authenticator.verify(Credential::new(Scheme::Bearer, &other_audience)).await.is_err());
    assert_eq!(authenticator.api_keys().map(|keys| keys.prefix()), Some("rp"));
}
