//! Retention storage: bounded deletes of old messages, closed sessions, audit rows and expired
//! leases, and the per-table figures `health` reports. Every delete removes at most `batch` rows
//! in one short transaction, so pruning never holds a lock for long; `batch = None` only counts
//! (dry run).
//! The reads and the audit prune are written once here ([`Prune`]) over each dialect's
//! statements ([`RetentionSql`]); the message deletes are each backend's own (one statement on
//! PostgreSQL, a batch transaction on SQLite's writer).

use std::marker::PhantomData;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Encode, Executor, IntoArguments, Type};

use super::StoreResult;
use super::reads::{Dialect, RowsAffected};

/// Which of session `session_id`'s messages go: those created before `before`, and those not
/// among its `keep_newest` newest.
#[derive(Debug, Clone, Copy, Default)]
pub struct PruneRule<'a> {
    pub session_id: &'a str,
    pub before: Option<DateTime<Utc>>,
    pub keep_newest: Option<u64>,
}

/// One table's size and upkeep, for `health`.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct TableStats {
    pub table: String,
    /// Live rows (PostgreSQL's estimate; SQLite counts).
    pub rows: i64,
    pub total_bytes: i64,
    /// Rows deleted or updated but not yet vacuumed (PostgreSQL).
    pub dead_rows: Option<i64>,
    #[schemars(with = "Option<String>")]
    pub last_vacuum: Option<DateTime<Utc>>,
    #[schemars(with = "Option<String>")]
    pub last_analyze: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait RetentionStore: Send + Sync + 'static {
    /// Deletes up to `batch` of the session's messages that `rule` prunes, oldest first (replies
    /// to them lose their parent link), and returns how many; with `batch = None` counts them all.
    async fn prune_messages(&self, rule: &PruneRule<'_>, batch: Option<u32>) -> StoreResult<u64>;
    /// Closed sessions whose last change is before `before`, oldest first.
    async fn closed_sessions(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<Vec<String>>;
    /// Deletes a closed session that holds no messages any more, with its memory and counts.
    /// False when it is open, gone, or still holds messages.
    async fn drop_closed_session(&self, session_id: &str) -> StoreResult<bool>;
    /// Deletes up to `batch` audit rows created before `before` (counts them all when `None`).
    async fn prune_audit(&self, before: DateTime<Utc>, batch: Option<u32>) -> StoreResult<u64>;
    /// Size and upkeep of the tables that grow.
    async fn table_stats(&self) -> StoreResult<Vec<TableStats>>;
    /// Deletes at most `batch` leases that expired by `now`; returns how many.
    async fn delete_expired_leases(&self, now: DateTime<Utc>, batch: u32) -> StoreResult<u64>;
}

/// Up to $2 audit rows created before $1, oldest first (the same text in both dialects).
pub(crate) const PRUNE_AUDIT: &str = "DELETE FROM audit_log WHERE id IN \
     (SELECT id FROM audit_log WHERE created_at < $1 ORDER BY created_at LIMIT +$2)";
const COUNT_AUDIT: &str = "SELECT COUNT(*) FROM audit_log WHERE created_at < $1";

/// Retention's statements that differ between the dialects.
pub(crate) trait RetentionSql: Dialect {
    /// The id at and below which `keep_newest` prunes: the ($2 + 1)-th newest message of session
    /// $1 (an ordered walk of the session's index); -1: there is none.
    const KEEP_THRESHOLD: &'static str;
    /// Closed sessions last changed before $1, oldest first, at most $2.
    const CLOSED_SESSIONS: &'static str;
}

/// Retention's reads and the audit prune; `Prune::<DB>::x(executor, …)`.
pub(crate) struct Prune<DB>(PhantomData<DB>);

impl<DB> Prune<DB>
where
    DB: RetentionSql,
    DB::Arguments: IntoArguments<DB>,
    DB::QueryResult: RowsAffected,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + Type<DB>,
    for<'r> (i64,): sqlx::FromRow<'r, DB::Row>,
    for<'r> (String,): sqlx::FromRow<'r, DB::Row>,
{
    /// The id at and below which `rule` prunes by count; -1 when it keeps any number.
    pub(crate) async fn threshold<'c>(
        exec: impl Executor<'c, Database = DB>,
        rule: &PruneRule<'_>,
    ) -> StoreResult<i64> {
        let Some(keep) = rule.keep_newest else {
            return Ok(-1);
        };
        Ok(sqlx::query_scalar(DB::KEEP_THRESHOLD)
            .bind(rule.session_id)
            .bind(i64::try_from(keep).unwrap_or(i64::MAX))
            .fetch_one(exec)
            .await?)
    }

    pub(crate) async fn closed_sessions<'c>(
        exec: impl Executor<'c, Database = DB>,
        before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(DB::CLOSED_SESSIONS)
            .bind(DB::stamp(before))
            .bind(i64::from(limit))
            .fetch_all(exec)
            .await?)
    }

    /// `batch` `None`: how many audit rows created before `before` there are; else deletes up to
    /// `batch` of them, oldest first, and says how many.
    pub(crate) async fn audit<'c>(
        exec: impl Executor<'c, Database = DB>,
        before: DateTime<Utc>,
        batch: Option<u32>,
    ) -> StoreResult<u64> {
        let Some(batch) = batch else {
            let n: i64 = sqlx::query_scalar(COUNT_AUDIT)
                .bind(DB::stamp(before))
                .fetch_one(exec)
                .await?;
            return Ok(n as u64);
        };
        let done = sqlx::query(PRUNE_AUDIT)
            .bind(DB::stamp(before))
            .bind(i64::from(batch))
            .execute(exec)
            .await?;
        Ok(done.rows_affected())
    }
}
