//! `tokenguard keys …`

mod file;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};
use tokenguard_core::apikey;
use tokenguard_core::store::{self, ApiKeyRecord, ChangedBy, KeyQuery, KeyStore, KeyUpdate};
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
        /// Lifetime, e.g. 4w, 30d, 12h, 15m, 90s.
        #[arg(long)]
        expires_in: Option<String>,
        #[command(flatten)]
        prefix: PrefixArg,
        /// Print JSON: {"id","key","subject","scopes","expires_at"}.
        #[arg(long)]
        json: bool,
    },
    /// Adopt existing raw keys without reissuing them: one (--key), or a
    /// file of them (--file: JSON lines or CSV `key,subject[,scopes,roles,name,expires_at]`),
    /// in one transaction; keys already stored are reported, not changed.
    Import {
        #[command(flatten)]
        store: StoreArg,
        /// Who the key acts as.
        #[arg(long, required_unless_present = "file", conflicts_with = "file")]
        subject: Option<String>,
        /// Space-separated scopes.
        #[arg(long, default_value = "", conflicts_with = "file")]
        scope: String,
        /// A label.
        #[arg(long, conflicts_with = "file")]
        name: Option<String>,
        /// The raw key, or `-` to read it from standard input (keeps it out of shell history).
        #[arg(long, required_unless_present = "file", conflicts_with = "file")]
        key: Option<String>,
        /// A file of keys: JSON lines, or CSV (`.csv`, optionally with a header row).
        #[arg(long)]
        file: Option<PathBuf>,
        /// Lifetime, e.g. 4w, 30d, 12h, 15m, 90s.
        #[arg(long, conflicts_with = "file")]
        expires_in: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List keys (never their secrets).
    List {
        #[command(flatten)]
        store: StoreArg,
        /// Only this subject's keys.
        #[arg(long)]
        subject: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a key's scopes, roles, name, metadata or expiry; running
    /// servers see it within the bound of a revocation.
    Update {
        #[command(flatten)]
        store: StoreArg,
        /// The key id shown by `create` and `list`.
        id: String,
        /// New space-separated scopes (`""` for none).
        #[arg(long)]
        scope: Option<String>,
        /// New space-separated roles (`""` for none).
        #[arg(long)]
        role: Option<String>,
        /// New label.
        #[arg(long)]
        name: Option<String>,
        /// New metadata: a JSON object.
        #[arg(long)]
        metadata: Option<String>,
        /// New lifetime from now, e.g. 4w, 30d, 12h.
        #[arg(long)]
        expires_in: Option<String>,
        /// Print the updated record as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Issue a new key with the same subject, scopes, roles and metadata;
    /// the old one keeps working until the grace period ends.
    Rotate {
        #[command(flatten)]
        store: StoreArg,
        /// The key id to replace.
        id: String,
        /// How long the old key keeps working, e.g. 24h (default: not at all).
        #[arg(long)]
        grace: Option<String>,
        #[command(flatten)]
        prefix: PrefixArg,
        /// Print JSON: the new record with its key and `replaces`.
        #[arg(long)]
        json: bool,
    },
    /// Show the audit log: who changed or used which key, when (never a key).
    Audit {
        #[command(flatten)]
        store: StoreArg,
        /// Only this key's entries.
        #[arg(long)]
        key: Option<String>,
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
pub struct PrefixArg {
    /// Prefix of generated keys.
    #[arg(long, env = "TOKENGUARD_KEY_PREFIX", default_value = "tg")]
    prefix: String,
}

#[derive(Args)]
pub struct Owner {
    /// Who the key acts as.
    #[arg(long)]
    subject: String,
    /// Space-separated scopes.
    #[arg(long, default_value = "")]
    scope: String,
    /// Space-separated roles.
    #[arg(long, default_value = "")]
    role: String,
    /// A label.
    #[arg(long)]
    name: Option<String>,
    /// Free JSON attached to the key (an object); reaches the principal's claims.
    #[arg(long)]
    metadata: Option<String>,
}

pub async fn run(command: KeysCommand) -> Result<(), Failure> {
    match command {
        KeysCommand::Create { store, owner, expires_in, prefix, json } => {
            let expires_at = expiry("--expires-in", expires_in.as_deref())?;
            let key = apikey::generate(&prefix.checked()?);
            let metadata = owner.metadata.as_deref().map(parse_metadata).transpose()?.unwrap_or_default();
            let record = ApiKeyRecord::for_key(
                &key,
                owner.subject,
                Scopes::from_space_separated(&owner.scope),
                owner.name,
                expires_at,
            )
            .with_roles(Scopes::from_space_separated(&owner.role))
            .with_metadata(metadata);
            let opened = store.open().await?;
            add(&*opened, &store.label(), record.clone()).await?;
            print_created(&record, &key, json);
            Ok(())
        }
        KeysCommand::Import { store, file: Some(file), json, .. } => {
            let records = file::read(&file)?;
            let opened = store.open().await?;
            let summary = opened.import(records, &changed_by()).await.map_err(|e| store.failed(e))?;
            if json {
                println!("{}", json!({ "imported": summary.imported, "existing": summary.existing }));
            } else {
                println!("imported {} keys, {} already present", summary.imported, summary.existing);
            }
            Ok(())
        }
        KeysCommand::Import { store, subject, scope, name, key, expires_in, json, .. } => {
            let (Some(subject), Some(key)) = (subject, key) else {
                return Err(Failure::usage("--subject and --key are required without --file"));
            };
            let expires_at = expiry("--expires-in", expires_in.as_deref())?;
            let key = read_key(key).await?;
            let record = ApiKeyRecord::for_key(&key, subject, Scopes::from_space_separated(&scope), name, expires_at);
            let opened = store.open().await?;
            add(&*opened, &store.label(), record.clone()).await?;
            if json {
                println!("{}", summary(&record));
            } else {
                println!("imported key {} for {}", record.id, record.subject);
            }
            Ok(())
        }
        KeysCommand::List { store, subject, json } => {
            let query = KeyQuery { subject, ..KeyQuery::all() };
            let records = store.open().await?.list(&query).await.map_err(|e| store.failed(e))?;
            if json {
                println!("{}", Value::Array(records.iter().map(summary).collect()));
            } else {
                print_table(&records);
            }
            Ok(())
        }
        KeysCommand::Update { store, id, scope, role, name, metadata, expires_in, json } => {
            let update = KeyUpdate {
                scopes: scope.as_deref().map(Scopes::from_space_separated),
                roles: role.as_deref().map(Scopes::from_space_separated),
                name,
                metadata: metadata.as_deref().map(parse_metadata).transpose()?,
                expires_at: expiry("--expires-in", expires_in.as_deref())?,
            };
            if update.is_empty() {
                return Err(Failure::usage(
                    "nothing to change: give --scope, --role, --name, --metadata or --expires-in",
                ));
            }
            let opened = store.open().await?;
            let record = opened.update(&id, &update, &changed_by()).await.map_err(|e| store.failed(e))?;
            let record = record.ok_or_else(|| Failure::failed(format!("no key with id {id}")))?;
            if json {
                println!("{}", summary(&record));
            } else {
                println!("updated {id}");
            }
            Ok(())
        }
        KeysCommand::Rotate { store, id, grace, prefix, json } => {
            let grace = grace.as_deref().map(|text| parse_duration("--grace", text)).transpose()?.unwrap_or(0);
            let key = apikey::generate(&prefix.checked()?);
            let opened = store.open().await?;
            let old = opened.find_by_id(&id).await.map_err(|e| store.failed(e))?;
            let by = changed_by();
            let replacement = match old {
                Some(old) if !old.is_revoked_at(by.at) => old.successor(&key, by.at),
                _ => return Err(Failure::failed(format!("no active key with id {id}"))),
            };
            let until = by.at + grace;
            if !opened.rotate(replacement.clone(), until, &by).await.map_err(|e| store.failed(e))? {
                return Err(Failure::failed(format!("no active key with id {id}")));
            }
            if json {
                let mut output = summary(&replacement);
                output["key"] = json!(key.expose());
                output["old_key_revoked_at"] = json!(until);
                println!("{output}");
            } else {
                println!("{}", key.expose());
                if std::io::stderr().is_terminal() {
                    eprintln!("key {} replaces {id}, which works until {until} (Unix time)", replacement.id);
                }
            }
            Ok(())
        }
        KeysCommand::Audit { store, key, json } => {
            let log = store.open().await?.audit_log(key.as_deref()).await.map_err(|e| store.failed(e))?;
            if json {
                println!("{}", serde_json::to_value(&log).unwrap_or_default());
            } else {
                println!("{:<12}  {:<24}  {:<8}  {:<16}  detail", "at", "actor", "action", "key");
                for entry in &log {
                    let (key_id, detail) =
                        (entry.key_id.as_deref().unwrap_or("-"), entry.detail.as_deref().unwrap_or(""));
                    println!("{:<12}  {:<24}  {:<8}  {key_id:<16}  {detail}", entry.at, entry.actor, entry.action);
                }
            }
            Ok(())
        }
        KeysCommand::Revoke { store, id } => {
            let opened = store.open().await?;
            match opened.revoke(&id, &changed_by()).await.map_err(|e| store.failed(e))? {
                true => {
                    println!("revoked {id}");
                    Ok(())
                }
                false => Err(Failure::failed(format!("no key with id {id}"))),
            }
        }
    }
}

impl StoreArg {
    async fn open(&self) -> Result<Arc<dyn KeyStore>, Failure> {
        if self.store == "memory:" {
            return Err(Failure::usage("a memory: store lives only inside one process; use sqlite:// or postgres://"));
        }
        store::open(&self.store)
            .await
            .map_err(|e| Failure::failed(format!("cannot open the key store {}: {}", self.label(), e.0)))
    }

    /// The store, named without credentials.
    fn label(&self) -> String {
        store_label(&self.store)
    }

    fn failed(&self, error: store::StoreError) -> Failure {
        Failure::failed(format!("key store {}: {}", self.label(), error.0))
    }
}

impl PrefixArg {
    fn checked(&self) -> Result<String, Failure> {
        if self.prefix.is_empty() || !self.prefix.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Failure::usage("--prefix must be ASCII letters and digits"));
        }
        Ok(self.prefix.clone())
    }
}

/// `url` without a password or user: `postgres://host:port/db`, or the SQLite path.
fn store_label(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) if scheme.starts_with("postgres") => {
            let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            let rest = rest.split_once('?').map_or(rest, |(path, _)| path);
            format!("{scheme}://{rest}")
        }
        _ => url.to_owned(),
    }
}

