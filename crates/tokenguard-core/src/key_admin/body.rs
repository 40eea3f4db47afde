//! The API's request bodies and list parameters, checked: every input is
//! bounded, and a mistake is a 400 that says which field.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::Failure;
use crate::scope::{Scopes, is_scope_token};
use crate::store::{KeyCursor, KeyUpdate};

/// Bounds on what a caller may store.
const MAX_SUBJECT: usize = 256;
const MAX_NAME: usize = 200;
const MAX_NAMES: usize = 64;
const MAX_METADATA: usize = 8 * 1024;
/// Ten years: a longer lifetime is a mistake, not a key.
const MAX_LIFETIME: u64 = 10 * 365 * 86_400;
/// One year of grace at most.
const MAX_GRACE: u64 = 365 * 86_400;
/// Page sizes.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 100;

/// `POST /keys`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateBody {
    #[serde(default, deserialize_with = "subject")]
    pub(super) subject: Option<String>,
    #[serde(default, deserialize_with = "names")]
    pub(super) scopes: Scopes,
    #[serde(default, deserialize_with = "names")]
    pub(super) roles: Scopes,
    #[serde(default, deserialize_with = "name")]
    pub(super) name: Option<String>,
    #[serde(default, deserialize_with = "metadata")]
    pub(super) metadata: Map<String, Value>,
    #[serde(default, deserialize_with = "lifetime")]
    pub(super) expires_in: Option<u64>,
}

/// `PATCH /keys/{id}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateBody {
    #[serde(default, deserialize_with = "some_names")]
    scopes: Option<Scopes>,
    #[serde(default, deserialize_with = "some_names")]
    roles: Option<Scopes>,
    #[serde(default, deserialize_with = "name")]
    name: Option<String>,
    #[serde(default, deserialize_with = "some_metadata")]
    metadata: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "lifetime")]
    expires_in: Option<u64>,
}

impl UpdateBody {
    pub(super) fn into_update(self, now: u64) -> Result<KeyUpdate, Failure> {
        let update = KeyUpdate {
            scopes: self.scopes,
            roles: self.roles,
            name: self.name,
            metadata: self.metadata,
            expires_at: self.expires_in.map(|seconds| now + seconds),
        };
        if update.is_empty() {
            return Err(Failure::Invalid("nothing to change: give scopes, roles, name, metadata or expires_in".into()));
        }
        Ok(update)
    }
}

/// `POST /keys/{id}/rotate`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RotateBody {
    #[serde(default, deserialize_with = "grace")]
    pub(super) grace_seconds: u64,
}

/// The body as `T`, or a 400 naming what is wrong (serde's messages name
/// fields and positions, never values).
pub(super) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(body).map_err(|error| Failure::Invalid(format!("malformed JSON body: {error}")))
}

/// `GET /keys` query parameters.
pub(super) struct ListParams {
    pub(super) subject: Option<String>,
    pub(super) limit: usize,
    pub(super) cursor: Option<KeyCursor>,
}

impl ListParams {
    pub(super) fn parse(query: &str) -> Result<Self, Failure> {
        let mut params = Self { subject: None, limit: DEFAULT_LIMIT, cursor: None };
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match &*name {
                "subject" if value.len() <= MAX_SUBJECT => params.subject = Some(value.into_owned()),
                "limit" => {
                    params.limit = value
                        .parse()
                        .ok()
                        .filter(|limit| (1..=MAX_LIMIT).contains(limit))
                        .ok_or_else(|| Failure::Invalid(format!("limit must be 1 to {MAX_LIMIT}")))?;
                }
                "cursor" => {
                    let cursor = KeyCursor::parse(&value).ok_or_else(|| Failure::Invalid("malformed cursor".into()))?;
                    params.cursor = Some(cursor);
                }
                "subject" => return Err(Failure::Invalid("subject is too long".into())),
                _ => return Err(Failure::Invalid(format!("unknown parameter {:?}", truncate(&name)))),
            }
        }
        Ok(params)
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(40).collect()
}

