//! Message search on PostgreSQL. Substring formulas become `ILIKE '%…%'` tests that the pg_trgm
//! GIN indexes on content and on the generated column `search_meta` answer (3+ characters; shorter
//! ones are checked row by row). Visibility is the shared predicate, in the same statement.

use async_trait::async_trait;

use super::PgStore;
use crate::domain::search::{CandidateTier, TextMatch};
use crate::storage::reads::Reads;
use crate::storage::rows::{MESSAGE_COLUMNS as COLUMNS, message_columns};
use crate::storage::search_sql::{condition, each_once, like_pattern};
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

/// How many of the session's newest messages the first, cheap pass of a tier reads.
const RECENT_WINDOW: i64 = 2_000;

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
    /// One tier over the session's `RECENT_WINDOW` newest messages the reader may read.
    async fn tier_in_recent_window(
        &self,
        filter: &SearchFilter<'_>,
        tier: &CandidateTier,
    ) -> StoreResult<Vec<MessageRecord>> {
        let subs = tier.matches.substrings();
        let cond = ilike_condition(&tier.matches, filter.in_metadata, &subs, 10);
        let sql = format!(
            "SELECT {COLUMNS} FROM read_messages($1, $2, $3, $4, $5, $6, $8, 0, TRUE) m \
             WHERE ($7::text IS NULL OR m.sender = $7) AND {cond} ORDER BY m.id DESC LIMIT $9"
        );
        // The window is `read_messages` newest first (an ordered index scan stopped by the limit,
        // whatever the statistics); the sender and the formula filter it. Prepared and cached
        // per connection (one statement per formula shape): planning cost more than running.
        let mut q = Reads::with_filter_binds(sqlx::query_as(sqlx::AssertSqlSafe(sql)), filter)
            .bind(RECENT_WINDOW)
            .bind(i64::from(tier.limit));
        for text in &subs {
            q = q.bind(like_pattern(text));
        }
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
