//! Message search on PostgreSQL. A tier (a substring formula, see `domain::search`) is first
//! looked for among the session's newest readable messages, newest first, stopping at the tier's
//! limit (`search_window`, migration 0018); only when the 2,000 newest hold fewer matches than
//! asked does it become `ILIKE '%…%'` tests that the pg_trgm GIN indexes on content and on the
//! generated column `search_meta` answer (3+ characters; shorter ones are checked row by row).
//! Visibility is the shared predicate, in the same statement.
//!
//! Why this shape: the cost of a search should not grow with the session. The trigram index
//! finds every match in the whole table before the newest few are kept (a common word: hundreds
//! of thousands of rows), so it is the fallback, for rare words. The window's cost is the rows
//! read until the limit is met (about limit / the share of matching rows: ~90 rows for "cache",
//! one message in eight, limit 10), the same at 100 messages and at a million. Before, the window
//! was read whole (2,000 rows) and filtered afterwards: search_context took 6.3 ms at 1,000,000
//! messages against 1.2 ms at 100 through the server (p50, load 13), and 13.8 ms against 0.3 ms
//! for the window in the database; figures after the change are in docs/BENCHMARKS.md.

use async_trait::async_trait;

use super::PgStore;
use crate::domain::Visibility;
use crate::domain::search::{CandidateTier, TextMatch};
use crate::storage::reads::Reads;
use crate::storage::rows::{MESSAGE_COLUMNS as COLUMNS, message_columns};
use crate::storage::search_sql::{condition, each_once, flat_formula, like_pattern};
use crate::storage::visibility::message_read_where;
use crate::storage::{
    MessageRecord, SearchFilter, SearchStore, SessionRead, StoreResult, TimeSpan,
};

/// The read filter (`$1..$6`) plus the optional sender (`$7`) every search statement starts with.
const FILTER: &str = concat!(
    message_read_where!(),
    "AND ($7::text IS NULL OR m.sender = $7) "
);

/// The formula with ILIKE, which the pg_trgm GIN indexes on content and `search_meta` answer.
fn ilike_condition(m: &TextMatch, in_metadata: bool, params: &[&str], first: usize) -> String {
    condition(m, params, first, &|n| {
        if in_metadata {
            format!("(m.content ILIKE ${n} OR m.search_meta ILIKE ${n})")
        } else {
            format!("m.content ILIKE ${n}")
        }
    })
}

/// `search_by_sender` through `read_messages_by_sender` (migration 0007: an ordered index scan
/// whatever the statistics). Binds: reader $1-$3, session $4, sender $5, limit $6.
pub const BY_SENDER: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM read_messages_by_sender($1, $2, $3, $4, $5, $6) m"
);
/// `search_by_timerange` through `read_messages_in_range` (migration 0007). Binds: reader $1-$3,
/// session $4, start $5, end $6, limit $7.
pub const IN_RANGE: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM read_messages_in_range($1, $2, $3, $4, $5, $6, $7) m"
);

/// How many of the session's newest readable messages the first pass of a tier reads at most
/// (it stops earlier, at the tier's limit). Only a query with fewer matches than asked among them
/// reads the trigram index, whose cost grows with the matches in the whole table.
const RECENT_WINDOW: i64 = 2_000;

/// The first pass of a tier: `search_window` (migration 0018). Binds: reader $1-$3, session $4,
/// only $5, sender $6, window $7, limit $8, metadata $9, the flattened formula $10 and its shape
/// $11-$13 (`flat_formula`).
pub const WINDOW: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM search_window($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) m"
);

