//! `tokenguard`: API key administration and token inspection.
//!
//! ```text
//! tokenguard keys create  --store URL --subject S [--scope "read write"] [--role R] [--name N] [--metadata JSON] [--expires-in 30d] [--json]
//! tokenguard keys import  --store URL --subject S [--scope …] --key RAW
//! tokenguard keys import  --store URL --file F          # JSON lines or CSV; one transaction; idempotent
//! tokenguard keys list    --store URL [--subject S] [--json]
//! tokenguard keys update  --store URL ID [--scope …] [--role …] [--name N] [--metadata JSON] [--expires-in D]
//! tokenguard keys rotate  --store URL ID [--grace D] [--json]
//! tokenguard keys revoke  --store URL ID
//! tokenguard keys audit   --store URL [--key ID] [--json]
//! tokenguard token get    --issuer URL --client-id ID [--grant client_credentials|password|refresh_token] [--username U] [--scope S] [--json]
//! tokenguard token inspect TOKEN
//! tokenguard token verify --issuer URL --audience A TOKEN
//! ```
//!
//! Exit codes: 0 success, 1 the operation failed (unknown key, invalid
//! token, store unreachable), 2 usage or configuration error.

mod keys;
mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "tokenguard", version, about = "API keys and tokens for tokenguard deployments")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create, import, list, update, rotate, revoke and audit API keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Get an access token; inspect or verify a JWT.
    #[command(subcommand)]
    Token(token::TokenCommand),
}

/// A failure with its exit code.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// The operation failed (exit 1).
    pub fn failed(message: impl Into<String>) -> Self {
        Self { code: 1, message: message.into() }
    }

    /// The command was used wrongly (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self { code: 2, message: message.into() }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keys(command) => keys::run(command).await,
        Command::Token(command) => token::run(command).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
