//! [`MemoryKeyStore`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::{ApiKeyRecord, AuditEntry, ChangedBy, KeyQuery, KeyStore, KeyUpdate, StoreError, audit};
use crate::apikey::KeyDigest;

/// The audit log of a memory store keeps this many entries, the newest.
const AUDIT_ENTRIES: usize = 10_000;

/// An in-memory store (`memory:`): for tests, demos and single-process setups.
#[derive(Debug, Default)]
pub struct MemoryKeyStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    records: HashMap<KeyDigest, ApiKeyRecord>,
    audit: VecDeque<AuditEntry>,
}

impl State {
    fn by_id(&mut self, id: &str) -> Option<&mut ApiKeyRecord> {
        self.records.values_mut().find(|record| record.id == id)
    }

    /// Whether a record with `record`'s digest or id is stored.
    fn holds(&self, record: &ApiKeyRecord) -> bool {
        self.records.contains_key(&record.digest) || self.records.values().any(|other| other.id == record.id)
    }

    fn insert(&mut self, record: ApiKeyRecord, by: &ChangedBy) -> bool {
        if self.holds(&record) {
            return false;
        }
        self.log(audit::created(&record, by));
        self.records.insert(record.digest, record);
        true
    }

    fn log(&mut self, entry: AuditEntry) {
        if self.audit.len() == AUDIT_ENTRIES {
            self.audit.pop_front();
        }
        self.audit.push_back(entry);
    }
}

impl MemoryKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        self.state.lock().map_err(|_| StoreError("memory store lock poisoned".into()))
    }
}

#[async_trait]
impl KeyStore for MemoryKeyStore {
    async fn find_by_digest(&self, digest: &KeyDigest) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(self.state()?.records.get(digest).filter(|record| record.digest.ct_eq(digest)).cloned())
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(self.state()?.by_id(id).map(|record| record.clone()))
    }

    async fn insert(&self, record: ApiKeyRecord, by: &ChangedBy) -> Result<bool, StoreError> {
        Ok(self.state()?.insert(record, by))
    }

    async fn list(&self, query: &KeyQuery) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let mut records: Vec<_> =
            self.state()?.records.values().filter(|record| query.selects(record)).cloned().collect();
        records.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        records.truncate(query.limit);
        Ok(records)
    }

    async fn update(&self, id: &str, update: &KeyUpdate, by: &ChangedBy) -> Result<Option<ApiKeyRecord>, StoreError> {
        let mut state = self.state()?;
        let Some(record) = state.by_id(id) else { return Ok(None) };
        record.apply(update);
        let record = record.clone();
        state.log(audit::updated(id, update, by));
        Ok(Some(record))
    }

    async fn revoke(&self, id: &str, by: &ChangedBy) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        let Some(record) = state.by_id(id) else { return Ok(false) };
        record.revoked_at = Some(record.revoked_at.map_or(by.at, |at| at.min(by.at)));
        state.log(audit::revoked(id, by));
        Ok(true)
    }

    async fn rotate(&self, replacement: ApiKeyRecord, until: u64, by: &ChangedBy) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        let Some(old_id) = replacement.replaces.clone() else { return Ok(false) };
        if state.holds(&replacement) {
            return Err(StoreError("the replacement key is already stored".into()));
        }
        match state.by_id(&old_id) {
            Some(old) if !old.is_revoked_at(by.at) => old.revoked_at = Some(old.revoked_at.unwrap_or(until).min(until)),
            _ => return Ok(false),
        }
        let entry = audit::rotated(&old_id, &replacement.id, until, by);
        state.insert(replacement, by);
        state.log(entry);
        Ok(true)
    }

    async fn touch(&self, id: &str, at: u64) -> Result<(), StoreError> {
        if let Some(record) = self.state()?.by_id(id) {
            record.last_used_at = record.last_used_at.max(Some(at));
        }
        Ok(())
    }

    async fn audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        self.state()?.log(entry);
        Ok(())
    }

    async fn audit_log(&self, key_id: Option<&str>) -> Result<Vec<AuditEntry>, StoreError> {
        let state = self.state()?;
        let selected = |entry: &&AuditEntry| key_id.is_none_or(|id| entry.key_id.as_deref() == Some(id));
        Ok(state.audit.iter().filter(selected).cloned().collect())
    }
}
