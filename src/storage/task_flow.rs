//! The task and shared-memory writes and reads, written once for both backends over their
//! statements ([`TaskSql`]). Each write runs on a connection inside the caller's transaction (the
//! plain store methods and the idempotent path share them); the caller commits only an outcome
//! that [`keeps`], so a refused change writes nothing.
//!
//! Lock order, the same in every change: task rows first (PostgreSQL `FOR UPDATE`; the claim of
//! the next task `FOR UPDATE SKIP LOCKED`, so concurrent claimants take different tasks; a new
//! task's dependencies `FOR SHARE` and a completed task's dependents, both by the triggers of
//! migration 0017), then the session row, which the system message's insert locks
//! (`Writes::add_message`), then nothing else; so two changes never wait on each other in a
//! cycle. On SQLite the single writer serialises them all.

use std::marker::PhantomData;

use serde_json::{Value, json};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};

use super::writes::Writes;
use super::*;
use crate::domain::tasks::{
    self, ClaimCheck, TaskActor, TaskEvent, TaskState, check_claim, check_update,
};

/// The statements that differ between the dialects (casts, JSON functions, row locks).
pub(crate) trait TaskSql: Writes {
    /// `(id, state)` of the tasks of session $1 among the ids of the JSON array $2.
    const DEP_STATES: &'static str;
    /// Session $1, title $2, description $3, created_by $4, assignee $5, depends_on JSON $6,
    /// metadata JSON $7, at $8; returns the row.
    const INSERT_TASK: &'static str;
    /// Task $1, locked until commit.
    const LOCK_TASK: &'static str;
    /// The oldest claimable task of session $1 assigned to agent $2, locked, skipping rows others
    /// lock.
    const NEXT_ASSIGNED: &'static str;
    /// The oldest claimable unassigned task of session $1 with an id below $2, locked likewise.
    const NEXT_OPEN: &'static str;
    /// Task $1 to state $2; claimed_by $3 and note $4 and result JSON $5 (each NULL: kept);
    /// at $6; returns the row.
    const SET_STATE: &'static str;
    /// Session $1, key $2, value JSON $3, size $4, agent $5, at $6: insert or bump the version.
    const SHARED_UPSERT: &'static str;
    /// As `SHARED_UPSERT`, only when the key is absent.
    const SHARED_INSERT: &'static str;
    /// As `SHARED_UPSERT`, only when the entry is at version $7.
    const SHARED_UPDATE: &'static str;
    /// Session $1, prefix $2, after key $3 (NULL: from the start), limit $4; values left out.
    const SHARED_LIST: &'static str;
    /// list_tasks' four reads, binds in the order of the plain statements ([`LIST_ALL`] …); the
    /// fourth: session $1, assignee $2, state $3, id above $4, limit $5.
    const LIST_ALL: &'static str;
    const LIST_IN_STATE: &'static str;
    const LIST_FOR_ASSIGNEE: &'static str;
    const LIST_FOR_ASSIGNEE_IN_STATE: &'static str;
}

/// A dialect's list_tasks reads, in [`TaskSql`]'s order (for the plan tests).
pub(crate) const fn list_statements<DB: TaskSql>() -> [&'static str; 4] {
    [
        DB::LIST_ALL,
        DB::LIST_IN_STATE,
        DB::LIST_FOR_ASSIGNEE,
        DB::LIST_FOR_ASSIGNEE_IN_STATE,
    ]
}

/// A dialect's next-claimable reads: the caller's own handoffs, then the unassigned tasks (for
/// the plan tests).
pub(crate) const fn claim_statements<DB: TaskSql>() -> [&'static str; 2] {
    [DB::NEXT_ASSIGNED, DB::NEXT_OPEN]
}

/// Whether the transaction that produced `outcome` commits.
pub(crate) fn keeps(outcome: &TaskOutcome) -> bool {
    matches!(outcome, TaskOutcome::Changed(_))
}

/// Whether the transaction that produced a shared-memory `outcome` commits.
pub(crate) fn keeps_shared(outcome: &SharedSetOutcome) -> bool {
    matches!(outcome, SharedSetOutcome::Stored(_))
}

