//! Message search on SQLite. A tier (a substring formula, see `domain::search`) is first looked
//! for among the session's 2,000 newest readable messages, newest first through
//! `messages_session_read_idx`, with LIKE, stopping at the tier's limit; only when they hold fewer
//! matches than asked (or a substring is not ASCII) does it run on the FTS5 trigram index
//! `messages_search` (3+ characters, case-insensitive); a formula with a shorter substring falls
//! back to LIKE over the session's rows. Visibility is the shared predicate, in the same statement.
//!
//! Why: FTS5 walks the matches of the whole table newest first and drops other sessions' rows, so
//! a session whose messages are older than other sessions' pays for all their newer matches
//! (search_context 6.1 ms at 1,000,000 messages against 2.3 ms at 10,000, docs/BENCHMARKS.md).
//! The window's cost is the rows read until the limit is met, whatever the session's size.

use async_trait::async_trait;

use super::SqliteStore;
use crate::domain::search::{CandidateTier, TextMatch};
use crate::storage::reads::Reads;
use crate::storage::rows::{MESSAGE_COLUMNS as COLUMNS, message_columns};
use crate::storage::search_sql::{condition, each_once, like_pattern};
use crate::storage::visibility::message_read_where;
use crate::storage::{
    MessageRecord, SearchFilter, SearchStore, SessionRead, StoreResult, TimeSpan,
};
use crate::util::rfc3339;

/// The read filter (`$1..$6`) plus the optional sender (`$7`) every search statement starts with.
const FILTER: &str = concat!(message_read_where!(), "AND ($7 IS NULL OR m.sender = $7) ");

/// The metadata text the index holds, computed per row for the LIKE fallback.
const META_TEXT: &str = "(SELECT group_concat(CASE j.type WHEN 'true' THEN 'true' ELSE j.value END, ' ') \
     FROM json_each(m.metadata) AS j WHERE j.type IN ('text', 'integer', 'real', 'true') AND j.value <> '' AND j.value <> 0)";

/// A value bound to the statement being built.
enum Arg {
    Text(String),
    Int(i64),
}

/// One tier as SQL: its condition and the values it binds from `$next` on.
struct TierSql {
    sql: String,
    args: Vec<Arg>,
}

/// An FTS5 query string: phrases in double quotes (quotes doubled), AND / OR in parentheses.
fn fts_query(m: &TextMatch) -> String {
    match m {
        TextMatch::Contains(s) => format!("\"{}\"", s.replace('"', "\"\"")),
        TextMatch::All(items) => join(items, " AND ", fts_query),
        TextMatch::Any(items) => join(items, " OR ", fts_query),
    }
}

fn join(items: &[TextMatch], op: &str, f: fn(&TextMatch) -> String) -> String {
    let parts: Vec<String> = items.iter().map(f).collect();
    format!("({})", parts.join(op))
}

/// The formula with SQLite's LIKE (case-insensitive for ASCII), on content and, when asked, the
/// metadata text.
fn like_condition(m: &TextMatch, in_metadata: bool, params: &[&str], first: usize) -> String {
    condition(m, params, first, &|n| {
        if in_metadata {
            format!("(m.content LIKE +${n} ESCAPE '\\' OR {META_TEXT} LIKE +${n} ESCAPE '\\')")
        } else {
            format!("m.content LIKE +${n} ESCAPE '\\'")
        }
    })
}

/// Renders one tier with its placeholders numbered from `next`.
fn tier_sql(tier: &CandidateTier, in_metadata: bool, next: usize) -> TierSql {
    let subs = tier.matches.substrings();
    let indexable = subs.iter().all(|s| s.chars().count() >= 3);
    if indexable {
        let query = if in_metadata {
            fts_query(&tier.matches)
        } else {
            format!("content : {}", fts_query(&tier.matches))
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM messages_search CROSS JOIN messages m ON m.id = messages_search.rowid{FILTER}\
             AND messages_search MATCH ${next} ORDER BY messages_search.rowid DESC LIMIT +${}",
            next + 1
        );
        return TierSql {
            sql,
            args: vec![Arg::Text(query), Arg::Int(i64::from(tier.limit))],
        };
    }
    let condition = like_condition(&tier.matches, in_metadata, &subs, next);
    let limit = next + subs.len();
    let mut args: Vec<Arg> = subs.iter().map(|s| Arg::Text(like_pattern(s))).collect();
    args.push(Arg::Int(i64::from(tier.limit)));
    TierSql {
        sql: format!(
            "SELECT {COLUMNS} FROM messages m{FILTER}AND {condition} ORDER BY m.id DESC LIMIT +${limit}"
        ),
        args,
    }
}

/// How many of the session's newest readable messages the first pass of a tier reads at most
/// (it stops earlier, at the tier's limit).
const RECENT_WINDOW: i64 = 2_000;

/// The first pass of a tier: the session's `RECENT_WINDOW` newest readable messages, newest first
/// through `messages_session_read_idx`, filtered with LIKE and stopped at the tier's limit (no
/// outer ORDER BY: the window's rows come out of its co-routine newest first, and sorting them
/// again would read the whole window first; tests/it/plans.rs checks the plan). `None`
/// for a formula with a non-ASCII substring: LIKE folds the case of ASCII letters only, where
/// the FTS5 index folds all of them, so such a tier goes to the index directly.
fn window_sql(tier: &CandidateTier, in_metadata: bool) -> Option<TierSql> {
    let subs = tier.matches.substrings();
    if !subs.iter().all(|s| s.is_ascii()) {
        return None;
    }
    let next = 8;
    let condition = like_condition(&tier.matches, in_metadata, &subs, next);
    let window = next + subs.len();
    let mut args: Vec<Arg> = subs.iter().map(|s| Arg::Text(like_pattern(s))).collect();
    args.push(Arg::Int(RECENT_WINDOW));
    args.push(Arg::Int(i64::from(tier.limit)));
    Some(TierSql {
        sql: format!(
            "SELECT {COLUMNS} FROM (SELECT * FROM messages m INDEXED BY messages_session_read_idx{FILTER}\
             ORDER BY m.id DESC LIMIT +${window}) m WHERE {condition} LIMIT +${}",
            window + 1
        ),
        args,
    })
}

