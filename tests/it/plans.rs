//! Reads cost the same in a session of 30,000 messages as in one of 100, whether the tables were
//! ever analyzed or not, on both backends. PostgreSQL: the per-session reads run through the
//! functions of migration 0007, so the test counts the buffers each read touches (the function's
//! own statement included), and shows that the plain statement picks the bad plan at this size.
//! SQLite: each statement's plan names its index and sorts nothing, before and after ANALYZE.
//! The million-row runs are in scripts/bench/scale.sh; these are sized for CI.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use shared_context_server::storage::{postgres as pg, sqlite};
use sqlx::Connection as _;

use crate::support::*;

/// Messages in the busy session: the plain PostgreSQL read switches to a bitmap heap scan plus
/// a sort well below this on a never-analyzed table (23,000 in the report that found it).
const HOT: i64 = 30_000;
/// Messages in the small session the busy one is compared with.
const SMALL: i64 = 100;
/// Sessions in all (one in twenty open): enough for list_sessions to have a plan to get wrong.
const SESSIONS: i64 = 10_000;

const HOT_ID: &str = "session_0000000000000001";
const SMALL_ID: &str = "session_0000000000000002";

/// Fills the database in three statements (sessions, the busy session, the small one).
/// `series(n)` renders a row source of 1..=n named `g` in the backend's dialect.
/// `pad16` renders `g` left-padded with zeros to 16 characters.
fn fill_statements(series: &dyn Fn(i64) -> String, pad16: &str, ts: &str) -> Vec<String> {
    let visibility = "CASE g % 5 WHEN 3 THEN 'private' WHEN 4 THEN 'agent_only' ELSE 'public' END";
    let mut out = vec![format!(
        "INSERT INTO sessions (id, purpose, created_by, is_active, created_at, updated_at) \
         SELECT 'session_' || {pad16}, 'purpose', 'agent0', g % 20 = 1, {ts}, {ts} FROM {}",
        series(SESSIONS)
    )];
    for (session, n) in [(HOT_ID, HOT), (SMALL_ID, SMALL)] {
        out.push(format!(
            "INSERT INTO messages (session_id, sender, sender_type, content, visibility, created_at) \
             SELECT '{session}', 'agent' || (g % 8), 'claude', 'message ' || g || ' of a busy session', \
                    {visibility}, {ts} FROM {}",
            series(n)
        ));
    }
    out
}

