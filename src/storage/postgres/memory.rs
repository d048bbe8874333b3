//! Agent memory on PostgreSQL: values and metadata as JSONB, each write (with its audit row) in
//! one statement, and a sweeper that skips rows another process is already deleting.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::types::Json;

use super::PgStore;
use crate::storage::{
    MemoryAddress, MemoryEntry, MemoryListQuery, MemoryRecord, MemoryStore, NewMemory,
    SetMemoryOutcome, StoreResult,
};

type RecordRow = (
    Option<String>,
    String,
    Json<Value>,
    Json<Map<String, Value>>,
    i64,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);
type EntryRow = (
    Option<String>,
    String,
    i64,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

/// Inserts, or replaces an entry that expired (or any entry when `$9` overwrite is set); the
/// session must exist. Replacing keeps `created_at` unless the old entry had expired. The audit
/// row is written by the same statement, only when the entry was stored.
const UPSERT: &str = "WITH up AS (INSERT INTO agent_memory \
       (agent_id, session_id, key, value, value_size, metadata, created_at, updated_at, expires_at) \
       SELECT $1, $2::text, $3, $4::jsonb, $5, $6::jsonb, $7::timestamptz, $7::timestamptz, $8::timestamptz \
       WHERE $2::text IS NULL OR EXISTS (SELECT 1 FROM sessions WHERE id = $2::text) \
       ON CONFLICT (agent_id, scope, key) DO UPDATE SET \
         value = EXCLUDED.value, value_size = EXCLUDED.value_size, metadata = EXCLUDED.metadata, \
         created_at = CASE WHEN agent_memory.expires_at IS NOT NULL AND agent_memory.expires_at <= EXCLUDED.updated_at \
           THEN EXCLUDED.created_at ELSE agent_memory.created_at END, \
         updated_at = EXCLUDED.updated_at, expires_at = EXCLUDED.expires_at \
       WHERE $9::boolean OR (agent_memory.expires_at IS NOT NULL AND agent_memory.expires_at <= EXCLUDED.updated_at) \
       RETURNING created_at), \
     a AS (INSERT INTO audit_log (created_at, event, actor, session_id, details) \
       SELECT $7, 'memory_set', $1, $2::text, $10::jsonb FROM up) \
     SELECT created_at FROM up";

/// The list read; `$2` is the scope ('' = global) or NULL for every scope.
const LIST: &str = "SELECT session_id, key, value_size, created_at, updated_at, expires_at \
     FROM agent_memory \
     WHERE agent_id = $1 AND ($2::text IS NULL OR scope = $2::text) \
       AND key >= $3::text AND substr(key, 1, char_length($3::text)) = $3::text \
       AND ($4::text IS NULL OR key > $4::text OR (key = $4::text AND scope > $5::text)) \
       AND (expires_at IS NULL OR expires_at > $6) \
     ORDER BY key, scope LIMIT $7";

fn record(row: RecordRow) -> MemoryRecord {
    let (
        session_id,
        key,
        Json(value),
        Json(metadata),
        value_size,
        created_at,
        updated_at,
        expires_at,
    ) = row;
    MemoryRecord {
        session_id,
        key,
        value,
        metadata,
        value_size,
        created_at,
        updated_at,
        expires_at,
    }
}

fn entry(row: EntryRow) -> MemoryEntry {
    let (session_id, key, value_size, created_at, updated_at, expires_at) = row;
    MemoryEntry {
        session_id,
        key,
        value_size,
        created_at,
        updated_at,
        expires_at,
    }
}

#[async_trait]
impl MemoryStore for PgStore {
    async fn set_memory(&self, new: &NewMemory) -> StoreResult<SetMemoryOutcome> {
        let details = serde_json::json!({
            "key": new.key,
            "session_scoped": new.session_id.is_some(),
            "has_expiration": new.expires_at.is_some(),
            "value_size": new.value_json.len(),
        });
        let stored: Option<(DateTime<Utc>,)> = sqlx::query_as(UPSERT)
            .bind(&new.agent_id)
            .bind(&new.session_id)
            .bind(&new.key)
            .bind(Json(&new.value))
            .bind(new.value_json.len() as i64)
            .bind(Json(&new.metadata))
            .bind(new.at)
            .bind(new.expires_at)
            .bind(new.overwrite)
            .bind(Json(&details))
            .fetch_optional(&mut *self.conn().await?)
            .await?;
        if let Some((created_at,)) = stored {
            return Ok(SetMemoryOutcome::Stored(MemoryRecord {
                session_id: new.session_id.clone(),
                key: new.key.clone(),
                value: new.value.clone(),
                metadata: new.metadata.clone(),
                value_size: new.value_json.len() as i64,
                created_at,
                updated_at: new.at,
                expires_at: new.expires_at,
            }));
        }
        let session_exists = match &new.session_id {
            None => true,
            Some(id) => sqlx::query_as::<_, (i32,)>("SELECT 1 FROM sessions WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *self.conn().await?)
                .await?
                .is_some(),
        };
        Ok(if session_exists {
            SetMemoryOutcome::KeyExists
        } else {
            SetMemoryOutcome::SessionMissing
        })
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
        .bind(at.now)
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        Ok(row.map(record))
    }

    async fn list_memory(&self, q: &MemoryListQuery<'_>) -> StoreResult<Vec<MemoryEntry>> {
        let rows: Vec<EntryRow> = sqlx::query_as(LIST)
            .bind(q.agent_id)
            .bind(q.scope.map(|s| s.unwrap_or("")))
            .bind(q.prefix)
            .bind(q.after.map(|(key, _)| key))
            .bind(q.after.map_or("", |(_, scope)| scope))
            .bind(q.now)
            .bind(i64::from(q.limit))
            .fetch_all(&mut *self.conn().await?)
            .await?;
        Ok(rows.into_iter().map(entry).collect())
    }

    async fn delete_memory(&self, at: &MemoryAddress<'_>) -> StoreResult<bool> {
        let (deleted,): (i64,) = sqlx::query_as(
            "WITH d AS (DELETE FROM agent_memory WHERE agent_id = $1 AND scope = $2 AND key = $3 \
               AND (expires_at IS NULL OR expires_at > $4) RETURNING key), \
             a AS (INSERT INTO audit_log (created_at, event, actor, session_id, details) \
               SELECT $4, 'memory_deleted', $1, NULLIF($2, ''), \
                 jsonb_build_object('key', d.key, 'session_scoped', $2 <> '') FROM d) \
             SELECT COUNT(*) FROM d",
        )
        .bind(at.agent_id)
        .bind(at.session_id.unwrap_or(""))
        .bind(at.key)
        .bind(at.now)
        .fetch_one(&mut *self.conn().await?)
        .await?;
        Ok(deleted > 0)
    }

    async fn delete_expired_memory(&self, now: DateTime<Utc>, batch: u32) -> StoreResult<u64> {
        // SKIP LOCKED: several servers sharing the database sweep without waiting on each other.
        let done = sqlx::query(
            "DELETE FROM agent_memory WHERE id IN (SELECT id FROM agent_memory \
               WHERE expires_at IS NOT NULL AND expires_at <= $1 \
               ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
             AND expires_at <= $1",
        )
        .bind(now)
        .bind(i64::from(batch))
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(done.rows_affected())
    }
}
