//! Tasks and shared session memory: the storage side of `service::tasks` and
//! `service::shared_memory` (implemented in `sqlite/tasks.rs`, `sqlite/shared_memory.rs` and their
//! `postgres/` twins). Every task change writes the task, its system message and its audit row in
//! one transaction; the transition rules (`domain::tasks`) are checked against the locked row.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{MessageRecord, StoreResult};
use crate::domain::DomainError;
use crate::domain::tasks::{TaskParties, TaskState};

/// [`TaskRecord`]'s columns of `tasks`.
macro_rules! task_columns {
    () => {
        "id, session_id, title, description, state, created_by, assignee, claimed_by, depends_on, \
         metadata, result, note, created_at, updated_at"
    };
}
pub(crate) use task_columns;

#[derive(Debug, Clone)]
pub struct NewTask {
    pub session_id: String,
    pub title: String,
    pub description: Option<String>,
    /// Validated: positive, unique; the store checks they are tasks of the session.
    pub depends_on: Vec<i64>,
    pub assignee: Option<String>,
    pub metadata: Map<String, Value>,
    pub created_by: String,
    pub at: DateTime<Utc>,
}

/// Decoded by column name ([`task_columns!`]); serialized as the result an idempotent task change
/// stores and replays.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct TaskRecord {
    pub id: i64,
    pub session_id: String,
    pub title: String,
    pub description: Option<String>,
    pub state: String,
    pub created_by: String,
    pub assignee: Option<String>,
    pub claimed_by: Option<String>,
    #[sqlx(json)]
    pub depends_on: Vec<i64>,
    #[sqlx(json)]
    pub metadata: Map<String, Value>,
    /// `null` until a result is set.
    #[sqlx(json)]
    pub result: Value,
    /// The note of the latest update.
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The dependencies not yet `completed`; reads fill it in.
    #[sqlx(skip)]
    pub blocked_by: Vec<i64>,
}

impl TaskRecord {
    /// The state as the domain type (the column's CHECK allows only valid names).
    pub fn task_state(&self) -> TaskState {
        TaskState::parse(&self.state).unwrap_or(TaskState::Submitted)
    }

    pub fn parties(&self) -> TaskParties<'_> {
        TaskParties {
            id: self.id,
            state: self.task_state(),
            created_by: &self.created_by,
            assignee: self.assignee.as_deref(),
            claimed_by: self.claimed_by.as_deref(),
        }
    }
}

/// A committed task change: the task as it is now and the system message it posted.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskChange {
    pub task: TaskRecord,
    pub message: MessageRecord,
}

/// What `create_task`, `claim_task` and `update_task` did. Anything but `Changed` and `Unchanged`
/// wrote nothing.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // returned once per call and matched at once (see `InsertOutcome`)
pub enum TaskOutcome {
    Changed(TaskChange),
    /// A claim of a task the caller already holds: returned as it is.
    Unchanged(TaskRecord),
    /// A claim of the next task found none claimable.
    NothingClaimable,
    SessionMissing,
    SessionClosed,
    /// These task ids are not tasks of the session.
    TasksMissing(Vec<i64>),
    /// The transition rules refused the change.
    Refused(DomainError),
}

#[derive(Debug, Clone)]
pub struct ClaimTask {
    pub session_id: String,
    /// `None`: the oldest claimable task of the session.
    pub task_id: Option<i64>,
    pub agent_id: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct UpdateTask {
    pub task_id: i64,
    pub agent_id: String,
    pub admin: bool,
    pub state: TaskState,
    pub note: Option<String>,
    /// The result and its JSON; `None` keeps the stored one.
    pub result: Option<(Value, String)>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct TaskQuery<'a> {
    pub session_id: &'a str,
    pub state: Option<TaskState>,
    pub assignee: Option<&'a str>,
    /// Only tasks with an id above this one.
    pub after_id: i64,
    pub limit: u32,
}

#[derive(Debug, Clone)]
pub struct NewSharedMemory {
    pub session_id: String,
    pub key: String,
    pub value: Value,
    pub value_json: String,
    /// `Some(0)`: only if absent; `Some(v)`: only if at version `v`.
    pub expected_version: Option<i64>,
    pub agent_id: String,
    pub at: DateTime<Utc>,
}

/// Decoded by column name (`shared_memory` with every column).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SharedMemoryRecord {
    pub session_id: String,
    pub key: String,
    #[sqlx(json)]
    pub value: Value,
    pub value_size: i64,
    pub version: i64,
    pub updated_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SharedMemoryRecord {
    /// The entry without its value.
    pub fn entry(&self) -> SharedEntry {
        SharedEntry {
            session_id: self.session_id.clone(),
            key: self.key.clone(),
            value_size: self.value_size,
            version: self.version,
            updated_by: self.updated_by.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A shared entry without its value: what a shared `set_memory` answers, serialized as the result
/// an idempotent write stores and replays (the caller sent the value).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SharedEntry {
    pub session_id: String,
    pub key: String,
    pub value_size: i64,
    pub version: i64,
    pub updated_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SharedSetOutcome {
    Stored(SharedMemoryRecord),
    /// `expected_version` did not match: what is stored now (`None`: nothing).
    Conflict(Option<SharedMemoryRecord>),
    SessionMissing,
}

#[derive(Debug, Clone)]
pub struct SharedListQuery<'a> {
    pub session_id: &'a str,
    /// Literal prefix; empty matches every key.
    pub prefix: &'a str,
    /// Only keys after this one.
    pub after: Option<&'a str>,
    pub limit: u32,
}

#[async_trait]
pub trait TaskStore: Send + Sync + 'static {
    /// Inserts the task, its system message and audit row in one transaction, after checking
    /// that the session is open and every dependency is a task of it.
    async fn create_task(&self, new: &NewTask) -> StoreResult<TaskOutcome>;
    /// Claims the given task or the oldest claimable one (submitted, unassigned or assigned to
    /// the claimant, every dependency completed). Exactly one concurrent claimant wins a task,
    /// also across processes.
    async fn claim_task(&self, claim: &ClaimTask) -> StoreResult<TaskOutcome>;
    /// Moves a task to a new state, checked by `domain::tasks::check_update` on the locked row.
    async fn update_task(&self, update: &UpdateTask) -> StoreResult<TaskOutcome>;
    async fn get_task(&self, task_id: i64) -> StoreResult<Option<TaskRecord>>;
    /// In id order, `blocked_by` filled in.
    async fn list_tasks(&self, query: &TaskQuery<'_>) -> StoreResult<Vec<TaskRecord>>;

    /// Sets a shared entry (compare-and-set with `expected_version`) and its audit row.
    async fn set_shared_memory(&self, new: &NewSharedMemory) -> StoreResult<SharedSetOutcome>;
    async fn get_shared_memory(
        &self,
        session_id: &str,
        key: &str,
    ) -> StoreResult<Option<SharedMemoryRecord>>;
    /// Ordered by key.
    async fn list_shared_memory(
        &self,
        query: &SharedListQuery<'_>,
    ) -> StoreResult<Vec<SharedMemoryRecord>>;
}
