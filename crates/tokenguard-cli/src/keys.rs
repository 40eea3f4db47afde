//! `tokenguard keys …`

use std::io::IsTerminal;
use std::sync::Arc;

use clap::{Args, Subcommand};
use serde_json::json;
use tokenguard_core::apikey;
use tokenguard_core::store::{self, ApiKeyRecord, KeyStore};
use tokenguard_core::{Scopes, Secret};
use tokio::io::AsyncReadExt;

use crate::Failure;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a key; it is shown once, only its digest is stored.
    Create {
        #[command(flatten)]
        store: StoreArg,
        #[command(flatten)]
        owner: Owner,
        /// Lifetime, e.g. 30d, 12h, 15m, 90s.
        #[arg(long)]
        expires_in: Option<String>,
        /// Prefix of generated keys.
        #[arg(long, env = "TOKENGUARD_KEY_PREFIX", default_value = "tg")]
        prefix: String,
        /// Print JSON: {"id","key","subject","scopes","expires_at"}.
        #[arg(long)]
        json: bool,
    },
    /// Adopt an existing raw key (e.g. a 40-hex DRF token) without reissuing it.
    Import {
        #[command(flatten)]
        store: StoreArg,
        #[command(flatten)]
        owner: Owner,
        /// The raw key, or `-` to read it from standard input (keeps it out of shell history).
        #[arg(long)]
        key: String,
        /// Lifetime, e.g. 30d, 12h, 15m, 90s.
        #[arg(long)]
        expires_in: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List keys (never their secrets).
    List {
        #[command(flatten)]
        store: StoreArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by id.
    Revoke {
        #[command(flatten)]
        store: StoreArg,
        /// The key id shown by `create` and `list`.
        id: String,
    },
}

#[derive(Args)]
pub struct StoreArg {
    /// Key store: sqlite://PATH, postgres://… or memory:.
    #[arg(long, env = "TOKENGUARD_KEY_STORE")]
    store: String,
}

#[derive(Args)]
pub struct Owner {
    /// Who the key acts as.
    #[arg(long)]
    subject: String,
    /// Space-separated scopes.
    #[arg(long, default_value = "")]
    scope: String,
    /// A label.
    #[arg(long)]
    name: Option<String>,
}

pub async fn run(command: KeysCommand) -> Result<(), Failure> {
    match command {
        KeysCommand::Create { store, owner, expires_in, prefix, json } => {
            if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(Failure::usage("--prefix must be ASCII letters and digits"));
            }
            let expires_at = expiry(expires_in.as_deref())?;
            let store = open(&store).await?;
            let key = apikey::generate(&prefix);
            let record = add(&*store, &key, owner, expires_at).await?;
            print_created(&record, &key, json);
            Ok(())
        }
        KeysCommand::Import { store, owner, key, expires_in, json } => {
            let expires_at = expiry(expires_in.as_deref())?;
            let key = read_key(key).await?;
            let store = open(&store).await?;
            let record = add(&*store, &key, owner, expires_at).await?;
            if json {
                println!("{}", summary(&record));
            } else {
                println!("imported key {} for {}", record.id, record.subject);
            }
            Ok(())
        }
        KeysCommand::List { store, json } => {
            let records = open(&store).await?.list().await.map_err(|e| Failure::failed(e.to_string()))?;
            if json {
                let list: Vec<_> = records.iter().map(summary).collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                println!("{:<16}  {:<20}  {:<24}  {:<12}  name", "id", "subject", "scopes", "state");
                for record in &records {
                    let scopes = record.scopes.iter().collect::<Vec<_>>().join(" ");
                    let state = if record.revoked_at.is_some() { "revoked" } else { "active" };
                    let name = record.name.as_deref().unwrap_or("");
                    println!("{:<16}  {:<20}  {scopes:<24}  {state:<12}  {name}", record.id, record.subject);
                }
            }
            Ok(())
        }
        KeysCommand::Revoke { store, id } => {
            let store = open(&store).await?;
            let now = unix_now();
            match store.revoke(&id, now).await.map_err(|e| Failure::failed(e.to_string()))? {
                true => {
                    println!("revoked {id}");
                    Ok(())
                }
                false => Err(Failure::failed(format!("no key with id {id}"))),
            }
        }
    }
}

async fn open(store: &StoreArg) -> Result<Arc<dyn KeyStore>, Failure> {
    if store.store == "memory:" {
        return Err(Failure::usage("a memory: store lives only inside one process; use sqlite:// or postgres://"));
    }
    store::open(&store.store).await.map_err(|e| Failure::failed(format!("cannot open the key store: {e}")))
}

async fn add(
    store: &dyn KeyStore,
    key: &Secret,
    owner: Owner,
    expires_at: Option<u64>,
) -> Result<ApiKeyRecord, Failure> {
    let record =
        ApiKeyRecord::for_key(key, owner.subject, Scopes::from_space_separated(&owner.scope), owner.name, expires_at);
    store.insert(record.clone()).await.map_err(|e| Failure::failed(format!("cannot store the key: {e}")))?;
    Ok(record)
}

async fn read_key(key: String) -> Result<Secret, Failure> {
    let key = if key == "-" {
        let mut input = String::new();
        tokio::io::stdin().read_to_string(&mut input).await.map_err(|e| Failure::usage(e.to_string()))?;
        input.trim().to_owned()
    } else {
        key
    };
    // The key must be sendable in an Authorization header.
    let sendable =
        key.len() >= 16 && key.len() <= 512 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    if !sendable {
        return Err(Failure::usage("--key must be 16 to 512 characters of A-Z a-z 0-9 - . _ ~ + /"));
    }
    Ok(Secret::new(key))
}

fn print_created(record: &ApiKeyRecord, key: &Secret, json: bool) {
    if json {
        let output = json!({
            "id": record.id,
            "key": key.expose(),
            "subject": record.subject,
            "scopes": record.scopes,
            "expires_at": record.expires_at,
        });
        println!("{output}");
    } else {
        println!("{}", key.expose());
        if std::io::stderr().is_terminal() {
            eprintln!("key {} for {}: shown once, only its digest is stored", record.id, record.subject);
        }
    }
}

fn summary(record: &ApiKeyRecord) -> serde_json::Value {
    json!({
        "id": record.id,
        "subject": record.subject,
        "scopes": record.scopes,
        "name": record.name,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "revoked_at": record.revoked_at,
        "last_used_at": record.last_used_at,
    })
}

fn expiry(expires_in: Option<&str>) -> Result<Option<u64>, Failure> {
    expires_in.map(|text| parse_duration(text).map(|seconds| unix_now() + seconds)).transpose()
}

/// `30d`, `12h`, `15m`, `90s` or plain seconds.
fn parse_duration(text: &str) -> Result<u64, Failure> {
    let invalid = || Failure::usage(format!("--expires-in: {text:?} is not a duration like 30d, 12h, 15m or 90s"));
    let (number, unit) = match text.char_indices().last() {
        Some((at, unit)) if unit.is_ascii_alphabetic() => (&text[..at], unit),
        _ => (text, 's'),
    };
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(invalid()),
    };
    number.checked_mul(scale).filter(|&seconds| seconds > 0).ok_or_else(invalid)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30d").ok(), Some(30 * 86_400));
        assert_eq!(parse_duration("12h").ok(), Some(12 * 3600));
        assert_eq!(parse_duration("90").ok(), Some(90));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("3w").is_err());
        assert!(parse_duration("d").is_err());
    }
}
