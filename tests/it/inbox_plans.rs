//! The inbox read is an index seek and a walk on both backends, before and after statistics, so
//! it costs the same with 10 direct messages or a million: `message_recipients_inbox_idx` across
//! sessions, `message_recipients_session_idx` in one session. The per-pair rate count is a range
//! of `messages_direct_sender_idx` (the sender's last minute), never a scan.

use serde_json::Value;
use shared_context_server::storage::{self, ConnectOptions};
use sqlx::Connection as _;

use crate::support::*;

/// 200 sessions, 100,000 messages, a third of them direct to one of 50 agents.
const PG_LOAD: [&str; 3] = [
    "INSERT INTO sessions (id, purpose, created_by, metadata, is_active, created_at, updated_at) \
     SELECT 'session_' || lpad(to_hex(g), 16, '0'), 'p', 'a', '{}'::jsonb, TRUE, now(), now() FROM generate_series(1, 200) g",
    "INSERT INTO messages (session_id, sender, sender_type, content, visibility, metadata, created_at) \
     SELECT 'session_' || lpad(to_hex(g % 200 + 1), 16, '0'), 'agent' || (g % 50), 'claude', 'm' || g, \
            CASE WHEN g % 3 = 0 THEN 'private' ELSE 'public' END, '{}'::jsonb, now() FROM generate_series(1, 100000) g",
    "INSERT INTO message_recipients (message_id, agent_id, session_id) \
     SELECT id, 'agent' || ((id * 7 + 1) % 50), session_id FROM messages WHERE visibility = 'private'",
];

async fn pg_plan(conn: &mut sqlx::PgConnection, sql: &str, session: bool) -> String {
    let text = format!("EXPLAIN (FORMAT JSON) {sql}");
    let q = sqlx::query_scalar::<_, Value>(sqlx::AssertSqlSafe(text))
        .bind("agent8")
        .bind(5000_i64)
        .bind(50_i64);
    let q = if session {
        q.bind("session_0000000000000011")
    } else {
        q
    };
    q.fetch_one(conn).await.expect("explain").to_string()
}

#[tokio::test]
async fn postgres_inbox_reads_walk_their_indexes() {
    use shared_context_server::storage::postgres::{DIRECT_SENDS_SINCE, INBOX, INBOX_IN_SESSION};
    let db = TestDb::new(Backend::Postgres).await;
    let store = storage::connect(&db.url, &ConnectOptions::default())
        .await
        .expect("migrate");
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("SET search_path = shared_context")
        .execute(&mut conn)
        .await
        .unwrap();
    for sql in PG_LOAD {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
    // Never analyzed (a table that grew since the last ANALYZE), then in steady state.
    for analyzed in [false, true] {
        if analyzed {
            sqlx::query("VACUUM ANALYZE")
                .execute(&mut conn)
                .await
                .unwrap();
        }
        let p = pg_plan(&mut conn, INBOX, false).await;
        assert!(
            p.contains("message_recipients_inbox_idx") && !p.contains("\"Seq Scan\""),
            "inbox (analyzed: {analyzed}) should walk the inbox index: {p}"
        );
        let p = pg_plan(&mut conn, INBOX_IN_SESSION, true).await;
        assert!(
            p.contains("message_recipients_session_idx") && !p.contains("\"Seq Scan\""),
            "inbox in one session (analyzed: {analyzed}) should walk the session index: {p}"
        );
        let text = format!("EXPLAIN (FORMAT JSON) {DIRECT_SENDS_SINCE}");
        let p = sqlx::query_scalar::<_, Value>(sqlx::AssertSqlSafe(text))
            .bind("agent8")
            .bind(chrono::Utc::now() - chrono::Duration::seconds(60))
            .bind(vec!["agent1", "agent2"])
            .fetch_one(&mut conn)
            .await
            .expect("explain")
            .to_string();
        assert!(
            p.contains("messages_direct_sender_idx") && !p.contains("\"Seq Scan\""),
            "the pair-rate count (analyzed: {analyzed}) should be a range of the sender index: {p}"
        );
    }
    store.close().await;
}

async fn sqlite_plan(conn: &mut sqlx::SqliteConnection, sql: &str, session: bool) -> String {
    let text = format!("EXPLAIN QUERY PLAN {sql}");
    let q = sqlx::query_as(sqlx::AssertSqlSafe(text))
        .bind("agent8")
        .bind(5000_i64)
        .bind(50_i64);
    let q = if session {
        q.bind("session_0000000000000011")
    } else {
        q
    };
    let rows: Vec<(i64, i64, i64, String)> = q.fetch_all(conn).await.expect("explain");
    rows.into_iter()
        .map(|r| r.3)
        .collect::<Vec<_>>()
        .join(" | ")
}

#[tokio::test]
async fn sqlite_inbox_reads_walk_their_indexes() {
    use shared_context_server::storage::sqlite::{DIRECT_SENDS_SINCE, INBOX, INBOX_IN_SESSION};
    let db = TestDb::new(Backend::Sqlite).await;
    let store = storage::connect(&db.url, &ConnectOptions::default())
        .await
        .expect("migrate");
    let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    for sql in [
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 200) \
         INSERT INTO sessions (id, purpose, created_by, metadata, is_active, created_at, updated_at) \
         SELECT printf('session_%016x', n), 'p', 'a', '{}', 1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z' FROM g",
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 100000) \
         INSERT INTO messages (session_id, sender, sender_type, content, visibility, metadata, created_at) \
         SELECT printf('session_%016x', n % 200 + 1), 'agent' || (n % 50), 'claude', 'm' || n, \
                CASE WHEN n % 3 = 0 THEN 'private' ELSE 'public' END, '{}', '2026-01-01T00:00:00Z' FROM g",
        "INSERT INTO message_recipients (message_id, agent_id, session_id) \
         SELECT id, 'agent' || ((id * 7 + 1) % 50), session_id FROM messages WHERE visibility = 'private'",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    for analyzed in [false, true] {
        if analyzed {
            sqlx::query("ANALYZE").execute(&mut conn).await.unwrap();
        }
        let p = sqlite_plan(&mut conn, INBOX, false).await;
        assert!(
            p.contains("message_recipients_inbox_idx") && !p.contains("SCAN m"),
            "inbox (analyzed: {analyzed}) should search the inbox index: {p}"
        );
        let p = sqlite_plan(&mut conn, INBOX_IN_SESSION, true).await;
        assert!(
            p.contains("message_recipients_session_idx") && !p.contains("SCAN m"),
            "inbox in one session (analyzed: {analyzed}) should search the session index: {p}"
        );
        let text = format!("EXPLAIN QUERY PLAN {DIRECT_SENDS_SINCE}");
        let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(text))
            .bind("agent8")
            .bind("2025-12-31T23:59:00.000000Z")
            .bind(r#"["agent1","agent2"]"#)
            .fetch_all(&mut conn)
            .await
            .expect("explain");
        let p = rows
            .into_iter()
            .map(|r| r.3)
            .collect::<Vec<_>>()
            .join(" | ");
        assert!(
            p.contains("messages_direct_sender_idx (sender=? AND created_at>?)")
                && p.contains("SEARCH r")
                && !p.contains("SCAN m")
                && !p.contains("SCAN r"),
            "the pair-rate count (analyzed: {analyzed}) should be a range of the sender index: {p}"
        );
    }
    store.close().await;
}