/// Who the audit log says made a change from the command line.
fn changed_by() -> ChangedBy {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    ChangedBy::now(format!("cli:{user}"))
}

async fn add(store: &dyn KeyStore, label: &str, record: ApiKeyRecord) -> Result<(), Failure> {
    match store.insert(record.clone(), &changed_by()).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(Failure::failed(format!("this key is already in the key store (id {})", record.id))),
        Err(error) => Err(Failure::failed(format!("key store {label}: {}", error.0))),
    }
}

async fn read_key(key: String) -> Result<Secret, Failure> {
    let key = if key == "-" {
        let mut input = String::new();
        tokio::io::stdin().read_to_string(&mut input).await.map_err(|e| Failure::usage(e.to_string()))?;
        input.trim().to_owned()
    } else {
        key
    };
    file::check_key(&key).map_err(|problem| Failure::usage(format!("--key {problem}")))?;
    Ok(Secret::new(key))
}

fn parse_metadata(text: &str) -> Result<Map<String, Value>, Failure> {
    match serde_json::from_str(text) {
        Ok(Value::Object(metadata)) => Ok(metadata),
        _ => Err(Failure::usage("--metadata must be a JSON object, e.g. '{\"plan\":\"pro\"}'")),
    }
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

fn print_table(records: &[ApiKeyRecord]) {
    let now = unix_now();
    println!(
        "{:<16}  {:<20}  {:<24}  {:<16}  {:<10}  {:<16}  name",
        "id", "subject", "scopes", "roles", "state", "replaces"
    );
    for record in records {
        let state = if record.is_revoked_at(now) {
            "revoked"
        } else if record.revoked_at.is_some() {
            "retiring"
        } else if record.is_expired_at(now) {
            "expired"
        } else {
            "active"
        };
        println!(
            "{:<16}  {:<20}  {:<24}  {:<16}  {state:<10}  {:<16}  {}",
            record.id,
            record.subject,
            record.scopes.as_str(),
            record.roles.as_str(),
            record.replaces.as_deref().unwrap_or("-"),
            record.name.as_deref().unwrap_or(""),
        );
    }
}

/// A record as `--json` shows it: never the key, never its digest.
fn summary(record: &ApiKeyRecord) -> Value {
    serde_json::to_value(record).unwrap_or_default()
}

fn expiry(flag: &str, expires_in: Option<&str>) -> Result<Option<u64>, Failure> {
    expires_in.map(|text| parse_duration(flag, text).map(|seconds| unix_now() + seconds)).transpose()
}

/// `4w`, `30d`, `12h`, `15m`, `90s` or plain seconds.
fn parse_duration(flag: &str, text: &str) -> Result<u64, Failure> {
    let invalid = || Failure::usage(format!("{flag}: {text:?} is not a duration like 4w, 30d, 12h, 15m or 90s"));
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
        'w' => 7 * 86_400,
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
        let parse = |text| parse_duration("--expires-in", text).ok();
        assert_eq!(parse("30d"), Some(30 * 86_400));
        assert_eq!(parse("12h"), Some(12 * 3600));
        assert_eq!(parse("3w"), Some(21 * 86_400));
        assert_eq!(parse("90"), Some(90));
        assert_eq!(parse("0s"), None);
        assert_eq!(parse("3y"), None);
        assert_eq!(parse("d"), None);
    }

    #[test]
    fn store_labels_carry_no_credentials() {
        assert_eq!(
            store_label("postgres://u:secret@db.example:5432/keys?sslmode=require"),
            "postgres://db.example:5432/keys"
        );
        assert_eq!(store_label("sqlite:///var/lib/keys.db"), "sqlite:///var/lib/keys.db");
    }
}
