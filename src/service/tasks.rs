//! Task use-cases: create (with dependencies and handoffs), claim, update through the A2A state
//! machine, list. Tasks of a session are readable by whoever can read the session; changes need
//! write. Each change posts a system message in the same transaction (see `storage/task_flow.rs`),
//! which is published here so waits, inboxes and SSE wake up as for any message.

use serde_json::{Value, json};

use super::Service;
use super::idempotency::{Keyed, replayed, stored, unexpected};
use crate::domain::tasks::{self, TaskState, task_not_found};
use crate::domain::{
    DomainError, ErrorCode, Identity, Limit, MemoryValue, Metadata, Permission, SessionId,
};
use crate::storage::{
    ClaimTask, IdempotentWrite, NewTask, TaskOutcome, TaskQuery, TaskRecord, UpdateTask,
    WriteResult,
};

pub const LIST_TASKS_MAX_LIMIT: u32 = 200;

pub struct CreateTask {
    pub session_id: String,
    pub title: String,
    pub description: Option<String>,
    pub depends_on: Option<Vec<i64>>,
    pub assignee: Option<String>,
    pub metadata: Option<Value>,
    pub idempotency_key: Option<String>,
}

pub struct ClaimTaskInput {
    pub session_id: String,
    pub task_id: Option<i64>,
    pub idempotency_key: Option<String>,
}

pub struct UpdateTaskInput {
    pub task_id: i64,
    pub state: String,
    pub note: Option<String>,
    pub result: Option<Value>,
    pub idempotency_key: Option<String>,
}

pub struct ListTasks {
    pub session_id: String,
    pub state: Option<String>,
    pub assignee: Option<String>,
    pub limit: Option<i64>,
    pub after_id: Option<i64>,
}

fn positive_id(id: i64, what: &str) -> Result<i64, DomainError> {
    if id < 1 {
        return Err(
            DomainError::invalid(format!("{what} must be a positive task id; got {id}"))
                .suggest("use a task_id returned by create_task or list_tasks"),
        );
    }
    Ok(id)
}

fn agent_of(who: &Identity) -> Result<String, DomainError> {
    who.agent_id()
        .map(|a| a.as_str().to_owned())
        .ok_or_else(|| {
            DomainError::new(
                ErrorCode::PermissionDenied,
                "tasks are changed by agents, and this call has no agent identity",
            )
        })
}

impl Service {
    /// Turns a task change's outcome into the task, publishing its system message.
    fn task_result(
        &self,
        outcome: TaskOutcome,
        session_id: Option<&str>,
    ) -> Result<Option<TaskRecord>, DomainError> {
        match outcome {
            TaskOutcome::Changed(change) => {
                self.notifier()
                    .publish(super::messages::message_event(&change.message));
                Ok(Some(change.task))
            }
            TaskOutcome::Unchanged(task) => Ok(Some(task)),
            TaskOutcome::NothingClaimable => Ok(None),
            TaskOutcome::SessionMissing => Err(DomainError::session_not_found(
                session_id.unwrap_or_default(),
            )),
            TaskOutcome::SessionClosed => Err(DomainError::new(
                ErrorCode::SessionClosed,
                "the task's session is closed; its tasks can no longer change",
            )
            .suggest("create_session and create_task there for new work")),
            TaskOutcome::TasksMissing(ids) => Err(task_not_found(&ids, session_id)),
            TaskOutcome::Refused(refusal) => Err(refusal),
        }
    }

    /// Runs a task change, under the idempotency key when there is one: the task changed (or
    /// left as it was), `None` when nothing was claimable. A retry replays the task as the first
    /// call answered it.
    async fn task_change(
        &self,
        retry: Option<super::idempotency::RetryKey>,
        write: IdempotentWrite<'_>,
        session_id: Option<&str>,
    ) -> Result<Option<TaskRecord>, DomainError> {
        let outcome = match (&retry, &write) {
            (None, IdempotentWrite::CreateTask(new)) => self.store().create_task(new).await?,
            (None, IdempotentWrite::ClaimTask(claim)) => self.store().claim_task(claim).await?,
            (None, IdempotentWrite::UpdateTask(update)) => self.store().update_task(update).await?,
            (None, _) => return Err(unexpected(&WriteResult::Deleted(false))),
            (Some(retry), _) => match self
                .write_once(retry, write, &|r| match r {
                    WriteResult::Task(TaskOutcome::Changed(c)) => stored(&c.task),
                    _ => None,
                })
                .await?
            {
                Keyed::Replayed(body) => return replayed(body).map(Some),
                Keyed::Fresh(WriteResult::Task(outcome)) => outcome,
                Keyed::Fresh(other) => return Err(unexpected(&other)),
            },
        };
        self.task_result(outcome, session_id)
    }

