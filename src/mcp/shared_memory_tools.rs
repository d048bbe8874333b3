//! `set_memory`, `get_memory` and `list_memory` with `shared: true`: the session's shared memory
//! (`service::shared_memory`), rendered with `version`, `updated_by` and `updated_at`. Reads honour
//! `max_tokens` as private memory's do (`memory_results::value_within`, `key_page`).

use std::fmt::Write;

use rmcp::model::CallToolResult;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::McpServer;
use super::budget::ReadBudget;
use super::memory_params::{ListMemoryParams, MemoryKeyParams, SetMemoryParams};
use super::memory_results::{
    MemoryList, MemoryRead, MemoryStored, key_page, value_text, value_within,
};
use super::output::{Output, tool_output};
use crate::domain::DomainError;
use crate::service::{Caller, SetSharedMemory};
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
    /// Left out when it does not fit max_tokens (then `truncated` is true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    pub created_at: String,
    /// The value was left out: it needs more than max_tokens.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

#[derive(Serialize, JsonSchema)]
pub struct SharedList {
    pub entries: Vec<SharedListed>,
    pub count: usize,
    pub shared: bool,
    /// Pass as cursor for the next page; absent on the last.
    pub next_cursor: Option<String>,
    /// max_tokens ended the page early; next_cursor continues it.
    pub truncated: bool,
}

/// `get_memory`'s text for a shared entry (see `value_text`).
fn shared_text(r: &SharedMemoryRecord, omitted: Option<usize>) -> String {
    let mut text = format!(
        "{} (shared, session {}), version {}, {} bytes, updated {} by {}",
        r.key,
        r.session_id,
        r.version,
        r.value_size,
        rfc3339(r.updated_at),
        r.updated_by
    );
    // Written by any agent of the session: quoted as data.
    value_text(
        &mut text,
        &r.value,
        &format!("written by {}", r.updated_by),
        omitted,
    );
    text
}

/// One listed shared key: `key · v<version> · size · updated … by …`.
fn shared_line(out: &mut String, e: &SharedMemoryRecord) {
    let _ = writeln!(
        out,
        "{} · v{} · {} B · updated {} by {}",
        e.key,
        e.version,
        e.value_size,
        rfc3339(e.updated_at),
        e.updated_by
    );
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
            let budget = ReadBudget::parse(p.max_tokens, None, None)?;
            let r = svc
                .get_shared_memory(&who, &p.key, p.session_id.as_deref())
                .await?;
            let (text, left_out) = value_within(&budget, |omitted| shared_text(&r, omitted));
            let read = SharedRead {
                entry: SharedListed::from(&r),
                session_id: r.session_id.clone(),
                shared: true,
                value: (!left_out).then(|| r.value.clone()),
                created_at: rfc3339(r.created_at),
                truncated: left_out,
            };
            Ok(Output::typed(GetMemoryOutput::Shared(read)).with_text(text))
        })
        .await
    }

    pub(super) async fn list_shared(&self, p: ListMemoryParams, caller: Caller) -> CallToolResult {
        self.with_identity(caller, |svc, who| async move {
            let budget = ReadBudget::parse(p.max_tokens, None, None)?;
            let (entries, next_cursor) = svc.list_shared_memory(&who, p.listing()).await?;
            let session_id = p.session_id.as_deref().unwrap_or_default();
            let label = format!("shared, session {}", session_id.trim());
            let shown = key_page(
                &budget,
                entries,
                next_cursor,
                &label,
                |e| e.key.clone(),
                shared_line,
            );
            let entries: Vec<SharedListed> = shown.kept.iter().map(SharedListed::from).collect();
            let result = SharedList {
                count: entries.len(),
                entries,
                shared: true,
                next_cursor: shown.next_cursor,
                truncated: shown.truncated,
            };
            Ok(Output::typed(ListMemoryOutput::Shared(result)).with_text(shown.text))
        })
        .await
    }
}
