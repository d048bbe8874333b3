//! list_tasks' four reads and claim_task's next-claimable read cost the same in a session of
//! 50,000 tasks as in one of 100, on a table that was never analyzed and after ANALYZE.
//! PostgreSQL: counted in buffers (list_tasks reads through the function of migration 0016);
//! SQLite: each plan names its index and sorts nothing.

use serde_json::Value;
use shared_context_server::storage::{postgres as pg, sqlite};
use sqlx::Connection as _;

use crate::support::*;

/// Tasks in the busy session: the plain PostgreSQL read took a bitmap heap scan over all of them
/// plus a sort here (1,463 buffers for a page of 50).
const HOT: i64 = 50_000;
const SMALL: i64 = 300;
/// The agent whose tasks the assignee reads ask for: ~1 in 150 tasks, mostly finished.
const AGENT: &str = "agent1";

/// Sessions `hot` and `small`: all but the last 200 tasks finished, then 100 working, then 100
/// submitted; every third task assigned to one of 50 agents.
fn fill(series: &dyn Fn(i64) -> String, ts: &str) -> Vec<String> {
    let mut out = vec![format!(
        "INSERT INTO sessions (id, purpose, created_by, created_at, updated_at) \
         SELECT s, 'plans', 'agent0', {ts}, {ts} FROM (SELECT 'hot' AS s UNION ALL SELECT 'small') x"
    )];
    for (session, n) in [("hot", HOT), ("small", SMALL)] {
        let state = format!(
            "CASE WHEN g > {n} - 100 THEN 'submitted' WHEN g > {n} - 200 THEN 'working' \
             WHEN g % 7 = 0 THEN 'failed' ELSE 'completed' END"
        );
        out.push(format!(
            "INSERT INTO tasks (session_id, title, state, created_by, assignee, created_at, updated_at) \
             SELECT '{session}', 'task ' || g, {state}, 'agent0', \
                    CASE WHEN g % 3 = 0 THEN 'agent' || (g % 50) END, {ts}, {ts} FROM {}",
            series(n)
        ));
    }
    out
}

/// Buffers (hit + read) of one execution, functions' statements included, and the rows it
/// returned; the second run, after the connection compiled the function.
async fn pg_buffers(conn: &mut sqlx::PgConnection, sql: &str, args: &[Option<&str>]) -> (i64, i64) {
    let text = format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}");
    let mut last = (0, 0);
    for _ in 0..2 {
        let mut q = sqlx::query_scalar::<_, Value>(sqlx::AssertSqlSafe(text.clone()));
        for a in args {
            q = match a.map(|s| s.parse::<i64>()) {
                Some(Ok(n)) => q.bind(n),
                _ => q.bind(*a),
            };
        }
        let plan = q.fetch_one(&mut *conn).await.expect("explain");
        let top = &plan[0]["Plan"];
        last = (
            top["Shared Hit Blocks"].as_i64().unwrap()
                + top["Shared Read Blocks"].as_i64().unwrap(),
            top["Actual Rows"].as_i64().unwrap(),
        );
    }
    last
}

/// Each read with its binds for `session`: (name, statement, binds; numbers are bound as such).
fn reads<'a>(
    list: [&'a str; 4],
    next: &'a str,
    session: &'a str,
) -> Vec<(&'static str, &'a str, Vec<Option<&'a str>>)> {
    let s = Some(session);
    vec![
        ("all", list[0], vec![s, Some("0"), Some("51")]),
        (
            "state",
            list[1],
            vec![s, Some("working"), Some("0"), Some("51")],
        ),
        (
            "assignee",
            list[2],
            vec![s, Some(AGENT), Some("0"), Some("51")],
        ),
        (
            "assignee+state",
            list[3],
            vec![s, Some(AGENT), Some("working"), Some("0"), Some("51")],
        ),
        ("claim next", next, vec![s, Some(AGENT)]),
    ]
}

#[tokio::test]
async fn postgres_task_reads_do_not_grow_never_analyzed_or_analyzed() {
    let db = TestDb::new(Backend::Postgres).await;
    let store = db.store(2).await;
    store.close().await;
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("SET search_path = shared_context")
        .execute(&mut conn)
        .await
        .unwrap();
    for sql in fill(&|n| format!("generate_series(1, {n}) AS g"), "now()") {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    for analyzed in [false, true] {
        if analyzed {
            sqlx::query("ANALYZE tasks")
                .execute(&mut conn)
                .await
                .unwrap();
        } else {
            let at: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
                "SELECT greatest(last_analyze, last_autoanalyze) FROM pg_stat_user_tables WHERE relname = 'tasks'",
            )
            .fetch_one(&mut conn)
            .await
            .unwrap();
            assert!(at.is_none(), "the table must not have been analyzed yet");
        }
        for ((name, sql, hot), (_, _, small)) in
            reads(pg::LIST_TASKS, pg::NEXT_CLAIMABLE_TASK, "hot")
                .into_iter()
                .zip(reads(pg::LIST_TASKS, pg::NEXT_CLAIMABLE_TASK, "small"))
        {
            let (big, rows) = pg_buffers(&mut conn, sql, &hot).await;
            let (little, _) = pg_buffers(&mut conn, sql, &small).await;
            println!(
                "tasks {name} (analyzed: {analyzed}): {big} buffers for {rows} rows among {HOT} tasks, {little} among {SMALL}"
            );
            // At most a heap page per row returned (an agent's tasks are scattered) plus the
            // index descent: the page, not the session, sets the cost.
            assert!(
                big <= rows + 8,
                "{name} (analyzed: {analyzed}) touched {big} buffers for {rows} rows among {HOT} tasks ({little} among {SMALL})"
            );
        }
    }
}

#[tokio::test]
async fn sqlite_task_reads_name_their_index_never_analyzed_or_analyzed() {
    let db = TestDb::new(Backend::Sqlite).await;
    let store = db.store(2).await;
    let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    let series = |n: i64| {
        format!(
            "(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n}) SELECT g FROM s)"
        )
    };
    for sql in fill(&series, "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')") {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let wanted = [
        "tasks_session_idx",
        "tasks_state_idx",
        "tasks_assignee_idx",
        "tasks_assignee_state_idx",
        "tasks_state_idx",
    ];
    for analyzed in [false, true] {
        if analyzed {
            sqlx::query("ANALYZE").execute(&mut conn).await.unwrap();
        }
        let list = reads(sqlite::LIST_TASKS, sqlite::NEXT_CLAIMABLE_TASK, "hot");
        for ((name, sql, _), index) in list.into_iter().zip(wanted) {
            let rows: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            let plan = rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("; ");
            println!("tasks {name} (analyzed: {analyzed}): {plan}");
            assert!(
                plan.contains(&format!("USING INDEX {index} (session_id=?")),
                "{name} (analyzed: {analyzed}) must seek {index}: {plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "{name}: no sort: {plan}");
        }
    }
    store.close().await;
}
