//! [`KeyAdmin`]: the JSON API that lets a service's admins — or its users,
//! for their own keys — create, list, show, update, rotate and revoke API
//! keys, over any [`KeyStore`]; and the small web console that calls it.
//!
//! Framework-neutral: an adapter routes a request to an [`AdminRequest`],
//! hands it to [`KeyAdmin::handle`] with the request's [`AuthOutcome`], and
//! sends the [`AdminReply`] back. `tokenguard-tower` (axum) and
//! `tokenguard-actix` do exactly that.
//!
//! | request | route (relative to where it is mounted) |
//! |---|---|
//! | create | `POST /keys` |
//! | list | `GET /keys?subject=&limit=&cursor=` |
//! | show / update / revoke | `GET` / `PATCH` / `DELETE /keys/{id}` |
//! | rotate | `POST /keys/{id}/rotate` |
//! | the console | `GET /admin/keys` (public: it holds no data) |
//!
//! Who may do what is [`KeyAdminAccess`]: by default scope `admin` for any
//! subject's keys, scope `keys` for the caller's own (another subject's key
//! is answered 404, as if it did not exist). Every use is written to the
//! store's audit log with the caller as actor: each change, in its own
//! transaction, and reads (`list`, `show`) and refused attempts (`denied`).

mod body;
pub mod console;
mod reply;

use std::sync::Arc;

use serde_json::json;

pub use reply::AdminReply;

use crate::apikey;
use crate::error::AuthError;
use crate::outcome::AuthOutcome;
use crate::principal::Principal;
use crate::store::{ApiKeyRecord, AuditEntry, ChangedBy, KeyCursor, KeyQuery, KeyStore, StoreError};
use crate::time::Clock;
use body::{CreateBody, ListParams, RotateBody, UpdateBody};

/// Key ids are 16 hex digits; anything much longer is not one.
const MAX_ID: usize = 64;

/// Request bodies larger than this are refused before they are read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// One call to the key administration API, routed by the adapter.
#[derive(Debug, Clone, Copy)]
pub enum AdminRequest<'a> {
    /// `POST /keys` with a JSON body.
    Create {
        /// The request body.
        body: &'a [u8],
    },
    /// `GET /keys` with its query string.
    List {
        /// The raw query string, if any.
        query: Option<&'a str>,
    },
    /// `GET /keys/{id}`.
    Show {
        /// The key id.
        id: &'a str,
    },
    /// `PATCH /keys/{id}` with a JSON body.
    Update {
        /// The key id.
        id: &'a str,
        /// The request body.
        body: &'a [u8],
    },
    /// `DELETE /keys/{id}`.
    Revoke {
        /// The key id.
        id: &'a str,
    },
    /// `POST /keys/{id}/rotate` with an optional JSON body.
    Rotate {
        /// The key id.
        id: &'a str,
        /// The request body (may be empty).
        body: &'a [u8],
    },
}

/// A grant that lets a principal use the API: a scope or a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// The principal has this scope.
    Scope(String),
    /// The principal has this role.
    Role(String),
}

impl Grant {
    fn held_by(&self, principal: &Principal) -> bool {
        match self {
            Grant::Scope(scope) => principal.has_scope(scope),
            Grant::Role(role) => principal.has_role(role),
        }
    }

    fn refusal(&self) -> AuthError {
        match self {
            Grant::Scope(scope) => AuthError::InsufficientScope { required: scope.clone().into() },
            Grant::Role(role) => AuthError::InsufficientRole { required: role.clone().into() },
        }
    }
}

/// Who may use the API: `admin` on every key, `self_service` (if any) on
/// keys whose subject is the caller's own subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAdminAccess {
    /// Manages every subject's keys. Default: scope `admin`.
    pub admin: Grant,
    /// Manages the caller's own keys. Default: scope `keys`; `None` turns
    /// self-service off.
    pub self_service: Option<Grant>,
}

impl Default for KeyAdminAccess {
    fn default() -> Self {
        Self { admin: Grant::Scope("admin".into()), self_service: Some(Grant::Scope("keys".into())) }
    }
}

/// Whose keys a caller manages.
enum Reach {
    All,
    Own(String),
}

impl Reach {
    fn covers(&self, record: &ApiKeyRecord) -> bool {
        match self {
            Reach::All => true,
            Reach::Own(subject) => record.subject == *subject,
        }
    }
}

/// The key administration API over a [`KeyStore`]. Cheap to clone.
///
/// Give it the store the authenticator verifies with —
/// `authenticator.api_keys().map(|keys| keys.cache().clone())` — so that
/// this instance sees its own changes at once.
#[derive(Clone)]
pub struct KeyAdmin {
    store: Arc<dyn KeyStore>,
    prefix: Arc<str>,
    access: KeyAdminAccess,
    clock: Clock,
}

