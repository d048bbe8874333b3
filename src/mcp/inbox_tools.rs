//! Messaging tools: agents and presence, the inbox, acknowledgements, receipts and `ask`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::McpServer;
use super::budget::{ReadBudget, estimate_tokens};
use super::output::{self, Output, tool_output};
use super::render::Message;
use super::text::{Body, LEGEND, MessageWriter};
use crate::service::{Ask, GetInbox, ListAgents};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListAgentsParams {
    /// Agents seen within this many seconds are active (default 900).
    pub active_within_seconds: Option<i64>,
    /// Only this agent_type.
    pub agent_type: Option<String>,
    /// 1-1000 (default 100).
    pub limit: Option<i64>,
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
    pub after_cursor: Option<Cursor>,
    /// 1-200 (default 50).
    pub limit: Option<i64>,
    /// Only this session.
    pub session_id: Option<String>,
    /// Block up to this many seconds for a new message (default 0; server-capped).
    pub wait_seconds: Option<f64>,
    /// false: omit content (default true).
    pub include_body: Option<bool>,
    pub max_tokens: Option<i64>,
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AckMessagesParams {
    /// Ids of messages addressed to you.
    pub message_ids: Vec<i64>,
    pub idempotency_key: Option<String>,
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetReceiptsParams {
    /// A direct message you sent.
    pub message_id: i64,
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AskParams {
    pub session_id: String,
    /// The agent to ask.
    pub to: String,
    pub content: String,
    /// Wait this long for the reply (default 25; server-capped).
    pub timeout_seconds: Option<f64>,
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub metadata: Option<Value>,
    /// Makes a retry post nothing new.
    pub idempotency_key: Option<String>,
    pub auth_token: Option<String>,
}

fn rfc(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<String> {
    t.map(crate::util::rfc3339)
}

#[derive(Serialize, JsonSchema)]
pub struct AgentList {
    pub count: usize,
    pub agents: Vec<Agent>,
}

#[derive(Serialize, JsonSchema)]
pub struct Agent {
    pub agent_id: String,
    pub agent_type: String,
    pub first_seen: String,
    pub last_seen: String,
    pub active: bool,
}

#[derive(Serialize, JsonSchema)]
pub struct Inbox {
    pub count: usize,
    pub messages: Vec<Message>,
    /// Pass as after_cursor next time.
    pub next_cursor: String,
    pub has_more: bool,
    /// max_tokens ended the page early; next_cursor continues it.
    pub truncated: bool,
}

#[derive(Serialize, JsonSchema)]
pub struct Acked {
    /// The ids acknowledged.
    pub acked: Vec<i64>,
}

#[derive(Serialize, JsonSchema)]
pub struct Receipts {
    pub message_id: i64,
    pub receipts: Vec<Receipt>,
}

#[derive(Serialize, JsonSchema)]
pub struct Receipt {
    pub agent_id: String,
    pub delivered_at: Option<String>,
    pub acked_at: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct Asked {
    pub message_id: i64,
    pub reply: Option<Message>,
    pub timed_out: bool,
}

tool_output!(AgentList, Inbox, Acked, Receipts, Asked);

#[tool_router(router = inbox_router, vis = "pub(super)")]
impl McpServer {
    #[tool(
        description = "List known agents, most recently seen first, with last_seen and active.",
        output_schema = output::schema::<AgentList>()
    )]
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
            let agents: Vec<Agent> = svc
                .list_agents(&who, input)
                .await?
                .into_iter()
                .map(|v| Agent {
                    agent_id: v.agent.agent_id,
                    agent_type: v.agent.agent_type,
                    first_seen: crate::util::rfc3339(v.agent.first_seen),
                    last_seen: crate::util::rfc3339(v.agent.last_seen),
                    active: v.active,
                })
                .collect();
            Ok(AgentList {
                count: agents.len(),
                agents,
            })
        })
        .await
    }

    #[tool(
        description = "Direct messages sent to you, all sessions, oldest first after after_cursor. Reading \
changes nothing; pass next_cursor next time. wait_seconds blocks until one arrives.",
        output_schema = output::schema::<Inbox>()
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
            let budget = ReadBudget::parse(p.max_tokens, p.include_body, None)?;
            let page = svc.get_inbox(&who, input, &cancel).await?;
            // The text: one line per message (session shown, since the inbox spans sessions),
            // content quoted after │ (text.rs).
            let mut writer = MessageWriter::new();
            writer.with_session = true;
            let header = format!(
                "{} direct messages · next_cursor={} · truncated at max_tokens: continue with \
after_cursor\n{LEGEND}\n",
                page.items.len(),
                i64::MAX
            );
            let (kept, shown, truncated) = budget.fit(
                page.items,
                estimate_tokens(&header),
                |item| &mut item.message.content,
                |out, item, body| {
                    let extra = if item.acked_at.is_some() {
                        " acked"
                    } else {
                        ""
                    };
                    writer.message(out, &item.message, body, extra)
                },
            );
            let next_cursor = match (truncated, kept.last()) {
                (true, Some((item, _))) => item.message.id,
                _ => page.next_cursor,
            };
            let has_more = page.has_more || truncated;
            let mut text = format!(
                "{} direct messages · next_cursor={next_cursor}{}",
                kept.len(),
                if truncated {
                    " · truncated at max_tokens: continue with after_cursor"
                } else if has_more {
                    " · more"
                } else {
                    ""
                }
            );
            if !shown.is_empty() {
                text = format!("{text}\n{LEGEND}\n{shown}");
            }
            let messages: Vec<Message> = kept
                .into_iter()
                .map(|(item, body)| {
                    let mut m = Message::shown(item.message, body);
                    m.acked = Some(item.acked_at.is_some());
                    m
                })
                .collect();
            let result = Inbox {
                count: messages.len(),
                messages,
                next_cursor: next_cursor.to_string(),
                has_more,
                truncated,
            };
            Ok(Output::typed(result).with_text(text))
        })
        .await
    }

    #[tool(
        description = "Acknowledge messages sent to you (idempotent). The sender sees it in get_receipts.",
        output_schema = output::schema::<Acked>()
    )]
    async fn ack_messages(
        &self,
        Parameters(p): Parameters<AckMessagesParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let acked = svc
                .ack_messages(&who, &p.message_ids, p.idempotency_key.as_deref())
                .await?;
            Ok(Acked { acked })
        })
        .await
    }

    #[tool(
        description = "For a direct message you sent: when each recipient first received and acknowledged it.",
        output_schema = output::schema::<Receipts>()
    )]
    async fn get_receipts(
        &self,
        Parameters(p): Parameters<GetReceiptsParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let receipts: Vec<Receipt> = svc
                .get_receipts(&who, p.message_id)
                .await?
                .into_iter()
                .map(|r| Receipt {
                    agent_id: r.agent_id,
                    delivered_at: rfc(r.delivered_at),
                    acked_at: rfc(r.acked_at),
                })
                .collect();
            Ok(Receipts {
                message_id: p.message_id,
                receipts,
            })
        })
        .await
    }

    #[tool(
        description = "Send a direct message to one agent and wait for its reply (a message with \
parent_message_id = your question). A late reply still reaches your inbox. Safe to retry with an idempotency_key.",
        output_schema = output::schema::<Asked>()
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
            let result = Asked {
                message_id: out.message_id,
                reply: out.reply.map(Message::from),
                timed_out: out.timed_out,
            };
            Ok(Output::typed(result).with_text(text))
        })
        .await
    }
}
