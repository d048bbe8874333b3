//! Idempotent writes on PostgreSQL, in one READ COMMITTED transaction on a guarded connection:
//! claim the key first, run the write, store its response, commit. A concurrent request with the
//! same key blocks on the unique index until the first commits (its claim then finds the key held
//! and replays the stored response) or rolls back (its claim then succeeds). The conflict arm of
//! the claim locks the held row, so the sweeper cannot delete it while the response is read.
//!
//! The writes themselves are the shared statements of `writes.rs`.

use async_trait::async_trait;

use super::writes::{add_message, close_session, create_session, delete_memory, set_memory};
use chrono::{DateTime, Utc};

use super::PgStore;
use crate::storage::{
    IdempotencyClaim, IdempotencyStore, IdempotentWrite, InsertOutcome, OnceOutcome, Respond,
    StoreResult, WriteResult,
};

/// Takes the key, or an expired row holding it; returns a row only when this request now owns it.
const CLAIM: &str = "INSERT INTO idempotency_keys (agent_id, key, tool, fingerprint, created_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (agent_id, key) DO UPDATE SET tool = EXCLUDED.tool, fingerprint = EXCLUDED.fingerprint, \
       response = NULL, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at \
     WHERE idempotency_keys.expires_at <= EXCLUDED.created_at \
     RETURNING 1";

const HELD: &str =
    "SELECT tool, fingerprint, response FROM idempotency_keys WHERE agent_id = $1 AND key = $2";

const RESPOND: &str = "UPDATE idempotency_keys SET response = $3 WHERE agent_id = $1 AND key = $2";

#[async_trait]
impl IdempotencyStore for PgStore {
    async fn write_once(
        &self,
        claim: &IdempotencyClaim<'_>,
        write: IdempotentWrite<'_>,
        respond: &Respond<'_>,
    ) -> StoreResult<OnceOutcome> {
        let mut conn = self.conn().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let claimed: Option<(i32,)> = sqlx::query_as(CLAIM)
            .bind(claim.agent_id)
            .bind(claim.key)
            .bind(claim.tool)
            .bind(claim.fingerprint)
            .bind(claim.now)
            .bind(claim.expires_at)
            .fetch_optional(&mut *tx)
            .await?;
        if claimed.is_none() {
            let held: Option<(String, String, Option<String>)> = sqlx::query_as(HELD)
                .bind(claim.agent_id)
                .bind(claim.key)
                .fetch_optional(&mut *tx)
                .await?;
            tx.rollback().await?;
            return claim.outcome_of_held(held);
        }
        let result = match write {
            IdempotentWrite::CreateSession(new) => {
                WriteResult::Session(create_session(&mut tx, new).await?)
            }
            IdempotentWrite::AddMessage(new) => {
                WriteResult::Message(add_message(&mut tx, new).await?)
            }
            IdempotentWrite::CloseSession { id, actor, at } => {
                WriteResult::Closed(close_session(&mut tx, id, actor, at).await?)
            }
            IdempotentWrite::SetMemory(new) => WriteResult::Memory(set_memory(&mut tx, new).await?),
            IdempotentWrite::DeleteMemory(at) => {
                WriteResult::Deleted(delete_memory(&mut tx, at).await?)
            }
        };
        let Some(response) = respond(&result) else {
            tx.rollback().await?;
            return Ok(OnceOutcome::Fresh {
                result,
                response: None,
            });
        };
        sqlx::query(RESPOND)
            .bind(claim.agent_id)
            .bind(claim.key)
            .bind(&response)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if let WriteResult::Message(InsertOutcome::Inserted(record)) = &result {
            self.publisher.announce(record);
        }
        Ok(OnceOutcome::Fresh {
            result,
            response: Some(response),
        })
    }

    async fn delete_expired_idempotency_keys(
        &self,
        now: DateTime<Utc>,
        batch: u32,
    ) -> StoreResult<u64> {
        let mut conn = self.conn().await?;
        // SKIP LOCKED: several servers sweep without waiting on each other or on a claim.
        let done = sqlx::query(
            "DELETE FROM idempotency_keys WHERE (agent_id, key) IN (SELECT agent_id, key FROM idempotency_keys \
               WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
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
