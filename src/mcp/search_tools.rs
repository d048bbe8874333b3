//! Tools for finding messages: search_context (fuzzy, whole history), search_by_sender,
//! search_by_timerange. Argument names and defaults match the Python server.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{McpServer, render};
use crate::service::SearchContext;
use crate::util::rfc3339;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchContextParams {
    /// The session to search, e.g. "session_0123456789abcdef".
    pub session_id: String,
    /// What to look for, 1-500 characters; case-insensitive, typos tolerated, e.g. "database timeout".
    pub query: String,
    /// Minimum score 0-100 (default 60). 100 = the query appears verbatim; 80+ = close match; 60 finds typos and partial words.
    #[serde(default)]
    pub fuzzy_threshold: Option<f64>,
    /// How many results, 1-100 (default 10), best first.
    #[serde(default)]
    pub limit: Option<i64>,
    /// Also match top-level metadata values (default true).
    #[serde(default)]
    pub search_metadata: Option<bool>,
    /// "all" (default: everything you may read), "public" (public messages only) or "private" (your own private messages).
    #[serde(default)]
    pub search_scope: Option<String>,
    /// Your token from authenticate_agent (or send Authorization: Bearer over HTTP). Without it you search public messages only.
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchBySenderParams {
    /// The session to search.
    pub session_id: String,
    /// The sender's agent_id, exactly as in a message's "sender" field, e.g. "backend-dev-1".
    pub sender: String,
    /// How many messages, 1-100 (default 20), newest first.
    #[serde(default)]
    pub limit: Option<i64>,
    /// Your token from authenticate_agent (or send Authorization: Bearer over HTTP).
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchByTimerangeParams {
    /// The session to search.
    pub session_id: String,
    /// Start of the range, inclusive: RFC 3339 such as "2025-01-15T10:30:00Z" or "2025-01-15T12:30:00+02:00". Without an offset the time is UTC; a date alone means 00:00:00 UTC.
    pub start_time: String,
    /// End of the range, inclusive, same formats. A date alone covers that whole day.
    pub end_time: String,
    /// How many messages, 1-200 (default 50), oldest first.
    #[serde(default)]
    pub limit: Option<i64>,
    /// Your token from authenticate_agent (or send Authorization: Bearer over HTTP).
    #[serde(default)]
    pub auth_token: Option<String>,
}

/// Scores are shown with two decimals, as rapidfuzz users are used to.
fn rounded(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[tool_router(router = search_router, vis = "pub(super)")]
impl McpServer {
    #[tool(
        description = "Find messages in a session whose text matches a query, tolerating typos and partial words: searches \
the whole history (content and, by default, metadata values) and ranks by a fuzzy score 0-100 (relevance high >= 80, \
medium >= 60). Use it to find what other agents said about a topic before asking again. You only ever get messages you \
may read. Limits: query 1-500 characters, limit 1-100. Example: {\"session_id\": \"session_0123456789abcdef\", \
\"query\": \"database timeout\", \"limit\": 5}",
        annotations(read_only_hint = true)
    )]
    async fn search_context(
        &self,
        Parameters(p): Parameters<SearchContextParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let input = SearchContext {
                session_id: p.session_id,
                query: p.query,
                fuzzy_threshold: p.fuzzy_threshold,
                limit: p.limit,
                search_metadata: p.search_metadata,
                search_scope: p.search_scope,
            };
            let found = svc.search_context(&who, input).await?;
            let results: Vec<_> = found
                .hits
                .into_iter()
                .map(|h| {
                    let fields = json!({
                        "score": rounded(h.score),
                        "match_preview": h.preview,
                        "relevance": h.relevance,
                    });
                    render::object_with(fields, "message", render::message(h.message))
                })
                .collect();
            let fields = json!({
                "message_count": results.len(),
                "query": found.query,
                "threshold": found.threshold,
                "search_scope": found.scope.as_str(),
                "search_time_ms": rounded(found.elapsed.as_secs_f64() * 1000.0),
            });
            Ok(render::object_with(
                fields,
                "results",
                Value::Array(results),
            ))
        })
        .await
    }

    #[tool(
        description = "List the messages one agent posted in a session, newest first (exact agent_id), limited to \
those you may read. Use it to catch up on a specific agent's findings. limit 1-100 (default 20). \
Example: {\"session_id\": \"session_0123456789abcdef\", \"sender\": \"backend-dev-1\"}",
        annotations(read_only_hint = true)
    )]
    async fn search_by_sender(
        &self,
        Parameters(p): Parameters<SearchBySenderParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let messages = svc
                .search_by_sender(&who, &p.session_id, &p.sender, p.limit)
                .await?;
            let fields = json!({"count": messages.len(), "sender": p.sender.trim()});
            Ok(render::object_with(
                fields,
                "messages",
                render::messages(messages),
            ))
        })
        .await
    }

    #[tool(
        description = "List the messages posted in a session between two instants (both inclusive), oldest first, \
limited to those you may read. Times are RFC 3339 (\"2025-01-15T10:30:00Z\", offsets allowed; no offset means UTC; a \
date alone covers the whole day). limit 1-200 (default 50). Example: {\"session_id\": \"session_0123456789abcdef\", \
\"start_time\": \"2025-01-15T09:00:00Z\", \"end_time\": \"2025-01-15T12:00:00Z\"}",
        annotations(read_only_hint = true)
    )]
    async fn search_by_timerange(
        &self,
        Parameters(p): Parameters<SearchByTimerangeParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let range = svc
                .search_by_timerange(&who, &p.session_id, &p.start_time, &p.end_time, p.limit)
                .await?;
            let fields = json!({
                "count": range.messages.len(),
                "timerange": {"start": rfc3339(range.start), "end": rfc3339(range.end)},
            });
            Ok(render::object_with(
                fields,
                "messages",
                render::messages(range.messages),
            ))
        })
        .await
    }
}
