//! Reading a file of keys for `keys import --file`: JSON lines, or CSV
//! `key,subject[,scopes,roles,name,expires_at]` (a Django REST Framework
//! `authtoken_token` export, for one). Errors name the line, never the key.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};
use tokenguard_core::store::ApiKeyRecord;
use tokenguard_core::{Scopes, Secret};

use crate::Failure;

/// One key as a JSON line; `scopes` and `roles` are arrays or space-separated strings.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    key: String,
    subject: String,
    #[serde(default)]
    scopes: Names,
    #[serde(default)]
    roles: Names,
    name: Option<String>,
    #[serde(default)]
    metadata: Map<String, Value>,
    expires_at: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Names {
    #[default]
    None,
    List(Vec<String>),
    Text(String),
}

impl Names {
    fn scopes(&self) -> Scopes {
        match self {
            Names::None => Scopes::empty(),
            Names::List(names) => names.iter().map(String::as_str).collect(),
            Names::Text(text) => Scopes::from_space_separated(text),
        }
    }
}

/// The records of the keys in `path`.
pub fn read(path: &Path) -> Result<Vec<ApiKeyRecord>, Failure> {
    let text =
        std::fs::read_to_string(path).map_err(|error| Failure::usage(format!("--file {}: {error}", path.display())))?;
    let is_csv = path.extension().is_some_and(|extension| extension.eq_ignore_ascii_case("csv"))
        || !text.trim_start().starts_with('{');
    let at_line = |line: usize, problem: String| Failure::usage(format!("{}:{line}: {problem}", path.display()));
    if is_csv { read_csv(&text, at_line) } else { read_json_lines(&text, at_line) }
}

fn read_json_lines(text: &str, at_line: impl Fn(usize, String) -> Failure) -> Result<Vec<ApiKeyRecord>, Failure> {
    let mut records = Vec::new();
    for (index, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
        // serde_json's message names a field or a position, never a value.
        let line: Line = serde_json::from_str(line).map_err(|error| at_line(index + 1, error.to_string()))?;
        let record = record(&line.key, &line.subject, line.scopes.scopes(), line.name, line.expires_at)
            .map_err(|problem| at_line(index + 1, problem))?;
        records.push(record.with_roles(line.roles.scopes()).with_metadata(line.metadata));
    }
    Ok(records)
}

fn read_csv(text: &str, at_line: impl Fn(usize, String) -> Failure) -> Result<Vec<ApiKeyRecord>, Failure> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut records = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|error| {
            let line = error.position().map_or(0, |position| position.line() as usize);
            at_line(line, "not CSV".into())
        })?;
        let line = row.position().map_or(0, |position| position.line() as usize);
        let field = |index: usize| row.get(index).map(str::trim).filter(|field| !field.is_empty());
        if line == 1 && field(0).is_some_and(|first| first.eq_ignore_ascii_case("key")) {
            continue;
        }
        if row.len() > 6 {
            return Err(at_line(line, "more than 6 fields (key,subject,scopes,roles,name,expires_at)".into()));
        }
        let (Some(key), Some(subject)) = (field(0), field(1)) else {
            return Err(at_line(line, "a row needs at least key,subject".into()));
        };
        let expires_at = field(5)
            .map(|text| text.parse::<u64>().map_err(|_| at_line(line, "expires_at must be Unix seconds".into())))
            .transpose()?;
        let scopes = Scopes::from_space_separated(field(2).unwrap_or(""));
        let record = record(key, subject, scopes, field(4).map(str::to_owned), expires_at)
            .map_err(|problem| at_line(line, problem))?;
        records.push(record.with_roles(Scopes::from_space_separated(field(3).unwrap_or(""))));
    }
    Ok(records)
}

fn record(
    key: &str,
    subject: &str,
    scopes: Scopes,
    name: Option<String>,
    expires_at: Option<u64>,
) -> Result<ApiKeyRecord, String> {
    check_key(key).map_err(|problem| format!("the key {problem}"))?;
    if subject.trim().is_empty() {
        return Err("the subject is empty".into());
    }
    Ok(ApiKeyRecord::for_key(&Secret::new(key.to_owned()), subject.trim(), scopes, name, expires_at))
}

/// A key must be sendable in an `Authorization` header.
pub fn check_key(key: &str) -> Result<(), &'static str> {
    let sendable =
        key.len() >= 16 && key.len() <= 512 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    if sendable { Ok(()) } else { Err("must be 16 to 512 characters of A-Z a-z 0-9 - . _ ~ + /") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(result: Result<Vec<ApiKeyRecord>, Failure>) -> String {
        match result {
            Ok(_) => panic!("accepted"),
            Err(failure) => failure.message,
        }
    }

    #[test]
    fn csv_rows_with_or_without_a_header() {
        let at = |line: usize, problem: String| Failure::usage(format!("f:{line}: {problem}"));
        let text = "key,subject,scopes\n0123456789abcdef0123456789abcdef01234567,alice,read write\n\
                    \"fedcba9876543210fedcba9876543210fedcba98\",bob,,admin,\"Bob, the builder\",4102444800\n";
        let records = read_csv(text, at).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].scopes.as_str(), "read write");
        assert_eq!((records[1].roles.as_str(), records[1].name.as_deref()), ("admin", Some("Bob, the builder")));
        assert_eq!(records[1].expires_at, Some(4_102_444_800));
        let bad = "0123456789abcdef0123456789abcdef01234567,alice\nshort,bob\n";
        assert_eq!(failure(read_csv(bad, at)), "f:2: the key must be 16 to 512 characters of A-Z a-z 0-9 - . _ ~ + /");
    }

    #[test]
    fn json_lines_never_echo_a_key() {
        let at = |line: usize, problem: String| Failure::usage(format!("f:{line}: {problem}"));
        let text = r#"{"key":"0123456789abcdef0123456789abcdef01234567","subject":"a","scopes":["read"],"metadata":{"plan":"pro"}}
{"key":"not a key but a secret-ish value","subject":"b"}"#;
        let message = failure(read_json_lines(text, at));
        assert!(message.starts_with("f:2: the key must be"), "{message}");
        assert!(!message.contains("secret-ish"));
    }
}