/// A value bound to a PostgreSQL statement.
enum Arg {
    Text(Option<&'static str>),
    Int(i64),
    Bool(bool),
    Time(DateTime<Utc>),
    Int4(i32),
    Texts(Vec<&'static str>),
}

/// Buffers (hit + read) one execution of `sql` touched, functions' statements included; measured
/// on the second run, after the connection compiled the function and cached its plan.
async fn pg_buffers(conn: &mut sqlx::PgConnection, sql: &str, args: &[Arg]) -> i64 {
    let text = format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}");
    let mut last = 0;
    for _ in 0..2 {
        let mut q = sqlx::query_scalar::<_, Value>(sqlx::AssertSqlSafe(text.clone()));
        for a in args {
            q = match a {
                Arg::Text(t) => q.bind(*t),
                Arg::Int(i) => q.bind(*i),
                Arg::Bool(b) => q.bind(*b),
                Arg::Time(t) => q.bind(*t),
                Arg::Int4(i) => q.bind(*i),
                Arg::Texts(t) => q.bind(t.clone()),
            };
        }
        let plan = q.fetch_one(&mut *conn).await.expect("explain");
        let top = &plan[0]["Plan"];
        last = top["Shared Hit Blocks"].as_i64().unwrap()
            + top["Shared Read Blocks"].as_i64().unwrap();
    }
    last
}

async fn pg_connect(url: &str) -> sqlx::PgConnection {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query("SET search_path = shared_context")
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

/// The busy session's reads, each with its buffer count, as (name, buffers busy, buffers small).
async fn pg_read_costs(url: &str) -> Vec<(&'static str, i64, i64)> {
    // A fresh connection: generic plans are cached per connection.
    let mut conn = pg_connect(url).await;
    let agent = || {
        vec![
            Arg::Text(Some("agent")),
            Arg::Text(Some("agent1")),
            Arg::Text(Some("claude")),
        ]
    };
    let read = |session: &'static str, after: i64, offset: i64, newest: bool| {
        let mut a = agent();
        a.extend([
            Arg::Text(Some(session)),
            Arg::Text(None),
            Arg::Int(after),
            Arg::Int(51),
            Arg::Int(offset),
            Arg::Bool(newest),
        ]);
        a
    };
    let by_sender = |session: &'static str| {
        let mut a = agent();
        a.extend([
            Arg::Text(Some(session)),
            Arg::Text(Some("agent3")),
            Arg::Int(51),
        ]);
        a
    };
    let in_range = |session: &'static str| {
        let mut a = agent();
        a.extend([
            Arg::Text(Some(session)),
            Arg::Time(Utc::now() - Duration::days(1)),
            Arg::Time(Utc::now() + Duration::days(1)),
            Arg::Int(51),
        ]);
        a
    };
    // The dashboard's history page: newest first below an id (the newest page, or deep in).
    let before = |session: &'static str, below: i64| {
        let mut a = agent();
        a.extend([Arg::Text(Some(session)), Arg::Int(below), Arg::Int(51)]);
        a
    };
    // search_context's first pass: a word every message holds (the exact tier, one static
    // statement), and a typo tier (two of three fragments, the statement built per call).
    let search = |session: &'static str, patterns: Vec<&'static str>, shape: [i32; 3]| {
        let mut a = agent();
        a.extend([
            Arg::Text(Some(session)),
            Arg::Text(None),
            Arg::Text(None),
            Arg::Int(2_000),
            Arg::Int(10),
            Arg::Bool(true),
            Arg::Texts(patterns),
            Arg::Int4(shape[0]),
            Arg::Int4(shape[1]),
            Arg::Int4(shape[2]),
        ]);
        a
    };
    let typo = || vec!["%bus%", "%usy%", "%bus%", "%sxy%", "%usy%", "%sxy%"];
    let mut out = Vec::new();
    for (name, sql, hot, small) in [
        (
            "search window, exact",
            pg::SEARCH_WINDOW,
            search(HOT_ID, vec!["%busy%"], [1, 1, 1]),
            search(SMALL_ID, vec!["%busy%"], [1, 1, 1]),
        ),
        (
            "search window, typo",
            pg::SEARCH_WINDOW,
            search(HOT_ID, typo(), [1, 3, 2]),
            search(SMALL_ID, typo(), [1, 3, 2]),
        ),
        (
            "history page",
            pg::READ_MESSAGES_BEFORE,
            before(HOT_ID, i64::MAX),
            before(SMALL_ID, i64::MAX),
        ),
        (
            "deep history page",
            pg::READ_MESSAGES_BEFORE,
            before(HOT_ID, HOT / 2),
            before(SMALL_ID, HOT + SMALL / 2),
        ),
        (
            "newest page",
            pg::READ_MESSAGES,
            read(HOT_ID, 0, 0, true),
            read(SMALL_ID, 0, 0, true),
        ),
        (
            "first page",
            pg::READ_MESSAGES,
            read(HOT_ID, 0, 0, false),
            read(SMALL_ID, 0, 0, false),
        ),
        // The newest ids of each session: a reader catching up (wait_for_messages, SSE).
        (
            "after_id page",
            pg::READ_MESSAGES,
            read(HOT_ID, HOT - 60, 0, false),
            read(SMALL_ID, HOT + SMALL - 60, 0, false),
        ),
        (
            "offset page",
            pg::READ_MESSAGES,
            read(HOT_ID, 0, 40, false),
            read(SMALL_ID, 0, 40, false),
        ),
        (
            "by sender",
            pg::BY_SENDER,
            by_sender(HOT_ID),
            by_sender(SMALL_ID),
        ),
        (
            "in time range",
            pg::IN_RANGE,
            in_range(HOT_ID),
            in_range(SMALL_ID),
        ),
        (
            "session count",
            pg::COUNT_SESSION_MESSAGES,
            read(HOT_ID, 0, 0, false).into_iter().take(6).collect(),
            read(SMALL_ID, 0, 0, false).into_iter().take(6).collect(),
        ),
    ] {
        let busy = pg_buffers(&mut conn, sql, &hot).await;
        let quiet = pg_buffers(&mut conn, sql, &small).await;
        out.push((name, busy, quiet));
    }
    let sessions = [Arg::Int(i64::MAX), Arg::Int(50)];
    let open = pg_buffers(&mut conn, pg::LIST_ACTIVE_SESSIONS, &sessions).await;
    out.push(("open sessions", open, open));
    let by_id = pg_buffers(
        &mut conn,
        "SELECT seq, id FROM sessions WHERE id = $1",
        &[Arg::Text(Some(HOT_ID))],
    )
    .await;
    out.push(("get_session", by_id, by_id));
    out
}