impl std::fmt::Debug for KeyAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyAdmin").field("prefix", &self.prefix).field("access", &self.access).finish_non_exhaustive()
    }
}

impl KeyAdmin {
    /// The API over `store`, issuing keys with `prefix`, with the default
    /// [`KeyAdminAccess`].
    pub fn new(store: Arc<dyn KeyStore>, prefix: impl Into<Arc<str>>) -> Self {
        Self { store, prefix: prefix.into(), access: KeyAdminAccess::default(), clock: Clock::system() }
    }

    /// Who may use the API.
    #[must_use]
    pub fn access(mut self, access: KeyAdminAccess) -> Self {
        self.access = access;
        self
    }

    /// The clock that dates keys and changes (tests hand in a manual one).
    #[must_use]
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Answers `request`, made by the request whose authentication is
    /// `outcome` (`None`: no authentication layer ran — a 500).
    pub async fn handle(&self, outcome: Option<&AuthOutcome>, request: AdminRequest<'_>) -> AdminReply {
        let Some(outcome) = outcome else { return AdminReply::missing_layer() };
        let caller = match outcome.require_principal() {
            Ok(principal) => principal,
            Err(refused) => return AdminReply::refused(refused),
        };
        let Some(reach) = self.reach(caller) else {
            let grant = self.access.self_service.as_ref().unwrap_or(&self.access.admin);
            crate::observe::authentication(caller.kind().as_str(), "forbidden");
            return AdminReply::refused(outcome.render(grant.refusal()));
        };
        let by = ChangedBy { actor: format!("{}:{}", caller.kind().as_str(), caller.subject()), at: self.now() };
        let answer = match request {
            AdminRequest::Create { body } => self.create(&reach, body, &by).await,
            AdminRequest::List { query } => self.list(&reach, query, &by).await,
            AdminRequest::Show { id } => self.show(&reach, id, &by).await,
            AdminRequest::Update { id, body } => self.update(&reach, id, body, &by).await,
            AdminRequest::Revoke { id } => self.revoke(&reach, id, &by).await,
            AdminRequest::Rotate { id, body } => self.rotate(&reach, id, body, &by).await,
        };
        answer.unwrap_or_else(|failure| failure.reply(outcome))
    }

    fn reach(&self, caller: &Principal) -> Option<Reach> {
        if self.access.admin.held_by(caller) {
            return Some(Reach::All);
        }
        let self_service = self.access.self_service.as_ref()?;
        self_service.held_by(caller).then(|| Reach::Own(caller.subject().to_owned()))
    }

    fn now(&self) -> u64 {
        self.clock.unix_seconds()
    }

    async fn create(&self, reach: &Reach, body: &[u8], by: &ChangedBy) -> Result<AdminReply, Failure> {
        let body: CreateBody = body::parse(body)?;
        let subject = match (reach, body.subject) {
            (Reach::All, Some(subject)) => subject,
            (Reach::All, None) => return Err(Failure::Invalid("subject is required".into())),
            (Reach::Own(own), None) => own.clone(),
            (Reach::Own(own), Some(subject)) if subject == *own => subject,
            (Reach::Own(_), Some(subject)) => {
                self.log(by, "denied", None, json!({ "attempt": "create", "subject": subject })).await?;
                return Err(Failure::Forbidden(self.access.admin.refusal()));
            }
        };
        let key = apikey::generate(&self.prefix);
        let mut record =
            ApiKeyRecord::for_key(&key, subject, body.scopes, body.name, body.expires_in.map(|s| by.at + s))
                .with_roles(body.roles)
                .with_metadata(body.metadata);
        record.created_at = by.at;
        if !self.store.insert(record.clone(), by).await? {
            return Err(Failure::Store(StoreError("a generated key collided with a stored one".into())));
        }
        Ok(issued(&record, &key))
    }

    /// Writes a use that changes nothing to the audit log. Failing to
    /// record it fails the call: every use is on record.
    async fn log(
        &self,
        by: &ChangedBy,
        action: &str,
        key_id: Option<&str>,
        detail: serde_json::Value,
    ) -> Result<(), Failure> {
        self.store.audit(AuditEntry::new(by, action, key_id, Some(detail))).await.map_err(Failure::Store)
    }

