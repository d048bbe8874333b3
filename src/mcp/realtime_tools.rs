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
    pub auth_token: Option<String>,
}

#[tool_router(router = realtime_router, vis = "pub(super)")]
impl McpServer {
    #[tool(
        description = "Instead of polling: returns messages you may read after after_id as soon as one \
exists, or none after timeout_seconds. Pass next_after_id next time."
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
