//! Agent memory on SQLite: writes through the single writer connection, reads on the readers.
//! Timestamps are fixed-width RFC 3339 text, so `expires_at > $now` compares correctly as text.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use sqlx::Sqlite;

use super::SqliteStore;
use crate::storage::once::Writes;
use crate::storage::reads::Reads;
use crate::storage::rows::memory_entry_columns;
use crate::storage::{
    MemoryAddress, MemoryEntry, MemoryListQuery, MemoryRecord, MemoryStore, NewMemory,
    SetMemoryOutcome, StoreResult,
};

/// The list read; `$2` is the scope ('' = global) or NULL for every scope.
const LIST: &str = concat!(
    "SELECT ",
    memory_entry_columns!(),
    " FROM agent_memory \
     WHERE agent_id = $1 AND ($2 IS NULL OR scope = $2) \
       AND key >= $3 AND substr(key, 1, length($3)) = $3 \
       AND ($4 IS NULL OR key > $4 OR (key = $4 AND scope > $5)) \
       AND (expires_at IS NULL OR expires_at > $6) \
     ORDER BY key, scope LIMIT $7"
);

#[async_trait]
impl MemoryStore for SqliteStore {
    async fn set_memory(&self, new: &NewMemory) -> StoreResult<SetMemoryOutcome> {
        self.in_write_tx(async |tx| Sqlite::set_memory(tx, new).await)
            .await
    }

    async fn get_memory(&self, at: &MemoryAddress<'_>) -> StoreResult<Option<MemoryRecord>> {
        Reads::memory(&self.reader, at).await
    }

    async fn list_memory(&self, q: &MemoryListQuery<'_>) -> StoreResult<Vec<MemoryEntry>> {
        Reads::memory_list(&self.reader, LIST, q).await
    }

    async fn delete_memory(&self, at: &MemoryAddress<'_>) -> StoreResult<bool> {
        self.in_write_tx(async |tx| Sqlite::delete_memory(tx, at).await)
            .await
    }

    async fn delete_expired_memory(&self, now: DateTime<Utc>, batch: u32) -> StoreResult<u64> {
        const SQL: &str = "DELETE FROM agent_memory WHERE id IN (SELECT id FROM agent_memory \
             WHERE expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at LIMIT $2)";
        Reads::sweep(&self.writer, SQL, now, batch).await
    }
}
