//! Tools for agent memory: set_memory, get_memory, list_memory, delete_memory.

use super::McpServer;
use super::budget::{ReadBudget, estimate_tokens};
use super::memory_params::{
    DeleteMemoryParams, ListMemoryParams, MemoryKeyParams, SetMemoryParams,
};
use super::memory_results::{
    MemoryDeleted, MemoryList, MemoryListed, MemoryRead, MemoryStored, entry_line, list_text,
    memory_text, scope_name,
};
use super::output::{self, Output};
use super::shared_memory_tools::{GetMemoryOutput, ListMemoryOutput, SetMemoryOutput};
use crate::service::{ListMemory, SetMemory, memory_cursor};
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
            let text = memory_text(&r, who.audit_name(), None);
            let needed = estimate_tokens(&text);
            let mut result = MemoryRead::from(&r);
            if budget.max_tokens.is_some_and(|max| needed > max) {
                // One value is one entry: it is shown whole or not at all, never cut.
                result.value = None;
                result.truncated = true;
                let text = memory_text(&r, who.audit_name(), Some(needed));
                return Ok(Output::typed(GetMemoryOutput::Private(result)).with_text(text));
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
            let input = ListMemory {
                session_id: p.session_id,
                prefix: p.prefix,
                limit: p.limit,
                cursor: p.cursor,
            };
            let budget = ReadBudget::parse(p.max_tokens, None, None)?;
            let page = svc.list_memory(&who, input).await?;
            // The header ends with the cursor, which is the last key shown: room for the longest.
            let longest = page.entries.iter().map(|e| memory_cursor(e).len()).max();
            let header = list_text(0, "all", Some(&"x".repeat(longest.unwrap_or(0))), true, "");
            let spent = estimate_tokens(&header);
            let (kept, lines, truncated) = budget.whole(page.entries, spent, entry_line);
            let next_cursor = if truncated {
                kept.last().map(memory_cursor)
            } else {
                page.next_cursor
            };
            let scope_filter = page.scope_filter.label().to_owned();
            let text = list_text(
                kept.len(),
                &scope_filter,
                next_cursor.as_deref(),
                truncated,
                &lines,
            );
            let entries: Vec<_> = kept.iter().map(MemoryListed::from).collect();
            let result = MemoryList {
                count: entries.len(),
                entries,
                scope_filter,
                next_cursor,
                truncated,
            };
            Ok(Output::typed(ListMemoryOutput::Private(result)).with_text(text))
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
