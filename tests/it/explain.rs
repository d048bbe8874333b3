//! The hot PostgreSQL queries use the indexes built for them, on enough data for the planner to
//! care: the covering index for counts, the partial index on open sessions, the JSONB GIN indexes.
//! (The per-session reads, analyzed or not, are in plans.rs.)

use serde_json::Value;
use shared_context_server::storage::postgres::{
    COUNT_MESSAGES, COUNT_SESSION_MESSAGES, LIST_ACTIVE_SESSIONS,
};
use shared_context_server::storage::{self, ConnectOptions};
use sqlx::Connection as _;

use crate::support::*;

async fn plan(
    conn: &mut sqlx::PgConnection,
    sql: &str,
    binds: &[Option<&str>],
    ints: &[i64],
) -> String {
    let text = format!("EXPLAIN (FORMAT JSON) {sql}");
    let mut q = sqlx::query_scalar::<_, Value>(sqlx::AssertSqlSafe(text));
    for b in binds {
        q = q.bind(*b);
    }
    for i in ints {
        q = q.bind(*i);
    }
    q.fetch_one(conn).await.expect("explain").to_string()
}

async fn count(
    conn: &mut sqlx::PgConnection,
    sql: &'static str,
    binds: &[Option<&str>],
    ints: &[i64],
) -> i64 {
    let mut q = sqlx::query_scalar::<_, i64>(sql);
    for b in binds {
        q = q.bind(*b);
    }
    for i in ints {
        q = q.bind(*i);
    }
    q.fetch_one(conn).await.expect("count")
}

#[tokio::test]
async fn postgres_hot_queries_use_their_indexes() {
    let db = TestDb::new(Backend::Postgres).await;
    let store = storage::connect(&db.url, &ConnectOptions::default())
        .await
        .expect("migrate");
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("SET search_path = shared_context")
        .execute(&mut conn)
        .await
        .unwrap();
    // One statement each: batch loads, not a loop of round trips.
    sqlx::query(
        "INSERT INTO sessions (id, purpose, created_by, metadata, is_active, created_at, updated_at) \
         SELECT 'session_' || lpad(to_hex(g), 16, '0'), 'purpose ' || g, 'agent' || (g % 7), \
                jsonb_build_object('ticket', 'T' || g), g % 20 = 0, now(), now() FROM generate_series(1, 2000) g",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO messages (session_id, sender, sender_type, content, visibility, metadata, created_at) \
         SELECT 'session_' || lpad(to_hex(g % 100 + 1), 16, '0'), 'agent' || (g % 7), 'claude', 'message ' || g, \
                (ARRAY['public','private','agent_only','admin_only'])[g % 4 + 1], \
                jsonb_build_object('k', g % 10, 'ticket', 'T' || g), now() FROM generate_series(1, 100000) g",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    // As autovacuum leaves a table in steady state: statistics and the visibility map.
    sqlx::query("VACUUM ANALYZE")
        .execute(&mut conn)
        .await
        .unwrap();
    // 100 busy sessions of 1,000 messages each: the read seeks one session and walks it in id order.
    let session = Some("session_0000000000000011");
    let reader = [Some("agent"), Some("agent1"), Some("claude")];

    // The per-session reads themselves: tests/it/plans.rs.
    let mut binds = reader.to_vec();
    binds.extend([session, None]);
    let p = plan(&mut conn, COUNT_MESSAGES, &binds, &[0]).await;
    assert!(
        p.contains("Index Only Scan") && p.contains("messages_session_read_idx"),
        "count should be index-only: {p}"
    );

    // A whole session's count sums the per-sender counts (a few rows by primary key), and the
    // triggers kept them exact through the bulk insert above.
    let p = plan(&mut conn, COUNT_SESSION_MESSAGES, &binds, &[0]).await;
    assert!(
        p.contains("session_message_counts_pkey"),
        "the session count should read the counts by key: {p}"
    );
    let summed = count(&mut conn, COUNT_SESSION_MESSAGES, &binds, &[0]).await;
    let scanned = count(&mut conn, COUNT_MESSAGES, &binds, &[0]).await;
    assert_eq!(summed, scanned);
    assert!(summed > 0);

    let p = plan(&mut conn, LIST_ACTIVE_SESSIONS, &[], &[i64::MAX, 50]).await;
    assert!(
        p.contains("sessions_active_seq_idx"),
        "open sessions should come from the partial index: {p}"
    );

    let p = plan(
        &mut conn,
        "SELECT id FROM messages WHERE metadata @> jsonb_build_object('ticket', $1::text)",
        &[Some("T777")],
        &[],
    )
    .await;
    assert!(
        p.contains("messages_metadata_gin_idx"),
        "metadata containment should use the GIN index: {p}"
    );
    let p = plan(
        &mut conn,
        "SELECT id FROM sessions WHERE metadata @> jsonb_build_object('ticket', $1::text)",
        &[Some("T77")],
        &[],
    )
    .await;
    assert!(
        p.contains("sessions_metadata_gin_idx"),
        "session metadata containment should use the GIN index: {p}"
    );
    store.close().await;
}