/// [`SharedMemoryRecord`]'s columns of `shared_memory`.
macro_rules! shared_columns {
    () => {
        "session_id, key, value, value_size, version, updated_by, created_at, updated_at"
    };
}
pub(crate) use shared_columns;

mod shared;
pub(crate) use shared::shared_writes;

const TASK_BY_ID: &str = concat!("SELECT ", task_columns!(), " FROM tasks WHERE id = $1");
/// Session $1, id above $2, limit $3 (SQLite's statements; PostgreSQL's read through
/// `list_tasks()`, migration 0016).
pub(crate) const LIST_ALL: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks WHERE session_id = $1 AND id > $2 ORDER BY id LIMIT +$3"
);
/// Session $1, state $2, id above $3, limit $4.
pub(crate) const LIST_IN_STATE: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks WHERE session_id = $1 AND state = $2 AND id > $3 ORDER BY id LIMIT +$4"
);
/// Session $1, assignee $2, id above $3, limit $4.
pub(crate) const LIST_FOR_ASSIGNEE: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks WHERE session_id = $1 AND assignee = $2 AND id > $3 ORDER BY id LIMIT +$4"
);

fn ids_json(ids: &[i64]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned())
}

/// The writes and reads; `TaskFlow::<DB>::x(conn, …)`.
pub(crate) struct TaskFlow<DB>(PhantomData<DB>);

