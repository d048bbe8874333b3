//! The idempotent-write protocol, written once for both backends: claim the key, run the write,
//! store its response, commit. A request whose key is already held writes nothing and reads the
//! stored response instead. A backend supplies the transaction (how it begins is what makes a
//! concurrent claim of the same key wait: see `sqlite/idempotency.rs` and
//! `postgres/idempotency.rs`), how it stores a timestamp, and its write statements ([`Writes`], `writes.rs`).

use sqlx::{Encode, Executor, FromRow, Transaction, Type};

use super::flows::Flows;
use super::writes::Writes;

use super::*;

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

async fn run<DB: Writes + Flows>(
    conn: &mut DB::Connection,
    write: IdempotentWrite<'_>,
) -> StoreResult<WriteResult> {
    Ok(match write {
        IdempotentWrite::CreateSession(new) => {
            WriteResult::Session(DB::create_session(conn, new).await?)
        }
        IdempotentWrite::AddMessage(new) => WriteResult::Message(DB::add_message(conn, new).await?),
        IdempotentWrite::CloseSession(c) => {
            WriteResult::Closed(DB::close_session(conn, c.id, c.actor, c.at).await?)
        }
        IdempotentWrite::SetMemory(new) => WriteResult::Memory(DB::set_memory(conn, new).await?),
        IdempotentWrite::DeleteMemory(at) => {
            WriteResult::Deleted(DB::delete_memory(conn, at).await?)
        }
        IdempotentWrite::Ack { agent_id, ids, at } => {
            WriteResult::Acked(DB::ack(conn, agent_id, ids, at).await?)
        }
        IdempotentWrite::AcquireLease(new) => {
            WriteResult::Lease(DB::acquire_lease(conn, new).await?)
        }
        IdempotentWrite::RenewLease(r) => WriteResult::Renewed(DB::renew_lease(conn, r).await?),
        IdempotentWrite::ReleaseLease(r) => {
            WriteResult::Released(DB::release_lease(conn, r).await?)
        }
        IdempotentWrite::CreateTask(new) => WriteResult::Task(DB::create_task(conn, new).await?),
        IdempotentWrite::ClaimTask(claim) => WriteResult::Task(DB::claim_task(conn, claim).await?),
        IdempotentWrite::UpdateTask(update) => {
            WriteResult::Task(DB::update_task(conn, update).await?)
        }
        IdempotentWrite::SetSharedMemory(new) => {
            WriteResult::Shared(DB::set_shared_memory(conn, new).await?)
        }
    })
}

/// [`IdempotencyStore::write_once`] in `tx`, which it commits or rolls back.
pub(crate) async fn write_once<DB>(
    mut tx: Transaction<'_, DB>,
    claim: &IdempotencyClaim<'_>,
    write: IdempotentWrite<'_>,
    respond: &Respond<'_>,
) -> StoreResult<OnceOutcome>
where
    DB: Writes + Flows,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'r> (String, String, Option<String>): FromRow<'r, DB::Row>,
{
    let (outcome, keep) = write_once_in::<DB>(&mut tx, claim, write, respond).await?;
    if keep {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(outcome)
}

/// The protocol inside a transaction the caller owns (SQLite's group commit runs it as one
/// member of a shared transaction). Returns the outcome and whether to keep what it wrote:
/// `false` for a replay or conflict (nothing was written) and for a refused write (its claim
/// must not stay), which the caller rolls back.
pub(crate) async fn write_once_in<DB>(
    conn: &mut DB::Connection,
    claim: &IdempotencyClaim<'_>,
    write: IdempotentWrite<'_>,
    respond: &Respond<'_>,
) -> StoreResult<(OnceOutcome, bool)>
where
    DB: Writes + Flows,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'r> (String, String, Option<String>): FromRow<'r, DB::Row>,
{
    let claimed = sqlx::query::<DB>(CLAIM)
        .bind(claim.agent_id)
        .bind(claim.key)
        .bind(claim.tool)
        .bind(claim.fingerprint)
        .bind(DB::stamp(claim.now))
        .bind(DB::stamp(claim.expires_at))
        .fetch_optional(&mut *conn)
        .await?;
    if claimed.is_none() {
        let held: Option<(String, String, Option<String>)> = sqlx::query_as(HELD)
            .bind(claim.agent_id)
            .bind(claim.key)
            .fetch_optional(&mut *conn)
            .await?;
        return Ok((claim.outcome_of_held(held)?, false));
    }
    let result = run::<DB>(conn, write).await?;
    let Some(response) = respond(&result) else {
        return Ok((
            OnceOutcome::Fresh {
                result,
                response: None,
            },
            false,
        ));
    };
    sqlx::query::<DB>(RESPOND)
        .bind(claim.agent_id)
        .bind(claim.key)
        .bind(response.as_str())
        .execute(&mut *conn)
        .await?;
    Ok((
        OnceOutcome::Fresh {
            result,
            response: Some(response),
        },
        true,
    ))
}
