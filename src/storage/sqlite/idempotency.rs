//! Idempotent writes on SQLite. The protocol (`storage/once.rs`) runs as one member of the group
//! commit's `BEGIN IMMEDIATE` transaction on the single writer connection (`group.rs`), which
//! also serialises writers of other processes on the same file: a concurrent request with the
//! same key waits, then replays. Inside a batch, a later member with the same key sees the
//! earlier member's claim and response (same transaction) and replays it; both answer only after
//! the COMMIT, and if that fails neither is acknowledged.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Sqlite;

use super::SqliteStore;
use crate::storage::once;
use crate::storage::reads::Reads;
use crate::storage::{IdempotencyStore, OnceOutcome, OnceWrite, StoreResult};

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn write_once(&self, once: OnceWrite<'_>) -> StoreResult<OnceOutcome> {
        let OnceWrite {
            claim,
            write,
            respond,
        } = once;
        self.group
            .write(async |conn| once::write_once_in::<Sqlite>(conn, claim, write, respond).await)
            .await
    }

    async fn delete_expired_idempotency_keys(
        &self,
        now: DateTime<Utc>,
        batch: u32,
    ) -> StoreResult<u64> {
        const SQL: &str = "DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys \
             WHERE expires_at <= $1 ORDER BY expires_at LIMIT +$2)";
        Reads::sweep(&self.writer, SQL, now, batch).await
    }
}
