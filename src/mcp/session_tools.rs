//! Tools for sessions and messages, plus health.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use serde_json::json;

use super::budget::{self, ReadBudget, estimate_tokens};
use super::params::{
    AddMessageParams, CloseSessionParams, CreateSessionParams, GetMessagesParams,
    ListSessionsParams, SessionIdParams,
};
use super::text::{self, LEGEND, MessageWriter};
use super::{McpServer, render};
use std::fmt::Write;

/// The text of a page of messages: one line of counts and the cursor, the legend, the messages.
pub(super) fn page_text(
    session_id: &str,
    count: usize,
    total: Option<i64>,
    has_more: bool,
    next_after_id: i64,
    truncated: bool,
    messages: &str,
) -> String {
    let mut text = format!("{} · {count} messages", session_id.trim());
    if let Some(total) = total {
        let _ = write!(text, " of {total}");
    }
    let _ = write!(text, " · next_after_id={next_after_id}");
    if truncated {
        text.push_str(" · truncated at max_tokens: continue with after_id");
    } else if has_more {
        text.push_str(" · more: continue with after_id");
    }
    if count > 0 {
        let _ = write!(text, "\n{LEGEND}\n{messages}");
    }
    text
}
use crate::service::{AddMessage, GetMessages};

#[tool_router(router = session_router, vis = "pub(super)")]
impl McpServer {
    #[tool(
        description = "Open a session where agents share messages; give the returned session_id to the others. Needs write."
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
        description = "A session's purpose, state and newest 50 messages you may read (oldest first), with \
message_count. Page further with get_messages."
    )]
    async fn get_session(
        &self,
        Parameters(p): Parameters<SessionIdParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let budget = ReadBudget::parse(p.max_tokens, None, None)?;
            let view = svc.get_session(&who, &p.session_id).await?;
            let s = &view.session;
            let mut text = format!(
                "{} {}, by {}, created {}",
                s.id,
                if s.is_active { "open" } else { "closed" },
                s.created_by,
                crate::util::rfc3339(s.created_at)
            );
            if !s.metadata.is_empty() {
                text.push_str(&format!(
                    " {}",
                    serde_json::Value::Object(s.metadata.clone())
                ));
            }
            text.push_str(&format!("\n{LEGEND}\npurpose (by {}):\n", s.created_by));
            text::quote(&mut text, &s.purpose);
            let mut writer = MessageWriter::new();
            let shown = budget::messages(
                &budget,
                view.messages,
                estimate_tokens(&text) + 20,
                &mut writer,
            );
            let mut fields = json!({
                "session": render::session(s),
                "message_count": view.visible_message_count,
                "truncated": shown.truncated,
            });
            let _ = write!(
                text,
                "{} of {} messages you may read",
                shown.count, view.visible_message_count
            );
            if shown.truncated {
                let cursor = shown.last_id.unwrap_or(0);
                fields["next_after_id"] = json!(cursor);
                let _ = write!(
                    text,
                    "; truncated at max_tokens: continue with get_messages after_id={cursor}"
                );
            }
            text.push('\n');
            text.push_str(&shown.text);
            let body = render::object_with(fields, "messages", shown.json);
            Ok(render::Output {
                body,
                text: Some(text),
            })
        })
        .await
    }

    #[tool(description = "Sessions, newest first, to find a session_id.")]
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
        description = "Close a session to new messages; it stays readable. Creator or admin only."
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
        description = "Post to a session. visibility: public (everyone), private (only you), agent_only (agents \
of your agent_type), admin_only (admins). `to`: a direct message to those agents. Returns message_id. Needs write."
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
                to: p.to,
                idempotency_key: p.idempotency_key,
            };
            svc.add_message(&who, input, |m| {
                let mut body = json!({"message_id": m.id, "timestamp": crate::util::rfc3339(m.created_at), "visibility": m.visibility.as_str()});
                if !m.to.is_empty() {
                    body["to"] = json!(m.to);
                }
                body
            })
            .await
        })
        .await
    }

    #[tool(
        description = "Messages you may read in a session, oldest first. To follow it, pass after_id = \
next_after_id of your last read."
    )]
    async fn get_messages(
        &self,
        Parameters(p): Parameters<GetMessagesParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let input = GetMessages {
                session_id: p.session_id.clone(),
                limit: p.limit,
                offset: p.offset,
                visibility_filter: p.visibility_filter,
                after_id: p.after_id,
            };
            let budget = ReadBudget::parse(p.max_tokens, p.include_body, p.max_content_chars)?;
            let page = svc.get_messages(&who, input).await?;
            let mut writer = MessageWriter::new();
            let shown = budget::messages(&budget, page.messages, 40, &mut writer);
            let has_more = page.has_more || shown.truncated;
            let next_after_id = shown.last_id.unwrap_or(page.next_after_id);
            let fields = json!({
                "count": shown.count,
                "total_count": page.total_count,
                "has_more": has_more,
                "next_after_id": next_after_id,
                "truncated": shown.truncated,
            });
            let text = page_text(
                &p.session_id,
                shown.count,
                page.total_count,
                has_more,
                next_after_id,
                shown.truncated,
                &shown.text,
            );
            let body = render::object_with(fields, "messages", shown.json);
            Ok(render::Output {
                body,
                text: Some(text),
            })
        })
        .await
    }

    #[tool(
        description = "Server and database status: healthy, degraded or unhealthy, with pool figures."
    )]
    async fn health(&self) -> CallToolResult {
        let report = self.service.health().await;
        render::success(serde_json::to_value(report).unwrap_or_default())
    }
}