impl<DB> TaskFlow<DB>
where
    DB: TaskSql,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    String: for<'q> Encode<'q, DB> + Type<DB>,
    Option<String>: for<'q> Encode<'q, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + Type<DB>,
    for<'r> TaskRecord: FromRow<'r, DB::Row>,
    for<'r> SharedMemoryRecord: FromRow<'r, DB::Row>,
    for<'r> (i64, String): FromRow<'r, DB::Row>,
    for<'r> (bool,): FromRow<'r, DB::Row>,
{
    async fn session_state(conn: &mut DB::Connection, id: &str) -> StoreResult<Option<bool>> {
        super::reads::session_state::<DB>(conn, id).await
    }

    /// `(id, state)` of those of `ids` that are tasks of the session.
    async fn states_of(
        conn: &mut DB::Connection,
        session_id: &str,
        ids: &[i64],
    ) -> StoreResult<Vec<(i64, String)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as(DB::DEP_STATES)
            .bind(session_id)
            .bind(ids_json(ids))
            .fetch_all(&mut *conn)
            .await?)
    }

    /// Fills in `blocked_by` of each task: its dependencies not yet completed.
    pub(crate) async fn fill_blocked_by(
        conn: &mut DB::Connection,
        tasks: &mut [TaskRecord],
    ) -> StoreResult<()> {
        let Some(session_id) = tasks.first().map(|t| t.session_id.clone()) else {
            return Ok(());
        };
        let mut deps: Vec<i64> = tasks.iter().flat_map(|t| t.depends_on.clone()).collect();
        deps.sort_unstable();
        deps.dedup();
        let states = Self::states_of(conn, &session_id, &deps).await?;
        for task in tasks {
            task.blocked_by = task
                .depends_on
                .iter()
                .copied()
                .filter(|id| {
                    !states
                        .iter()
                        .any(|(d, s)| d == id && s == TaskState::Completed.as_str())
                })
                .collect();
        }
        Ok(())
    }

    async fn audit(
        conn: &mut DB::Connection,
        event: &'static str,
        actor: &str,
        session_id: &str,
        details: Value,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()> {
        super::reads::audit::<DB>(conn, at, event, actor, Some(session_id), details).await
    }

    /// Posts the change's system message and audit row; the outcome to return.
    async fn announce(
        conn: &mut DB::Connection,
        task: TaskRecord,
        event: TaskEvent,
        actor: &str,
        note: Option<&str>,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<TaskOutcome> {
        let (content, metadata) = tasks::change_message(
            event,
            task.id,
            &task.title,
            task.task_state(),
            task.assignee.as_deref(),
            note,
        );
        let to = tasks::audience(&task.created_by, task.assignee.as_deref(), actor);
        let session_id = crate::domain::SessionId::parse(&task.session_id)
            .map_err(|e| StoreError::Internal(format!("task {}: {e}", task.id)))?;
        let new = NewMessage {
            session_id,
            sender: actor.to_owned(),
            sender_type: tasks::TASK_SENDER_TYPE.to_owned(),
            content,
            visibility: if to.is_some() {
                Visibility::Private
            } else {
                Visibility::Public
            },
            metadata,
            parent_message_id: None,
            at,
            to: to.unwrap_or_default(),
        };
        let message = match DB::add_message(conn, &new).await? {
            InsertOutcome::Inserted(m) => m,
            InsertOutcome::SessionMissing => return Ok(TaskOutcome::SessionMissing),
            InsertOutcome::SessionClosed | InsertOutcome::ParentNotInSession => {
                return Ok(TaskOutcome::SessionClosed);
            }
        };
        let details = json!({"task_id": task.id, "state": task.state, "message_id": message.id});
        Self::audit(
            conn,
            event.audit_name(),
            actor,
            &task.session_id,
            details,
            at,
        )
        .await?;
        Ok(TaskOutcome::Changed(TaskChange { task, message }))
    }

    pub(crate) async fn create(
        conn: &mut DB::Connection,
        new: &NewTask,
    ) -> StoreResult<TaskOutcome> {
        match Self::session_state(conn, &new.session_id).await? {
            None => return Ok(TaskOutcome::SessionMissing),
            Some(false) => return Ok(TaskOutcome::SessionClosed),
            Some(true) => {}
        }
        let states = Self::states_of(conn, &new.session_id, &new.depends_on).await?;
        let missing: Vec<i64> = new
            .depends_on
            .iter()
            .copied()
            .filter(|id| !states.iter().any(|(d, _)| d == id))
            .collect();
        if !missing.is_empty() {
            return Ok(TaskOutcome::TasksMissing(missing));
        }
        let mut task: TaskRecord = sqlx::query_as(DB::INSERT_TASK)
            .bind(new.session_id.as_str())
            .bind(new.title.as_str())
            .bind(new.description.as_deref())
            .bind(new.created_by.as_str())
            .bind(new.assignee.as_deref())
            .bind(ids_json(&new.depends_on))
            .bind(Value::Object(new.metadata.clone()).to_string())
            .bind(DB::stamp(new.at))
            .fetch_one(&mut *conn)
            .await?;
        Self::fill_blocked_by(conn, std::slice::from_mut(&mut task)).await?;
        Self::announce(
            conn,
            task,
            TaskEvent::Created,
            &new.created_by,
            None,
            new.at,
        )
        .await
    }

    /// The oldest claimable task: two seeks of indexes that hold only claimable tasks (handoffs to
    /// the caller, unassigned ones), so tasks assigned to others or blocked cost nothing. A handoff
    /// found first stays locked while an older unassigned task is claimed instead; only its
    /// assignee could claim it anyway.
    async fn next_claimable(
        conn: &mut DB::Connection,
        claim: &ClaimTask,
    ) -> StoreResult<Option<TaskRecord>> {
        let assigned: Option<TaskRecord> = sqlx::query_as(DB::NEXT_ASSIGNED)
            .bind(claim.session_id.as_str())
            .bind(claim.agent_id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        let open: Option<TaskRecord> = sqlx::query_as(DB::NEXT_OPEN)
            .bind(claim.session_id.as_str())
            .bind(assigned.as_ref().map_or(i64::MAX, |t| t.id))
            .fetch_optional(&mut *conn)
            .await?;
        Ok(open.or(assigned))
    }

    pub(crate) async fn claim(
        conn: &mut DB::Connection,
        claim: &ClaimTask,
    ) -> StoreResult<TaskOutcome> {
        match Self::session_state(conn, &claim.session_id).await? {
            None => return Ok(TaskOutcome::SessionMissing),
            Some(false) => return Ok(TaskOutcome::SessionClosed),
            Some(true) => {}
        }
        let found: Option<TaskRecord> = match claim.task_id {
            Some(id) => sqlx::query_as(DB::LOCK_TASK)
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?
                .filter(|t: &TaskRecord| t.session_id == claim.session_id),
            None => Self::next_claimable(conn, claim).await?,
        };
        let Some(mut task) = found else {
            return Ok(match claim.task_id {
                Some(id) => TaskOutcome::TasksMissing(vec![id]),
                None => TaskOutcome::NothingClaimable,
            });
        };
        Self::fill_blocked_by(conn, std::slice::from_mut(&mut task)).await?;
        match check_claim(&task.parties(), &claim.agent_id, &task.blocked_by) {
            Err(refusal) => return Ok(TaskOutcome::Refused(refusal)),
            Ok(ClaimCheck::AlreadyYours) => return Ok(TaskOutcome::Unchanged(task)),
            Ok(ClaimCheck::Claim) => {}
        }
        let task: TaskRecord = sqlx::query_as(DB::SET_STATE)
            .bind(task.id)
            .bind(TaskState::Working.as_str())
            .bind(Some(claim.agent_id.as_str()))
            .bind(None::<&str>)
            .bind(None::<String>)
            .bind(DB::stamp(claim.at))
            .fetch_one(&mut *conn)
            .await?;
        Self::announce(
            conn,
            task,
            TaskEvent::Claimed,
            &claim.agent_id,
            None,
            claim.at,
        )
        .await
    }

    pub(crate) async fn update(
        conn: &mut DB::Connection,
        update: &UpdateTask,
    ) -> StoreResult<TaskOutcome> {
        let found: Option<TaskRecord> = sqlx::query_as(DB::LOCK_TASK)
            .bind(update.task_id)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(task) = found else {
            return Ok(TaskOutcome::TasksMissing(vec![update.task_id]));
        };
        let actor = TaskActor {
            agent_id: &update.agent_id,
            admin: update.admin,
        };
        if let Err(refusal) = check_update(&task.parties(), &actor, update.state) {
            return Ok(TaskOutcome::Refused(refusal));
        }
        let mut task: TaskRecord = sqlx::query_as(DB::SET_STATE)
            .bind(task.id)
            .bind(update.state.as_str())
            .bind(None::<&str>)
            .bind(update.note.as_deref())
            .bind(update.result.as_ref().map(|(_, json)| json.clone()))
            .bind(DB::stamp(update.at))
            .fetch_one(&mut *conn)
            .await?;
        Self::fill_blocked_by(conn, std::slice::from_mut(&mut task)).await?;
        let note = update.note.as_deref();
        Self::announce(
            conn,
            task,
            TaskEvent::Updated,
            &update.agent_id,
            note,
            update.at,
        )
        .await
    }

    pub(crate) async fn task(
        conn: &mut DB::Connection,
        id: i64,
    ) -> StoreResult<Option<TaskRecord>> {
        let found: Option<TaskRecord> = sqlx::query_as(TASK_BY_ID)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(mut task) = found else {
            return Ok(None);
        };
        Self::fill_blocked_by(conn, std::slice::from_mut(&mut task)).await?;
        Ok(Some(task))
    }

    pub(crate) async fn list(
        conn: &mut DB::Connection,
        q: &TaskQuery<'_>,
    ) -> StoreResult<Vec<TaskRecord>> {
        let limit = i64::from(q.limit);
        let state = q.state.map(TaskState::as_str);
        let query = match (state, q.assignee) {
            (None, None) => sqlx::query_as(DB::LIST_ALL).bind(q.session_id),
            (Some(state), None) => sqlx::query_as(DB::LIST_IN_STATE)
                .bind(q.session_id)
                .bind(state),
            (None, Some(who)) => sqlx::query_as(DB::LIST_FOR_ASSIGNEE)
                .bind(q.session_id)
                .bind(who),
            (Some(state), Some(who)) => sqlx::query_as(DB::LIST_FOR_ASSIGNEE_IN_STATE)
                .bind(q.session_id)
                .bind(who)
                .bind(state),
        };
        let mut tasks: Vec<TaskRecord> = query
            .bind(q.after_id)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?;
        Self::fill_blocked_by(conn, &mut tasks).await?;
        Ok(tasks)
    }
}
