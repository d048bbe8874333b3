//! Task tools: create_task, claim_task, update_task, list_tasks (thin adapters over
//! `service::tasks`).

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::McpServer;
use super::memory_params::any_json;
use super::output::{self, tool_output};
use crate::service::{ClaimTaskInput, CreateTask, ListTasks, UpdateTaskInput};
use crate::storage::TaskRecord;
use crate::util::rfc3339;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateTaskParams {
    pub session_id: String,
    /// Up to 200 characters.
    pub title: String,
    pub description: Option<String>,
    /// Task ids of this session that must complete first.
    pub depends_on: Option<Vec<i64>>,
    /// Hand off to this agent: it reaches their inbox and only they may claim it.
    pub assignee: Option<String>,
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub metadata: Option<Value>,
    pub idempotency_key: Option<String>,
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ClaimTaskParams {
    pub session_id: String,
    /// Omit to claim the oldest task open to you.
    pub task_id: Option<i64>,
    pub idempotency_key: Option<String>,
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UpdateTaskParams {
    pub task_id: i64,
    /// working, input-required, completed, failed, canceled or rejected.
    pub state: String,
    pub note: Option<String>,
    /// Any JSON, up to 1 MB.
    #[serde(default)] // with schema_with, schemars sees no Option: this keeps it optional
    #[schemars(schema_with = "any_json")]
    pub result: Option<Value>,
    pub idempotency_key: Option<String>,
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListTasksParams {
    pub session_id: String,
    pub state: Option<String>,
    pub assignee: Option<String>,
    /// 1-200 (default 50).
    pub limit: Option<i64>,
    /// next_after_id of the previous page.
    pub after_id: Option<i64>,
    pub auth_token: Option<String>,
}

/// A task, compact: empty and null fields left out, except `blocked_by`.
#[derive(Serialize, JsonSchema)]
pub struct TaskView {
    pub task_id: i64,
    pub session_id: String,
    pub title: String,
    /// submitted, working, input-required, completed, failed, canceled or rejected.
    pub state: String,
    pub created_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    /// The note of the latest update.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<i64>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_json")]
    pub result: Option<Value>,
    /// Dependencies not yet completed.
    pub blocked_by: Vec<i64>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&TaskRecord> for TaskView {
    fn from(t: &TaskRecord) -> Self {
        Self {
            task_id: t.id,
            session_id: t.session_id.clone(),
            title: t.title.clone(),
            state: t.state.clone(),
            created_by: t.created_by.clone(),
            description: t.description.clone(),
            assignee: t.assignee.clone(),
            claimed_by: t.claimed_by.clone(),
            note: t.note.clone(),
            depends_on: t.depends_on.clone(),
            metadata: t.metadata.clone(),
            result: (!t.result.is_null()).then(|| t.result.clone()),
            blocked_by: t.blocked_by.clone(),
            created_at: rfc3339(t.created_at),
            updated_at: rfc3339(t.updated_at),
        }
    }
}

/// `claim_task`: the task under `task` (null when none is claimable), with its id, state and
/// claimant also at the top level.
#[derive(Serialize, JsonSchema)]
pub struct Claimed {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    pub task: Option<TaskView>,
}

#[derive(Serialize, JsonSchema)]
pub struct TaskList {
    pub tasks: Vec<TaskView>,
    pub count: usize,
    pub has_more: bool,
    /// Pass as after_id for the next page.
    pub next_after_id: Option<i64>,
}

tool_output!(TaskView, Claimed, TaskList);

impl From<Option<TaskRecord>> for Claimed {
    fn from(t: Option<TaskRecord>) -> Self {
        Self {
            task_id: t.as_ref().map(|t| t.id),
            state: t.as_ref().map(|t| t.state.clone()),
            claimed_by: t.as_ref().and_then(|t| t.claimed_by.clone()),
            task: t.as_ref().map(TaskView::from),
        }
    }
}

#[tool_router(router = task_router, vis = "pub(super)")]
impl McpServer {
    #[tool(
        description = "Create a task in a session. depends_on: tasks that must complete first. assignee: a \
handoff to that agent's inbox; only they may claim it.",
        output_schema = output::schema::<TaskView>()
    )]
    async fn create_task(
        &self,
        Parameters(p): Parameters<CreateTaskParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let input = CreateTask {
                session_id: p.session_id,
                title: p.title,
                description: p.description,
                depends_on: p.depends_on,
                assignee: p.assignee,
                metadata: p.metadata,
                idempotency_key: p.idempotency_key,
            };
            Ok(TaskView::from(&svc.create_task(&who, input).await?))
        })
        .await
    }

    #[tool(
        description = "Claim a task (without task_id: the oldest one open to you, dependencies done). It \
becomes working and yours; {task: null} when none.",
        output_schema = output::schema::<Claimed>()
    )]
    async fn claim_task(
        &self,
        Parameters(p): Parameters<ClaimTaskParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let input = ClaimTaskInput {
                session_id: p.session_id,
                task_id: p.task_id,
                idempotency_key: p.idempotency_key,
            };
            Ok(Claimed::from(svc.claim_task(&who, input).await?))
        })
        .await
    }

    #[tool(
        description = "Move a task you hold to another state (final: completed, failed, canceled, \
rejected). The creator may cancel, the assignee reject.",
        output_schema = output::schema::<TaskView>()
    )]
    async fn update_task(
        &self,
        Parameters(p): Parameters<UpdateTaskParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let input = UpdateTaskInput {
                task_id: p.task_id,
                state: p.state,
                note: p.note,
                result: p.result,
                idempotency_key: p.idempotency_key,
            };
            Ok(TaskView::from(&svc.update_task(&who, input).await?))
        })
        .await
    }

    #[tool(
        description = "Tasks of a session, oldest first, with blocked_by (unfinished dependencies).",
        output_schema = output::schema::<TaskList>()
    )]
    async fn list_tasks(
        &self,
        Parameters(p): Parameters<ListTasksParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let input = ListTasks {
                session_id: p.session_id,
                state: p.state,
                assignee: p.assignee,
                limit: p.limit,
                after_id: p.after_id,
            };
            let (tasks, has_more) = svc.list_tasks(&who, input).await?;
            let next_after_id = tasks.last().map(|t| t.id);
            let tasks: Vec<TaskView> = tasks.iter().map(TaskView::from).collect();
            Ok(TaskList {
                count: tasks.len(),
                tasks,
                has_more,
                next_after_id,
            })
        })
        .await
    }
}
