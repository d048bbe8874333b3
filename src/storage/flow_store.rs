//! The store methods the generic flows answer (sessions, leases, tasks and shared memory, direct
//! messages' acknowledgements, receipts, replies, threads and sends per pair), implemented once
//! for both backends. A backend says only how it runs one call ([`Backend`]): a write in a
//! transaction (SQLite: a member of the group commit on the single writer, `sqlite/group.rs`;
//! PostgreSQL: a transaction on a guarded connection, announcing the system message it
//! committed), a read on a read connection (SQLite's reader pool; PostgreSQL's guarded pool).
//! What a call runs is [`FlowCall`], one line per call over [`Flows`].
//!
//! Why calls are values and not closures: the store traits are `#[async_trait]`, so their futures
//! must be `Send`, and the future of a closure passed through a generic trait method cannot be
//! named to bound it `Send` on stable Rust. A [`FlowCall`] names its future in its signature.

use std::future::Future;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::flows::Flows;
use super::task_flow::{keeps, keeps_shared};
use super::*;
use crate::domain::SessionId;

/// How a backend runs a [`FlowCall`].
pub(crate) trait Backend: Send + Sync + 'static {
    type Db: Flows;

    /// Runs `call` in a write transaction, committed when [`FlowCall::keep`] approves its outcome
    /// and rolled back otherwise (a refused change writes nothing); answers after the COMMIT.
    fn write<C: FlowCall<Self::Db>>(
        &self,
        call: &C,
    ) -> impl Future<Output = StoreResult<C::Out>> + Send;

    /// Runs `call` on a read connection, outside any write transaction.
    fn read<C: FlowCall<Self::Db>>(
        &self,
        call: &C,
    ) -> impl Future<Output = StoreResult<C::Out>> + Send;
}

/// One flow call on a connection: the request names the flow it runs.
pub(crate) trait FlowCall<DB: Flows>: Sync {
    type Out: Send;

    fn run(&self, conn: &mut DB::Connection)
    -> impl Future<Output = StoreResult<Self::Out>> + Send;

    /// A write that is atomic on its own, one statement: PostgreSQL runs it without BEGIN and
    /// COMMIT (two round trips fewer); SQLite's group commit runs every write in its transaction.
    const ONE_STATEMENT: bool = false;

    /// Whether a write's transaction commits with this outcome.
    fn keep(_out: &Self::Out) -> bool {
        true
    }

    /// The system message a kept write posted (other processes hear of it once committed).
    fn message(_out: &Self::Out) -> Option<&MessageRecord> {
        None
    }
}

struct Ack<'a> {
    agent_id: &'a str,
    ids: &'a [i64],
    at: DateTime<Utc>,
}
struct Receipts(i64);
struct FirstReply<'a> {
    parent: i64,
    sender: &'a str,
}
struct DirectSends<'a> {
    sender: &'a str,
    recipients: &'a [String],
    since: DateTime<Utc>,
}
struct ParentOf<'a> {
    session_id: &'a str,
    message_id: i64,
    max_depth: u32,
}
struct LiveLeases<'a> {
    now: DateTime<Utc>,
    session_id: Option<&'a str>,
}
struct TaskById(i64);
struct SharedKey<'a> {
    session_id: &'a str,
    key: &'a str,
}

/// The message of a task change, the only flow write that posts one.
fn task_message(out: &TaskOutcome) -> Option<&MessageRecord> {
    match out {
        TaskOutcome::Changed(change) => Some(&change.message),
        _ => None,
    }
}

impl<DB: Flows> FlowCall<DB> for NewSession {
    type Out = SessionRecord;
    const ONE_STATEMENT: bool = true;
    fn run(&self, c: &mut DB::Connection) -> impl Future<Output = StoreResult<Self::Out>> + Send {
        DB::create_session(c, self)
    }
}

impl<DB: Flows> FlowCall<DB> for SessionClose<'_> {
    type Out = Option<SessionRecord>;
    const ONE_STATEMENT: bool = true;
    fn run(&self, c: &mut DB::Connection) -> impl Future<Output = StoreResult<Self::Out>> + Send {
        DB::close_session(c, self.id, self.actor, self.at)
    }
}

impl<DB: Flows> FlowCall<DB> for SessionId {
    type Out = Option<SessionRecord>;
    fn run(&self, c: &mut DB::Connection) -> impl Future<Output = StoreResult<Self::Out>> + Send {
        DB::session(c, self)
    }
}

impl<DB: Flows> FlowCall<DB> for SessionList {
    type Out = Vec<SessionRecord>;
    fn run(&self, c: &mut DB::Connection) -> impl Future<Output = StoreResult<Self::Out>> + Send {
        DB::sessions(c, self)
    }
}

