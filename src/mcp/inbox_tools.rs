//! Messaging tools: agents and presence, the inbox, acknowledgements, receipts and `ask`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::text::{Body, LEGEND, MessageWriter};
use super::{McpServer, render};
use crate::service::{Ask, GetInbox, ListAgents};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListAgentsParams {
    /// Agents seen within this many seconds are active (default 900).
    #[serde(default)]
    pub active_within_seconds: Option<i64>,
    /// Only this agent_type.
    #[serde(default)]
    pub agent_type: Option<String>,
    /// 1-1000 (default 100).
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub auth_token: Option<String>,
}

/// A cursor: next_cursor from a previous get_inbox (a string or a number).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Cursor {
    Text(String),
    Number(i64),
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetInboxParams {
    /// next_cursor from your previous call; omit to start from the oldest.
    #[serde(default)]
    pub after_cursor: Option<Cursor>,
    /// 1-200 (default 50).
    #[serde(default)]
    pub limit: Option<i64>,
    /// Only this session.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Block up to this many seconds for a new message (default 0; server-capped).
    #[serde(default)]
    pub wait_seconds: Option<f64>,
    /// false: omit content (default true).
    #[serde(default)]
    pub include_body: Option<bool>,
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AckMessagesParams {
    /// Ids of messages addressed to you.
    pub message_ids: Vec<i64>,
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetReceiptsParams {
    /// A direct message you sent.
    pub message_id: i64,
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AskParams {
    pub session_id: String,
    /// The agent to ask.
    pub to: String,
    pub content: String,
    /// Wait this long for the reply (default 25; server-capped).
    #[serde(default)]
    pub timeout_seconds: Option<f64>,
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub metadata: Option<Value>,
    /// Makes a retry post nothing new.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    #[serde(default)]
    pub auth_token: Option<String>,
}

fn rfc(t: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    t.map_or(Value::Null, |t| crate::util::rfc3339(t).into())
}

#[tool_router(router = inbox_router, vis = "pub(super)")]
impl McpServer {
    #[tool(description = "List known agents, most recently seen first, with last_seen and active.")]
    async fn list_agents(
        &self,
        Parameters(p): Parameters<ListAgentsParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let input = ListAgents {
                active_within_seconds: p.active_within_seconds,
                agent_type: p.agent_type,
                limit: p.limit,
            };
            let agents: Vec<Value> = svc
                .list_agents(&who, input)
                .await?
                .into_iter()
                .map(|v| {
                    json!({"agent_id": v.agent.agent_id, "agent_type": v.agent.agent_type,
                       "first_seen": crate::util::rfc3339(v.agent.first_seen),
                       "last_seen": crate::util::rfc3339(v.agent.last_seen), "active": v.active})
                })
                .collect();
            Ok(json!({"count": agents.len(), "agents": agents}))
        })
        .await
    }

    #[tool(
        description = "Direct messages sent to you, all sessions, oldest first after after_cursor. Reading \
changes nothing; pass next_cursor next time. wait_seconds blocks until one arrives."
    )]
    async fn get_inbox(
        &self,
        Parameters(p): Parameters<GetInboxParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        let cancel = ctx.ct.clone();
        self.with_identity(caller, |svc, who| async move {
            let input = GetInbox {
                after_cursor: p.after_cursor.map(|c| match c {
                    Cursor::Text(t) => t,
                    Cursor::Number(n) => n.to_string(),
                }),
                limit: p.limit,
                session_id: p.session_id,
                wait_seconds: p.wait_seconds,
            };
            let page = svc.get_inbox(&who, input, &cancel).await?;
            let include_body = p.include_body.unwrap_or(true);
            // The text: one line per message (session shown, since the inbox spans sessions),
            // content quoted after │ (text.rs).
            let mut writer = MessageWriter::new();
            writer.with_session = true;
            let mut shown = String::new();
            for item in &page.items {
                let m = &item.message;
                let extra = if item.acked_at.is_some() {
                    " acked"
                } else {
                    ""
                };
                let chars = m.content.chars().count();
                let body = if include_body {
                    Body::Whole
                } else {
                    Body::Omitted { total_chars: chars }
                };
                writer.message(&mut shown, m, body, extra);
            }
            let mut text = format!(
                "{} direct messages · next_cursor={}{}",
                page.items.len(),
                page.next_cursor,
                if page.has_more { " · more" } else { "" }
            );
            if !shown.is_empty() {
                text = format!("{text}\n{LEGEND}\n{shown}");
            }
            let messages: Vec<Value> = page
                .items
                .into_iter()
                .map(|item| {
                    let acked = item.acked_at.is_some();
                    let mut m = render::message(item.message);
                    m["acked"] = acked.into();
                    if !include_body && let Some(o) = m.as_object_mut() {
                        o.remove("content");
                    }
                    m
                })
                .collect();
            let body = json!({"count": messages.len(), "messages": messages,
                      "next_cursor": page.next_cursor.to_string(), "has_more": page.has_more});
            Ok(render::Output {
                body,
                text: Some(text),
            })
        })
        .await
    }

    #[tool(
        description = "Acknowledge messages sent to you (idempotent). The sender sees it in get_receipts."
    )]
    async fn ack_messages(
        &self,
        Parameters(p): Parameters<AckMessagesParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let acked = svc.ack_messages(&who, &p.message_ids).await?;
            Ok(json!({"acked": acked}))
        })
        .await
    }

    #[tool(
        description = "For a direct message you sent: when each recipient first received and acknowledged it."
    )]
    async fn get_receipts(
        &self,
        Parameters(p): Parameters<GetReceiptsParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let receipts: Vec<Value> = svc
                .get_receipts(&who, p.message_id)
                .await?
                .into_iter()
                .map(|r| json!({"agent_id": r.agent_id, "delivered_at": rfc(r.delivered_at), "acked_at": rfc(r.acked_at)}))
                .collect();
            Ok(json!({"message_id": p.message_id, "receipts": receipts}))
        })
        .await
    }

    #[tool(
        description = "Send a direct message to one agent and wait for its reply (a message with \
parent_message_id = your question). A late reply still reaches your inbox. Safe to retry with an idempotency_key."
    )]
    async fn ask(
        &self,
        Parameters(p): Parameters<AskParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        let cancel = ctx.ct.clone();
        self.with_identity(caller, |svc, who| async move {
            let input = Ask {
                session_id: p.session_id,
                to: p.to,
                content: p.content,
                timeout_seconds: p.timeout_seconds,
                metadata: p.metadata,
                idempotency_key: p.idempotency_key,
            };
            let out = svc.ask(&who, input, &cancel).await?;
            let mut text = format!("asked as #{}", out.message_id);
            match &out.reply {
                None => text.push_str("; no reply yet (timed out): it will reach your inbox"),
                Some(reply) => {
                    text.push_str(&format!("; reply:\n{LEGEND}\n"));
                    MessageWriter::new().message(&mut text, reply, Body::Whole, "");
                }
            }
            let body = json!({"message_id": out.message_id, "reply": out.reply.map(render::message),
                      "timed_out": out.timed_out});
            Ok(render::Output {
                body,
                text: Some(text),
            })
        })
        .await
    }
}
