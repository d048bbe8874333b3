//! MCP resources: `session://{session_id}` (and, with memory, `agent://{agent_id}/memory`), read
//! with the caller's identity so the visibility rule applies here too.

use rmcp::ErrorData as McpError;
use rmcp::RoleServer;
use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate,
};
use rmcp::service::RequestContext;
use serde_json::{Value, json};

use super::{McpServer, render};
use crate::error::DomainError;

/// How many of the newest visible messages a session resource carries.
const RESOURCE_MESSAGES: u32 = 200;

fn to_mcp(err: DomainError) -> McpError {
    match err.code {
        crate::error::ErrorCode::SessionNotFound | crate::error::ErrorCode::MemoryNotFound => {
            McpError::resource_not_found(err.message, None)
        }
        crate::error::ErrorCode::DatabaseUnavailable | crate::error::ErrorCode::InternalError => {
            McpError::internal_error(err.message, None)
        }
        _ => McpError::invalid_params(
            err.message,
            Some(json!({"code": err.code.as_str(), "suggestions": err.suggestions})),
        ),
    }
}

impl McpServer {
    pub(super) fn resource_templates() -> ListResourceTemplatesResult {
        ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new("session://{session_id}", "session")
                .with_description("A session with the newest messages you may read, and statistics")
                .with_mime_type("application/json"),
            ResourceTemplate::new("agent://{agent_id}/memory", "agent-memory")
                .with_description("Your own memory entries with values (admins: any agent's)")
                .with_mime_type("application/json"),
        ])
    }

    /// The newest open sessions, so clients that browse resources find something.
    pub(super) async fn resource_list(
        &self,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let caller = Self::caller(ctx, None, None);
        let who = self.service.resolve(&caller).await.map_err(to_mcp)?;
        let page = self
            .service
            .list_sessions(&who, Some(true), Some(50), None)
            .await
            .map_err(to_mcp)?;
        Ok(ListResourcesResult::with_all_items(
            page.sessions
                .iter()
                .map(|s| {
                    Resource::new(format!("session://{}", s.id), s.id.clone())
                        .with_description(s.purpose.clone())
                        .with_mime_type("application/json")
                })
                .collect(),
        ))
    }

    pub(super) async fn resource_read(
        &self,
        uri: &str,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<ReadResourceResult, McpError> {
        let caller = Self::caller(ctx, None, None);
        let who = self.service.resolve(&caller).await.map_err(to_mcp)?;
        let body: Value = if let Some(session_id) = uri.strip_prefix("session://") {
            let view = self
                .service
                .session_view(&who, session_id, RESOURCE_MESSAGES)
                .await
                .map_err(to_mcp)?;
            let mut senders: Vec<String> = view.messages.iter().map(|m| m.sender.clone()).collect();
            senders.sort_unstable();
            senders.dedup();
            json!({
                "session": render::session(&view.session),
                "messages": render::messages(view.messages),
                "statistics": {
                    "visible_message_count": view.visible_message_count,
                    "unique_senders_in_view": senders,
                    "last_activity": crate::util::rfc3339(view.session.updated_at),
                },
                "resource_info": {"requesting_agent": who.audit_name(), "retrieved_at": crate::util::rfc3339(crate::util::now())},
            })
        } else if let Some(agent_id) = uri
            .strip_prefix("agent://")
            .and_then(|r| r.strip_suffix("/memory"))
        {
            let records = self
                .service
                .agent_memory(&who, agent_id)
                .await
                .map_err(to_mcp)?;
            json!({
                "agent_id": agent_id,
                "entries": records.iter().map(super::memory_results::MemoryRead::from).collect::<Vec<_>>(),
                "count": records.len(),
                "resource_info": {"requesting_agent": who.audit_name(), "retrieved_at": crate::util::rfc3339(crate::util::now())},
            })
        } else {
            return Err(McpError::resource_not_found(
                format!(
                    "unknown resource {uri}; use session://{{session_id}} or agent://{{agent_id}}/memory"
                ),
                None,
            ));
        };
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(body.to_string(), uri.to_owned())
                .with_mime_type("application/json"),
        ]))
    }
}
