//! `export`, `import` and `copy` through the real binary, in both directions: every row of every
//! table comes back exactly (ids, timestamps, JSON), new rows continue after the imported ids,
//! imported messages are searchable and imported tokens still work; a non-empty target or a
//! damaged dump is refused and leaves the database as it was.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;

use serde_json::{Value, json};
use sqlx::Connection as _;

use crate::support::*;

const TABLES: [&str; 5] = [
    "sessions",
    "messages",
    "agent_memory",
    "audit_log",
    "agent_tokens",
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
                    "messages",
                    "SELECT json_array(id, session_id, sender, sender_type, content, visibility, message_type, json(metadata), parent_message_id, created_at) FROM messages ORDER BY id",
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
                    "messages",
                    format!(
                        "SELECT json_build_array(id, session_id, sender, sender_type, content, visibility, message_type, metadata, parent_message_id, {})::text FROM shared_context.messages ORDER BY id",
                        t("created_at")
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
            ] {
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

    let fresh = call(&client, "refresh_token", json!({"current_token": bob}))
        .await
        .ok();
    assert!(fresh["token"].as_str().is_some());
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

async fn copy_round_trip(from: Backend, to: Backend) {
    let src = TestDb::new(from).await;
    let filled = fill(&src).await;
    let dst = TestDb::new(to).await;
    let out = copy(&src, &dst, &[]).await;
    assert!(out.ok, "copy failed: {}", out.stderr);
    let expected = snapshot(&src).await;
    for table in TABLES {
        let line = out
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(table))
            .unwrap_or_else(|| panic!("no {table} count: {}", out.stdout));
        assert_eq!(
            line.split_whitespace().nth(1),
            Some(expected[table].len().to_string().as_str()),
            "{}",
            out.stdout
        );
    }
    assert_eq!(
        snapshot(&dst).await,
        expected,
        "every row must be reproduced exactly"
    );
    // The source is left as it was.
    assert_eq!(snapshot(&src).await, expected);
    check_live_copy(&dst, &filled).await;
}

#[tokio::test]
async fn transfer_copy_sqlite_to_postgres() {
    copy_round_trip(Backend::Sqlite, Backend::Postgres).await;
}

#[tokio::test]
async fn transfer_copy_postgres_to_sqlite() {
    copy_round_trip(Backend::Postgres, Backend::Sqlite).await;
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

fn check_dump_shape(dump: &[Value], source: &Snapshot, backend: &str, tokens: bool) {
    let header = &dump[0];
    assert_eq!(header["format"], json!("shared-context-server/export"));
    assert_eq!(header["version"], json!(1));
    assert_eq!(header["source_backend"], json!(backend));
    // The newest migration of the source backend (PostgreSQL has one more: 0006).
    let newest = if backend == "postgresql" { 6 } else { 5 };
    assert_eq!(header["schema_version"], json!(newest));
    assert!(header["exported_at"].as_str().unwrap().ends_with('Z'));
    let tables: Vec<&str> = dump[1..dump.len() - 1]
        .iter()
        .map(|l| l["table"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = Vec::new();
    for table in TABLES {
        if table != "agent_tokens" || tokens {
            expected.extend(std::iter::repeat_n(table, source[table].len()));
        }
    }
    assert_eq!(
        tables, expected,
        "rows come table by table in foreign-key order"
    );
    let ids: Vec<i64> = dump
        .iter()
        .filter(|l| l["table"] == "messages")
        .map(|l| l["id"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "messages in id order");
    let end = &dump[dump.len() - 1]["end"];
    assert_eq!(end["messages"], json!(source["messages"].len()));
    assert_eq!(
        end["agent_tokens"],
        json!(if tokens {
            source["agent_tokens"].len()
        } else {
            0
        })
    );
    let memory = dump.iter().find(|l| l["table"] == "agent_memory").unwrap();
    assert!(
        memory.get("scope").is_none(),
        "the generated scope is not dumped: {memory}"
    );
    let message = dump.iter().find(|l| l["table"] == "messages").unwrap();
    let at = message["created_at"].as_str().unwrap();
    assert_eq!(
        at.len(),
        "2026-01-01T00:00:00.000000Z".len(),
        "microseconds, UTC: {at}"
    );
}

#[tokio::test]
async fn transfer_export_import_file_sqlite_to_postgres() {
    let src = TestDb::new(Backend::Sqlite).await;
    let filled = fill(&src).await;
    let expected = snapshot(&src).await;
    let file = src.dir.join("dump.jsonl");
    let out = run(
        &["export", "--output", file.to_str().unwrap()],
        &server_env(&src),
        None,
    )
    .await;
    assert!(out.ok, "export failed: {}", out.stderr);
    assert!(
        out.stdout.is_empty(),
        "a dump to a file prints nothing on stdout: {}",
        out.stdout
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    check_dump_shape(&lines(&file), &expected, "sqlite", true);

    // Import from standard input.
    let dst = TestDb::new(Backend::Postgres).await;
    let out = run(&["import", "--input", "-"], &server_env(&dst), Some(&file)).await;
    assert!(out.ok, "import failed: {}", out.stderr);
    assert!(out.stdout.contains("imported"), "{}", out.stdout);
    assert_eq!(
        snapshot(&dst).await,
        expected,
        "every row must be reproduced exactly"
    );
    check_live_copy(&dst, &filled).await;
}

#[tokio::test]
async fn transfer_export_import_stdout_postgres_to_sqlite() {
    let src = TestDb::new(Backend::Postgres).await;
    let filled = fill(&src).await;
    let expected = snapshot(&src).await;
    // Export to standard output; logs stay on stderr.
    let out = run(&["export"], &server_env(&src), None).await;
    assert!(out.ok, "export failed: {}", out.stderr);
    let file = src.dir.join("dump.jsonl");
    std::fs::write(&file, &out.stdout).unwrap();
    check_dump_shape(&lines(&file), &expected, "postgresql", true);

    let dst = TestDb::new(Backend::Sqlite).await;
    let out = run(
        &["import", "--input", file.to_str().unwrap()],
        &server_env(&dst),
        None,
    )
    .await;
    assert!(out.ok, "import failed: {}", out.stderr);
    assert_eq!(
        snapshot(&dst).await,
        expected,
        "every row must be reproduced exactly"
    );
    check_live_copy(&dst, &filled).await;

    // --no-tokens leaves the token hashes out.
    let no_tokens = src.dir.join("no-tokens.jsonl");
    let out = run(
        &["export", "--no-tokens", "-o", no_tokens.to_str().unwrap()],
        &server_env(&src),
        None,
    )
    .await;
    assert!(out.ok, "{}", out.stderr);
    check_dump_shape(&lines(&no_tokens), &expected, "postgresql", false);
    let dst = TestDb::new(Backend::Sqlite).await;
    let out = run(
        &["import", "-i", no_tokens.to_str().unwrap()],
        &server_env(&dst),
        None,
    )
    .await;
    assert!(out.ok, "{}", out.stderr);
    let imported = snapshot(&dst).await;
    assert!(imported["agent_tokens"].is_empty());
    assert_eq!(imported["messages"], expected["messages"]);
}

async fn transfer_import_refuses_non_empty(backend: Backend) {
    let src = TestDb::new(backend).await;
    fill(&src).await;
    let file = src.dir.join("dump.jsonl");
    assert!(
        run(
            &["export", "-o", file.to_str().unwrap()],
            &server_env(&src),
            None
        )
        .await
        .ok
    );

    // A target with only a session (and its audit row) already counts as in use.
    let dst = TestDb::new(backend).await;
    {
        let server = HttpServer::start(&dst, &[]).await;
        let client = server.client().await;
        let token = login(&client, "carol", "claude", false).await;
        call(
            &client,
            "create_session",
            json!({"purpose": "already here", "auth_token": token}),
        )
        .await
        .ok();
    }
    let before = snapshot(&dst).await;
    let out = run(
        &["import", "--input", file.to_str().unwrap()],
        &server_env(&dst),
        None,
    )
    .await;
    assert!(!out.ok, "import into a non-empty database must fail");
    assert!(
        out.stderr.contains("not empty")
            && out.stderr.contains("sessions")
            && out.stderr.contains("nothing was imported"),
        "{}",
        out.stderr
    );
    assert_eq!(
        snapshot(&dst).await,
        before,
        "a refused import changes nothing"
    );

    let out = copy(&src, &dst, &[]).await;
    assert!(
        !out.ok && out.stderr.contains("not empty") && out.stderr.contains("nothing was copied"),
        "{}",
        out.stderr
    );
    assert_eq!(
        snapshot(&dst).await,
        before,
        "a refused copy changes nothing"
    );
}

const SID: &str = "session_0123456789abcdef";

/// A valid dump of one session and `n` messages (each replying to the one before), as lines.
fn synthetic_dump(n: i64) -> Vec<String> {
    let at = "2026-03-04T05:06:07.123456Z";
    let mut lines = vec![
        json!({"format": "shared-context-server/export", "version": 1, "exported_at": at, "source_backend": "sqlite", "schema_version": 3}).to_string(),
        json!({"table": "sessions", "seq": 7, "id": SID, "purpose": "synthetic", "created_by": "gen", "metadata": {}, "is_active": true, "created_at": at, "updated_at": at}).to_string(),
    ];
    for id in 1..=n {
        lines.push(
            json!({"table": "messages", "id": id * 3, "session_id": SID, "sender": "gen", "sender_type": "claude",
                   "content": format!("synthetic message {id} quokka"), "visibility": "public", "message_type": "agent_response",
                   "metadata": {"i": id}, "parent_message_id": if id > 1 { json!((id - 1) * 3) } else { json!(null) }, "created_at": at})
            .to_string(),
        );
    }
    lines.push(json!({"end": {"sessions": 1, "messages": n, "agent_memory": 0, "audit_log": 0, "agent_tokens": 0}}).to_string());
    lines
}

async fn transfer_import_damaged_dump_changes_nothing(backend: Backend) {
    let dst = TestDb::new(backend).await;
    let empty = {
        assert!(run(&["migrate"], &server_env(&dst), None).await.ok);
        snapshot(&dst).await
    };
    assert_eq!(counts(&empty), vec![0; 5]);
    let good = synthetic_dump(2_500);
    let file = dst.dir.join("damaged.jsonl");
    let attempt = |lines: Vec<String>| {
        let file = file.clone();
        let env = server_env(&dst);
        async move {
            std::fs::write(&file, lines.join("\n") + "\n").unwrap();
            run(&["import", "--input", file.to_str().unwrap()], &env, None).await
        }
    };

    // Each damage comes after more than two full batches were inserted, and must roll them back.
    let mut bad_json = good.clone();
    bad_json[2_400] = r#"{"table":"messages","id":"#.into();
    let mut unknown_table = good.clone();
    unknown_table[2_300] = json!({"table": "users", "id": 1}).to_string();
    let mut orphan = good.clone();
    orphan[2_200] = orphan[2_200].replace(SID, "session_ffffffffffffffff");
    let mut wrong_count = good.clone();
    *wrong_count.last_mut().unwrap() = wrong_count.last().unwrap().replace("2500", "2501");
    let mut out_of_order = good.clone();
    out_of_order.insert(2_450, json!({"table": "sessions", "seq": 8, "id": "session_1111111111111111", "purpose": "late", "created_by": "gen", "metadata": {}, "is_active": true, "created_at": "2026-03-04T05:06:07Z", "updated_at": "2026-03-04T05:06:07Z"}).to_string());
    let truncated = good[..good.len() - 1].to_vec();
    let mut bad_header = good.clone();
    bad_header[0] = bad_header[0].replace("\"version\":1", "\"version\":9");

    for (name, lines, expect) in [
        ("bad JSON", bad_json, vec!["line 2401", "not valid JSON"]),
        (
            "unknown table",
            unknown_table,
            vec!["line 2301", "unknown variant `users`"],
        ),
        (
            "missing session",
            orphan,
            vec!["lines 2003-2502 (messages rows) could not be inserted"],
        ),
        ("wrong end count", wrong_count, vec!["line 2503", "damaged"]),
        (
            "out of order",
            out_of_order,
            vec!["line 2451", "a sessions row after messages rows"],
        ),
        ("truncated", truncated, vec!["incomplete"]),
        (
            "newer version",
            bad_header,
            vec!["line 1", "format version 9"],
        ),
    ] {
        let out = attempt(lines).await;
        assert!(!out.ok, "{name}: the import must fail");
        for needle in expect {
            assert!(
                out.stderr.contains(needle),
                "{name}: '{needle}' missing from: {}",
                out.stderr
            );
        }
        assert_eq!(
            snapshot(&dst).await,
            empty,
            "{name}: nothing may be imported"
        );
    }

    // The same database then takes the undamaged dump; ids, search and counters work.
    let out = attempt(good).await;
    assert!(out.ok, "{}", out.stderr);
    let imported = snapshot(&dst).await;
    assert_eq!(counts(&imported), vec![1, 2_500, 0, 0, 0]);
    assert_eq!(imported["sessions"][0][0], json!(7));
    assert_eq!(imported["messages"][2_499][0], json!(7_500));
    assert_eq!(imported["messages"][2_499][8], json!(7_497));

    let server = HttpServer::start(&dst, &[]).await;
    let client = server.client().await;
    let token = login(&client, "zed", "claude", false).await;
    let found = call(
        &client,
        "search_context",
        json!({"session_id": SID, "query": "synthetic message 2345 quokka", "auth_token": token}),
    )
    .await
    .ok();
    assert_eq!(
        found["results"][0]["message"]["id"],
        json!(2_345 * 3),
        "{found}"
    );
    let id = call(
        &client,
        "add_message",
        json!({"session_id": SID, "content": "next", "auth_token": token}),
    )
    .await
    .ok()["message_id"]
        .as_i64()
        .unwrap();
    assert!(id > 7_500, "new id {id} must follow the imported ids");
    let sid = call(
        &client,
        "create_session",
        json!({"purpose": "next", "auth_token": token}),
    )
    .await
    .ok()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    drop(client);
    drop(server);
    let after = snapshot(&dst).await;
    let seq = after["sessions"]
        .iter()
        .find(|r| r[1] == json!(sid))
        .unwrap()[0]
        .as_i64()
        .unwrap();
    assert!(
        seq > 7,
        "new session seq {seq} must follow the imported seq"
    );
}

#[tokio::test]
async fn transfer_copy_refuses_a_missing_sqlite_source_and_masks_passwords() {
    let dir = temp_dir();
    let missing = format!("sqlite:{}", dir.join("nope.db").display());
    let out = run(
        &[
            "copy",
            "--from",
            &missing,
            "--to",
            "postgres://scs:hunter2secret@127.0.0.1:1/x",
        ],
        &[],
        None,
    )
    .await;
    assert!(!out.ok);
    assert!(out.stderr.contains("no database at"), "{}", out.stderr);
    assert!(
        !dir.join("nope.db").exists(),
        "a missing source is not created"
    );

    let src = TestDb::new(Backend::Sqlite).await;
    assert!(run(&["migrate"], &server_env(&src), None).await.ok);
    let out = run(
        &[
            "copy",
            "--from",
            &src.url,
            "--to",
            "postgres://scs:hunter2secret@127.0.0.1:1/x",
        ],
        &[],
        None,
    )
    .await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("postgres://scs:***@127.0.0.1:1/x"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("hunter2secret") && !out.stdout.contains("hunter2secret"),
        "{}",
        out.stderr
    );
    let _ = std::fs::remove_dir_all(dir);
}

contract!(
    transfer_import_refuses_non_empty,
    transfer_import_damaged_dump_changes_nothing,
);
