//! What a call must pass before its tool runs: the tool is in the caller's profile, and every
//! argument is one the tool accepts (an unknown one is refused, never ignored: a misspelt `to` or
//! `visibilty` would otherwise post a public message the agent meant to restrict).

use rmcp::RoleServer;
use rmcp::model::{CallToolRequestParams, CallToolResult, ListToolsResult};
use rmcp::service::RequestContext;

use super::profile::{PROFILE_HEADER, ToolProfile};
use super::{McpServer, catalog, render, schema};
use crate::domain::{DomainError, ErrorCode};

impl McpServer {
    /// The profile of this request: the client's `X-SCS-Tools` header over HTTP, else the
    /// server's.
    fn active_profile(&self, ctx: &RequestContext<RoleServer>) -> Result<ToolProfile, DomainError> {
        let header = ctx
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.headers.get(PROFILE_HEADER));
        match header {
            None => Ok(self.profile),
            Some(value) => ToolProfile::parse(value.to_str().unwrap_or("")).map_err(|e| {
                DomainError::new(e.code, format!("X-SCS-Tools header: {}", e.message))
                    .suggest(e.suggestions.concat())
            }),
        }
    }

    pub(super) fn listed_tools(
        &self,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, rmcp::ErrorData> {
        let profile = self
            .active_profile(ctx)
            .map_err(|e| rmcp::ErrorData::invalid_params(e.message, None))?;
        let mut tools = self.tool_router.list_all();
        tools.retain(|t| profile.lists(&t.name));
        Ok(ListToolsResult::with_all_items(tools))
    }

    /// The refusal for a call that must not run, or `None` to run it. Unknown tool names are
    /// left to the router, which answers them as the protocol says.
    pub(super) fn refuse(
        &self,
        name: &str,
        request: &CallToolRequestParams,
        ctx: &RequestContext<RoleServer>,
    ) -> Option<CallToolResult> {
        let tool = self.tool_router.get(name)?;
        let refusal = match self.active_profile(ctx) {
            Err(e) => Some(e),
            Ok(profile) => match catalog::info(name) {
                Some(info) if !profile.includes(info) => Some(profile.not_enabled(info)),
                _ => unknown_arguments(name, &tool.input_schema, request),
            },
        }?;
        Some(render::failure(&refusal))
    }
}

fn unknown_arguments(
    tool: &str,
    schema: &serde_json::Map<String, serde_json::Value>,
    request: &CallToolRequestParams,
) -> Option<DomainError> {
    let accepted = schema::accepted_names(schema);
    let unknown: Vec<&str> = request
        .arguments
        .iter()
        .flat_map(|args| args.keys())
        .map(String::as_str)
        .filter(|k| !accepted.contains(k))
        .collect();
    if unknown.is_empty() {
        return None;
    }
    Some(
        DomainError::new(
            ErrorCode::UnknownArgument,
            format!(
                "{tool} has no argument named {}; nothing was done",
                unknown
                    .iter()
                    .map(|k| format!("'{k}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .suggest(format!("{tool} accepts: {}", accepted.join(", "))),
    )
}
