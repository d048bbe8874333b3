//! Agent memory on PostgreSQL: values and metadata as JSONB, each write (with its audit row) in
//! one statement, and a sweeper that skips rows another process is already deleting.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Postgres;

use super::PgStore;
use crate::storage::reads::Reads;
use crate::storage::writes::Writes;
use crate::storage::{
    MemoryAddress, MemoryEntry, MemoryListQuery, MemoryRecord, MemoryStore, NewMemory,
    SetMemoryOutcome, StoreResult,
};

#[async_trait]
impl MemoryStore for PgStore {
    async fn set_memory(&self, new: &NewMemory) -> StoreResult<SetMemoryOutcome> {
        self.with_conn(async |conn| Postgres::set_memory(conn, new).await)
            .await
    }

    async fn get_memory(&self, at: &MemoryAddress<'_>) -> StoreResult<Option<MemoryRecord>> {
        self.with_conn(async |conn| Reads::memory(conn, at).await)
            .await
    }

    async fn list_memory(&self, q: &MemoryListQuery<'_>) -> StoreResult<Vec<MemoryEntry>> {
        self.with_conn(async |conn| Reads::memory_list(conn, q).await)
            .await
    }

    async fn delete_memory(&self, at: &MemoryAddress<'_>) -> StoreResult<bool> {
        self.with_conn(async |conn| Postgres::delete_memory(conn, at).await)
            .await
    }

    async fn delete_expired_memory(&self, now: DateTime<Utc>, batch: u32) -> StoreResult<u64> {
        // SKIP LOCKED: several servers sharing the database sweep without waiting on each other.
        const SQL: &str = "DELETE FROM agent_memory WHERE id IN (SELECT id FROM agent_memory \
             WHERE expires_at IS NOT NULL AND expires_at <= $1 \
             ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
             AND expires_at <= $1";
        self.with_conn(async |conn| Reads::sweep(conn, SQL, now, batch).await)
            .await
    }
}