fn check_flat(state: &str, costs: &[(&str, i64, i64)]) {
    for (name, busy, small) in costs {
        eprintln!("{state}: {name}: {busy} buffers in the busy session, {small} in the small one");
        // An ordered scan stopped at the limit touches a few index pages and at most one heap
        // page per row returned; the plans these functions rule out read the whole session
        // (~250 heap pages of 30,000 rows) before the first row comes out.
        assert!(
            *busy <= 64 && *busy <= small + 40,
            "{state}: {name} touched {busy} buffers in a session of {HOT} messages ({small} in one of {SMALL}): \
             the read is no longer an ordered index scan stopped by its limit"
        );
    }
}

#[tokio::test]
async fn postgres_reads_cost_the_same_in_a_busy_session_analyzed_or_not() {
    let db = TestDb::new(Backend::Postgres).await;
    let store = db.store(2).await;
    let mut conn = pg_connect(&db.url).await;
    // Autovacuum off for these tables so "never analyzed" stays true while the test runs.
    for t in ["messages", "sessions"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE {t} SET (autovacuum_enabled = off)"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let series = |n: i64| format!("generate_series(1, {n}) g");
    for sql in fill_statements(&series, "lpad(g::text, 16, '0')", "now()") {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let (tuples,): (f32,) = sqlx::query_as(
        "SELECT reltuples FROM pg_class WHERE oid = 'shared_context.messages'::regclass",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(tuples, -1.0, "messages must never have been analyzed here");

    // This size is one where the plain statement goes wrong: a bitmap heap scan over the whole
    // session and a sort, not an index scan that stops after 51 rows.
    let plain: Value = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "EXPLAIN (FORMAT JSON) SELECT m.* FROM messages m WHERE m.session_id = '{HOT_ID}' AND \
         (m.visibility = 'public' OR 'agent' = 'admin' OR ('agent' = 'agent' AND ((m.visibility = 'private' \
         AND m.sender = 'agent1') OR (m.visibility = 'agent_only' AND m.sender_type = 'claude')))) \
         AND m.id > 0 ORDER BY m.id DESC LIMIT 51"
    )))
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let plain = plain.to_string();
    assert!(
        plain.contains("Bitmap Heap Scan") && plain.contains("\"Sort\""),
        "expected the plain statement to pick the bad plan on a never-analyzed table: {plain}"
    );

    check_flat("never analyzed", &pg_read_costs(&db.url).await);
    sqlx::query("VACUUM ANALYZE messages, sessions, session_message_counts")
        .execute(&mut conn)
        .await
        .unwrap();
    check_flat("analyzed", &pg_read_costs(&db.url).await);
    // Analyzed with one session only: a generic plan of the plain statement would walk the
    // primary key, the whole table, for any other session.
    sqlx::query("DELETE FROM messages WHERE session_id <> $1")
        .bind(HOT_ID)
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("VACUUM ANALYZE messages")
        .execute(&mut conn)
        .await
        .unwrap();
    let costs = pg_read_costs(&db.url).await;
    for (name, busy, small) in &costs {
        eprintln!("one session analyzed: {name}: {busy} busy, {small} for an empty session");
        assert!(
            *busy <= 64 && *small <= 24,
            "{name}: {busy} / {small} buffers"
        );
    }
    store.close().await;
}

