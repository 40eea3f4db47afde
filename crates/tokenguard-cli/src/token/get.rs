//! `tokenguard token get`: an access token, as API docs' curl examples need one.

use std::io::{BufRead, IsTerminal};

use clap::{Args, ValueEnum};
use tokenguard_core::Secret;
use tokenguard_core::client::{BodyFormat, ClientAuth, OAuthClient, TokenResponse};
use url::Url;

use crate::Failure;

#[derive(Args)]
pub struct GetArgs {
    /// The issuer URL; its token endpoint is found by discovery.
    #[arg(long, required_unless_present = "token_endpoint")]
    issuer: Option<String>,
    /// The token endpoint, instead of discovery.
    #[arg(long)]
    token_endpoint: Option<String>,
    /// The client id.
    #[arg(long)]
    client_id: String,
    /// The grant.
    #[arg(long, value_enum, default_value_t = Grant::ClientCredentials)]
    grant: Grant,
    /// The user, for the password grant.
    #[arg(long, required_if_eq("grant", "password"))]
    username: Option<String>,
    /// The scope to request.
    #[arg(long)]
    scope: Option<String>,
    /// How a client with a secret sends it: basic (client_secret_basic) or post (client_secret_post).
    #[arg(long, value_enum, default_value_t = SecretIn::Basic)]
    client_auth: SecretIn,
    /// Send the token request as JSON instead of a form.
    #[arg(long)]
    json_request: bool,
    /// Print the whole token response as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
enum Grant {
    ClientCredentials,
    Password,
    RefreshToken,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SecretIn {
    Basic,
    Post,
}

/// What the user hands over outside the command line.
struct Secrets {
    client_secret: Option<Secret>,
    /// The password or the refresh token.
    grant: Option<Secret>,
}

pub async fn run(args: GetArgs) -> Result<(), Failure> {
    let secrets = read_secrets(args.grant)?;
    let client = client(&args, secrets.client_secret)?;
    let response = match (args.grant, &secrets.grant) {
        (Grant::ClientCredentials, _) => {
            let mut params = vec![("grant_type", "client_credentials")];
            params.extend(args.scope.as_deref().map(|scope| ("scope", scope)));
            client.request(&params).await
        }
        (Grant::Password, Some(password)) => {
            let username = args.username.as_deref().unwrap_or_default();
            let mut params = vec![("grant_type", "password"), ("username", username), ("password", password.expose())];
            params.extend(args.scope.as_deref().map(|scope| ("scope", scope)));
            client.request(&params).await
        }
        (Grant::RefreshToken, Some(refresh_token)) => {
            let mut params = vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token.expose())];
            params.extend(args.scope.as_deref().map(|scope| ("scope", scope)));
            client.request(&params).await
        }
        (_, None) => return Err(Failure::usage("no password or refresh token was given")),
    };
    let response = response.map_err(|error| Failure::failed(error.to_string()))?;
    print(&response, args.json);
    Ok(())
}

fn client(args: &GetArgs, secret: Option<Secret>) -> Result<OAuthClient, Failure> {
    let usage = |error: tokenguard_core::ConfigError| Failure::usage(error.to_string());
    let has_secret = secret.is_some();
    let client = match (&args.token_endpoint, &args.issuer, secret) {
        (Some(endpoint), _, secret) => {
            let url = Url::parse(endpoint).map_err(|_| Failure::usage("--token-endpoint is not a URL"))?;
            match secret {
                Some(secret) => OAuthClient::with_token_endpoint(url, &args.client_id, secret).map_err(usage)?,
                None => OAuthClient::public_with_token_endpoint(url, &args.client_id).map_err(usage)?,
            }
        }
        (None, Some(issuer), Some(secret)) => OAuthClient::discover(issuer, &args.client_id, secret).map_err(usage)?,
        (None, Some(issuer), None) => OAuthClient::discover_public(issuer, &args.client_id).map_err(usage)?,
        (None, None, _) => return Err(Failure::usage("give --issuer or --token-endpoint")),
    };
    let client = match args.client_auth {
        SecretIn::Post if has_secret => client.client_auth(ClientAuth::Post),
        _ => client,
    };
    Ok(if args.json_request { client.body_format(BodyFormat::Json) } else { client })
}

/// Standard input, one secret a line: the client secret if the client has
/// one, then the password or refresh token. On a terminal, prompts without echo.
fn read_secrets(grant: Grant) -> Result<Secrets, Failure> {
    let needs_grant_secret = grant != Grant::ClientCredentials;
    if std::io::stdin().is_terminal() {
        let prompt = |what: &str| {
            rpassword::prompt_password(what).map_err(|error| Failure::usage(format!("cannot read a secret: {error}")))
        };
        let client_secret = prompt("client secret (empty for a public client): ")?;
        let grant_secret = match grant {
            Grant::Password => Some(prompt("password: ")?),
            Grant::RefreshToken => Some(prompt("refresh token: ")?),
            Grant::ClientCredentials => None,
        };
        return Ok(Secrets {
            client_secret: Some(client_secret).filter(|secret| !secret.is_empty()).map(Secret::new),
            grant: grant_secret.map(Secret::new),
        });
    }
    let lines: Vec<String> = std::io::stdin()
        .lock()
        .lines()
        .take(3)
        .collect::<Result<_, _>>()
        .map_err(|error| Failure::usage(format!("cannot read standard input: {error}")))?;
    let mut lines: Vec<Secret> = lines.into_iter().filter(|line| !line.is_empty()).map(Secret::new).collect();
    let secrets = match (needs_grant_secret, lines.len()) {
        (false, 0) => Secrets { client_secret: None, grant: None },
        (false, 1) => Secrets { client_secret: lines.pop(), grant: None },
        (true, 1) => Secrets { client_secret: None, grant: lines.pop() },
        (true, 2) => {
            let grant = lines.pop();
            Secrets { client_secret: lines.pop(), grant }
        }
        _ => {
            return Err(Failure::usage(
                "standard input: one secret a line — the client secret if the client has one, then the password or refresh token",
            ));
        }
    };
    Ok(secrets)
}

fn print(response: &TokenResponse, json: bool) {
    if json {
        let output = serde_json::json!({
            "access_token": response.access_token.expose(),
            "token_type": response.token_type,
            "expires_in": response.expires_in,
            "refresh_token": response.refresh_token.as_ref().map(Secret::expose),
            "refresh_expires_in": response.refresh_expires_in,
            "scope": response.scope,
        });
        println!("{output}");
    } else {
        println!("{}", response.access_token.expose());
    }
}
