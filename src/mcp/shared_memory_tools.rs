//! `set_memory`, `get_memory` and `list_memory` with `shared: true`: the session's shared memory
//! (`service::shared_memory`), rendered with `version`, `updated_by` and `updated_at`.

use rmcp::model::CallToolResult;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::McpServer;
use super::memory_params::{ListMemoryParams, MemoryKeyParams, SetMemoryParams};
use super::memory_results::{MemoryList, MemoryRead, MemoryStored};
use super::output::{Output, tool_output};
use super::text::{self, LEGEND};
use crate::domain::DomainError;
use crate::service::{Caller, ListSharedMemory, SetSharedMemory};
use crate::storage::SharedMemoryRecord;
use crate::util::rfc3339;

/// A shared entry as listed: everything but the value.
#[derive(Serialize, JsonSchema)]
pub struct SharedListed {
    pub key: String,
    pub version: i64,
    pub updated_by: String,
    pub updated_at: String,
    pub value_size: i64,
}

impl From<&SharedMemoryRecord> for SharedListed {
    fn from(r: &SharedMemoryRecord) -> Self {
        Self {
            key: r.key.clone(),
            version: r.version,
            updated_by: r.updated_by.clone(),
            updated_at: rfc3339(r.updated_at),
            value_size: r.value_size,
        }
    }
}

/// `set_memory` with `shared: true`.
#[derive(Serialize, JsonSchema)]
pub struct SharedStored {
    #[serde(flatten)]
    pub entry: SharedListed,
    pub session_id: String,
    pub shared: bool,
}

/// `get_memory` with `shared: true`.
#[derive(Serialize, JsonSchema)]
pub struct SharedRead {
    #[serde(flatten)]
    pub entry: SharedListed,
    pub session_id: String,
    pub shared: bool,
    pub value: Value,
    pub created_at: String,
}

#[derive(Serialize, JsonSchema)]
pub struct SharedList {
    pub entries: Vec<SharedListed>,
    pub count: usize,
    pub shared: bool,
    pub next_cursor: Option<String>,
}

/// What `set_memory` returns: a private entry, or a shared one.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub enum SetMemoryOutput {
    Private(MemoryStored),
    Shared(SharedStored),
}

/// What `get_memory` returns.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub enum GetMemoryOutput {
    Private(MemoryRead),
    Shared(SharedRead),
}

/// What `list_memory` returns.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ListMemoryOutput {
    Private(MemoryList),
    Shared(SharedList),
}

tool_output!(SetMemoryOutput, GetMemoryOutput, ListMemoryOutput);

impl McpServer {
    pub(super) async fn set_shared(&self, p: SetMemoryParams, caller: Caller) -> CallToolResult {
        self.with_identity(caller, |svc, who| async move {
            if p.expires_in.is_some() || p.metadata.is_some() || p.overwrite.is_some() {
                return Err(DomainError::invalid(
                    "expires_in, metadata and overwrite apply to private memory, not shared",
                )
                .suggest("for shared memory use expected_version (0: only if absent)"));
            }
            let input = SetSharedMemory {
                session_id: p.session_id,
                key: p.key,
                value: p.value,
                expected_version: p.expected_version,
                idempotency_key: p.idempotency_key,
            };
            let r = svc.set_shared_memory(&who, input).await?;
            Ok(SetMemoryOutput::Shared(SharedStored {
                entry: SharedListed {
                    key: r.key,
                    version: r.version,
                    updated_by: r.updated_by,
                    updated_at: rfc3339(r.updated_at),
                    value_size: r.value_size,
                },
                session_id: r.session_id,
                shared: true,
            }))
        })
        .await
    }

    pub(super) async fn get_shared(&self, p: MemoryKeyParams, caller: Caller) -> CallToolResult {
        self.with_identity(caller, |svc, who| async move {
            let r = svc
                .get_shared_memory(&who, &p.key, p.session_id.as_deref())
                .await?;
            let mut text = format!(
                "{} (shared, session {}), version {}, {} bytes, updated {} by {}\n{LEGEND}\nvalue:\n",
                r.key,
                r.session_id,
                r.version,
                r.value_size,
                rfc3339(r.updated_at),
                r.updated_by
            );
            // Written by any agent of the session: quoted as data.
            text::quote(&mut text, &r.value.to_string());
            let read = SharedRead {
                entry: SharedListed::from(&r),
                session_id: r.session_id.clone(),
                shared: true,
                value: r.value.clone(),
                created_at: rfc3339(r.created_at),
            };
            Ok(Output::typed(GetMemoryOutput::Shared(read)).with_text(text))
        })
        .await
    }

    pub(super) async fn list_shared(&self, p: ListMemoryParams, caller: Caller) -> CallToolResult {
        self.with_identity(caller, |svc, who| async move {
            let input = ListSharedMemory {
                session_id: p.session_id,
                prefix: p.prefix,
                limit: p.limit,
                cursor: p.cursor,
            };
            let (entries, next_cursor) = svc.list_shared_memory(&who, input).await?;
            let entries: Vec<SharedListed> = entries.iter().map(SharedListed::from).collect();
            Ok(ListMemoryOutput::Shared(SharedList {
                count: entries.len(),
                entries,
                shared: true,
                next_cursor,
            }))
        })
        .await
    }
}
