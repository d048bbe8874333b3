//! The agent-memory area of the store: its trait and records.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::*;

/// Agent memory (`set_memory`, `get_memory`, …). Expired entries are never returned.
#[async_trait]
pub trait MemoryStore: Send + Sync + 'static {
    /// Inserts or replaces an entry (and its audit row) in one step. An existing unexpired entry
    /// is replaced only with `overwrite`; replacing keeps `created_at` unless the old one expired.
    async fn set_memory(&self, new: &NewMemory) -> StoreResult<SetMemoryOutcome>;
    async fn get_memory(&self, at: &MemoryAddress<'_>) -> StoreResult<Option<MemoryRecord>>;
    /// Ordered by key, then scope (global first); paged after `query.after`.
    async fn list_memory(&self, query: &MemoryListQuery<'_>) -> StoreResult<Vec<MemoryEntry>>;
    /// Deletes an unexpired entry (and audits it); false when there was none.
    async fn delete_memory(&self, at: &MemoryAddress<'_>) -> StoreResult<bool>;
    /// Deletes at most `batch` entries that expired by `now`; returns how many.
    async fn delete_expired_memory(&self, now: DateTime<Utc>, batch: u32) -> StoreResult<u64>;
}

/// One memory entry's address: agent, scope (`None` = global) and key, read at `now`.
#[derive(Debug, Clone)]
pub struct MemoryAddress<'a> {
    pub agent_id: &'a str,
    pub session_id: Option<&'a str>,
    pub key: &'a str,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewMemory {
    pub agent_id: String,
    pub session_id: Option<String>,
    pub key: String,
    pub value: Value,
    /// `value` serialised; its length is `value_size`.
    pub value_json: String,
    pub metadata: Map<String, Value>,
    pub expires_at: Option<DateTime<Utc>>,
    pub overwrite: bool,
    pub at: DateTime<Utc>,
}

/// Decoded by column name (`rows::memory_columns!`).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct MemoryRecord {
    pub session_id: Option<String>,
    pub key: String,
    #[sqlx(json)]
    pub value: Value,
    #[sqlx(json)]
    pub metadata: Map<String, Value>,
    pub value_size: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl MemoryRecord {
    /// The entry `new` stored, first created at `created_at`.
    pub(crate) fn stored(new: &NewMemory, created_at: DateTime<Utc>) -> Self {
        Self {
            session_id: new.session_id.clone(),
            key: new.key.clone(),
            value: new.value.clone(),
            metadata: new.metadata.clone(),
            value_size: new.value_json.len() as i64,
            created_at,
            updated_at: new.at,
            expires_at: new.expires_at,
        }
    }

    /// The entry without its value and metadata.
    pub fn entry(&self) -> MemoryEntry {
        MemoryEntry {
            session_id: self.session_id.clone(),
            key: self.key.clone(),
            value_size: self.value_size,
            created_at: self.created_at,
            updated_at: self.updated_at,
            expires_at: self.expires_at,
        }
    }
}

/// A listed entry: everything but the value and metadata (`rows::memory_entry_columns!`); also
/// what `set_memory` answers, serialized as the result an idempotent write stores and replays.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct MemoryEntry {
    pub session_id: Option<String>,
    pub key: String,
    pub value_size: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SetMemoryOutcome {
    Stored(MemoryRecord),
    /// An unexpired entry exists and `overwrite` was false.
    KeyExists,
    SessionMissing,
}

#[derive(Debug, Clone)]
pub struct MemoryListQuery<'a> {
    pub agent_id: &'a str,
    /// `None`: every scope; `Some(None)`: global only; `Some(Some(id))`: that session.
    pub scope: Option<Option<&'a str>>,
    /// Literal prefix (no wildcards); empty matches every key.
    pub prefix: &'a str,
    /// Only entries after this (key, session id or "") in list order.
    pub after: Option<(&'a str, &'a str)>,
    pub limit: u32,
    pub now: DateTime<Utc>,
}
