//! Search use-cases: fuzzy search over a whole session's history, by sender, and by time range.
//! The index proposes candidates (visibility applied in SQL); scoring happens here, once.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::Service;
use crate::domain::fuzzy::partial_ratio;
use crate::domain::search::{
    SearchScope, SearchText, exact_tier, fuzzy_tiers, match_preview, parse_instant,
    parse_threshold, relevance, searchable_text,
};
use crate::domain::{
    AgentId, DomainError, ErrorCode, Identity, Limit, Permission, Reader, SessionId,
};
use crate::storage::{MessageRecord, SearchFilter, SessionRead};

/// `search_context` arguments as the tool received them.
pub struct SearchContext {
    pub session_id: String,
    pub query: String,
    pub fuzzy_threshold: Option<f64>,
    pub limit: Option<i64>,
    pub search_metadata: Option<bool>,
    pub search_scope: Option<String>,
}

pub struct SearchHit {
    pub message: MessageRecord,
    /// 0–100, `partial_ratio` of the query against the message's searchable text.
    pub score: f64,
    pub preview: String,
    pub relevance: &'static str,
}

pub struct SearchResults {
    /// Best first (score, then newest).
    pub hits: Vec<SearchHit>,
    pub query: String,
    pub threshold: f64,
    pub scope: SearchScope,
    pub elapsed: Duration,
}

pub struct TimeRange {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Oldest first.
    pub messages: Vec<MessageRecord>,
}

/// Above this much candidate text, scoring moves off the async worker threads.
const INLINE_SCORING_BYTES: usize = 256 * 1024;

impl Service {
    pub async fn search_context(
        &self,
        who: &Identity,
        input: SearchContext,
    ) -> Result<SearchResults, DomainError> {
        let started = Instant::now();
        who.require(Permission::Read)?;
        let session_id = SessionId::parse(&input.session_id)?;
        let query = SearchText::parse(&input.query)?;
        let threshold = parse_threshold(input.fuzzy_threshold)?;
        let limit = Limit::parse(input.limit, 10, 100, "limit")?.get();
        let with_metadata = input.search_metadata.unwrap_or(true);
        let scope = SearchScope::parse(input.search_scope.as_deref())?;
        let reader = Reader::of(who);
        let own = who.agent_id().map(AgentId::as_str);
        let mut hits: Vec<SearchHit> = Vec::new();
        let mut seen: HashSet<i64> = HashSet::new();
        // Anonymous callers own no private messages.
        if scope != SearchScope::Private || own.is_some() {
            let filter = SearchFilter {
                session_id: &session_id,
                reader: &reader,
                only: scope.only(),
                sender: if scope == SearchScope::Private {
                    own
                } else {
                    None
                },
                in_metadata: with_metadata,
            };
            // Strongest tier first; stop once `limit` results pass the threshold. A full exact
            // tier is the whole answer: nothing outscores 100 and ties go to the newest.
            let mut tiers = vec![exact_tier(&query, limit)];
            tiers.extend(fuzzy_tiers(&query));
            for tier in tiers {
                let found = self
                    .store()
                    .search_candidates(&filter, std::slice::from_ref(&tier))
                    .await?;
                let fresh: Vec<MessageRecord> =
                    found.into_iter().filter(|m| seen.insert(m.id)).collect();
                hits.extend(
                    score_off_thread(fresh, query.as_str(), threshold, with_metadata).await?,
                );
                if hits.len() >= limit as usize {
                    break;
                }
            }
        }
        if seen.is_empty() {
            self.existing_session(&session_id).await?;
        }
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(b.message.id.cmp(&a.message.id))
        });
        hits.truncate(limit as usize);
        self.with_recipients(who, hits.iter_mut().map(|h| &mut h.message))
            .await?;
        Ok(SearchResults {
            hits,
            query: query.as_str().to_owned(),
            threshold,
            scope,
            elapsed: started.elapsed(),
        })
    }

    /// The messages `sender` posted that the caller may read, newest first.
    pub async fn search_by_sender(
        &self,
        who: &Identity,
        session_id: &str,
        sender: &str,
        limit: Option<i64>,
    ) -> Result<Vec<MessageRecord>, DomainError> {
        who.require(Permission::Read)?;
        let session_id = SessionId::parse(session_id)?;
        let sender = AgentId::parse(sender).map_err(|e| {
            DomainError::invalid(format!("sender: {}", e.message))
                .suggest("pass the agent_id exactly as it appears in a message's sender field")
        })?;
        let limit = Limit::parse(limit, 20, 100, "limit")?.get();
        let reader = Reader::of(who);
        let mut messages = self
            .store()
            .messages_by_sender(&SessionRead {
                session_id: &session_id,
                reader: &reader,
                by: sender.as_str(),
                limit,
            })
            .await?;
        if messages.is_empty() {
            self.existing_session(&session_id).await?;
        }
        self.with_recipients(who, &mut messages).await?;
        Ok(messages)
    }

    /// The messages created within `start_time..=end_time` that the caller may read, oldest first.
    pub async fn search_by_timerange(
        &self,
        who: &Identity,
        session_id: &str,
        start_time: &str,
        end_time: &str,
        limit: Option<i64>,
    ) -> Result<TimeRange, DomainError> {
        who.require(Permission::Read)?;
        let session_id = SessionId::parse(session_id)?;
        let start = parse_instant(start_time, "start_time", false)?;
        let end = parse_instant(end_time, "end_time", true)?;
        if start > end {
            return Err(DomainError::invalid(format!(
                "start_time ({}) is after end_time ({})",
                crate::util::rfc3339(start),
                crate::util::rfc3339(end)
            ))
            .suggest("swap start_time and end_time"));
        }
        let limit = Limit::parse(limit, 50, 200, "limit")?.get();
        let reader = Reader::of(who);
        let mut messages = self
            .store()
            .messages_in_range(&SessionRead {
                session_id: &session_id,
                reader: &reader,
                by: start..=end,
                limit,
            })
            .await?;
        if messages.is_empty() {
            self.existing_session(&session_id).await?;
        }
        self.with_recipients(who, &mut messages).await?;
        Ok(TimeRange {
            start,
            end,
            messages,
        })
    }
}