    async fn list(&self, reach: &Reach, query: Option<&str>, by: &ChangedBy) -> Result<AdminReply, Failure> {
        let params = ListParams::parse(query.unwrap_or(""))?;
        let subject = match reach {
            Reach::All => params.subject,
            // Another subject's keys do not exist for a self-service caller.
            Reach::Own(own) if params.subject.as_ref().is_some_and(|asked| asked != own) => {
                self.log(by, "denied", None, json!({ "attempt": "list", "subject": params.subject })).await?;
                return Ok(AdminReply::json(200, json!({ "keys": [], "next": null })));
            }
            Reach::Own(own) => Some(own.clone()),
        };
        self.log(by, "list", None, json!({ "subject": subject })).await?;
        // One more than asked says whether there is a next page.
        let query = KeyQuery { subject, after: params.cursor, limit: params.limit + 1 };
        let mut records = self.store.list(&query).await?;
        let next = (records.len() > params.limit).then(|| {
            records.truncate(params.limit);
            records.last().map(|last| KeyCursor::after(last).to_string())
        });
        let keys: Vec<_> = records.iter().map(record_json).collect();
        Ok(AdminReply::json(200, json!({ "keys": keys, "next": next.flatten() })))
    }

    /// The record `id`, if the caller may `attempt` it; another subject's
    /// key is "not found" for a self-service caller, and the attempt is logged.
    async fn owned(&self, reach: &Reach, id: &str, attempt: &str, by: &ChangedBy) -> Result<ApiKeyRecord, Failure> {
        if id.is_empty() || id.len() > MAX_ID {
            return Err(Failure::NotFound);
        }
        match self.store.find_by_id(id).await? {
            Some(record) if reach.covers(&record) => Ok(record),
            Some(_) => {
                self.log(by, "denied", Some(id), json!({ "attempt": attempt })).await?;
                Err(Failure::NotFound)
            }
            None => Err(Failure::NotFound),
        }
    }

    async fn show(&self, reach: &Reach, id: &str, by: &ChangedBy) -> Result<AdminReply, Failure> {
        let record = self.owned(reach, id, "show", by).await?;
        self.log(by, "show", Some(id), json!({})).await?;
        Ok(AdminReply::json(200, record_json(&record)))
    }

    async fn update(&self, reach: &Reach, id: &str, body: &[u8], by: &ChangedBy) -> Result<AdminReply, Failure> {
        let update = body::parse::<UpdateBody>(body)?.into_update(by.at)?;
        self.owned(reach, id, "update", by).await?;
        let record = self.store.update(id, &update, by).await?.ok_or(Failure::NotFound)?;
        Ok(AdminReply::json(200, record_json(&record)))
    }

    async fn revoke(&self, reach: &Reach, id: &str, by: &ChangedBy) -> Result<AdminReply, Failure> {
        self.owned(reach, id, "revoke", by).await?;
        match self.store.revoke(id, by).await? {
            true => Ok(AdminReply::no_content()),
            false => Err(Failure::NotFound),
        }
    }

    async fn rotate(&self, reach: &Reach, id: &str, body: &[u8], by: &ChangedBy) -> Result<AdminReply, Failure> {
        let body: RotateBody = if body.is_empty() { RotateBody::default() } else { body::parse(body)? };
        let old = self.owned(reach, id, "rotate", by).await?;
        if old.is_revoked_at(by.at) {
            return Err(Failure::Conflict("the key is revoked"));
        }
        let key = apikey::generate(&self.prefix);
        let replacement = old.successor(&key, by.at);
        if !self.store.rotate(replacement.clone(), by.at + body.grace_seconds, by).await? {
            return Err(Failure::Conflict("the key is revoked"));
        }
        Ok(issued(&replacement, &key))
    }
}

/// A key record as the API shows it: never the key, never its digest.
fn record_json(record: &ApiKeyRecord) -> serde_json::Value {
    serde_json::to_value(record).unwrap_or_default()
}

/// A new key's answer: its record, and the key itself — shown this once.
fn issued(record: &ApiKeyRecord, key: &crate::Secret) -> AdminReply {
    let mut answer = record_json(record);
    answer["key"] = json!(key.expose());
    AdminReply::json(201, answer)
}

/// Why a call failed.
#[derive(Debug)]
enum Failure {
    /// A malformed body or query: 400.
    Invalid(String),
    /// A self-service caller named another subject: 403.
    Forbidden(AuthError),
    /// No such key, or not the caller's: 404.
    NotFound,
    /// The key cannot be changed so: 409.
    Conflict(&'static str),
    /// The store failed: 503.
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure::Store(error)
    }
}

impl Failure {
    fn reply(self, outcome: &AuthOutcome) -> AdminReply {
        match self {
            Failure::Invalid(description) => AdminReply::error(400, "invalid_request", &description),
            Failure::Forbidden(error) => AdminReply::refused(outcome.render(error)),
            Failure::NotFound => AdminReply::error(404, "not_found", "no such key"),
            Failure::Conflict(description) => AdminReply::error(409, "conflict", description),
            Failure::Store(error) => {
                tracing::warn!(%error, "key administration: the key store failed");
                AdminReply::refused(outcome.render(AuthError::Unavailable {
                    reason: "the key store is unavailable",
                    retry_after: std::time::Duration::from_secs(1),
                }))
            }
        }
    }
}
