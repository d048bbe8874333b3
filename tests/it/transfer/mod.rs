//! `export`, `import` and `copy` through the real binary, in both directions: every row of every
//! table comes back exactly (ids, timestamps, JSON), new rows continue after the imported ids,
//! imported messages are searchable and imported tokens still work; a direct message stays
//! direct (same recipients, receipts and acks); a non-empty target or a damaged dump is refused
//! and leaves the database as it was. Leases, tasks and shared memory: `coordination`; fencing
//! tokens and ids that never repeat after a move: `counters`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;

use serde_json::{Value, json};
use sqlx::Connection as _;

use crate::support::*;

mod coordination;
mod copy;
mod counters;
mod dump;

use dump::{transfer_import_damaged_dump_changes_nothing, transfer_import_refuses_non_empty};

const TABLES: [&str; 10] = [
    "sessions",
    "agents",
    "messages",
    "message_recipients",
    "agent_memory",
    "audit_log",
    "agent_tokens",
    "leases",
    "tasks",
    "shared_memory",
];

/// Every row of every table, rendered by the database itself as a JSON array: timestamps as
/// RFC 3339 UTC text with microseconds, JSON columns as JSON, booleans as booleans.
type Snapshot = BTreeMap<&'static str, Vec<Value>>;

async fn snapshot(db: &TestDb) -> Snapshot {
    let mut out = Snapshot::new();
    match db.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::sqlite::SqliteConnection::connect(&db.url)
                .await
                .expect("open sqlite");
            for (table, sql) in [
                (
                    "sessions",
                    "SELECT json_array(seq, id, purpose, created_by, json(metadata), json(CASE is_active WHEN 1 THEN 'true' ELSE 'false' END), created_at, updated_at) FROM sessions ORDER BY seq",
                ),
                (
                    "agents",
                    "SELECT json_array(agent_id, agent_type, first_seen, last_seen) FROM agents ORDER BY agent_id",
                ),
                (
                    "messages",
                    "SELECT json_array(id, session_id, sender, sender_type, content, visibility, message_type, json(metadata), parent_message_id, created_at) FROM messages ORDER BY id",
                ),
                (
                    "message_recipients",
                    "SELECT json_array(message_id, agent_id, session_id, delivered_at, acked_at) FROM message_recipients ORDER BY message_id, agent_id",
                ),
                (
                    "agent_memory",
                    "SELECT json_array(id, agent_id, session_id, scope, key, json(value), value_size, json(metadata), created_at, updated_at, expires_at) FROM agent_memory ORDER BY id",
                ),
                (
                    "audit_log",
                    "SELECT json_array(id, created_at, event, actor, session_id, json(details)) FROM audit_log ORDER BY id",
                ),
                (
                    "agent_tokens",
                    "SELECT json_array(token_hash, agent_id, agent_type, permissions, issued_at, expires_at, revoked_at) FROM agent_tokens ORDER BY token_hash",
                ),
            ] {
                let rows: Vec<(String,)> =
                    sqlx::query_as(sql).fetch_all(&mut conn).await.expect(sql);
                out.insert(
                    table,
                    rows.into_iter()
                        .map(|(r,)| serde_json::from_str(&r).unwrap())
                        .collect(),
                );
            }
            for (table, sql) in coordination::snapshot_sql(Backend::Sqlite) {
                let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                    .fetch_all(&mut conn)
                    .await
                    .expect(&sql);
                let rows = rows
                    .into_iter()
                    .map(|(r,)| serde_json::from_str(&r).unwrap());
                out.insert(table, rows.collect());
            }
        }
        Backend::Postgres => {
            let mut conn = sqlx::postgres::PgConnection::connect(&db.url)
                .await
                .expect("open postgres");
            let t = |c: &str| {
                format!("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
            };
            for (table, sql) in [
                (
                    "sessions",
                    format!(
                        "SELECT json_build_array(seq, id, purpose, created_by, metadata, is_active, {}, {})::text FROM shared_context.sessions ORDER BY seq",
                        t("created_at"),
                        t("updated_at")
                    ),
                ),
                (
                    "agents",
                    format!(
                        "SELECT json_build_array(agent_id, agent_type, {}, {})::text FROM shared_context.agents ORDER BY agent_id COLLATE \"C\"",
                        t("first_seen"),
                        t("last_seen")
                    ),
                ),
                (
                    "messages",
                    format!(
                        "SELECT json_build_array(id, session_id, sender, sender_type, content, visibility, message_type, metadata, parent_message_id, {})::text FROM shared_context.messages ORDER BY id",
                        t("created_at")
                    ),
                ),
                (
                    "message_recipients",
                    format!(
                        "SELECT json_build_array(message_id, agent_id, session_id, {}, {})::text FROM shared_context.message_recipients ORDER BY message_id, agent_id COLLATE \"C\"",
                        t("delivered_at"),
                        t("acked_at")
                    ),
                ),
                (
                    "agent_memory",
                    format!(
                        "SELECT json_build_array(id, agent_id, session_id, scope, key, value, value_size, metadata, {}, {}, {})::text FROM shared_context.agent_memory ORDER BY id",
                        t("created_at"),
                        t("updated_at"),
                        t("expires_at")
                    ),
                ),
                (
                    "audit_log",
                    format!(
                        "SELECT json_build_array(id, {}, event, actor, session_id, details)::text FROM shared_context.audit_log ORDER BY id",
                        t("created_at")
                    ),
                ),
                (
                    "agent_tokens",
                    format!(
                        "SELECT json_build_array(token_hash, agent_id, agent_type, permissions, {}, {}, {})::text FROM shared_context.agent_tokens ORDER BY token_hash COLLATE \"C\"",
                        t("issued_at"),
                        t("expires_at"),
                        t("revoked_at")
                    ),
                ),
            ]
            .into_iter()
            .chain(coordination::snapshot_sql(Backend::Postgres))
            {
                let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                    .fetch_all(&mut conn)
                    .await
                    .expect(&sql);
                out.insert(
                    table,
                    rows.into_iter()
                        .map(|(r,)| serde_json::from_str(&r).unwrap())
                        .collect(),
                );
            }
        }
    }
    out
}

