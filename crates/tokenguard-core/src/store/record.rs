//! [`ApiKeyRecord`] and the values that query and change records.

use serde_json::{Map, Value};

use crate::Secret;
use crate::apikey::KeyDigest;
use crate::scope::Scopes;

/// One API key, as stored. The key itself is never stored, only its digest.
///
/// Serializes as administrators see it (the CLI's `--json`, the admin API):
/// every field but the digest.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ApiKeyRecord {
    /// Public identifier (see [`KeyDigest::key_id`]).
    pub id: String,
    /// SHA-256 of the key.
    #[serde(skip)]
    pub digest: KeyDigest,
    /// Who the key acts as.
    pub subject: String,
    /// What the key may do.
    pub scopes: Scopes,
    /// Roles of the key's principal (checked by `RequireRole`).
    pub roles: Scopes,
    /// A human label.
    pub name: Option<String>,
    /// Free JSON the service attaches to the key; reaches the principal's
    /// claims as `metadata`.
    pub metadata: Map<String, Value>,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
    /// Seconds since the Unix epoch, if the key expires.
    pub expires_at: Option<u64>,
    /// Seconds since the Unix epoch from which the key is refused as
    /// revoked: now for a revocation, later for a key rotated with a grace
    /// period.
    pub revoked_at: Option<u64>,
    /// Seconds since the Unix epoch, updated lazily.
    pub last_used_at: Option<u64>,
    /// The id of the key this one replaced when it was rotated.
    pub replaces: Option<String>,
}

impl ApiKeyRecord {
    /// A fresh record for `key` (which is digested here, never stored),
    /// created now and not revoked.
    pub fn for_key(
        key: &Secret,
        subject: impl Into<String>,
        scopes: Scopes,
        name: Option<String>,
        expires_at: Option<u64>,
    ) -> Self {
        let digest = KeyDigest::of(key.expose());
        Self {
            id: digest.key_id(),
            digest,
            subject: subject.into(),
            scopes,
            roles: Scopes::empty(),
            name,
            metadata: Map::new(),
            created_at: crate::time::Clock::system().unix_seconds(),
            expires_at,
            revoked_at: None,
            last_used_at: None,
            replaces: None,
        }
    }

    /// With these roles.
    #[must_use]
    pub fn with_roles(mut self, roles: Scopes) -> Self {
        self.roles = roles;
        self
    }

    /// With this metadata.
    #[must_use]
    pub fn with_metadata(mut self, metadata: Map<String, Value>) -> Self {
        self.metadata = metadata;
        self
    }

    /// The record of `key`, the successor of this one: same subject,
    /// scopes, roles, name, metadata and expiry, created `now`.
    pub fn successor(&self, key: &Secret, now: u64) -> Self {
        let mut next =
            Self::for_key(key, self.subject.clone(), self.scopes.clone(), self.name.clone(), self.expires_at)
                .with_roles(self.roles.clone())
                .with_metadata(self.metadata.clone());
        next.created_at = now;
        next.replaces = Some(self.id.clone());
        next
    }

    /// Whether the key is refused as revoked at `now`.
    pub fn is_revoked_at(&self, now: u64) -> bool {
        self.revoked_at.is_some_and(|at| now >= at)
    }

    /// Whether the key is refused as expired at `now`.
    pub fn is_expired_at(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    /// Applies `update`.
    pub fn apply(&mut self, update: &KeyUpdate) {
        if let Some(scopes) = &update.scopes {
            self.scopes = scopes.clone();
        }
        if let Some(roles) = &update.roles {
            self.roles = roles.clone();
        }
        if let Some(name) = &update.name {
            self.name = Some(name.clone());
        }
        if let Some(metadata) = &update.metadata {
            self.metadata = metadata.clone();
        }
        if let Some(expires_at) = update.expires_at {
            self.expires_at = Some(expires_at);
        }
    }
}

/// What `KeyStore::update` changes; `None` fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyUpdate {
    /// New scopes.
    pub scopes: Option<Scopes>,
    /// New roles.
    pub roles: Option<Scopes>,
    /// New label.
    pub name: Option<String>,
    /// New metadata (replaces the old object).
    pub metadata: Option<Map<String, Value>>,
    /// New expiry, seconds since the Unix epoch.
    pub expires_at: Option<u64>,
}

impl KeyUpdate {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Which records `KeyStore::list` returns — by creation time, then id —
/// optionally
/// one subject's, after a cursor, at most `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyQuery {
    /// Only this subject's keys.
    pub subject: Option<String>,
    /// Only keys after this one in creation order.
    pub after: Option<KeyCursor>,
    /// At most this many.
    pub limit: usize,
}

impl Default for KeyQuery {
    fn default() -> Self {
        Self { subject: None, after: None, limit: usize::MAX }
    }
}

impl KeyQuery {
    /// Every record.
    pub fn all() -> Self {
        Self::default()
    }

    /// Whether `record` is selected (before the limit).
    pub fn selects(&self, record: &ApiKeyRecord) -> bool {
        self.subject.as_ref().is_none_or(|subject| *subject == record.subject)
            && self.after.as_ref().is_none_or(|after| after.precedes(record))
    }
}

/// A position in the creation order of keys: `CREATED_AT.ID` as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCursor {
    /// The last record's creation time.
    pub created_at: u64,
    /// The last record's id.
    pub id: String,
}

impl KeyCursor {
    /// The cursor after `record`.
    pub fn after(record: &ApiKeyRecord) -> Self {
        Self { created_at: record.created_at, id: record.id.clone() }
    }

    /// Parses the text form made by `Display`.
    pub fn parse(text: &str) -> Option<Self> {
        let (created_at, id) = text.split_once('.')?;
        let id_ok = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        id_ok.then(|| Some(Self { created_at: created_at.parse().ok()?, id: id.to_owned() }))?
    }

    fn precedes(&self, record: &ApiKeyRecord) -> bool {
        (self.created_at, self.id.as_str()) < (record.created_at, record.id.as_str())
    }
}

impl std::fmt::Display for KeyCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.created_at, self.id)
    }
}

/// What a bulk import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Records added.
    pub imported: usize,
    /// Records whose key was already in the store (left as they were).
    pub existing: usize,
}