/// Scores candidates, inline when small, on the blocking pool when large.
async fn score_off_thread(
    candidates: Vec<MessageRecord>,
    query: &str,
    threshold: f64,
    with_metadata: bool,
) -> Result<Vec<SearchHit>, DomainError> {
    let size: usize = candidates.iter().map(|m| m.content.len()).sum();
    if size <= INLINE_SCORING_BYTES {
        return Ok(score(candidates, query, threshold, with_metadata));
    }
    let query = query.to_owned();
    tokio::task::spawn_blocking(move || score(candidates, &query, threshold, with_metadata))
        .await
        .map_err(|e| {
            DomainError::new(
                ErrorCode::InternalError,
                format!("search scoring failed: {e}"),
            )
        })
}

/// Scores every candidate and keeps those at or above `threshold`. Each message is its own
/// result, even when contents are identical.
fn score(
    candidates: Vec<MessageRecord>,
    query: &str,
    threshold: f64,
    with_metadata: bool,
) -> Vec<SearchHit> {
    candidates
        .into_iter()
        .filter_map(|message| {
            let text = searchable_text(&message.content, &message.metadata, with_metadata);
            let found = partial_ratio(query, &text);
            // Scores are ratios of small integers; allow for float noise at the boundary.
            if found.score + 1e-9 < threshold {
                return None;
            }
            let content_chars = message.content.chars().count();
            let same_length = message.content.to_lowercase().chars().count() == content_chars;
            let at = (same_length && found.start < content_chars).then_some(found.start);
            Some(SearchHit {
                preview: match_preview(&message.content, at),
                relevance: relevance(found.score),
                score: found.score,
                message,
            })
        })
        .collect()
}
