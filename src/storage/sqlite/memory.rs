//! Agent memory on SQLite: writes through the single writer connection, reads on the readers.
//! Timestamps are fixed-width RFC 3339 text, so `expires_at > $now` compares correctly as text.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{SqliteStore, json_map, ts};
use crate::storage::once::Writes;
use crate::storage::{
    MemoryAddress, MemoryEntry, MemoryListQuery, MemoryRecord, MemoryStore, NewMemory,
    SetMemoryOutcome, StoreError, StoreResult,
};
use crate::util::rfc3339;
use sqlx::Sqlite;

type RecordRow = (
    Option<String>,
    String,
    String,
    String,
    i64,
    String,
    String,
    Option<String>,
);
type EntryRow = (Option<String>, String, i64, String, String, Option<String>);

/// The list read; `$2` is the scope ('' = global) or NULL for every scope.
const LIST: &str = "SELECT session_id, key, value_size, created_at, updated_at, expires_at \
     FROM agent_memory \
     WHERE agent_id = $1 AND ($2 IS NULL OR scope = $2) \
       AND key >= $3 AND substr(key, 1, length($3)) = $3 \
       AND ($4 IS NULL OR key > $4 OR (key = $4 AND scope > $5)) \
       AND (expires_at IS NULL OR expires_at > $6) \
     ORDER BY key, scope LIMIT $7";

fn opt_ts(raw: Option<String>) -> StoreResult<Option<DateTime<Utc>>> {
    raw.as_deref().map(ts).transpose()
}

fn record(row: RecordRow) -> StoreResult<MemoryRecord> {
    let (session_id, key, value, metadata, value_size, created_at, updated_at, expires_at) = row;
    Ok(MemoryRecord {
        session_id,
        key,
        value: serde_json::from_str(&value)
            .map_err(|e| StoreError::Internal(format!("bad JSON in agent_memory.value: {e}")))?,
        metadata: json_map(&metadata)?,
        value_size,
        created_at: ts(&created_at)?,
        updated_at: ts(&updated_at)?,
        expires_at: opt_ts(expires_at)?,
    })
}

fn entry(row: EntryRow) -> StoreResult<MemoryEntry> {
    let (session_id, key, value_size, created_at, updated_at, expires_at) = row;
    Ok(MemoryEntry {
        session_id,
        key,
        value_size,
        created_at: ts(&created_at)?,
        updated_at: ts(&updated_at)?,
        expires_at: opt_ts(expires_at)?,
    })
}

#[async_trait]
impl MemoryStore for SqliteStore {
    async fn set_memory(&self, new: &NewMemory) -> StoreResult<SetMemoryOutcome> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let outcome = Sqlite::set_memory(&mut tx, new).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn get_memory(&self, at: &MemoryAddress<'_>) -> StoreResult<Option<MemoryRecord>> {
        let row: Option<RecordRow> = sqlx::query_as(
            "SELECT session_id, key, value, metadata, value_size, created_at, updated_at, expires_at \
             FROM agent_memory WHERE agent_id = $1 AND scope = $2 AND key = $3 \
             AND (expires_at IS NULL OR expires_at > $4)",
        )
        .bind(at.agent_id)
        .bind(at.session_id.unwrap_or(""))
        .bind(at.key)
        .bind(rfc3339(at.now))
        .fetch_optional(&self.reader)
        .await?;
        row.map(record).transpose()
    }

    async fn list_memory(&self, q: &MemoryListQuery<'_>) -> StoreResult<Vec<MemoryEntry>> {
        let rows: Vec<EntryRow> = sqlx::query_as(LIST)
            .bind(q.agent_id)
            .bind(q.scope.map(|s| s.unwrap_or("")))
            .bind(q.prefix)
            .bind(q.after.map(|(key, _)| key))
            .bind(q.after.map_or("", |(_, scope)| scope))
            .bind(rfc3339(q.now))
            .bind(i64::from(q.limit))
            .fetch_all(&self.reader)
            .await?;
        rows.into_iter().map(entry).collect()
    }

    async fn delete_memory(&self, at: &MemoryAddress<'_>) -> StoreResult<bool> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let outcome = Sqlite::delete_memory(&mut tx, at).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn delete_expired_memory(&self, now: DateTime<Utc>, batch: u32) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM agent_memory WHERE id IN (SELECT id FROM agent_memory \
             WHERE expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at LIMIT $2)",
        )
        .bind(rfc3339(now))
        .bind(i64::from(batch))
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }
}
