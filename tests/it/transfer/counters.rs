//! Fencing tokens and ids never repeat after a move (dump format version 4): the source's newest
//! lease is released and its newest session pruned with its task and messages before the move, so
//! the dump's rows end below what the source granted; after export/import and after copy (SQLite
//! to PostgreSQL and back) a new grant, task and message still exceed everything the source ever
//! handed out. A version 4 end line without counters is refused; an older dump warns.

use super::*;

/// The largest fencing token, task id and message id a database has handed out, each to a row
/// that is gone by the time of the move.
struct Granted {
    alice: String,
    kept: String,
    token: i64,
    task: i64,
    message: i64,
}

/// Through the running server: two grants, the newer released; a kept session with a task and a
/// message; then a session with the newest task and message, closed and (the server stopped)
/// aged past RETENTION_CLOSED_SESSION_DAYS and pruned with `prune`.
async fn grant_then_delete(db: &TestDb) -> Granted {
    let mut server = HttpServer::start(db, &[]).await;
    let client = server.client().await;
    let alice = login(&client, "alice", "claude", false).await;
    let session = |purpose: &'static str| {
        let args = json!({"purpose": purpose, "auth_token": alice});
        let client = &client;
        async move {
            call(client, "create_session", args).await.ok()["session_id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let kept = session("kept").await;
    let pruned = session("pruned").await;
    let task = |sid: &str| {
        let args = json!({"session_id": sid, "title": "a task", "auth_token": alice});
        let client = &client;
        async move {
            call(client, "create_task", args).await.ok()["task_id"]
                .as_i64()
                .unwrap()
        }
    };
    let message = |sid: &str| {
        let args = json!({"session_id": sid, "content": "a message", "auth_token": alice});
        let client = &client;
        async move {
            call(client, "add_message", args).await.ok()["message_id"]
                .as_i64()
                .unwrap()
        }
    };
    task(&kept).await;
    message(&kept).await;
    let token = grant_and_release(&client, &alice).await;
    let pruned_task = task(&pruned).await;
    let pruned_message = message(&pruned).await;
    call(
        &client,
        "close_session",
        json!({"session_id": pruned, "auth_token": alice}),
    )
    .await
    .ok();
    server.child.kill().await.expect("stop the server");

    db_exec(
        db,
        &format!("UPDATE sessions SET updated_at = '2020-01-01T00:00:00.000000Z' WHERE id = '{pruned}'"),
        &format!("UPDATE shared_context.sessions SET updated_at = '2020-01-01T00:00:00Z' WHERE id = '{pruned}'"),
    )
    .await;
    let mut env = server_env(db);
    env.push(("RETENTION_CLOSED_SESSION_DAYS".into(), "1".into()));
    let out = run(&["prune"], &env, None).await;
    assert!(out.ok, "prune failed: {}", out.stderr);
    let left = snapshot(db).await;
    assert!(
        max_id(&left, "leases") < token
            && max_id(&left, "tasks") < pruned_task
            && max_id(&left, "messages") < pruned_message,
        "the newest lease, task and message must be gone before the move: {left:?}"
    );
    Granted {
        alice,
        kept,
        token,
        task: pruned_task,
        message: pruned_message,
    }
}

/// Grants two leases and releases the newer: returns its token, the largest ever granted.
async fn grant_and_release(client: &rmcp::Peer<rmcp::RoleClient>, alice: &str) -> i64 {
    let older = call(
        client,
        "acquire_lease",
        json!({"resources": ["src/**"], "auth_token": alice}),
    )
    .await
    .ok();
    let newer = call(
        client,
        "acquire_lease",
        json!({"resources": ["docs/**"], "auth_token": alice}),
    )
    .await
    .ok();
    let token = newer["fencing_token"].as_i64().unwrap();
    assert!(token > older["fencing_token"].as_i64().unwrap(), "{newer}");
    call(
        client,
        "release_lease",
        json!({"lease_id": newer["lease_id"], "auth_token": alice}),
    )
    .await
    .ok();
    token
}

/// On the moved database: a new grant, task and message exceed what the source granted. Then
/// one more grant is made and released, and the new largest token returned (for a further move).
async fn check_nothing_repeats(db: &TestDb, granted: &Granted) -> i64 {
    let mut server = HttpServer::start(db, &[]).await;
    let client = server.client().await;
    let alice = granted.alice.as_str();
    let lease = call(
        &client,
        "acquire_lease",
        json!({"resources": ["tests/**"], "auth_token": alice}),
    )
    .await
    .ok();
    assert!(
        lease["fencing_token"].as_i64().unwrap() > granted.token,
        "the source granted fencing token {} before the move; a new grant must exceed it: {lease}",
        granted.token
    );
    let task = call(
        &client,
        "create_task",
        json!({"session_id": granted.kept, "title": "after the move", "auth_token": alice}),
    )
    .await
    .ok();
    assert!(
        task["task_id"].as_i64().unwrap() > granted.task,
        "the source created task {}: {task}",
        granted.task
    );
    let message = call(
        &client,
        "add_message",
        json!({"session_id": granted.kept, "content": "after the move", "auth_token": alice}),
    )
    .await
    .ok();
    assert!(
        message["message_id"].as_i64().unwrap() > granted.message,
        "the source posted message {}: {message}",
        granted.message
    );
    let token = grant_and_release(&client, alice).await;
    server.child.kill().await.expect("stop the server");
    token
}

/// Export and import on one backend; then the same dump without its counters is refused as
/// damaged, and as a version 3 dump it imports with a warning.
async fn transfer_dump_never_repeats_a_fencing_token(backend: Backend) {
    let src = TestDb::new(backend).await;
    let granted = grant_then_delete(&src).await;
    let file = src.dir.join("dump.jsonl");
    let out = run(
        &["export", "-o", file.to_str().unwrap()],
        &server_env(&src),
        None,
    )
    .await;
    assert!(out.ok, "export failed: {}", out.stderr);
    let dump = std::fs::read_to_string(&file).unwrap();
    let end: Value = serde_json::from_str(dump.lines().last().unwrap()).unwrap();
    assert_eq!(end["counters"]["leases"], json!(granted.token), "{end}");
    assert_eq!(end["counters"]["tasks"], json!(granted.task), "{end}");

    let dst = TestDb::new(backend).await;
    let out = run(
        &["import", "-i", file.to_str().unwrap()],
        &server_env(&dst),
        None,
    )
    .await;
    assert!(out.ok, "import failed: {}", out.stderr);
    assert!(
        !out.stderr.contains("left out the id counters"),
        "{}",
        out.stderr
    );
    check_nothing_repeats(&dst, &granted).await;

    let mut lines: Vec<Value> = dump
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines
        .last_mut()
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove("counters");
    let write = |lines: &[Value], name: &str| {
        let path = src.dir.join(name);
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, text).unwrap();
        path
    };
    let bare = write(&lines, "no-counters.jsonl");
    let dst = TestDb::new(backend).await;
    assert!(run(&["migrate"], &server_env(&dst), None).await.ok);
    let empty = snapshot(&dst).await;
    let out = run(
        &["import", "-i", bare.to_str().unwrap()],
        &server_env(&dst),
        None,
    )
    .await;
    assert!(
        !out.ok && out.stderr.contains("no \"counters\"") && out.stderr.contains("damaged"),
        "{}",
        out.stderr
    );
    assert_eq!(
        snapshot(&dst).await,
        empty,
        "a refused import changes nothing"
    );

    lines[0]["version"] = json!(3);
    let old = write(&lines, "version-3.jsonl");
    let out = run(
        &["import", "-i", old.to_str().unwrap()],
        &server_env(&dst),
        None,
    )
    .await;
    assert!(out.ok, "a version 3 dump still imports: {}", out.stderr);
    assert!(
        out.stderr.contains("format version 3") && out.stderr.contains("left out the id counters"),
        "the import must warn that tokens may repeat: {}",
        out.stderr
    );
}

contract!(transfer_dump_never_repeats_a_fencing_token);

/// SQLite to PostgreSQL, then back to a new SQLite file, releasing the newest lease before each
/// move.
#[tokio::test]
async fn transfer_copy_sqlite_to_postgres_and_back_never_repeats_a_fencing_token() {
    let src = TestDb::new(Backend::Sqlite).await;
    let mut granted = grant_then_delete(&src).await;
    let pg = TestDb::new(Backend::Postgres).await;
    let out = copy(&src, &pg, &[]).await;
    assert!(out.ok, "copy failed: {}", out.stderr);
    granted.token = check_nothing_repeats(&pg, &granted).await;

    let back = TestDb::new(Backend::Sqlite).await;
    let out = copy(&pg, &back, &[]).await;
    assert!(out.ok, "copy back failed: {}", out.stderr);
    check_nothing_repeats(&back, &granted).await;
}

/// The same from PostgreSQL (its sequences) to SQLite (its `sqlite_sequence`).
#[tokio::test]
async fn transfer_copy_postgres_to_sqlite_never_repeats_a_fencing_token() {
    let src = TestDb::new(Backend::Postgres).await;
    let granted = grant_then_delete(&src).await;
    let dst = TestDb::new(Backend::Sqlite).await;
    let out = copy(&src, &dst, &[]).await;
    assert!(out.ok, "copy failed: {}", out.stderr);
    check_nothing_repeats(&dst, &granted).await;
}
