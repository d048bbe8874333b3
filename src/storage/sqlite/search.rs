//! Message search on SQLite. Substring formulas run on the FTS5 trigram index `messages_search`
//! (3+ characters, case-insensitive); a formula with a shorter substring falls back to LIKE over
//! the session's rows. Visibility is the shared predicate, in the same statement.

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
            format!("(m.content LIKE ${n} ESCAPE '\\' OR {META_TEXT} LIKE ${n} ESCAPE '\\')")
        } else {
            format!("m.content LIKE ${n} ESCAPE '\\'")
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
             AND messages_search MATCH ${next} ORDER BY messages_search.rowid DESC LIMIT ${}",
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
            "SELECT {COLUMNS} FROM messages m{FILTER}AND {condition} ORDER BY m.id DESC LIMIT ${limit}"
        ),
        args,
    }
}

/// `search_by_sender`, with the (session_id, sender, id) index pinned: newest first, stopped by the
/// limit. Binds: the read's $1..$6, sender $7, limit $8.
pub const BY_SENDER: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages m INDEXED BY messages_session_sender_idx",
    message_read_where!(),
    "AND m.sender = $7 ORDER BY m.id DESC LIMIT $8"
);

/// `search_by_timerange`, with the (session_id, created_at, id) index pinned. Binds: the read's
/// $1..$6, start $7, end $8, limit $9.
pub const IN_RANGE: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages m INDEXED BY messages_session_created_idx",
    message_read_where!(),
    "AND m.created_at >= $7 AND m.created_at <= $8 ORDER BY m.created_at ASC, m.id ASC LIMIT $9"
);

#[async_trait]
impl SearchStore for SqliteStore {
    async fn search_tiers(
        &self,
        filter: &SearchFilter<'_>,
        tiers: &[CandidateTier],
    ) -> StoreResult<Vec<MessageRecord>> {
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
        let mut q = Reads::with_filter_binds(sqlx::query_as(sqlx::AssertSqlSafe(sql)), filter);
        for arg in args {
            q = match arg {
                Arg::Text(t) => q.bind(t),
                Arg::Int(i) => q.bind(i),
            };
        }
        let rows: Vec<MessageRecord> = q.fetch_all(&self.reader).await?;
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
            t.sql.contains("m.content LIKE $8") && t.sql.ends_with("LIMIT $9"),
            "{}",
            t.sql
        );
        let tier = CandidateTier {
            matches: TextMatch::Contains("dbx".into()),
            limit: 5,
        };
        let t = tier_sql(&tier, false, 8);
        assert!(
            t.sql.contains("MATCH $8") && t.sql.ends_with("LIMIT $9"),
            "{}",
            t.sql
        );
    }
}
