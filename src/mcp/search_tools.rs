//! Tools for finding messages: search_context (fuzzy, whole history), search_by_sender,
//! search_by_timerange. Argument names and defaults match the Python server.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::McpServer;
use super::budget::{self, ReadBudget};
use super::output::{self, Output, tool_output};
use super::render::Message;
use super::text::{LEGEND, MessageWriter};
use crate::service::SearchContext;
use crate::util::rfc3339;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchContextParams {
    pub session_id: String,
    /// 1-500 characters; case-insensitive, typos tolerated.
    pub query: String,
    /// Minimum score 0-100 (default 60; 100 verbatim, 80+ close).
    pub fuzzy_threshold: Option<f64>,
    /// 1-100, default 10.
    pub limit: Option<i64>,
    /// Match metadata values too (default true).
    pub search_metadata: Option<bool>,
    /// all (default), public, or private (your own).
    pub search_scope: Option<String>,
    pub max_tokens: Option<i64>,
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchBySenderParams {
    pub session_id: String,
    /// The sender's exact agent_id.
    pub sender: String,
    /// 1-100, default 20.
    pub limit: Option<i64>,
    pub max_tokens: Option<i64>,
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchByTimerangeParams {
    pub session_id: String,
    /// e.g. "2025-01-15T09:00:00Z".
    pub start_time: String,
    pub end_time: String,
    /// 1-200, default 50.
    pub limit: Option<i64>,
    pub max_tokens: Option<i64>,
    pub auth_token: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct SearchResults {
    pub message_count: usize,
    pub query: String,
    pub threshold: f64,
    pub search_scope: &'static str,
    pub search_time_ms: f64,
    pub truncated: bool,
    /// Results max_tokens left out, best first.
    pub omitted_ids: Vec<i64>,
    pub results: Vec<SearchResult>,
}

#[derive(Serialize, JsonSchema)]
pub struct SearchResult {
    pub score: f64,
    pub match_preview: String,
    pub relevance: &'static str,
    pub message: Message,
}

#[derive(Serialize, JsonSchema)]
pub struct SenderMessages {
    pub count: usize,
    pub sender: String,
    pub truncated: bool,
    /// Messages max_tokens left out.
    pub omitted_ids: Vec<i64>,
    pub messages: Vec<Message>,
}

#[derive(Serialize, JsonSchema)]
pub struct TimerangeMessages {
    pub count: usize,
    pub timerange: Timerange,
    pub truncated: bool,
    /// Messages max_tokens left out.
    pub omitted_ids: Vec<i64>,
    pub messages: Vec<Message>,
}

#[derive(Serialize, JsonSchema)]
pub struct Timerange {
    pub start: String,
    pub end: String,
}

tool_output!(SearchResults, SenderMessages, TimerangeMessages);

/// Says which results a read budget left out, so none is dropped silently: each can be read
/// with get_messages(after_id = id - 1, limit = 1).
fn omitted_note(text: &mut String, omitted: &[i64]) {
    if !omitted.is_empty() {
        let ids: Vec<String> = omitted.iter().map(i64::to_string).collect();
        text.push_str(&format!(
            " · truncated at max_tokens; not shown: #{} (read one with get_messages after_id=id-1 limit=1)",
            ids.join(", #")
        ));
    }
}

fn with_messages(text: &mut String, messages: &str) {
    if !messages.is_empty() {
        text.push_str(&format!("\n{LEGEND}\n{messages}"));
    }
}

/// Scores are shown with two decimals, as rapidfuzz users are used to.
fn rounded(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[tool_router(router = search_router, vis = "pub(super)")]
impl McpServer {
    #[tool(
        description = "Fuzzy search of a session's messages you may read (content and metadata), best \
first, scored 0-100.",
        output_schema = output::schema::<SearchResults>()
    )]
    async fn search_context(
        &self,
        Parameters(p): Parameters<SearchContextParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            // Said once in the header: the text of a hit leaves its session out.
            let session = p.session_id.trim().to_owned();
            let input = SearchContext {
                session_id: p.session_id,
                query: p.query,
                fuzzy_threshold: p.fuzzy_threshold,
                limit: p.limit,
                search_metadata: p.search_metadata,
                search_scope: p.search_scope,
            };
            let budget = ReadBudget::parse(p.max_tokens, None, None)?;
            let found = svc.search_context(&who, input).await?;
            let ids: Vec<i64> = found.hits.iter().map(|h| h.message.id).collect();
            let mut writer = MessageWriter::new();
            let (kept, shown, truncated) = budget.fit(
                found.hits,
                40,
                |h| &mut h.message.content,
                |out, h, body| {
                    let extra = format!(" score={:.0}", h.score);
                    writer.message(out, &h.message, body, &extra)
                },
            );
            let mut text = format!("{} results for {:?} in {session}", kept.len(), found.query);
            omitted_note(&mut text, &ids[kept.len()..]);
            if !kept.is_empty() {
                text = format!("{text}\n{LEGEND}\n{shown}");
            }
            let results: Vec<_> = kept
                .into_iter()
                .map(|(h, body)| SearchResult {
                    score: rounded(h.score),
                    match_preview: h.preview,
                    relevance: h.relevance,
                    message: Message::shown(h.message, body),
                })
                .collect();
            let result = SearchResults {
                message_count: results.len(),
                omitted_ids: ids[results.len()..].to_vec(),
                query: found.query,
                threshold: found.threshold,
                search_scope: found.scope.as_str(),
                search_time_ms: rounded(found.elapsed.as_secs_f64() * 1000.0),
                truncated,
                results,
            };
            Ok(Output::typed(result).with_text(text))
        })
        .await
    }

    #[tool(
        description = "Messages one agent posted in a session, newest first.",
        output_schema = output::schema::<SenderMessages>()
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
            let budget = ReadBudget::parse(p.max_tokens, None, None)?;
            let ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
            let shown = budget::messages(&budget, messages, 40, &mut MessageWriter::new());
            let omitted = &ids[shown.count..];
            let mut text = format!(
                "{} messages from {} in {}, newest first",
                shown.count,
                p.sender.trim(),
                p.session_id.trim()
            );
            omitted_note(&mut text, omitted);
            with_messages(&mut text, &shown.text);
            let result = SenderMessages {
                count: shown.count,
                sender: p.sender.trim().to_owned(),
                truncated: shown.truncated,
                omitted_ids: omitted.to_vec(),
                messages: shown.messages,
            };
            Ok(Output::typed(result).with_text(text))
        })
        .await
    }

    #[tool(
        description = "Messages posted between two RFC 3339 times (inclusive), oldest first. No offset \
means UTC; a date alone covers its day.",
        output_schema = output::schema::<TimerangeMessages>()
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
            let budget = ReadBudget::parse(p.max_tokens, None, None)?;
            let ids: Vec<i64> = range.messages.iter().map(|m| m.id).collect();
            let shown = budget::messages(&budget, range.messages, 40, &mut MessageWriter::new());
            let omitted = &ids[shown.count..];
            let (start, end) = (rfc3339(range.start), rfc3339(range.end));
            let mut text = format!(
                "{} messages from {start} to {end} in {}",
                shown.count,
                p.session_id.trim()
            );
            omitted_note(&mut text, omitted);
            with_messages(&mut text, &shown.text);
            let result = TimerangeMessages {
                count: shown.count,
                truncated: shown.truncated,
                omitted_ids: omitted.to_vec(),
                messages: shown.messages,
                timerange: Timerange { start, end },
            };
            Ok(Output::typed(result).with_text(text))
        })
        .await
    }
}
