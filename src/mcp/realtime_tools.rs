//! `wait_for_messages`: block until a teammate posts something you may read.

use super::McpServer;
use super::budget::{self, ReadBudget};
use super::output::{self, Output};
use super::session_tools::{MessagePage, page_text};
use super::text::MessageWriter;
use crate::service::WaitForMessages;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct WaitForMessagesParams {
    pub session_id: String,
    /// next_after_id of your last read (0: everything).
    #[serde(default)]
    pub after_id: Option<i64>,
    /// Default 30, capped by the server; 0 checks once.
    #[serde(default)]
    pub timeout_seconds: Option<f64>,
    /// 1-1000, default 50.
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub max_tokens: Option<i64>,
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[tool_router(router = realtime_router, vis = "pub(super)")]
impl McpServer {
    #[tool(
        description = "Instead of polling: returns messages you may read after after_id as soon as one \
exists, or none after timeout_seconds. Pass next_after_id next time.",
        output_schema = output::schema::<MessagePage>()
    )]
    async fn wait_for_messages(
        &self,
        Parameters(p): Parameters<WaitForMessagesParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        let cancel = ctx.ct.clone();
        self.with_identity(caller, |svc, who| async move {
            let budget = ReadBudget::parse(p.max_tokens, None, None)?;
            let input = WaitForMessages {
                session_id: p.session_id.clone(),
                after_id: p.after_id,
                timeout_seconds: p.timeout_seconds,
                limit: p.limit,
            };
            let page = svc.wait_for_messages(&who, input, &cancel).await?;
            let timed_out = page.messages.is_empty();
            let mut writer = MessageWriter::new();
            let shown = budget::messages(&budget, page.messages, 40, &mut writer);
            let has_more = page.has_more || shown.truncated;
            let next_after_id = shown.last_id.unwrap_or(page.next_after_id);
            let mut text = page_text(
                &p.session_id,
                shown.count,
                None,
                has_more,
                next_after_id,
                shown.truncated,
                &shown.text,
            );
            if timed_out {
                text.push_str(" · timed out, nothing new");
            }
            let result = MessagePage {
                timed_out: Some(timed_out),
                count: shown.count,
                total_count: None,
                has_more,
                next_after_id,
                truncated: shown.truncated,
                messages: shown.messages,
            };
            Ok(Output::typed(result).with_text(text))
        })
        .await
    }
}
