//! The write statements each backend supplies ([`Writes`]: sessions, messages, agent memory),
//! on a connection the caller provides, so the plain store methods and the idempotent path
//! (`once.rs`) share one statement per write. Its own module so that the generic flows
//! (`task_flow.rs`) can post their system messages through it without depending on `once.rs`.
//! And [`commit_if`]: how a task or lease change commits only an outcome it keeps.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::reads::Dialect;
use super::*;

/// The writes that take an idempotency key, on a connection the caller provides (the plain store
/// methods and the idempotent path share them, so each write has one statement per backend),
/// on top of the dialect's timestamps. The writes whose flow is generic (tasks, shared memory,
/// leases, acks) are [`Flows`](super::flows::Flows), implemented once for both backends.
pub(crate) trait Writes: Dialect {
    fn create_session(
        conn: &mut Self::Connection,
        new: &NewSession,
    ) -> impl Future<Output = StoreResult<SessionRecord>> + Send;

    fn add_message(
        conn: &mut Self::Connection,
        new: &NewMessage,
    ) -> impl Future<Output = StoreResult<InsertOutcome>> + Send;

    fn close_session(
        conn: &mut Self::Connection,
        id: &SessionId,
        actor: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Option<SessionRecord>>> + Send;

    fn set_memory(
        conn: &mut Self::Connection,
        new: &NewMemory,
    ) -> impl Future<Output = StoreResult<SetMemoryOutcome>> + Send;

    fn delete_memory(
        conn: &mut Self::Connection,
        at: &MemoryAddress<'_>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// Runs `work` in `tx` and commits only an outcome that `keep` approves; anything else, and an
/// error, rolls back (a dropped transaction rolls back), so a refused change writes nothing.
pub(crate) async fn commit_if<DB: sqlx::Database, T>(
    mut tx: sqlx::Transaction<'_, DB>,
    work: impl AsyncFnOnce(&mut DB::Connection) -> StoreResult<T>,
    keep: impl FnOnce(&T) -> bool,
) -> StoreResult<T> {
    let out = work(&mut tx).await?;
    if keep(&out) {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(out)
}
