//! `wait_for_messages`: block until a teammate posts something you may read.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::{McpServer, render};
use crate::service::WaitForMessages;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct WaitForMessagesParams {
    /// The session to watch.
    pub session_id: String,
    /// Return messages with a larger id: pass next_after_id from your previous read (0 for everything).
    #[serde(default)]
    pub after_id: Option<i64>,
    /// How long to wait for a new message, in seconds (default 30; the server caps it, 60 s by default). 0 checks once without waiting.
    #[serde(default)]
    pub timeout_seconds: Option<f64>,
    /// At most this many messages, 1-1000 (default 50).
    #[serde(default)]
    pub limit: Option<i64>,
    /// Your token (or send Authorization: Bearer over HTTP). You are woken only by messages you may read.
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[tool_router(router = realtime_router, vis = "pub(super)")]
impl McpServer {
    #[tool(
        description = "Wait for new messages instead of polling: returns at once if messages you may read exist \
after after_id, otherwise blocks until one arrives or timeout_seconds pass (then messages is empty). Either way, pass \
next_after_id to your next call. Use it to wait for a teammate's result. Example: {\"session_id\": \
\"session_0123456789abcdef\", \"after_id\": 42, \"timeout_seconds\": 30}",
        annotations(read_only_hint = true)
    )]
    async fn wait_for_messages(
        &self,
        Parameters(p): Parameters<WaitForMessagesParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        let cancel = ctx.ct.clone();
        self.with_identity(caller, |svc, who| async move {
            let input = WaitForMessages {
                session_id: p.session_id,
                after_id: p.after_id,
                timeout_seconds: p.timeout_seconds,
                limit: p.limit,
            };
            let page = svc.wait_for_messages(&who, input, &cancel).await?;
            let fields = json!({
                "timed_out": page.messages.is_empty(),
                "count": page.messages.len(),
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
}