impl<DB: Flows> FlowCall<DB> for Ack<'_> {
    type Out = AckOutcome;
    fn run(&self, c: &mut DB::Connection) -> impl Future<Output = StoreResult<AckOutcome>> + Send {
        DB::ack(c, self.agent_id, self.ids, self.at)
    }
}

impl<DB: Flows> FlowCall<DB> for Receipts {
    type Out = Option<(String, Vec<Receipt>)>;
    fn run(&self, c: &mut DB::Connection) -> impl Future<Output = StoreResult<Self::Out>> + Send {
        DB::receipts(c, self.0)
    }
}

impl<DB: Flows> FlowCall<DB> for FirstReply<'_> {
    type Out = Option<MessageRecord>;
    fn run(&self, c: &mut DB::Connection) -> impl Future<Output = StoreResult<Self::Out>> + Send {
        DB::first_reply(c, self.parent, self.sender)
    }
}

impl<DB: Flows> FlowCall<DB> for DirectSends<'_> {
    type Out = Vec<PairSends>;
    fn run(&self, c: &mut DB::Connection) -> impl Future<Output = StoreResult<Self::Out>> + Send {
        DB::direct_sends_since(c, self.sender, self.recipients, self.since)
    }
}

impl<DB: Flows> FlowCall<DB> for ParentOf<'_> {
    type Out = Option<ParentThread>;
    fn run(&self, c: &mut DB::Connection) -> impl Future<Output = StoreResult<Self::Out>> + Send {
        DB::parent_thread(c, self.session_id, self.message_id, self.max_depth)
    }
}

impl<DB: Flows> FlowCall<DB> for NewLease {
    type Out = AcquireOutcome;
    fn run(&self, c: &mut DB::Connection) -> impl Future<Output = StoreResult<Self::Out>> + Send {
        DB::acquire_lease(c, self)
    }
}

impl<DB: Flows> FlowCall<DB> for LeaseRenewal<'_> {
    type Out = RenewOutcome;
    fn run(&self, c: &mut DB::Connection) -> impl Future<Output = StoreResult<Self::Out>> + Send {
        DB::renew_lease(c, self)
    }
}

impl<DB: Flows> FlowCall<DB> for LeaseRelease<'_> {
    type Out = ReleaseOutcome;
    fn run(&self, c: &mut DB::Connection) -> impl Future<Output = StoreResult<Self::Out>> + Send {
        DB::release_lease(c, self)
    }
}

impl<DB: Flows> FlowCall<DB> for LiveLeases<'_> {
    type Out = Vec<LeaseRecord>;
    fn run(&self, c: &mut DB::Connection) -> impl Future<Output = StoreResult<Self::Out>> + Send {
        DB::live_leases(c, self.now, self.session_id)
    }
}

impl<DB: Flows> FlowCall<DB> for NewTask {
    type Out = TaskOutcome;
    fn run(&self, c: &mut DB::Connection) -> impl Future<Output = StoreResult<Self::Out>> + Send {
        DB::create_task(c, self)
    }
    fn keep(out: &TaskOutcome) -> bool {
        keeps(out)
    }
    fn message(out: &TaskOutcome) -> Option<&MessageRecord> {
        task_message(out)
    }
}

impl<DB: Flows> FlowCall<DB> for ClaimTask {
    type Out = TaskOutcome;
    fn run(&self, c: &mut DB::Connection) -> impl Future<Output = StoreResult<Self::Out>> + Send {
        DB::claim_task(c, self)
    }
    fn keep(out: &TaskOutcome) -> bool {
        keeps(out)
    }
    fn message(out: &TaskOutcome) -> Option<&MessageRecord> {
        task_message(out)
    }
}

impl<DB: Flows> FlowCall<DB> for UpdateTask {
    type Out = TaskOutcome;
    fn run(&self, c: &mut DB::Connection) -> impl Future<Output = StoreResult<Self::Out>> + Send {
        DB::update_task(c, self)
    }
    fn keep(out: &TaskOutcome) -> bool {
        keeps(out)
    }
    fn message(out: &TaskOutcome) -> Option<&MessageRecord> {
        task_message(out)
    }
}

impl<DB: Flows> FlowCall<DB> for TaskById {
    type Out = Option<TaskRecord>;
    fn run(&self, c: &mut DB::Connection) -> impl Future<Output = StoreResult<Self::Out>> + Send {
        DB::task(c, self.0)
    }
}

impl<DB: Flows> FlowCall<DB> for TaskQuery<'_> {
    type Out = Vec<TaskRecord>;
    fn run(&self, c: &mut DB::Connection) -> impl Future<Output = StoreResult<Self::Out>> + Send {
        DB::list_tasks(c, self)
    }
}