fn counts(s: &Snapshot) -> Vec<usize> {
    TABLES.iter().map(|t| s[t].len()).collect()
}

/// The largest id (first column) of a table in a snapshot.
fn max_id(s: &Snapshot, table: &str) -> i64 {
    s[table]
        .iter()
        .map(|r| r[0].as_i64().unwrap())
        .max()
        .unwrap_or(0)
}

/// What `fill` left behind that later checks need.
struct Filled {
    /// A live claude token (alice's).
    alice: String,
    /// A token that was replaced by refresh_token: revoked.
    revoked: String,
    open_session: String,
    closed_session: String,
    /// bob's token after refresh_token.
    bob: String,
    dora: String,
    /// bob's direct message to dora, delivered to her and acknowledged.
    direct: i64,
    coordination: coordination::Coordination,
}

/// Fills a database through the real server: sessions (one closed) with metadata, messages of
/// every visibility with metadata, parents, unicode and SQL-looking text, memory of every JSON
/// type (global and session-scoped, with and without expiry), live, refreshed, revoked and
/// expired tokens, and the audit rows all of that writes.
async fn fill(db: &TestDb) -> Filled {
    let mut server = HttpServer::start(db, &[("MEMORY_SWEEP_INTERVAL_SECONDS", "0")]).await;
    let client = server.client().await;
    let alice = login(&client, "alice", "claude", false).await;
    let bob = login(&client, "bob", "claude", false).await;
    let gem = login(&client, "gem-1", "gemini", false).await;
    let root = login(&client, "root", "admin", true).await;
    let dora = login(&client, "dora", "claude", false).await;
    let session = |purpose: &str, metadata: Value| {
        let args = json!({"purpose": purpose, "metadata": metadata, "auth_token": alice});
        let client = &client;
        async move {
            call(client, "create_session", args).await.ok()["session_id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let open = session("Plan ✓ für Ünïcode — 設計", json!({"n": 1, "f": 2.5, "neg": -7, "big": 9_007_199_254_740_993_i64, "flag": true, "none": null, "nested": {"a": [1, "x", null, false]}})).await;
    let closed = session("'; DROP TABLE sessions; --", json!({})).await;
    let post = |token: &str,
                sid: &str,
                content: &str,
                visibility: &str,
                metadata: Value,
                parent: Option<i64>| {
        let mut args = json!({"session_id": sid, "content": content, "visibility": visibility, "metadata": metadata, "auth_token": token});
        if let Some(p) = parent {
            args["parent_message_id"] = json!(p);
        }
        let client = &client;
        async move {
            call(client, "add_message", args).await.ok()["message_id"]
                .as_i64()
                .unwrap()
        }
    };
    let first = post(
        &alice,
        &open,
        "needle-zebracorn: the plan in public",
        "public",
        json!({"topic": "planning", "priority": 2}),
        None,
    )
    .await;
    let reply = post(
        &bob,
        &open,
        "Robert'); DROP TABLE messages; -- 🚀 中文 \"quotes\" \\ back\\slash\nnew line\ttab",
        "private",
        json!({"sql": "SELECT * FROM agent_tokens WHERE 1=1", "ratio": 0.125}),
        Some(first),
    )
    .await;
    post(
        &gem,
        &open,
        "agent-only note: 100% _wildcards_ %s {{braces}}",
        "agent_only",
        json!({"list": [1, 2, 3]}),
        Some(reply),
    )
    .await;
    post(
        &root,
        &open,
        "admin only: rotate keys",
        "admin_only",
        json!({}),
        Some(first),
    )
    .await;
    for i in 0..5 {
        post(
            &alice,
            &closed,
            &format!("closed-session message {i}"),
            "public",
            json!({"i": i}),
            None,
        )
        .await;
    }
    call(
        &client,
        "close_session",
        json!({"session_id": closed, "auth_token": alice}),
    )
    .await
    .ok();

    // A direct exchange: bob to dora, her reply (direct by default), her inbox read (the
    // delivery receipt) and her ack of bob's message only.
    let direct = call(&client, "add_message", json!({"session_id": open, "content": "dora: the parser is yours", "to": ["dora"], "auth_token": bob})).await.ok()["message_id"]
        .as_i64()
        .unwrap();
    post(
        &dora,
        &open,
        "dora: taking it",
        "private",
        json!({}),
        Some(direct),
    )
    .await;
    let inbox = call(&client, "get_inbox", json!({"auth_token": dora}))
        .await
        .ok();
    assert_eq!(inbox["messages"][0]["id"], json!(direct), "{inbox}");
    call(
        &client,
        "ack_messages",
        json!({"message_ids": [direct], "auth_token": dora}),
    )
    .await
    .ok();
    // get_receipts writes the pending delivery receipt first.
    let receipts = call(
        &client,
        "get_receipts",
        json!({"message_id": direct, "auth_token": bob}),
    )
    .await
    .ok();
    assert!(
        receipts["receipts"][0]["delivered_at"].is_string(),
        "{receipts}"
    );

    let remember = |key: &str, value: Value, extra: Value| {
        let mut args = json!({"key": key, "value": value, "auth_token": alice});
        for (k, v) in extra.as_object().unwrap() {
            args[k] = v.clone();
        }
        let client = &client;
        async move { call(client, "set_memory", args).await.ok() }
    };
    for (key, value) in [
        ("object", json!({"k": [1, 2, {"deep": "ü"}], "z": null})),
        ("array", json!([1, "two", 3.5, null, true])),
        ("string", json!("a \"quoted\" string — with unicode ✓")),
        ("integer", json!(42)),
        ("float", json!(-1.25)),
        ("true", json!(true)),
        ("false", json!(false)),
        ("null", json!(null)),
    ] {
        remember(key, value, json!({})).await;
    }
    remember(
        "scoped",
        json!({"session": "scoped"}),
        json!({"session_id": open, "metadata": {"source": "review"}}),
    )
    .await;
    remember("expiring", json!("soon"), json!({"expires_in": 3600})).await;
    remember(
        "scoped-expiring",
        json!([0]),
        json!({"session_id": open, "expires_in": 7200}),
    )
    .await;

    let coordination = coordination::fill(&client, &alice, &bob).await;
    let fresh = call(&client, "refresh_token", json!({"current_token": bob}))
        .await
        .ok();
    let fresh = fresh["token"].as_str().expect("a new token").to_owned();
    call(&client, "revoke_token", json!({"auth_token": gem}))
        .await
        .ok();
    insert_expired_token(db, "old-agent").await;

    server.child.kill().await.expect("stop the server");
    let filled = snapshot(db).await;
    for table in TABLES {
        assert!(!filled[table].is_empty(), "fill left {table} empty");
    }
    Filled {
        alice,
        revoked: bob,
        open_session: open,
        closed_session: closed,
        bob: fresh,
        dora,
        direct,
        coordination,
    }
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs the binary with `env` (and nothing inherited that names a database or keys).
async fn run(args: &[&str], env: &[(String, String)], stdin: Option<&Path>) -> Run {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(args)
        .env_remove("DATABASE_URL")
        .env_remove("API_KEY")
        .env_remove("ADMIN_API_KEY")
        .env_remove("SCS_CONFIG")
        .env_remove("POSTGRES_HOST")
        .envs(env.iter().cloned())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd.stdin(match stdin {
        Some(path) => Stdio::from(std::fs::File::open(path).expect("open stdin file")),
        None => Stdio::null(),
    });
    let out = tokio::time::timeout(std::time::Duration::from_secs(180), cmd.output())
        .await
        .expect("the command did not finish within 180 s")
        .expect("run the binary");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// `copy` needs no configuration: only a scratch data directory, which it must not touch.
async fn copy(from: &TestDb, to: &TestDb, extra: &[&str]) -> Run {
    let data = to.dir.join("copy-data");
    let mut args = vec!["copy", "--from", &from.url, "--to", &to.url];
    args.extend_from_slice(extra);
    let run = run(
        &args,
        &[("SCS_DATA_DIR".into(), data.display().to_string())],
        None,
    )
    .await;
    assert!(
        !data.exists(),
        "copy must not create keys or a data directory"
    );
    run
}

/// After an import: the server runs on the copy, old tokens keep their state, new rows get ids
/// after the imported ones, closed sessions stay closed, and search finds imported messages.
async fn check_live_copy(db: &TestDb, filled: &Filled) {
    let before = snapshot(db).await;
    let server = HttpServer::start(db, &[("MEMORY_SWEEP_INTERVAL_SECONDS", "0")]).await;
    let client = server.client().await;
    let read = call(
        &client,
        "get_messages",
        json!({"session_id": filled.open_session, "auth_token": filled.alice}),
    )
    .await
    .ok();
    // alice (claude) reads the public message only: bob's private, the gemini agent_only and the
    // admin_only messages stay hidden after the move.
    assert_eq!(read["messages"].as_array().unwrap().len(), 1, "{read}");
    assert_eq!(read["total_count"], json!(1), "{read}");
    check_direct_stays_direct(&client, filled).await;
    coordination::check_live(&client, filled).await;
    let stale = call(
        &client,
        "get_messages",
        json!({"session_id": filled.open_session, "auth_token": filled.revoked}),
    )
    .await;
    assert!(
        stale.is_error,
        "a token revoked before the copy must stay revoked: {}",
        stale.body
    );

    let found = call(&client, "search_context", json!({"session_id": filled.open_session, "query": "zebracorn", "auth_token": filled.alice})).await.ok();
    assert!(
        found["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["message"]["content"]
                .as_str()
                .unwrap()
                .contains("needle-zebracorn")),
        "imported messages must be searchable: {found}"
    );

    let id = call(&client, "add_message", json!({"session_id": filled.open_session, "content": "after the move", "auth_token": filled.alice})).await.ok()["message_id"]
        .as_i64()
        .unwrap();
    assert!(
        id > max_id(&before, "messages"),
        "new message id {id} must follow the imported ids"
    );
    let refused = call(
        &client,
        "add_message",
        json!({"session_id": filled.closed_session, "content": "x", "auth_token": filled.alice}),
    )
    .await;
    assert_eq!(refused.err_code(), "SESSION_CLOSED");
    call(
        &client,
        "create_session",
        json!({"purpose": "new after the move", "auth_token": filled.alice}),
    )
    .await
    .ok();
    call(
        &client,
        "set_memory",
        json!({"key": "after-move", "value": 1, "auth_token": filled.alice}),
    )
    .await
    .ok();
    let dup = call(
        &client,
        "set_memory",
        json!({"key": "integer", "value": 43, "overwrite": false, "auth_token": filled.alice}),
    )
    .await;
    assert_eq!(
        dup.err_code(),
        "KEY_EXISTS",
        "imported memory keeps its unique key: {}",
        dup.body
    );
    drop(client);
    drop(server);

    let after = snapshot(db).await;
    for table in ["sessions", "messages", "agent_memory", "audit_log"] {
        let old = max_id(&before, table);
        let new: Vec<i64> = after[table]
            .iter()
            .map(|r| r[0].as_i64().unwrap())
            .filter(|id| *id > old)
            .collect();
        assert!(
            !new.is_empty(),
            "{table}: no row after the imported ids (max {old})"
        );
        // (A new message bumps its session's updated_at, so sessions are not compared.)
        if table != "sessions" {
            assert_eq!(
                after[table][..before[table].len()],
                before[table][..],
                "{table}: imported rows changed"
            );
        }
    }
}

/// After a move, bob's direct message to dora is still only theirs: dora reads it in the session
/// and in her inbox (acknowledged), the receipts are unchanged, a reply still goes to the two of
/// them, and alice sees none of it.
async fn check_direct_stays_direct(client: &rmcp::Peer<rmcp::RoleClient>, filled: &Filled) {
    let read = |token: &str| {
        let args = json!({"session_id": filled.open_session, "auth_token": token});
        async move { call(client, "get_messages", args).await.ok() }
    };
    let dora = read(&filled.dora).await;
    let dm = dora["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == json!(filled.direct))
        .unwrap_or_else(|| panic!("dora must still read bob's direct message: {dora}"));
    assert_eq!(dm["to"], json!(["dora"]), "{dm}");
    let inbox = call(client, "get_inbox", json!({"auth_token": filled.dora}))
        .await
        .ok();
    assert_eq!(inbox["messages"][0]["id"], json!(filled.direct), "{inbox}");
    assert_eq!(inbox["messages"][0]["acked"], json!(true), "{inbox}");
    let bob_inbox = call(client, "get_inbox", json!({"auth_token": filled.bob}))
        .await
        .ok();
    assert_eq!(
        bob_inbox["messages"].as_array().unwrap().len(),
        1,
        "dora's reply reached bob: {bob_inbox}"
    );
    let receipts = call(
        client,
        "get_receipts",
        json!({"message_id": filled.direct, "auth_token": filled.bob}),
    )
    .await
    .ok();
    let receipt = &receipts["receipts"][0];
    assert_eq!(receipt["agent_id"], json!("dora"), "{receipts}");
    assert!(
        receipt["delivered_at"].is_string() && receipt["acked_at"].is_string(),
        "{receipts}"
    );
    let alice = read(&filled.alice).await;
    assert!(
        !alice.to_string().contains("parser"),
        "alice must not read the direct exchange: {alice}"
    );
}

contract!(
    transfer_import_refuses_non_empty,
    transfer_import_damaged_dump_changes_nothing,
);