/// The first pass of the exact tier for `query` (content and metadata), for plan tests.
pub fn window_statement(query: &str) -> String {
    let tier = CandidateTier {
        matches: TextMatch::Contains(query.to_owned()),
        limit: 10,
    };
    window_sql(&tier, true).map_or_else(String::new, |t| t.sql)
}

/// `search_by_sender`, with the (session_id, sender, id) index pinned: newest first, stopped by the
/// limit. Binds: the read's $1..$6, sender $7, limit $8.
pub const BY_SENDER: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages m INDEXED BY messages_session_sender_idx",
    message_read_where!(),
    "AND m.sender = $7 ORDER BY m.id DESC LIMIT +$8"
);

/// `search_by_timerange`, with the (session_id, created_at, id) index pinned. Binds: the read's
/// $1..$6, start $7, end $8, limit $9.
pub const IN_RANGE: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages m INDEXED BY messages_session_created_idx",
    message_read_where!(),
    "AND m.created_at >= $7 AND m.created_at <= $8 ORDER BY m.created_at ASC, m.id ASC LIMIT +$9"
);

#[async_trait]
impl SearchStore for SqliteStore {
    async fn search_tiers(
        &self,
        filter: &SearchFilter<'_>,
        tiers: &[CandidateTier],
    ) -> StoreResult<Vec<MessageRecord>> {
        // As on PostgreSQL: when the newest messages already hold `limit` matches, those are the
        // newest matches of the whole session, found without the index.
        if let [tier] = tiers
            && let Some(window) = window_sql(tier, filter.in_metadata)
        {
            let recent = self.run_tier_sql(filter, window).await?;
            if recent.len() >= tier.limit as usize {
                return Ok(recent);
            }
        }
        let mut next = 8;
        let mut parts = Vec::new();
        let mut args = Vec::new();
        for tier in tiers {
            let t = tier_sql(tier, filter.in_metadata, next);
            next += t.args.len();
            parts.push(format!("SELECT * FROM ({})", t.sql));
            args.extend(t.args);
        }
        let sql = parts.join(" UNION ALL ");
        let rows = self.run_tier_sql(filter, TierSql { sql, args }).await?;
        Ok(each_once(rows))
    }

    async fn messages_by_sender(
        &self,
        read: &SessionRead<'_, &str>,
    ) -> StoreResult<Vec<MessageRecord>> {
        Ok(
            Reads::message_read(BY_SENDER, read.session_id, read.reader, None, 0)
                .bind(read.by.to_owned())
                .bind(i64::from(read.limit))
                .fetch_all(&self.reader)
                .await?,
        )
    }

    async fn messages_in_range(
        &self,
        read: &SessionRead<'_, TimeSpan>,
    ) -> StoreResult<Vec<MessageRecord>> {
        Ok(
            Reads::message_read(IN_RANGE, read.session_id, read.reader, None, 0)
                .bind(rfc3339(*read.by.start()))
                .bind(rfc3339(*read.by.end()))
                .bind(i64::from(read.limit))
                .fetch_all(&self.reader)
                .await?,
        )
    }
}

impl SqliteStore {
    /// Runs tier SQL after the read filter's binds (`$1..$7`).
    async fn run_tier_sql(
        &self,
        filter: &SearchFilter<'_>,
        t: TierSql,
    ) -> StoreResult<Vec<MessageRecord>> {
        let mut q = Reads::with_filter_binds(sqlx::query_as(sqlx::AssertSqlSafe(t.sql)), filter);
        for arg in t.args {
            q = match arg {
                Arg::Text(t) => q.bind(t),
                Arg::Int(i) => q.bind(i),
            };
        }
        Ok(q.fetch_all(&self.reader).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts_queries_quote_phrases() {
        let m = TextMatch::Any(vec![
            TextMatch::Contains("say \"hi\"".into()),
            TextMatch::All(vec![
                TextMatch::Contains("abc".into()),
                TextMatch::Contains("def".into()),
            ]),
        ]);
        assert_eq!(
            fts_query(&m),
            "(\"say \"\"hi\"\"\" OR (\"abc\" AND \"def\"))"
        );
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }

    #[test]
    fn short_substrings_use_like() {
        let tier = CandidateTier {
            matches: TextMatch::Contains("db".into()),
            limit: 5,
        };
        let t = tier_sql(&tier, false, 8);
        assert!(
            t.sql.contains("m.content LIKE +$8") && t.sql.ends_with("LIMIT +$9"),
            "{}",
            t.sql
        );
        let tier = CandidateTier {
            matches: TextMatch::Contains("dbx".into()),
            limit: 5,
        };
        let t = tier_sql(&tier, false, 8);
        assert!(
            t.sql.contains("MATCH $8") && t.sql.ends_with("LIMIT +$9"),
            "{}",
            t.sql
        );
    }
}
