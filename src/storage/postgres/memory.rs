//! Agent memory on PostgreSQL: values and metadata as JSONB, each write (with its audit row) in
//! one statement, and a sweeper that skips rows another process is already deleting.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::types::Json;

use super::PgStore;
use crate::storage::once::Writes;
use crate::storage::{
    MemoryAddress, MemoryEntry, MemoryListQuery, MemoryRecord, MemoryStore, NewMemory,
    SetMemoryOutcome, StoreResult,
};
use sqlx::Postgres;

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
        let mut conn = self.conn().await?;
        let out = Postgres::set_memory(&mut conn, new).await?;
        conn.release();
        Ok(out)
    }

    async fn get_memory(&self, at: &MemoryAddress<'_>) -> StoreResult<Option<MemoryRecord>> {
        let mut conn = self.conn().await?;
        let row: Option<RecordRow> = sqlx::query_as(
            "SELECT session_id, key, value, metadata, value_size, created_at, updated_at, expires_at \
             FROM agent_memory WHERE agent_id = $1 AND scope = $2 AND key = $3 \
             AND (expires_at IS NULL OR expires_at > $4)",
        )
        .bind(at.agent_id)
        .bind(at.session_id.unwrap_or(""))
        .bind(at.key)
        .bind(at.now)
        .fetch_optional(&mut *conn)
        .await?;
        conn.release();
        Ok(row.map(record))
    }

    async fn list_memory(&self, q: &MemoryListQuery<'_>) -> StoreResult<Vec<MemoryEntry>> {
        let mut conn = self.conn().await?;
        let rows: Vec<EntryRow> = sqlx::query_as(LIST)
            .bind(q.agent_id)
            .bind(q.scope.map(|s| s.unwrap_or("")))
            .bind(q.prefix)
            .bind(q.after.map(|(key, _)| key))
            .bind(q.after.map_or("", |(_, scope)| scope))
            .bind(q.now)
            .bind(i64::from(q.limit))
            .fetch_all(&mut *conn)
            .await?;
        conn.release();
        Ok(rows.into_iter().map(entry).collect())
    }

    async fn delete_memory(&self, at: &MemoryAddress<'_>) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let out = Postgres::delete_memory(&mut conn, at).await?;
        conn.release();
        Ok(out)
    }

    async fn delete_expired_memory(&self, now: DateTime<Utc>, batch: u32) -> StoreResult<u64> {
        let mut conn = self.conn().await?;
        // SKIP LOCKED: several servers sharing the database sweep without waiting on each other.
        let done = sqlx::query(
            "DELETE FROM agent_memory WHERE id IN (SELECT id FROM agent_memory \
               WHERE expires_at IS NOT NULL AND expires_at <= $1 \
               ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
             AND expires_at <= $1",
        )
        .bind(now)
        .bind(i64::from(batch))
        .execute(&mut *conn)
        .await?;
        conn.release();
        Ok(done.rows_affected())
    }
}
