//! list_tasks' four reads and claim_task's next-claimable reads cost the same in a session of
//! 50,000 tasks as in one of 100, on a table that was never analyzed and after ANALYZE; and
//! claim-next finds the one claimable task behind 20,000 assigned to others or blocked by a
//! dependency without reading them. PostgreSQL: counted in buffers (list_tasks reads through the
//! function of migration 0016); SQLite: each plan names its index and sorts nothing.

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
/// The session whose one claimable task (its last) sits behind [`BEHIND_N`] that are not: one
/// working task, then tasks assigned to another agent, tasks blocked by the working one, and
/// handoffs to [`AGENT`] blocked by it. Before migration 0017 claim-next walked them all
/// (PostgreSQL: one heap page per 50 or so tasks walked).
const BEHIND: &str = "session_0000000000000003";
const BEHIND_N: i64 = 20_000;

/// Sessions `hot` and `small`: all but the last 200 tasks finished, then 100 working, then 100
/// submitted; every third task assigned to one of 50 agents. Then [`BEHIND`]; `array` is the
/// dialect's JSON array constructor.
fn fill(series: &dyn Fn(i64) -> String, ts: &str, array: &str) -> Vec<String> {
    let mut out = vec![format!(
        "INSERT INTO sessions (id, purpose, created_by, created_at, updated_at) \
         SELECT s, 'plans', 'agent0', {ts}, {ts} FROM \
           (SELECT 'hot' AS s UNION ALL SELECT 'small' UNION ALL SELECT '{BEHIND}') x"
    )];
    let task = |state: &str, assignee: &str, depends: &str, n: i64| {
        format!(
            "INSERT INTO tasks (session_id, title, state, created_by, assignee, depends_on, created_at, updated_at) \
             SELECT '{BEHIND}', 'task ' || g, '{state}', 'agent0', {assignee}, {depends}, {ts}, {ts} FROM {}",
            series(n)
        )
    };
    let working = format!("{array}((SELECT min(id) FROM tasks WHERE session_id = '{BEHIND}'))");
    let none = format!("{array}()");
    out.extend([
        task("working", "'agent9'", &none, 1),
        task("submitted", "'agent7'", &none, BEHIND_N * 2 / 5),
        task("submitted", "NULL", &working, BEHIND_N * 2 / 5),
        task(
            "submitted",
            &format!("'{AGENT}'"),
            &working,
            BEHIND_N / 5 - 1,
        ),
        task("submitted", "NULL", &none, 1),
    ]);
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
    next: [&'a str; 2],
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
        ("claim next (handoffs)", next[0], vec![s, Some(AGENT)]),
        ("claim next (open)", next[1], vec![s, Some(NO_BOUND)]),
    ]
}

/// PostgreSQL's claim-next before migration 0017 (one walk of the session's submitted tasks).
const WALK_BEFORE_0017: &str = "SELECT t.id FROM tasks t WHERE t.session_id = $1 AND t.state = 'submitted' \
       AND (t.assignee IS NULL OR t.assignee = $2) \
       AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(t.depends_on) d(id) JOIN tasks x ON x.id = d.id::bigint \
         WHERE x.state <> 'completed') \
     ORDER BY t.id LIMIT 1";

/// claim-next's bound on the open task's id when the caller has no handoff.
const NO_BOUND: &str = "9223372036854775807";

/// claim-next in [`BEHIND`] through the store: the last task, then nothing.
async fn claim_behind(store: &dyn shared_context_server::storage::Store) {
    use shared_context_server::storage::{ClaimTask, TaskOutcome};
    let claim = ClaimTask {
        session_id: BEHIND.to_owned(),
        task_id: None,
        agent_id: AGENT.to_owned(),
        at: chrono::Utc::now(),
    };
    let TaskOutcome::Changed(change) = store.claim_task(&claim).await.unwrap() else {
        panic!("the claimable task behind {BEHIND_N} others was not found");
    };
    assert_eq!(change.task.title, "task 1", "{:?}", change.task);
    assert_eq!(change.task.assignee, None, "{:?}", change.task);
    assert_eq!(
        store.claim_task(&claim).await.unwrap(),
        TaskOutcome::NothingClaimable
    );
}

/// The claimable task sits after every other task of [`BEHIND`], so each read's cost shows
/// whether it walked them.
const BEHIND_READS: [usize; 2] = [4, 5];

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
    let series = |n| format!("generate_series(1, {n}) AS g");
    for sql in fill(&series, "now()", "jsonb_build_array") {
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
        let behind = reads(pg::LIST_TASKS, pg::NEXT_CLAIMABLE_TASK, BEHIND);
        for (i, want) in BEHIND_READS.into_iter().zip([0, 1]) {
            let (name, sql, args) = &behind[i];
            let (cost, rows) = pg_buffers(&mut conn, sql, args).await;
            println!(
                "tasks {name} (analyzed: {analyzed}): {cost} buffers for {rows} rows behind {BEHIND_N} unclaimable tasks"
            );
            assert_eq!(rows, want, "{name} (analyzed: {analyzed})");
            assert!(
                cost <= 8,
                "{name} (analyzed: {analyzed}) touched {cost} buffers: it walked the {BEHIND_N} unclaimable tasks"
            );
        }
    }
    // For the record, the statement claim-next ran before migration 0017: it walks them all.
    let (before, _) = pg_buffers(&mut conn, WALK_BEFORE_0017, &[Some(BEHIND), Some(AGENT)]).await;
    println!(
        "tasks claim next before migration 0017: {before} buffers behind {BEHIND_N} unclaimable tasks"
    );
    conn.close().await.unwrap();
    let store = db.store(2).await;
    claim_behind(store.as_ref()).await;
    store.close().await;
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
    for sql in fill(
        &series,
        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        "json_array",
    ) {
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
        "tasks_claimable_assigned_idx",
        "tasks_claimable_idx",
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
    // The indexes hold only claimable tasks: the seeks in BEHIND meet nothing else (an index
    // walk's length does not show in SQLite's plan, so the rows under each seek's key stand for
    // it): one open task, and none of AGENT's handoffs (all blocked).
    for (index, want) in [
        ("tasks_claimable_idx", 1),
        ("tasks_claimable_assigned_idx", 0),
    ] {
        let held: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM tasks INDEXED BY {index} WHERE session_id = '{BEHIND}' \
               AND state = 'submitted' AND waiting = 0 AND assignee {}",
            if want == 1 {
                "IS NULL".to_owned()
            } else {
                format!("= '{AGENT}'")
            }
        )))
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(held, want, "{index} in {BEHIND}");
    }
    claim_behind(store.as_ref()).await;
    store.close().await;
}
