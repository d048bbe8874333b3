//! Idempotent writes on SQLite. The protocol (`storage/once.rs`) runs in one `BEGIN IMMEDIATE`
//! transaction on the single writer connection, which also serialises writers of other processes
//! on the same file, so a concurrent request with the same key waits and then replays.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::SqliteStore;
use crate::storage::once;
use crate::storage::reads::Reads;
use crate::storage::{
    IdempotencyClaim, IdempotencyStore, IdempotentWrite, OnceOutcome, Respond, StoreResult,
};

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn write_once(
        &self,
        claim: &IdempotencyClaim<'_>,
        write: IdempotentWrite<'_>,
        respond: &Respond<'_>,
    ) -> StoreResult<OnceOutcome> {
        let tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        once::write_once(tx, claim, write, respond).await
    }

    async fn delete_expired_idempotency_keys(
        &self,
        now: DateTime<Utc>,
        batch: u32,
    ) -> StoreResult<u64> {
        const SQL: &str = "DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys \
             WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)";
        Reads::sweep(&self.writer, SQL, now, batch).await
    }
}
