//! Tools for sessions and messages, plus health.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Serialize;

use super::budget::{self, ReadBudget, estimate_tokens};
use super::output::{self, Output, tool_output};
use super::params::{
    AddMessageParams, CloseSessionParams, CreateSessionParams, GetMessagesParams,
    ListSessionsParams, SessionIdParams,
};
use super::render::{Message, Session};
use super::text::{self, LEGEND, MessageWriter};
use super::{McpServer, render};
use std::fmt::Write;

/// A page of messages under `budget`, as get_messages and wait_for_messages answer it: the result
/// (`timed_out` left for the caller) and its text. `more` and `next_after_id` are the store's.
pub(super) fn message_page(
    session_id: &str,
    budget: &ReadBudget,
    messages: Vec<crate::storage::MessageRecord>,
    more: bool,
    next_after_id: i64,
    total_count: Option<i64>,
) -> (MessagePage, String) {
    let shown = budget::messages(budget, messages, 40, &mut MessageWriter::new());
    let has_more = more || shown.truncated;
    let next_after_id = shown.last_id.unwrap_or(next_after_id);
    let text = page_text(
        session_id,
        shown.count,
        total_count,
        has_more,
        next_after_id,
        shown.truncated,
        &shown.text,
    );
    let page = MessagePage {
        timed_out: None,
        count: shown.count,
        total_count,
        has_more,
        next_after_id,
        truncated: shown.truncated,
        messages: shown.messages,
    };
    (page, text)
}

