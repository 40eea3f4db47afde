//! The audit log: who changed which key, how, and when.

/// Who makes a change to the store, and when: written to the audit log in
/// the same transaction as the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedBy {
    /// Who: `cli:<user>` for the command line, the principal for the admin
    /// API (`api_key:<subject>`, `jwt:<subject>`…).
    pub actor: String,
    /// When, seconds since the Unix epoch; also the time of a revocation.
    pub at: u64,
}

impl ChangedBy {
    /// `actor`, now.
    pub fn now(actor: impl Into<String>) -> Self {
        Self { actor: actor.into(), at: crate::time::Clock::system().unix_seconds() }
    }
}

/// One row of the audit log. Never holds a key: only ids and the fields
/// that changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    /// When, seconds since the Unix epoch.
    pub at: u64,
    /// Who (see [`ChangedBy::actor`]).
    pub actor: String,
    /// A change — `create`, `update`, `rotate`, `revoke` — or a use that
    /// changes nothing: `list`, `show`, `denied` (a self-service caller
    /// reaching for another subject's keys).
    pub action: String,
    /// The key concerned (for `rotate`, the old one; the new one is in `detail`).
    pub key_id: Option<String>,
    /// What changed, as JSON text.
    pub detail: Option<String>,
}

impl AuditEntry {
    /// The entry `by` writes for `action` on `key_id`.
    pub fn new(by: &ChangedBy, action: &str, key_id: Option<&str>, detail: Option<serde_json::Value>) -> Self {
        Self {
            at: by.at,
            actor: by.actor.clone(),
            action: action.to_owned(),
            key_id: key_id.map(str::to_owned),
            detail: detail.map(|detail| detail.to_string()),
        }
    }
}

/// The entry for a key added (created or imported).
pub(crate) fn created(record: &super::ApiKeyRecord, by: &ChangedBy) -> AuditEntry {
    let detail = serde_json::json!({
        "subject": record.subject,
        "scopes": record.scopes,
        "roles": record.roles,
        "name": record.name,
        "expires_at": record.expires_at,
        "replaces": record.replaces,
    });
    AuditEntry::new(by, "create", Some(&record.id), Some(detail))
}

/// The entry for a key changed: the fields that changed, as they are now.
pub(crate) fn updated(id: &str, update: &super::KeyUpdate, by: &ChangedBy) -> AuditEntry {
    let mut detail = serde_json::Map::new();
    let mut set = |field: &str, value: serde_json::Value| {
        detail.insert(field.to_owned(), value);
    };
    if let Some(scopes) = &update.scopes {
        set("scopes", serde_json::json!(scopes));
    }
    if let Some(roles) = &update.roles {
        set("roles", serde_json::json!(roles));
    }
    if let Some(name) = &update.name {
        set("name", serde_json::json!(name));
    }
    if let Some(metadata) = &update.metadata {
        set("metadata", serde_json::Value::Object(metadata.clone()));
    }
    if let Some(expires_at) = update.expires_at {
        set("expires_at", serde_json::json!(expires_at));
    }
    AuditEntry::new(by, "update", Some(id), Some(serde_json::Value::Object(detail)))
}

/// The entry for a key revoked.
pub(crate) fn revoked(id: &str, by: &ChangedBy) -> AuditEntry {
    AuditEntry::new(by, "revoke", Some(id), None)
}

/// The entry for a key rotated: the old key, its replacement, and when the old one stops working.
pub(crate) fn rotated(old_id: &str, new_id: &str, until: u64, by: &ChangedBy) -> AuditEntry {
    let detail = serde_json::json!({ "replacement": new_id, "revoked_from": until });
    AuditEntry::new(by, "rotate", Some(old_id), Some(detail))
}