impl<DB: Flows> FlowCall<DB> for NewSharedMemory {
    type Out = SharedSetOutcome;
    fn run(&self, c: &mut DB::Connection) -> impl Future<Output = StoreResult<Self::Out>> + Send {
        DB::set_shared_memory(c, self)
    }
    fn keep(out: &SharedSetOutcome) -> bool {
        keeps_shared(out)
    }
}

impl<DB: Flows> FlowCall<DB> for SharedKey<'_> {
    type Out = Option<SharedMemoryRecord>;
    fn run(&self, c: &mut DB::Connection) -> impl Future<Output = StoreResult<Self::Out>> + Send {
        DB::shared_memory(c, self.session_id, self.key)
    }
}

impl<DB: Flows> FlowCall<DB> for SharedListQuery<'_> {
    type Out = Vec<SharedMemoryRecord>;
    fn run(&self, c: &mut DB::Connection) -> impl Future<Output = StoreResult<Self::Out>> + Send {
        DB::list_shared_memory(c, self)
    }
}

#[async_trait]
impl<S: Backend> SessionStore for S {
    async fn create_session(&self, new: &NewSession) -> StoreResult<SessionRecord> {
        self.write(new).await
    }

    async fn get_session(&self, id: &SessionId) -> StoreResult<Option<SessionRecord>> {
        self.read(id).await
    }

    async fn list_sessions(&self, page: &SessionList) -> StoreResult<Vec<SessionRecord>> {
        self.read(page).await
    }

    async fn close_session(&self, close: &SessionClose<'_>) -> StoreResult<Option<SessionRecord>> {
        self.write(close).await
    }
}

#[async_trait]
impl<S: Backend> DirectStore for S {
    async fn ack(&self, agent_id: &str, ids: &[i64], at: DateTime<Utc>) -> StoreResult<AckOutcome> {
        self.write(&Ack { agent_id, ids, at }).await
    }

    async fn receipts(&self, message_id: i64) -> StoreResult<Option<(String, Vec<Receipt>)>> {
        self.read(&Receipts(message_id)).await
    }

    async fn first_reply(&self, parent: i64, sender: &str) -> StoreResult<Option<MessageRecord>> {
        self.read(&FirstReply { parent, sender }).await
    }

    async fn direct_sends_since(
        &self,
        sender: &str,
        recipients: &[String],
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<PairSends>> {
        let call = DirectSends {
            sender,
            recipients,
            since,
        };
        self.read(&call).await
    }

    async fn parent_thread(
        &self,
        session_id: &str,
        message_id: i64,
        max_depth: u32,
    ) -> StoreResult<Option<ParentThread>> {
        let call = ParentOf {
            session_id,
            message_id,
            max_depth,
        };
        self.read(&call).await
    }
}

#[async_trait]
impl<S: Backend> LeaseStore for S {
    async fn acquire_lease(&self, new: &NewLease) -> StoreResult<AcquireOutcome> {
        self.write(new).await
    }

    async fn renew_lease(&self, renewal: &LeaseRenewal<'_>) -> StoreResult<RenewOutcome> {
        self.write(renewal).await
    }

    async fn release_lease(&self, release: &LeaseRelease<'_>) -> StoreResult<ReleaseOutcome> {
        self.write(release).await
    }

    async fn live_leases(
        &self,
        now: DateTime<Utc>,
        session_id: Option<&str>,
    ) -> StoreResult<Vec<LeaseRecord>> {
        self.read(&LiveLeases { now, session_id }).await
    }
}

#[async_trait]
impl<S: Backend> TaskStore for S {
    async fn create_task(&self, new: &NewTask) -> StoreResult<TaskOutcome> {
        self.write(new).await
    }

    async fn claim_task(&self, claim: &ClaimTask) -> StoreResult<TaskOutcome> {
        self.write(claim).await
    }

    async fn update_task(&self, update: &UpdateTask) -> StoreResult<TaskOutcome> {
        self.write(update).await
    }

    async fn get_task(&self, task_id: i64) -> StoreResult<Option<TaskRecord>> {
        self.read(&TaskById(task_id)).await
    }

    async fn list_tasks(&self, query: &TaskQuery<'_>) -> StoreResult<Vec<TaskRecord>> {
        self.read(query).await
    }

    async fn set_shared_memory(&self, new: &NewSharedMemory) -> StoreResult<SharedSetOutcome> {
        self.write(new).await
    }

    async fn get_shared_memory(
        &self,
        session_id: &str,
        key: &str,
    ) -> StoreResult<Option<SharedMemoryRecord>> {
        self.read(&SharedKey { session_id, key }).await
    }

    async fn list_shared_memory(
        &self,
        query: &SharedListQuery<'_>,
    ) -> StoreResult<Vec<SharedMemoryRecord>> {
        self.read(query).await
    }
}