fn invalid<E: serde::de::Error>(message: &str) -> E {
    E::custom(message)
}

fn subject<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let subject = String::deserialize(deserializer)?;
    if subject.is_empty() || subject.len() > MAX_SUBJECT || subject.chars().any(char::is_control) {
        return Err(invalid("subject must be 1 to 256 characters, none of them control characters"));
    }
    Ok(Some(subject))
}

fn names<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Scopes, D::Error> {
    let names = Vec::<String>::deserialize(deserializer)?;
    if names.len() > MAX_NAMES || !names.iter().all(|name| is_scope_token(name)) {
        return Err(invalid("scopes and roles must be lists of at most 64 scope tokens (no spaces or quotes)"));
    }
    Ok(names.iter().map(String::as_str).collect())
}

fn some_names<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Scopes>, D::Error> {
    names(deserializer).map(Some)
}

fn name<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let name = String::deserialize(deserializer)?;
    if name.len() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(invalid("name must be at most 200 characters, none of them control characters"));
    }
    Ok(Some(name))
}

fn metadata<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Map<String, Value>, D::Error> {
    let metadata = Map::deserialize(deserializer)?;
    if Value::Object(metadata.clone()).to_string().len() > MAX_METADATA {
        return Err(invalid("metadata must be a JSON object of at most 8 KiB"));
    }
    Ok(metadata)
}

fn some_metadata<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Map<String, Value>>, D::Error> {
    metadata(deserializer).map(Some)
}

fn lifetime<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    match u64::deserialize(deserializer)? {
        seconds @ 1..=MAX_LIFETIME => Ok(Some(seconds)),
        _ => Err(invalid("expires_in must be 1 second to 10 years, in seconds")),
    }
}

fn grace<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    match u64::deserialize(deserializer)? {
        seconds @ 0..=MAX_GRACE => Ok(seconds),
        _ => Err(invalid("grace_seconds must be 0 to one year, in seconds")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_message<T>(result: Result<T, Failure>) -> String {
        match result {
            Err(Failure::Invalid(message)) => message,
            _ => panic!("accepted"),
        }
    }

    #[test]
    fn bodies_are_checked() {
        let body: CreateBody = parse(br#"{"subject":"alice","scopes":["read","write"],"expires_in":60}"#).ok().unwrap();
        assert_eq!(
            (body.subject.as_deref(), body.scopes.as_str(), body.expires_in),
            (Some("alice"), "read write", Some(60))
        );
        let message = invalid_message(parse::<CreateBody>(br#"{"subject":"a","scopes":["has space"]}"#));
        assert!(message.contains("scope tokens"), "{message}");
        let message = invalid_message(parse::<CreateBody>(br#"{"subject":"a","owner":"b"}"#));
        assert!(message.contains("unknown field `owner`"), "{message}");
        assert!(matches!(parse::<CreateBody>(br#"{"subject":""}"#), Err(Failure::Invalid(_))));
        assert!(matches!(parse::<CreateBody>(br#"{"expires_in":0}"#), Err(Failure::Invalid(_))));
        assert!(matches!(parse::<UpdateBody>(b"{}").and_then(|body| body.into_update(0)), Err(Failure::Invalid(_))));
        assert!(matches!(parse::<RotateBody>(br#"{"grace_seconds":-1}"#), Err(Failure::Invalid(_))));
    }

    #[test]
    fn list_parameters_are_checked() {
        let params = ListParams::parse("subject=a%20b&limit=2&cursor=17.00ff").ok().unwrap();
        assert_eq!((params.subject.as_deref(), params.limit), (Some("a b"), 2));
        assert_eq!(params.cursor, Some(KeyCursor { created_at: 17, id: "00ff".into() }));
        assert!(ListParams::parse("limit=101").is_err());
        assert!(ListParams::parse("limit=0").is_err());
        assert!(ListParams::parse("cursor=x").is_err());
        assert!(ListParams::parse("access_token=x").is_err());
    }
}