#[async_trait]
impl SearchStore for PgStore {
    async fn search_tiers(
        &self,
        filter: &SearchFilter<'_>,
        tiers: &[CandidateTier],
    ) -> StoreResult<Vec<MessageRecord>> {
        // A common word matches thousands of rows, and the trigram index hands all of them over
        // before the newest few are kept. So a single tier first reads the session's newest rows
        // through the covering index: if they already hold `limit` matches, those are the newest
        // matches of the whole session, and the answer is complete.
        if let [tier] = tiers {
            let recent = self.tier_in_recent_window(filter, tier).await?;
            if recent.len() >= tier.limit as usize {
                return Ok(recent);
            }
        }
        let mut next = 8;
        let mut parts = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        let mut limits: Vec<(usize, i64)> = Vec::new();
        for (i, tier) in tiers.iter().enumerate() {
            let subs = tier.matches.substrings();
            let cond = ilike_condition(&tier.matches, filter.in_metadata, &subs, next);
            let limit = next + subs.len();
            parts.push(format!(
                "(SELECT {COLUMNS} FROM messages m{FILTER}AND {cond} ORDER BY m.id DESC LIMIT ${limit}) AS t{i}"
            ));
            texts.extend(subs.iter().map(|s| like_pattern(s)));
            limits.push((texts.len(), i64::from(tier.limit)));
            next = limit + 1;
        }
        let sql = parts
            .iter()
            .map(|p| format!("SELECT * FROM {p}"))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let mut q = Reads::with_filter_binds(
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).persistent(false),
            filter,
        );
        // Placeholders run tier by tier: that tier's patterns, then its limit.
        let mut taken = 0;
        for (end, limit) in limits {
            for text in &texts[taken..end] {
                q = q.bind(text.clone());
            }
            q = q.bind(limit);
            taken = end;
        }
        // Taken only now: tier_in_recent_window above takes its own, and holding one while
        // waiting for another can starve a full pool.
        let rows: Vec<MessageRecord> = self
            .with_conn(async |conn| Ok(q.fetch_all(conn).await?))
            .await?;
        Ok(each_once(rows))
    }

    async fn messages_by_sender(
        &self,
        read: &SessionRead<'_, &str>,
    ) -> StoreResult<Vec<MessageRecord>> {
        let q = Reads::with_reader_binds(sqlx::query_as(BY_SENDER), read.session_id, read.reader)
            .bind(read.by.to_owned())
            .bind(i64::from(read.limit));
        self.with_conn(async |conn| Ok(q.fetch_all(conn).await?))
            .await
    }

    async fn messages_in_range(
        &self,
        read: &SessionRead<'_, TimeSpan>,
    ) -> StoreResult<Vec<MessageRecord>> {
        let q = Reads::with_reader_binds(sqlx::query_as(IN_RANGE), read.session_id, read.reader)
            .bind(*read.by.start())
            .bind(*read.by.end())
            .bind(i64::from(read.limit));
        self.with_conn(async |conn| Ok(q.fetch_all(conn).await?))
            .await
    }
}

impl PgStore {
    /// One tier over the session's `RECENT_WINDOW` newest messages the reader may read, stopped
    /// at the tier's limit (`search_window`, migration 0018).
    async fn tier_in_recent_window(
        &self,
        filter: &SearchFilter<'_>,
        tier: &CandidateTier,
    ) -> StoreResult<Vec<MessageRecord>> {
        let (patterns, groups, conjunctions, width) = flat_formula(&tier.matches);
        let q = Reads::with_reader_binds(sqlx::query_as(WINDOW), filter.session_id, filter.reader)
            .bind(filter.only.map(Visibility::as_str))
            .bind(filter.sender.map(str::to_owned))
            .bind(RECENT_WINDOW)
            .bind(i64::from(tier.limit))
            .bind(filter.in_metadata)
            .bind(patterns)
            .bind(groups)
            .bind(conjunctions)
            .bind(width);
        self.with_conn(async |conn| Ok(q.fetch_all(conn).await?))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substrings_are_bound_once() {
        let m = TextMatch::Any(vec![
            TextMatch::All(vec![
                TextMatch::Contains("data".into()),
                TextMatch::Contains("atab".into()),
            ]),
            TextMatch::All(vec![
                TextMatch::Contains("data".into()),
                TextMatch::Contains("abse".into()),
            ]),
        ]);
        let subs = m.substrings();
        assert_eq!(subs, ["data", "atab", "abse"]);
        assert_eq!(
            ilike_condition(&m, false, &subs, 8),
            "((m.content ILIKE $8 AND m.content ILIKE $9) OR (m.content ILIKE $8 AND m.content ILIKE $10))"
        );
        assert_eq!(like_pattern("5%_"), "%5\\%\\_%");
    }
}
