//! `wait_for_messages`: block until a teammate posts something you may read.

use super::McpServer;
use super::budget::ReadBudget;
use super::output::{self, Output};
use super::session_tools::{MessagePage, message_page};
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
    pub after_id: Option<i64>,
    /// Default 30, capped by the server; 0 checks once.
    pub timeout_seconds: Option<f64>,
    /// 1-1000, default 50.
    pub limit: Option<i64>,
    pub max_tokens: Option<i64>,
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
            let (mut result, mut text) = message_page(
                &p.session_id,
                &budget,
                page.messages,
                page.has_more,
                page.next_after_id,
                None,
            );
            if timed_out {
                text.push_str(" · timed out, nothing new");
            }
            result.timed_out = Some(timed_out);
            Ok(Output::typed(result).with_text(text))
        })
        .await
    }
}
