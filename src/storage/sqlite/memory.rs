//! Agent memory on SQLite: writes through the single writer connection, reads on the readers.
//! Timestamps are fixed-width RFC 3339 text, so `expires_at > $now` compares correctly as text.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{SqliteStore, insert_audit, json_map, ts};
use crate::storage::{
    AuditEvent, MemoryAddress, MemoryEntry, MemoryListQuery, MemoryRecord, MemoryStore, NewMemory,
    SetMemoryOutcome, StoreError, StoreResult,
};
use crate::util::rfc3339;

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

/// Inserts, or replaces an entry that expired (or any entry when `$9` overwrite is set); the
/// session must exist. Replacing keeps `created_at` unless the old entry had expired.
const UPSERT: &str = "INSERT INTO agent_memory \
     (agent_id, session_id, key, value, value_size, metadata, created_at, updated_at, expires_at) \
     SELECT $1, $2, $3, $4, $5, $6, $7, $7, $8 \
     WHERE $2 IS NULL OR EXISTS (SELECT 1 FROM sessions WHERE id = $2) \
     ON CONFLICT (agent_id, scope, key) DO UPDATE SET \
       value = excluded.value, value_size = excluded.value_size, metadata = excluded.metadata, \
       created_at = CASE WHEN agent_memory.expires_at IS NOT NULL AND agent_memory.expires_at <= excluded.updated_at \
         THEN excluded.created_at ELSE agent_memory.created_at END, \
       updated_at = excluded.updated_at, expires_at = excluded.expires_at \
     WHERE $9 OR (agent_memory.expires_at IS NOT NULL AND agent_memory.expires_at <= excluded.updated_at) \
     RETURNING created_at";

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

fn audit_set(new: &NewMemory) -> AuditEvent {
    AuditEvent {
        event: "memory_set",
        actor: new.agent_id.clone(),
        session_id: new.session_id.clone(),
        details: serde_json::json!({
            "key": new.key,
            "session_scoped": new.session_id.is_some(),
            "has_expiration": new.expires_at.is_some(),
            "value_size": new.value_json.len(),
        }),
        at: new.at,
    }
}

#[async_trait]
impl MemoryStore for SqliteStore {
    async fn set_memory(&self, new: &NewMemory) -> StoreResult<SetMemoryOutcome> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let at = rfc3339(new.at);
        let stored: Option<(String,)> = sqlx::query_as(UPSERT)
            .bind(&new.agent_id)
            .bind(&new.session_id)
            .bind(&new.key)
            .bind(&new.value_json)
            .bind(new.value_json.len() as i64)
            .bind(serde_json::Value::Object(new.metadata.clone()).to_string())
            .bind(&at)
            .bind(new.expires_at.map(rfc3339))
            .bind(new.overwrite)
            .fetch_optional(&mut *tx)
            .await?;
        let Some((created_at,)) = stored else {
            let session_exists = match &new.session_id {
                None => true,
                Some(id) => sqlx::query_as::<_, (i64,)>("SELECT 1 FROM sessions WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some(),
            };
            return Ok(if session_exists {
                SetMemoryOutcome::KeyExists
            } else {
                SetMemoryOutcome::SessionMissing
            });
        };
        insert_audit(&mut *tx, &audit_set(new)).await?;
        tx.commit().await?;
        Ok(SetMemoryOutcome::Stored(MemoryRecord {
            session_id: new.session_id.clone(),
            key: new.key.clone(),
            value: new.value.clone(),
            metadata: new.metadata.clone(),
            value_size: new.value_json.len() as i64,
            created_at: ts(&created_at)?,
            updated_at: new.at,
            expires_at: new.expires_at,
        }))
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
        let done = sqlx::query(
            "DELETE FROM agent_memory WHERE agent_id = $1 AND scope = $2 AND key = $3 \
             AND (expires_at IS NULL OR expires_at > $4)",
        )
        .bind(at.agent_id)
        .bind(at.session_id.unwrap_or(""))
        .bind(at.key)
        .bind(rfc3339(at.now))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let audit = AuditEvent {
            event: "memory_deleted",
            actor: at.agent_id.to_owned(),
            session_id: at.session_id.map(str::to_owned),
            details: serde_json::json!({"key": at.key, "session_scoped": at.session_id.is_some()}),
            at: at.now,
        };
        insert_audit(&mut *tx, &audit).await?;
        tx.commit().await?;
        Ok(true)
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