    pub async fn create_task(
        &self,
        who: &Identity,
        input: CreateTask,
    ) -> Result<TaskRecord, DomainError> {
        who.require(Permission::Write)?;
        let agent = agent_of(who)?;
        let session_id = SessionId::parse(&input.session_id)?;
        let title = tasks::text(&input.title, "title", tasks::MAX_TITLE_CHARS)?;
        let description = input
            .description
            .as_deref()
            .filter(|d| !d.trim().is_empty())
            .map(|d| tasks::text(d, "description", tasks::MAX_TEXT_CHARS))
            .transpose()?;
        let depends_on = tasks::dependencies(input.depends_on.as_deref())?;
        let metadata = Metadata::parse(input.metadata, self.limits())?;
        let assignee = match input.assignee.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(self.known_agent(raw).await?),
        };
        let retry = self.retry_key(who, input.idempotency_key.as_deref(), "create_task", || {
            json!({"session_id": session_id.as_str(), "title": title, "description": description,
                "depends_on": depends_on, "assignee": assignee, "metadata": metadata.as_map()})
        })?;
        let new = NewTask {
            session_id: session_id.as_str().to_owned(),
            title,
            description,
            depends_on,
            assignee,
            metadata: metadata.as_map().clone(),
            created_by: agent,
            at: self.now(),
        };
        self.task_change(
            retry,
            IdempotentWrite::CreateTask(&new),
            Some(session_id.as_str()),
        )
        .await?
        .ok_or_else(|| unexpected(&WriteResult::Task(TaskOutcome::NothingClaimable)))
    }

    /// The agent id, when it names a known agent; else `RECIPIENT_NOT_FOUND` with suggestions.
    async fn known_agent(&self, raw: &str) -> Result<String, DomainError> {
        let id = crate::domain::AgentId::parse(raw)?.as_str().to_owned();
        let wanted = [id.clone()];
        if self.store().known_agents(&wanted).await?.is_empty() {
            let pool = self.store().agent_ids(500).await?;
            return Err(crate::domain::inbox::recipients_not_found(&wanted, &pool));
        }
        Ok(id)
    }

    pub async fn claim_task(
        &self,
        who: &Identity,
        input: ClaimTaskInput,
    ) -> Result<Option<TaskRecord>, DomainError> {
        who.require(Permission::Write)?;
        let agent = agent_of(who)?;
        let session_id = SessionId::parse(&input.session_id)?;
        let task_id = input
            .task_id
            .map(|id| positive_id(id, "task_id"))
            .transpose()?;
        let retry = self.retry_key(
            who,
            input.idempotency_key.as_deref(),
            "claim_task",
            || json!({"session_id": session_id.as_str(), "task_id": task_id}),
        )?;
        let claim = ClaimTask {
            session_id: session_id.as_str().to_owned(),
            task_id,
            agent_id: agent,
            at: self.now(),
        };
        self.task_change(
            retry,
            IdempotentWrite::ClaimTask(&claim),
            Some(session_id.as_str()),
        )
        .await
    }

    pub async fn update_task(
        &self,
        who: &Identity,
        input: UpdateTaskInput,
    ) -> Result<TaskRecord, DomainError> {
        who.require(Permission::Write)?;
        let agent = agent_of(who)?;
        let task_id = positive_id(input.task_id, "task_id")?;
        let state = TaskState::parse(&input.state)?;
        let note = input
            .note
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .map(|n| tasks::text(n, "note", tasks::MAX_TEXT_CHARS))
            .transpose()?;
        let result = input
            .result
            .map(|v| MemoryValue::parse(v, &self.memory_settings().limits))
            .transpose()?
            .map(|v| (v.value().clone(), v.json().to_owned()));
        let retry = self.retry_key(who, input.idempotency_key.as_deref(), "update_task", || {
            json!({"task_id": task_id, "state": state.as_str(), "note": note,
                "result": result.as_ref().map(|(v, _)| v)})
        })?;
        let update = UpdateTask {
            task_id,
            agent_id: agent,
            admin: who.is_admin(),
            state,
            note,
            result,
            at: self.now(),
        };
        self.task_change(retry, IdempotentWrite::UpdateTask(&update), None)
            .await?
            .ok_or_else(|| unexpected(&WriteResult::Task(TaskOutcome::NothingClaimable)))
    }

    /// Tasks of a session in id order, with `blocked_by`; read permission.
    pub async fn list_tasks(
        &self,
        who: &Identity,
        input: ListTasks,
    ) -> Result<(Vec<TaskRecord>, bool), DomainError> {
        who.require(Permission::Read)?;
        let session_id = SessionId::parse(&input.session_id)?;
        let state = input
            .state
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(TaskState::parse)
            .transpose()?;
        let assignee = input
            .assignee
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let limit = Limit::parse(input.limit, 50, LIST_TASKS_MAX_LIMIT, "limit")?;
        let after_id = crate::domain::input::non_negative(input.after_id, "after_id")?;
        let query = TaskQuery {
            session_id: session_id.as_str(),
            state,
            assignee,
            after_id,
            limit: limit.get() + 1,
        };
        let mut tasks = self.store().list_tasks(&query).await?;
        if tasks.is_empty() {
            self.existing_session(&session_id).await?;
        }
        let has_more = tasks.len() > limit.get() as usize;
        tasks.truncate(limit.get() as usize);
        Ok((tasks, has_more))
    }
}
