//! Tools for agent memory: set_memory, get_memory, list_memory, delete_memory.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use serde_json::{Value, json};

use super::McpServer;
use super::memory_params::{
    DeleteMemoryParams, ListMemoryParams, MemoryKeyParams, SetMemoryParams,
};
use crate::service::{ListMemory, SetMemory};
use crate::storage::{MemoryEntry, MemoryRecord};
use crate::util::rfc3339;

fn scope_name(session_id: Option<&str>) -> &'static str {
    if session_id.is_some() {
        "session"
    } else {
        "global"
    }
}

pub(super) fn record(r: &MemoryRecord) -> Value {
    json!({
        "key": r.key,
        "value": r.value,
        "metadata": r.metadata,
        "scope": scope_name(r.session_id.as_deref()),
        "session_id": r.session_id,
        "created_at": rfc3339(r.created_at),
        "updated_at": rfc3339(r.updated_at),
        "expires_at": r.expires_at.map(rfc3339),
        "value_size": r.value_size,
    })
}

fn entry(e: &MemoryEntry) -> Value {
    json!({
        "key": e.key,
        "scope": scope_name(e.session_id.as_deref()),
        "session_id": e.session_id,
        "created_at": rfc3339(e.created_at),
        "updated_at": rfc3339(e.updated_at),
        "expires_at": e.expires_at.map(rfc3339),
        "value_size": e.value_size,
    })
}

#[tool_router(router = memory_router, vis = "pub(super)")]
impl McpServer {
    #[tool(
        description = "Remember a JSON value under a key in your private memory: notes, plans, progress, results to \
pick up later. Only you (your agent_id) can read it. Global by default, or scoped to a session with session_id. \
expires_in (seconds, up to one year) makes it expire; overwrite=false refuses to replace a live entry (KEY_EXISTS). \
Keys are 1-255 characters without spaces; values up to 1 MB. Needs write. Safe to retry with an idempotency_key \
(the retry returns the first result and writes nothing). \
Example: {\"key\": \"plan/api-v2\", \"value\": {\"step\": 3, \"todo\": [\"tests\"]}, \"expires_in\": 86400}"
    )]
    async fn set_memory(
        &self,
        Parameters(p): Parameters<SetMemoryParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let input = SetMemory {
                key: p.key,
                value: p.value,
                session_id: p.session_id,
                expires_in: p.expires_in,
                metadata: p.metadata,
                overwrite: p.overwrite,
                idempotency_key: p.idempotency_key,
            };
            svc.set_memory(&who, input, |r| {
                json!({
                    "key": r.key,
                    "session_scoped": r.session_id.is_some(),
                    "scope": scope_name(r.session_id.as_deref()),
                    "session_id": r.session_id,
                    "stored_at": rfc3339(r.updated_at),
                    "created_at": rfc3339(r.created_at),
                    "expires_at": r.expires_at.map(rfc3339),
                    "value_size": r.value_size,
                })
            })
            .await
        })
        .await
    }

    #[tool(
        description = "Read a value you stored with set_memory: value, metadata, timestamps, expires_at. Needs your \
auth_token (memory belongs to your agent_id). Global and session scopes are separate: pass the same session_id you \
stored it with. Expired entries are gone (MEMORY_NOT_FOUND). Example: {\"key\": \"plan/api-v2\"}",
        annotations(read_only_hint = true)
    )]
    async fn get_memory(
        &self,
        Parameters(p): Parameters<MemoryKeyParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let r = svc
                .get_memory(&who, &p.key, p.session_id.as_deref())
                .await?;
            Ok(record(&r))
        })
        .await
    }

    #[tool(
        description = "List the keys in your memory (not the values): key, scope, session_id, timestamps, \
expires_at, value_size in bytes. session_id: null for global (default), a session id, or \"all\" for every scope. \
prefix matches literally. Ordered by key; limit 1-200 (default 50), page with next_cursor. \
Example: {\"session_id\": \"all\", \"prefix\": \"plan/\"}",
        annotations(read_only_hint = true)
    )]
    async fn list_memory(
        &self,
        Parameters(p): Parameters<ListMemoryParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let input = ListMemory {
                session_id: p.session_id,
                prefix: p.prefix,
                limit: p.limit,
                cursor: p.cursor,
            };
            let page = svc.list_memory(&who, input).await?;
            let entries: Vec<_> = page.entries.iter().map(entry).collect();
            Ok(json!({
                "entries": entries,
                "count": entries.len(),
                "scope_filter": page.scope_filter.label(),
                "next_cursor": page.next_cursor,
            }))
        })
        .await
    }

    #[tool(
        description = "Delete a key from your memory (in the scope given by session_id; default global). Returns \
deleted: true, or MEMORY_NOT_FOUND when there is no such live key. Needs write. Safe to retry with an \
idempotency_key: the retry returns the first result (deleted: true) instead of MEMORY_NOT_FOUND. Example: {\"key\": \"plan/api-v2\"}",
        annotations(destructive_hint = true, idempotent_hint = true)
    )]
    async fn delete_memory(
        &self,
        Parameters(p): Parameters<DeleteMemoryParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let key = p.key.trim().to_owned();
            svc.delete_memory(
                &who,
                &key,
                p.session_id.as_deref(),
                p.idempotency_key.as_deref(),
                |scope| {
                    json!({
                        "deleted": true,
                        "key": key,
                        "scope": scope.name(),
                        "session_id": scope.session_id().map(|s| s.as_str()),
                    })
                },
            )
            .await
        })
        .await
    }
}