/// The SQLite plan of `sql`, one line per step.
async fn sqlite_plan(conn: &mut sqlx::SqliteConnection, sql: &str) -> String {
    let rows: Vec<(i64, i64, i64, String)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
            .fetch_all(conn)
            .await
            .expect("explain");
    rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("; ")
}

#[tokio::test]
async fn sqlite_reads_walk_their_index_analyzed_or_not() {
    let db = TestDb::new(Backend::Sqlite).await;
    let store = db.store(2).await;
    let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    let series = |n: i64| {
        format!(
            "(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n}) SELECT g FROM s)"
        )
    };
    for sql in fill_statements(
        &series,
        "substr('0000000000000000' || g, -16, 16)",
        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
    ) {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    // search_context's first pass: the window's co-routine walks the index newest first and
    // nothing sorts it again (a sort would read the whole window before the first match).
    let search_window = sqlite::search_window_statement("busy");
    let expected = [
        (sqlite::READ_MESSAGES_ASC, "messages_session_read_idx"),
        (sqlite::READ_MESSAGES_DESC, "messages_session_read_idx"),
        (sqlite::READ_MESSAGES_BEFORE, "messages_session_read_idx"),
        (sqlite::BY_SENDER, "messages_session_sender_idx"),
        (search_window.as_str(), "messages_session_read_idx"),
        (sqlite::IN_RANGE, "messages_session_created_idx"),
        (sqlite::LIST_ACTIVE_SESSIONS, "sessions_active_seq_idx"),
        (sqlite::LIST_SESSIONS, "INTEGER PRIMARY KEY"),
    ];
    for state in ["never analyzed", "analyzed"] {
        for (sql, index) in expected {
            let plan = sqlite_plan(&mut conn, sql).await;
            eprintln!("{state}: {plan}");
            assert!(
                plan.contains(index) && !plan.contains("TEMP B-TREE") && !plan.starts_with("SCAN"),
                "{state}: expected a search of {index} with no sort: {plan}\n{sql}"
            );
        }
        sqlx::query("ANALYZE").execute(&mut conn).await.unwrap();
        let (stats,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sqlite_stat1")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert!(stats > 0);
    }
    store.close().await;
}

/// The read functions carry the visibility rule as text (created by migration 0007, replaced by
/// 0008 when the rule learned recipients; the dashboard's by 0010); the latest bodies must carry
/// the same text as `storage::visibility::visible_to_reader!`, which both backends' other reads use.
#[test]
fn postgres_read_functions_carry_the_shared_visibility_rule() {
    let migration = include_str!("../../migrations/postgres/0008_direct_messages.sql");
    let rule = shared_context_server::storage::VISIBLE_TO_READER;
    let bodies = migration.matches("RETURN QUERY").count();
    assert_eq!(bodies, 4);
    assert_eq!(migration.matches(rule).count(), bodies, "{rule}");
    let dashboard = include_str!("../../migrations/postgres/0010_dashboard_reads.sql");
    assert_eq!(dashboard.matches("RETURN QUERY").count(), 1);
    assert_eq!(dashboard.matches(rule).count(), 1, "{rule}");
    let search = include_str!("../../migrations/postgres/0018_search_window.sql");
    assert_eq!(search.matches("RETURN QUERY").count(), 2);
    assert_eq!(search.matches(rule).count(), 2, "{rule}");
}
