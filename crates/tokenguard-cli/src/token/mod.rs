//! `tokenguard token …`

use clap::Subcommand;
use serde_json::{Value, json};
use tokenguard_core::jwt::jose;
use tokenguard_core::{AuthError, Authenticator, Credential, JwksOptions, JwtRules, Scheme};

use crate::Failure;

mod get;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Get an access token from an authorization server and print it (or
    /// the whole answer with --json). Secrets come from standard input, one
    /// a line — the client secret if the client has one, then the password
    /// or the refresh token — or from a prompt; never from the command line.
    Get(get::GetArgs),
    /// Decode a JWT without verifying it (output is marked unverified).
    Inspect {
        /// The token.
        token: String,
    },
    /// Verify a JWT against an issuer's JWKS (found by discovery).
    Verify {
        /// The issuer URL.
        #[arg(long)]
        issuer: String,
        /// The audience the token must carry.
        #[arg(long)]
        audience: String,
        /// Clock skew allowed for exp/nbf/iat, in seconds.
        #[arg(long, default_value_t = 30)]
        leeway: u64,
        /// The token.
        token: String,
    },
}

pub async fn run(command: TokenCommand) -> Result<(), Failure> {
    match command {
        TokenCommand::Get(args) => get::run(args).await,
        TokenCommand::Inspect { token } => {
            let (header, claims) = decode(&token)?;
            let output = json!({
                "verified": false,
                "warning": "UNVERIFIED: the signature and claims were not checked",
                "header": header,
                "claims": claims,
            });
            println!("{}", serde_json::to_string_pretty(&output).unwrap_or_default());
            Ok(())
        }
        TokenCommand::Verify { issuer, audience, leeway, token } => {
            let rules = JwtRules::new(issuer, [audience]).leeway(std::time::Duration::from_secs(leeway));
            let authenticator = Authenticator::builder()
                .oidc_issuer(rules, JwksOptions::default())
                .build()
                .map_err(|e| Failure::usage(e.to_string()))?;
            match authenticator.verify(Credential::new(Scheme::Bearer, &token)).await {
                Ok(principal) => {
                    let output = json!({ "verified": true, "principal": principal, "claims": principal.claims() });
                    println!("{}", serde_json::to_string_pretty(&output).unwrap_or_default());
                    Ok(())
                }
                Err(error @ AuthError::Unavailable { .. }) => Err(Failure::failed(error.to_string())),
                Err(error) => Err(Failure::failed(format!("token rejected: {}", error.description()))),
            }
        }
    }
}

fn decode(token: &str) -> Result<(Value, Value), Failure> {
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(Failure::failed("not a JWT: expected three dot-separated parts"));
    };
    let header = jose::decode_object(header).map_err(|_| Failure::failed("the header is not base64url JSON"))?;
    let claims = jose::decode_object(claims).map_err(|_| Failure::failed("the claims are not base64url JSON"))?;
    Ok((Value::Object(header), Value::Object(claims)))
}