/// The text of a page of messages: one line of counts and the cursor, the legend, the messages.
fn page_text(
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
use crate::service::{AddMessage, GetMessages, HealthReport};

#[derive(Serialize, JsonSchema)]
pub struct SessionCreated {
    pub session_id: String,
    pub created_by: String,
    pub created_at: String,
    pub session: Session,
}

#[derive(Serialize, JsonSchema)]
pub struct SessionRead {
    pub session: Session,
    /// Messages you may read in the session, all of them.
    pub message_count: i64,
    pub truncated: bool,
    /// When truncated: continue with get_messages after_id=this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after_id: Option<i64>,
    pub messages: Vec<Message>,
}

#[derive(Serialize, JsonSchema)]
pub struct SessionList {
    pub count: usize,
    pub sessions: Vec<Session>,
    pub next_cursor: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct SessionClosed {
    pub session_id: String,
    pub is_active: bool,
    pub session: Session,
}

#[derive(Serialize, JsonSchema)]
pub struct MessagePosted {
    pub message_id: i64,
    pub timestamp: String,
    pub visibility: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
}

/// get_messages and wait_for_messages.
#[derive(Serialize, JsonSchema)]
pub struct MessagePage {
    /// wait_for_messages: nothing arrived before the timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timed_out: Option<bool>,
    pub count: usize,
    /// get_messages: all messages you may read in the session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_count: Option<i64>,
    pub has_more: bool,
    /// Pass as after_id to read on.
    pub next_after_id: i64,
    pub truncated: bool,
    pub messages: Vec<Message>,
}

tool_output!(
    SessionCreated,
    SessionRead,
    SessionList,
    SessionClosed,
    MessagePosted,
    HealthReport
);

impl output::ToolOutput for MessagePage {
    /// Built by moving the messages in (`Message::into_value`): the page is most of a read's
    /// instructions, and serde's `to_value` copies every string of it.
    fn into_body(self) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        if let Some(timed_out) = self.timed_out {
            out.insert("timed_out".into(), timed_out.into());
        }
        out.insert("count".into(), self.count.into());
        if let Some(total) = self.total_count {
            out.insert("total_count".into(), total.into());
        }
        out.insert("has_more".into(), self.has_more.into());
        out.insert("next_after_id".into(), self.next_after_id.into());
        out.insert("truncated".into(), self.truncated.into());
        let messages = self.messages.into_iter().map(Message::into_value).collect();
        out.insert("messages".into(), serde_json::Value::Array(messages));
        serde_json::Value::Object(out)
    }
}

#[tool_router(router = session_router, vis = "pub(super)")]
impl McpServer {
    #[tool(
        description = "Open a session where agents share messages; give the returned session_id to the others. Needs write.",
        output_schema = output::schema::<SessionCreated>()
    )]
    async fn create_session(
        &self,
        Parameters(p): Parameters<CreateSessionParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let s = svc
                .create_session(&who, &p.purpose, p.metadata, p.idempotency_key.as_deref())
                .await?;
            Ok(SessionCreated {
                session_id: s.id.clone(),
                created_by: s.created_by.clone(),
                created_at: crate::util::rfc3339(s.created_at),
                session: Session::from(&s),
            })
        })
        .await
    }

    #[tool(
        description = "A session's purpose, state and newest 50 messages you may read (oldest first), with \
message_count. Page further with get_messages.",
        output_schema = output::schema::<SessionRead>()
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
            let _ = write!(
                text,
                "{} of {} messages you may read",
                shown.count, view.visible_message_count
            );
            let next_after_id = shown.truncated.then(|| shown.last_id.unwrap_or(0));
            if let Some(cursor) = next_after_id {
                let _ = write!(
                    text,
                    "; truncated at max_tokens: continue with get_messages after_id={cursor}"
                );
            }
            text.push('\n');
            text.push_str(&shown.text);
            let result = SessionRead {
                session: Session::from(s),
                message_count: view.visible_message_count,
                truncated: shown.truncated,
                next_after_id,
                messages: shown.messages,
            };
            Ok(Output::typed(result).with_text(text))
        })
        .await
    }

    #[tool(
        description = "Sessions, newest first, to find a session_id.",
        output_schema = output::schema::<SessionList>()
    )]
    async fn list_sessions(
        &self,
        Parameters(p): Parameters<ListSessionsParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let page = svc
                .list_sessions(&who, p.active_only, p.limit, p.cursor.as_deref())
                .await?;
            let sessions: Vec<_> = page.sessions.iter().map(Session::from).collect();
            Ok(SessionList {
                count: sessions.len(),
                sessions,
                next_cursor: page.next_cursor,
            })
        })
        .await
    }

    #[tool(
        description = "Close a session to new messages; it stays readable. Creator or admin only.",
        output_schema = output::schema::<SessionClosed>()
    )]
    async fn close_session(
        &self,
        Parameters(p): Parameters<CloseSessionParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let s = svc
                .close_session(&who, &p.session_id, p.idempotency_key.as_deref())
                .await?;
            Ok(SessionClosed {
                session_id: s.id.clone(),
                is_active: s.is_active,
                session: Session::from(&s),
            })
        })
        .await
    }

    #[tool(
        description = "Post to a session. visibility: public (everyone), private (only you), agent_only (agents \
of your agent_type), admin_only (admins). `to`: a direct message to those agents. Returns message_id. Needs write.",
        output_schema = output::schema::<MessagePosted>()
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
            let m = svc.add_message(&who, input).await?;
            Ok(MessagePosted {
                message_id: m.id,
                timestamp: crate::util::rfc3339(m.created_at),
                visibility: crate::domain::visibility::shown(m.visibility, !m.to.is_empty())
                    .to_owned(),
                to: m.to,
            })
        })
        .await
    }

    #[tool(
        description = "Messages you may read in a session, oldest first. To follow it, pass after_id = \
next_after_id of your last read.",
        output_schema = output::schema::<MessagePage>()
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
            let (result, text) = message_page(
                &p.session_id,
                &budget,
                page.messages,
                page.has_more,
                page.next_after_id,
                page.total_count,
            );
            Ok(Output::typed(result).with_text(text))
        })
        .await
    }

    #[tool(
        description = "Server and database status: healthy, degraded or unhealthy, with pool figures.",
        output_schema = output::schema::<HealthReport>()
    )]
    async fn health(&self) -> CallToolResult {
        render::success(self.service.health().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::output::ToolOutput;

    #[test]
    fn a_page_moved_into_a_value_is_what_serde_gives() {
        let page = |timed_out, total_count, messages: Vec<Message>| MessagePage {
            timed_out,
            count: messages.len(),
            total_count,
            has_more: true,
            next_after_id: 12,
            truncated: false,
            messages,
        };
        let samples = || crate::mcp::render::tests::samples().to_vec();
        for (timed_out, total) in [(None, Some(120)), (Some(false), None)] {
            let serde = serde_json::to_value(page(timed_out, total, samples())).unwrap();
            assert_eq!(page(timed_out, total, samples()).into_body(), serde);
        }
        let empty = serde_json::to_value(page(Some(true), None, Vec::new())).unwrap();
        assert_eq!(page(Some(true), None, Vec::new()).into_body(), empty);
    }
}
