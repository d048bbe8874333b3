//! The calls whose flow is written once for both backends (tasks and shared memory in
//! `task_flow.rs`, leases in `lease_flow.rs`, acknowledgements, receipts and replies in
//! `inbox_flow.rs`), dispatched once: a blanket implementation for every backend that has the
//! flows' statements, so neither backend repeats the delegations. The idempotent path
//! (`once.rs`) runs the keyed writes through this trait and `flow_store.rs` every store method
//! these flows answer. Each future is declared `Send`, proved once here for any backend, so code
//! generic over the backend can await them inside the `#[async_trait]` store methods.

use std::future::Future;

use chrono::{DateTime, Utc};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};

use super::inbox_flow::{InboxFlow, InboxSql};
use super::lease_flow::{LeaseFlow, LeaseRow, LeaseSql, Resources};
use super::reads::{ReadSql, Reads, RowsAffected};
use super::rows::TokenRow;
use super::task_flow::{TaskFlow, TaskSql};
use super::writes::Writes;
use super::*;
use crate::domain::SessionId;

/// The generic flows, on a connection (a write inside the caller's transaction), on top of the
/// session writes each backend supplies ([`Writes`]).
pub(crate) trait Flows: Writes {
    fn session(
        conn: &mut Self::Connection,
        id: &SessionId,
    ) -> impl Future<Output = StoreResult<Option<SessionRecord>>> + Send;
    fn sessions(
        conn: &mut Self::Connection,
        page: &SessionList,
    ) -> impl Future<Output = StoreResult<Vec<SessionRecord>>> + Send;
    fn ack(
        conn: &mut Self::Connection,
        agent_id: &str,
        ids: &[i64],
        at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<AckOutcome>> + Send;
    fn receipts(
        conn: &mut Self::Connection,
        message_id: i64,
    ) -> impl Future<Output = StoreResult<Option<(String, Vec<Receipt>)>>> + Send;
    fn first_reply(
        conn: &mut Self::Connection,
        parent: i64,
        sender: &str,
    ) -> impl Future<Output = StoreResult<Option<MessageRecord>>> + Send;
    fn direct_sends_since(
        conn: &mut Self::Connection,
        sender: &str,
        recipients: &[String],
        since: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Vec<PairSends>>> + Send;
    fn parent_thread(
        conn: &mut Self::Connection,
        session_id: &str,
        message_id: i64,
        max_depth: u32,
    ) -> impl Future<Output = StoreResult<Option<ParentThread>>> + Send;
    fn acquire_lease(
        conn: &mut Self::Connection,
        new: &NewLease,
    ) -> impl Future<Output = StoreResult<AcquireOutcome>> + Send;
    fn renew_lease(
        conn: &mut Self::Connection,
        renewal: &LeaseRenewal<'_>,
    ) -> impl Future<Output = StoreResult<RenewOutcome>> + Send;
    fn release_lease(
        conn: &mut Self::Connection,
        release: &LeaseRelease<'_>,
    ) -> impl Future<Output = StoreResult<ReleaseOutcome>> + Send;
    fn live_leases(
        conn: &mut Self::Connection,
        now: DateTime<Utc>,
        session_id: Option<&str>,
    ) -> impl Future<Output = StoreResult<Vec<LeaseRecord>>> + Send;
    fn create_task(
        conn: &mut Self::Connection,
        new: &NewTask,
    ) -> impl Future<Output = StoreResult<TaskOutcome>> + Send;
    fn claim_task(
        conn: &mut Self::Connection,
        claim: &ClaimTask,
    ) -> impl Future<Output = StoreResult<TaskOutcome>> + Send;
    fn update_task(
        conn: &mut Self::Connection,
        update: &UpdateTask,
    ) -> impl Future<Output = StoreResult<TaskOutcome>> + Send;
    fn task(
        conn: &mut Self::Connection,
        task_id: i64,
    ) -> impl Future<Output = StoreResult<Option<TaskRecord>>> + Send;
    fn list_tasks(
        conn: &mut Self::Connection,
        query: &TaskQuery<'_>,
    ) -> impl Future<Output = StoreResult<Vec<TaskRecord>>> + Send;
    fn set_shared_memory(
        conn: &mut Self::Connection,
        new: &NewSharedMemory,
    ) -> impl Future<Output = StoreResult<SharedSetOutcome>> + Send;
    fn shared_memory(
        conn: &mut Self::Connection,
        session_id: &str,
        key: &str,
    ) -> impl Future<Output = StoreResult<Option<SharedMemoryRecord>>> + Send;
    fn list_shared_memory(
        conn: &mut Self::Connection,
        query: &SharedListQuery<'_>,
    ) -> impl Future<Output = StoreResult<Vec<SharedMemoryRecord>>> + Send;
}

impl<DB> Flows for DB
where
    DB: TaskSql + LeaseSql + InboxSql + ReadSql,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    DB::QueryResult: RowsAffected,
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
    for<'r> SessionRecord: FromRow<'r, DB::Row>,
    for<'r> TokenRow: FromRow<'r, DB::Row>,
    for<'r> AuditRecord: FromRow<'r, DB::Row>,
    for<'r> MemoryRecord: FromRow<'r, DB::Row>,
    for<'r> MemoryEntry: FromRow<'r, DB::Row>,
    for<'r> (String, i64, DateTime<Utc>): FromRow<'r, DB::Row>,
    for<'r> (String, i64, Option<String>): FromRow<'r, DB::Row>,
{
    async fn session(
        conn: &mut DB::Connection,
        id: &SessionId,
    ) -> StoreResult<Option<SessionRecord>> {
        Reads::session(conn, id).await
    }

    async fn sessions(
        conn: &mut DB::Connection,
        page: &SessionList,
    ) -> StoreResult<Vec<SessionRecord>> {
        Reads::sessions(conn, page).await
    }

    async fn ack(
        conn: &mut DB::Connection,
        agent_id: &str,
        ids: &[i64],
        at: DateTime<Utc>,
    ) -> StoreResult<AckOutcome> {
        InboxFlow::<DB>::ack(conn, agent_id, ids, at).await
    }

    async fn receipts(
        conn: &mut DB::Connection,
        message_id: i64,
    ) -> StoreResult<Option<(String, Vec<Receipt>)>> {
        InboxFlow::<DB>::receipts(conn, message_id).await
    }

    async fn first_reply(
        conn: &mut DB::Connection,
        parent: i64,
        sender: &str,
    ) -> StoreResult<Option<MessageRecord>> {
        InboxFlow::<DB>::first_reply(conn, parent, sender).await
    }

    async fn direct_sends_since(
        conn: &mut DB::Connection,
        sender: &str,
        recipients: &[String],
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<PairSends>> {
        InboxFlow::<DB>::direct_sends_since(conn, sender, recipients, since).await
    }

    async fn parent_thread(
        conn: &mut DB::Connection,
        session_id: &str,
        message_id: i64,
        max_depth: u32,
    ) -> StoreResult<Option<ParentThread>> {
        InboxFlow::<DB>::parent_thread(conn, session_id, message_id, max_depth).await
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

    async fn live_leases(
        conn: &mut DB::Connection,
        now: DateTime<Utc>,
        session_id: Option<&str>,
    ) -> StoreResult<Vec<LeaseRecord>> {
        LeaseFlow::<DB>::live(conn, now, session_id).await
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

    async fn task(conn: &mut DB::Connection, task_id: i64) -> StoreResult<Option<TaskRecord>> {
        TaskFlow::<DB>::task(conn, task_id).await
    }

    async fn list_tasks(
        conn: &mut DB::Connection,
        query: &TaskQuery<'_>,
    ) -> StoreResult<Vec<TaskRecord>> {
        TaskFlow::<DB>::list(conn, query).await
    }

    async fn set_shared_memory(
        conn: &mut DB::Connection,
        new: &NewSharedMemory,
    ) -> StoreResult<SharedSetOutcome> {
        TaskFlow::<DB>::set_shared(conn, new).await
    }

    async fn shared_memory(
        conn: &mut DB::Connection,
        session_id: &str,
        key: &str,
    ) -> StoreResult<Option<SharedMemoryRecord>> {
        TaskFlow::<DB>::shared(conn, session_id, key).await
    }

    async fn list_shared_memory(
        conn: &mut DB::Connection,
        query: &SharedListQuery<'_>,
    ) -> StoreResult<Vec<SharedMemoryRecord>> {
        TaskFlow::<DB>::list_shared(conn, query).await
    }
}
