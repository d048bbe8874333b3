//! Agent memory on SQLite: writes through the single writer connection, reads on the readers.
//! Timestamps are fixed-width RFC 3339 text, so `expires_at > $now` compares correctly as text.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use sqlx::Sqlite;

use super::{SqliteStore, writes};
use crate::storage::reads::Reads;
use crate::storage::writes::Writes;
use crate::storage::{
    MemoryAddress, MemoryEntry, MemoryListQuery, MemoryRecord, MemoryStore, NewMemory,
    SetMemoryOutcome, StoreResult,
};

#[async_trait]
impl MemoryStore for SqliteStore {
    async fn set_memory(&self, new: &NewMemory) -> StoreResult<SetMemoryOutcome> {
        self.in_scoped_write_tx(async |tx, scope| writes::set_memory_scoped(tx, new, scope).await)
            .await
    }

    async fn get_memory(&self, at: &MemoryAddress<'_>) -> StoreResult<Option<MemoryRecord>> {
        Reads::memory(&self.reader, at).await
    }

    async fn list_memory(&self, q: &MemoryListQuery<'_>) -> StoreResult<Vec<MemoryEntry>> {
        Reads::memory_list(&self.reader, q).await
    }

    async fn delete_memory(&self, at: &MemoryAddress<'_>) -> StoreResult<bool> {
        self.in_write_tx(async |tx| Sqlite::delete_memory(tx, at).await)
            .await
    }

    async fn delete_expired_memory(&self, now: DateTime<Utc>, batch: u32) -> StoreResult<u64> {
        const SQL: &str = "DELETE FROM agent_memory WHERE id IN (SELECT id FROM agent_memory \
             WHERE expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at LIMIT +$2)";
        Reads::sweep(&self.writer, SQL, now, batch).await
    }
}
