//! Tools for sessions and messages, plus health.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use serde_json::json;

use super::params::{
    AddMessageParams, CloseSessionParams, CreateSessionParams, GetMessagesParams,
    ListSessionsParams, SessionIdParams,
};
use super::{McpServer, render};
use crate::service::{AddMessage, GetMessages};

#[tool_router(router = session_router, vis = "pub(super)")]
impl McpServer {
    #[tool(
        description = "Open a shared session where agents post and read messages. Returns session_id: give it to \
the other agents. Needs write. Safe to retry: pass an idempotency_key and a repeated call returns the same \
session_id instead of opening another. Example: {\"purpose\": \"Plan the v2 API\", \"metadata\": {\"repo\": \"api\"}}"
    )]
    async fn create_session(
        &self,
        Parameters(p): Parameters<CreateSessionParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            svc.create_session(&who, &p.purpose, p.metadata, p.idempotency_key.as_deref(), |s| {
                json!({"session_id": s.id, "created_by": s.created_by, "created_at": crate::util::rfc3339(s.created_at), "session": render::session(s)})
            })
            .await
        })
        .await
    }

    #[tool(
        description = "Read a session: its purpose, metadata, state, and the newest 50 messages you may read (oldest \
first), with message_count (all messages visible to you). Use get_messages to page further. Example: {\"session_id\": \"session_0123456789abcdef\"}",
        annotations(read_only_hint = true)
    )]
    async fn get_session(
        &self,
        Parameters(p): Parameters<SessionIdParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let view = svc.get_session(&who, &p.session_id).await?;
            let fields = json!({"session": render::session(&view.session), "message_count": view.visible_message_count});
            Ok(render::object_with(fields, "messages", render::messages(view.messages)))
        })
        .await
    }

    #[tool(
        description = "List sessions, newest first, to find a session_id. Open sessions only unless \
active_only=false. Page with next_cursor. Example: {\"limit\": 20}",
        annotations(read_only_hint = true)
    )]
    async fn list_sessions(
        &self,
        Parameters(p): Parameters<ListSessionsParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let page = svc.list_sessions(&who, p.active_only, p.limit, p.cursor.as_deref()).await?;
            let sessions: Vec<_> = page.sessions.iter().map(render::session).collect();
            Ok(json!({"count": sessions.len(), "sessions": sessions, "next_cursor": page.next_cursor}))
        })
        .await
    }

    #[tool(
        description = "Close a session: it stays readable but accepts no new messages. Only its creator or an admin \
may close it; closing twice is harmless. Safe to retry with an idempotency_key (the retry returns the first \
result). Example: {\"session_id\": \"session_0123456789abcdef\"}"
    )]
    async fn close_session(
        &self,
        Parameters(p): Parameters<CloseSessionParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            svc.close_session(&who, &p.session_id, p.idempotency_key.as_deref(), |s| {
                json!({"session_id": s.id, "is_active": s.is_active, "session": render::session(s)})
            })
            .await
        })
        .await
    }

    #[tool(
        description = "Post a message to a session. visibility: \"public\" (default; everyone), \"private\" (only \
you: notes to self), \"agent_only\" (agents with your agent_type), \"admin_only\" (admins; needs admin). Reply to a \
message with parent_message_id (same session). Returns message_id, which also works as an after_id cursor. Needs write. \
Safe to retry: with an idempotency_key, a repeated call (same key, same arguments) returns the first message_id and \
posts nothing. Example: {\"session_id\": \"session_0123456789abcdef\", \"content\": \"Found the N+1 query in orders.rs\", \"metadata\": {\"kind\": \"finding\"}}"
    )]
    async fn add_message(
        &self,
        Parameters(p): Parameters<AddMessageParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let input = AddMessage {
                session_id: p.session_id,
                content: p.content,
                visibility: p.visibility,
                metadata: p.metadata,
                parent_message_id: p.parent_message_id,
                idempotency_key: p.idempotency_key,
            };
            svc.add_message(&who, input, |m| {
                json!({"message_id": m.id, "timestamp": crate::util::rfc3339(m.created_at), "visibility": m.visibility.as_str()})
            })
            .await
        })
        .await
    }

    #[tool(
        description = "Read messages you may see in a session, oldest first. To follow a conversation, pass \
after_id = next_after_id from your previous call and get only what is new. Or page with limit (1-1000, default 50) and \
offset. visibility_filter narrows to one visibility. Example: {\"session_id\": \"session_0123456789abcdef\", \"after_id\": 42}",
        annotations(read_only_hint = true)
    )]
    async fn get_messages(
        &self,
        Parameters(p): Parameters<GetMessagesParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let input = GetMessages {
                session_id: p.session_id,
                limit: p.limit,
                offset: p.offset,
                visibility_filter: p.visibility_filter,
                after_id: p.after_id,
            };
            let page = svc.get_messages(&who, input).await?;
            let fields = json!({
                "count": page.messages.len(),
                "total_count": page.total_count,
                "has_more": page.has_more,
                "next_after_id": page.next_after_id,
            });
            Ok(render::object_with(
                fields,
                "messages",
                render::messages(page.messages),
            ))
        })
        .await
    }

    #[tool(
        description = "Server and database health: status (healthy, degraded, unhealthy), backend, version, uptime, \
pool and database figures. No permission needed.",
        annotations(read_only_hint = true)
    )]
    async fn health(&self) -> CallToolResult {
        let report = self.service.health().await;
        render::success(serde_json::to_value(report).unwrap_or_default())
    }
}
