//! Idempotent writes on PostgreSQL. The protocol (`storage/once.rs`) runs in one READ COMMITTED
//! transaction on a guarded connection. A concurrent request with the same key blocks on the
//! unique index until the first commits (its claim then finds the key held and replays the stored
//! response) or rolls back (its claim then succeeds). The conflict arm of the claim locks the held
//! row, so the sweeper cannot delete it while the response is read.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::PgStore;
use crate::storage::once;
use crate::storage::reads::Reads;
use crate::storage::{
    IdempotencyStore, InsertOutcome, OnceOutcome, OnceWrite, StoreResult, TaskOutcome, WriteResult,
};

#[async_trait]
impl IdempotencyStore for PgStore {
    async fn write_once(&self, once: OnceWrite<'_>) -> StoreResult<OnceOutcome> {
        let outcome = self
            .with_conn(async |conn| {
                let tx = sqlx::Connection::begin(conn).await?;
                once::write_once(tx, once.claim, once.write, once.respond).await
            })
            .await?;
        // Other processes hear of a message only once it is committed (a response was stored).
        if let OnceOutcome::Fresh {
            result,
            response: Some(_),
        } = &outcome
        {
            match result {
                WriteResult::Message(InsertOutcome::Inserted(record)) => {
                    self.publisher.announce(record)
                }
                WriteResult::Task(TaskOutcome::Changed(change)) => {
                    self.publisher.announce(&change.message)
                }
                _ => {}
            }
        }
        Ok(outcome)
    }

    async fn delete_expired_idempotency_keys(
        &self,
        now: DateTime<Utc>,
        batch: u32,
    ) -> StoreResult<u64> {
        // SKIP LOCKED: several servers sweep without waiting on each other or on a claim.
        const SQL: &str = "DELETE FROM idempotency_keys WHERE (agent_id, key) IN (SELECT agent_id, key FROM idempotency_keys \
             WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
             AND expires_at <= $1";
        self.with_conn(async |conn| Reads::sweep(conn, SQL, now, batch).await)
            .await
    }
}
