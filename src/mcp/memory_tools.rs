//! Tools for agent memory: set_memory, get_memory, list_memory, delete_memory.

use super::McpServer;
use super::budget::ReadBudget;
use super::memory_params::{
    DeleteMemoryParams, ListMemoryParams, MemoryKeyParams, SetMemoryParams,
};
use super::memory_results::{
    MemoryDeleted, MemoryList, MemoryListed, MemoryRead, MemoryStored, entry_line, key_page,
    memory_text, scope_name, value_within,
};
use super::output::{self, Output};
use super::shared_memory_tools::{GetMemoryOutput, ListMemoryOutput, SetMemoryOutput};
use crate::service::{SetMemory, memory_cursor};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};

#[tool_router(router = memory_router, vis = "pub(super)")]
impl McpServer {
    #[tool(
        description = "Store a JSON value under a key in your private memory, global or per session; \
shared: true writes the session's versioned shared memory. Needs write.",
        output_schema = output::schema::<SetMemoryOutput>()
    )]
    async fn set_memory(
        &self,
        Parameters(mut p): Parameters<SetMemoryParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token.take(), None);
        if p.shared == Some(true) {
            return self.set_shared(p, caller).await;
        }
        self.with_identity(caller, |svc, who| async move {
            if p.expected_version.is_some() {
                return Err(crate::domain::DomainError::invalid(
                    "expected_version applies to shared memory only",
                )
                .suggest("pass shared: true with a session_id, or leave expected_version out"));
            }
            let input = SetMemory {
                key: p.key,
                value: p.value,
                session_id: p.session_id,
                expires_in: p.expires_in,
                metadata: p.metadata,
                overwrite: p.overwrite,
                idempotency_key: p.idempotency_key,
            };
            let entry = svc.set_memory(&who, input).await?;
            Ok(SetMemoryOutput::Private(MemoryStored::from(&entry)))
        })
        .await
    }

    #[tool(
        description = "Read a key from your memory (shared: true, the session's shared memory).",
        output_schema = output::schema::<GetMemoryOutput>()
    )]
    async fn get_memory(
        &self,
        Parameters(mut p): Parameters<MemoryKeyParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token.take(), None);
        if p.shared == Some(true) {
            return self.get_shared(p, caller).await;
        }
        self.with_identity(caller, |svc, who| async move {
            let budget = ReadBudget::parse(p.max_tokens, None, None)?;
            let r = svc
                .get_memory(&who, &p.key, p.session_id.as_deref())
                .await?;
            let (text, left_out) = value_within(&budget, |omitted| {
                memory_text(&r, who.audit_name(), omitted)
            });
            let mut result = MemoryRead::from(&r);
            if left_out {
                result.value = None;
                result.truncated = true;
            }
            Ok(Output::typed(GetMemoryOutput::Private(result)).with_text(text))
        })
        .await
    }

    #[tool(
        description = "Your memory keys (not values), sorted; page with next_cursor.",
        output_schema = output::schema::<ListMemoryOutput>()
    )]
    async fn list_memory(
        &self,
        Parameters(mut p): Parameters<ListMemoryParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token.take(), None);
        if p.shared == Some(true) {
            return self.list_shared(p, caller).await;
        }
        self.with_identity(caller, |svc, who| async move {
            let budget = ReadBudget::parse(p.max_tokens, None, None)?;
            let page = svc.list_memory(&who, p.listing()).await?;
            let scope_filter = page.scope_filter.label().to_owned();
            let shown = key_page(
                &budget,
                page.entries,
                page.next_cursor,
                &scope_filter,
                memory_cursor,
                entry_line,
            );
            let entries: Vec<_> = shown.kept.iter().map(MemoryListed::from).collect();
            let result = MemoryList {
                count: entries.len(),
                entries,
                scope_filter,
                next_cursor: shown.next_cursor,
                truncated: shown.truncated,
            };
            Ok(Output::typed(ListMemoryOutput::Private(result)).with_text(shown.text))
        })
        .await
    }

    #[tool(
        description = "Delete a key from your memory.",
        output_schema = output::schema::<MemoryDeleted>()
    )]
    async fn delete_memory(
        &self,
        Parameters(p): Parameters<DeleteMemoryParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let gone = svc
                .delete_memory(
                    &who,
                    &p.key,
                    p.session_id.as_deref(),
                    p.idempotency_key.as_deref(),
                )
                .await?;
            Ok(MemoryDeleted {
                deleted: true,
                scope: scope_name(gone.session_id.as_deref()),
                key: gone.key,
                session_id: gone.session_id,
            })
        })
        .await
    }
}
