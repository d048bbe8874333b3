//! The keyed writes whose flow is written once for both backends (tasks and shared memory in
//! `task_flow.rs`, leases in `lease_flow.rs`, acknowledgements in `inbox_flow.rs`), dispatched
//! once: a blanket implementation for every backend that has the flows' statements, so neither
//! backend repeats the delegations. The idempotent path (`once.rs`) runs them through this trait.

use chrono::{DateTime, Utc};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};

use super::inbox_flow::{InboxFlow, InboxSql};
use super::lease_flow::{LeaseFlow, LeaseRow, LeaseSql, Resources};
use super::task_flow::{TaskFlow, TaskSql};
use super::*;

/// The generic flows' writes, on a connection inside the caller's transaction.
pub(crate) trait FlowWrites: sqlx::Database {
    async fn ack(
        conn: &mut Self::Connection,
        agent_id: &str,
        ids: &[i64],
        at: DateTime<Utc>,
    ) -> StoreResult<AckOutcome>;
    async fn acquire_lease(
        conn: &mut Self::Connection,
        new: &NewLease,
    ) -> StoreResult<AcquireOutcome>;
    async fn renew_lease(
        conn: &mut Self::Connection,
        renewal: &LeaseRenewal<'_>,
    ) -> StoreResult<RenewOutcome>;
    async fn release_lease(
        conn: &mut Self::Connection,
        release: &LeaseRelease<'_>,
    ) -> StoreResult<ReleaseOutcome>;
    async fn create_task(conn: &mut Self::Connection, new: &NewTask) -> StoreResult<TaskOutcome>;
    async fn claim_task(conn: &mut Self::Connection, claim: &ClaimTask)
    -> StoreResult<TaskOutcome>;
    async fn update_task(
        conn: &mut Self::Connection,
        update: &UpdateTask,
    ) -> StoreResult<TaskOutcome>;
    async fn set_shared_memory(
        conn: &mut Self::Connection,
        new: &NewSharedMemory,
    ) -> StoreResult<SharedSetOutcome>;
}

impl<DB> FlowWrites for DB
where
    DB: TaskSql + LeaseSql + InboxSql,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    String: for<'q> Encode<'q, DB> + Type<DB>,
    Option<String>: for<'q> Encode<'q, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + Type<DB>,
    Resources: for<'q> Encode<'q, DB> + Type<DB>,
    for<'r> TaskRecord: FromRow<'r, DB::Row>,
    for<'r> SharedMemoryRecord: FromRow<'r, DB::Row>,
    for<'r> MessageRecord: FromRow<'r, DB::Row>,
    for<'r> LeaseRow: FromRow<'r, DB::Row>,
    for<'r> (i64, String): FromRow<'r, DB::Row>,
    for<'r> (bool,): FromRow<'r, DB::Row>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> (String,): FromRow<'r, DB::Row>,
    for<'r> Receipt: FromRow<'r, DB::Row>,
{
    async fn ack(
        conn: &mut DB::Connection,
        agent_id: &str,
        ids: &[i64],
        at: DateTime<Utc>,
    ) -> StoreResult<AckOutcome> {
        InboxFlow::<DB>::ack(conn, agent_id, ids, at).await
    }

    async fn acquire_lease(
        conn: &mut DB::Connection,
        new: &NewLease,
    ) -> StoreResult<AcquireOutcome> {
        LeaseFlow::<DB>::acquire(conn, new).await
    }

    async fn renew_lease(
        conn: &mut DB::Connection,
        renewal: &LeaseRenewal<'_>,
    ) -> StoreResult<RenewOutcome> {
        LeaseFlow::<DB>::renew(conn, renewal).await
    }

    async fn release_lease(
        conn: &mut DB::Connection,
        release: &LeaseRelease<'_>,
    ) -> StoreResult<ReleaseOutcome> {
        LeaseFlow::<DB>::release(conn, release).await
    }

    async fn create_task(conn: &mut DB::Connection, new: &NewTask) -> StoreResult<TaskOutcome> {
        TaskFlow::<DB>::create(conn, new).await
    }

    async fn claim_task(conn: &mut DB::Connection, claim: &ClaimTask) -> StoreResult<TaskOutcome> {
        TaskFlow::<DB>::claim(conn, claim).await
    }

    async fn update_task(
        conn: &mut DB::Connection,
        update: &UpdateTask,
    ) -> StoreResult<TaskOutcome> {
        TaskFlow::<DB>::update(conn, update).await
    }

    async fn set_shared_memory(
        conn: &mut DB::Connection,
        new: &NewSharedMemory,
    ) -> StoreResult<SharedSetOutcome> {
        TaskFlow::<DB>::set_shared(conn, new).await
    }
}
