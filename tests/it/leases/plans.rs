//! `check_leases` and the grant's conflict read cost the same with many expired leases waiting
//! for the sweeper, on a table that was never analyzed: PostgreSQL reads them through the
//! `live_leases` function (migration 0011), counted in buffers; SQLite names the expiry index.

use chrono::Utc;
use serde_json::Value;
use shared_context_server::storage::{postgres as pg, sqlite};
use sqlx::Connection as _;

use crate::support::*;

/// Expired leases left for the sweeper: a table of this size is ~700 pages.
const EXPIRED: i64 = 50_000;
const LIVE: i64 = 3;

fn fill(
    ts_expired: &str,
    ts_live: &str,
    resources: &str,
    series: &dyn Fn(i64) -> String,
) -> Vec<String> {
    [(EXPIRED, ts_expired, "e"), (LIVE, ts_live, "l")]
        .into_iter()
        .map(|(n, ts, tag)| {
            format!(
                "INSERT INTO leases (lease_id, holder, session_id, mode, resources, created_at, expires_at) \
                 SELECT 'lease_{tag}' || g, 'agent' || (g % 50), NULL, 'exclusive', {resources}, {ts}, {ts} FROM {}",
                series(n)
            )
        })
        .collect()
}

#[tokio::test]
async fn postgres_live_leases_read_only_live_rows_never_analyzed() {
    let db = TestDb::new(Backend::Postgres).await;
    let store = db.store(2).await;
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("SET search_path = shared_context")
        .execute(&mut conn)
        .await
        .unwrap();
    for sql in fill(
        "now() - interval '1 hour' - g * interval '1 second'",
        "now() + interval '1 hour' + g * interval '1 second'",
        "ARRAY['src/' || g || '/**']",
        &|n| format!("generate_series(1, {n}) AS g"),
    ) {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let analyzed: Option<chrono::DateTime<Utc>> = sqlx::query_scalar(
        "SELECT greatest(last_analyze, last_autoanalyze) FROM pg_stat_user_tables WHERE relname = 'leases'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(
        analyzed.is_none(),
        "the table must not have been analyzed for this test"
    );
    let url = db.url.clone();
    let buffers = |sql: &'static str| {
        let text = format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}");
        let url = url.clone();
        async move {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query("SET search_path = shared_context")
                .execute(&mut conn)
                .await
                .unwrap();
            let mut last = 0;
            for _ in 0..2 {
                let plan: Value = sqlx::query_scalar(sqlx::AssertSqlSafe(text.clone()))
                    .bind(Utc::now())
                    .bind(None::<String>)
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
                let top = &plan[0]["Plan"];
                last = top["Shared Hit Blocks"].as_i64().unwrap()
                    + top["Shared Read Blocks"].as_i64().unwrap();
            }
            last
        }
    };
    let ours = buffers(pg::LIVE_LEASES).await;
    let plain = buffers(
        "SELECT * FROM leases WHERE expires_at > $1 AND ($2::text IS NULL OR session_id IS NULL OR session_id = $2) ORDER BY expires_at",
    )
    .await;
    println!(
        "live leases among {EXPIRED} expired, never analyzed: {ours} buffers (plain statement: {plain})"
    );
    assert!(ours <= 20, "live_leases touched {ours} buffers");
    let live = store.live_leases(Utc::now(), None).await.unwrap();
    assert_eq!(live.len() as i64, LIVE);
    store.close().await;
}

#[tokio::test]
async fn sqlite_live_leases_walk_the_expiry_index() {
    let db = TestDb::new(Backend::Sqlite).await;
    let store = db.store(2).await;
    let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    let series = |n: i64| {
        format!(
            "(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n}) SELECT g FROM s)"
        )
    };
    for sql in fill(
        "strftime('%Y-%m-%dT%H:%M:%S', 'now', '-1 hour', '-' || g || ' seconds') || '.000000Z'",
        "strftime('%Y-%m-%dT%H:%M:%S', 'now', '+1 hour', '+' || g || ' seconds') || '.000000Z'",
        "json_array('src/' || g || '/**')",
        &series,
    ) {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    for analyzed in [false, true] {
        if analyzed {
            sqlx::query("ANALYZE").execute(&mut conn).await.unwrap();
        }
        let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "EXPLAIN QUERY PLAN {}",
            sqlite::LIVE_LEASES
        )))
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let plan = rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("; ");
        assert!(
            plan.contains("SEARCH leases USING INDEX leases_expires_idx (expires_at>?)"),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "no sort: {plan}");
    }
    let live = store.live_leases(Utc::now(), None).await.unwrap();
    assert_eq!(live.len() as i64, LIVE);
}
