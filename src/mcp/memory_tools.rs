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
use super::text::{self, LEGEND};
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
        description = "Store a JSON value under a key in your private memory, global or per session. \
Needs write."
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

    #[tool(description = "Read a key from your memory.")]
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
            let mut text = format!(
                "{} ({}), {} bytes, updated {}",
                r.key,
                r.session_id.as_deref().unwrap_or("global"),
                r.value_size,
                rfc3339(r.updated_at)
            );
            if let Some(at) = r.expires_at {
                text.push_str(&format!(", expires {}", rfc3339(at)));
            }
            if !r.metadata.is_empty() {
                text.push_str(&format!(" {}", Value::Object(r.metadata.clone())));
            }
            // Memory is the caller's own, but what it holds may have come from peers: quoted too.
            text.push_str(&format!(
                "\n{LEGEND}\nvalue (stored by {}):\n",
                who.audit_name()
            ));
            text::quote(&mut text, &r.value.to_string());
            Ok(super::render::Output {
                body: record(&r),
                text: Some(text),
            })
        })
        .await
    }

    #[tool(description = "Your memory keys (not values), sorted; page with next_cursor.")]
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

    #[tool(description = "Delete a key from your memory.")]
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
