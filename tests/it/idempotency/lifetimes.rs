//! Keys over time and across callers: expiry on a manual clock and the sweeper, concurrent identical calls, and two server processes on one database.

use super::*;

/// The binary applies `IDEMPOTENCY_TTL_SECONDS` to the keys it stores; then, in process on a
/// manual clock, time moves past a 2 s TTL without waiting for it, and the sweeper runs every
/// 100 ms.
pub(super) async fn idempotency_expiry_and_sweeper(backend: Backend) {
    const TTL: Duration = Duration::from_secs(2);
    let db = TestDb::new(backend).await;
    {
        let server = HttpServer::start(&db, &[("IDEMPOTENCY_TTL_SECONDS", "7")]).await;
        let client = server.client().await;
        let bob = login(&client, "bob", "claude", false).await;
        let sid = new_session(&client, &bob, "retries").await;
        ok(
            &client,
            "add_message",
            json!({"session_id": sid, "content": "kept 7 s", "idempotency_key": "ttl-7", "auth_token": bob}),
        )
        .await;
        let lifetime = db_scalar(
            &db,
            "SELECT CAST(ROUND((julianday(expires_at) - julianday(created_at)) * 86400) AS INTEGER) FROM idempotency_keys WHERE key = 'ttl-7'",
            "SELECT EXTRACT(EPOCH FROM expires_at - created_at)::bigint FROM shared_context.idempotency_keys WHERE key = 'ttl-7'",
        )
        .await;
        assert_eq!(
            lifetime, 7,
            "IDEMPOTENCY_TTL_SECONDS sets the key's lifetime"
        );
        db_exec(
            &db,
            "DELETE FROM idempotency_keys",
            "DELETE FROM shared_context.idempotency_keys",
        )
        .await;
    }
    let app = TestApp::start_with(&db, |s| {
        s.idempotency.ttl = TTL;
        s.idempotency.sweep_interval = Some(Duration::from_millis(100));
    })
    .await;
    let client = app.client().await;
    let alice = login(&client, "alice", "claude", false).await;
    let sid = new_session(&client, &alice, "retries").await;

    // After the TTL the key is free: the same key with other arguments writes instead of conflicting.
    let post = json!({"session_id": sid, "content": "first", "idempotency_key": "t-1", "auth_token": alice});
    let first = ok(&client, "add_message", post.clone()).await.0;
    expect_code(
        &client,
        "add_message",
        with(post.clone(), json!({"content": "second"})),
        "IDEMPOTENCY_CONFLICT",
    )
    .await;
    app.clock.advance(TTL + Duration::from_millis(1));
    let second = ok(
        &client,
        "add_message",
        with(post.clone(), json!({"content": "second"})),
    )
    .await
    .0;
    assert_ne!(second["message_id"], first["message_id"]);
    assert_eq!(
        ok(
            &client,
            "add_message",
            with(post.clone(), json!({"content": "second"}))
        )
        .await
        .0,
        second,
        "the new claim replays"
    );

    // An expired row that is still stored (not swept yet) is never replayed: it is reclaimed.
    let (created, expired) = (
        shared_context_server::util::rfc3339(Utc::now() - chrono::Duration::hours(2)),
        shared_context_server::util::rfc3339(Utc::now() - chrono::Duration::hours(1)),
    );
    db_exec(
        &db,
        &format!("INSERT INTO idempotency_keys (agent_id, key, tool, fingerprint, response, created_at, expires_at) VALUES ('alice', 'old', 'add_message', 'x', '{{\"stale\": true}}', '{created}', '{expired}')"),
        &format!("INSERT INTO shared_context.idempotency_keys (agent_id, key, tool, fingerprint, response, created_at, expires_at) VALUES ('alice', 'old', 'add_message', 'x', '{{\"stale\": true}}', '{created}', '{expired}')"),
    )
    .await;
    let fresh = ok(
        &client,
        "add_message",
        with(post.clone(), json!({"idempotency_key": "old"})),
    )
    .await
    .0;
    assert!(
        fresh["message_id"].is_i64() && fresh.get("stale").is_none(),
        "{fresh}"
    );

    // The sweeper deletes expired keys in batches (1,200 rows: three statements) and keeps live ones.
    let many = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200) \
         INSERT INTO idempotency_keys (agent_id, key, tool, fingerprint, response, created_at, expires_at) \
         SELECT 'sweep', 'k' || i, 'add_message', 'x', '{{}}', '{created}', '{expired}' FROM n"
    );
    let many_pg = format!(
        "INSERT INTO shared_context.idempotency_keys (agent_id, key, tool, fingerprint, response, created_at, expires_at) \
         SELECT 'sweep', 'k' || i, 'add_message', 'x', '{{}}', '{created}', '{expired}' FROM generate_series(1, 1200) AS i"
    );
    db_exec(&db, &many, &many_pg).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let (sqlite, postgres) = (
        "SELECT COUNT(*) FROM idempotency_keys WHERE agent_id = 'sweep'",
        "SELECT COUNT(*) FROM shared_context.idempotency_keys WHERE agent_id = 'sweep'",
    );
    while db_scalar(&db, sqlite, postgres).await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sweeper did not delete the expired keys"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Once the TTL has passed for every key, the sweeper removes them all.
    app.clock.advance(TTL + Duration::from_millis(1));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while db_count(&db, "idempotency_keys").await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "expired keys were not swept"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        db_count(&db, "messages").await >= 3,
        "sweeping keys never touches what they guarded"
    );
}

pub(super) async fn idempotency_concurrent_identical_calls(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(Arc::new(server.client().await));
    }
    let alice = login(&clients[0], "alice", "claude", false).await;
    let sid = new_session(&clients[0], &alice, "retries").await;
    let before = db_count(&db, "messages").await;

    // 20 identical add_message calls racing on one key: one message, 20 identical answers.
    let args = json!({"session_id": sid, "content": "exactly once", "metadata": {"n": 1}, "idempotency_key": "race-1", "auth_token": alice});
    let mut set = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (client, args) = (clients[i % clients.len()].clone(), args.clone());
        set.spawn(async move { ok(&client, "add_message", args).await });
    }
    let answers: Vec<(Value, String)> = set.join_all().await;
    assert_eq!(answers.len(), 20);
    assert!(
        answers.iter().all(|a| a == &answers[0]),
        "answers differ: {answers:?}"
    );
    assert_eq!(
        db_count(&db, "messages").await,
        before + 1,
        "exactly one message"
    );
    assert_eq!(audits(&db, "message_added").await, 1);

    // The same for sessions: ten racing create_session calls open one session.
    let sessions = db_count(&db, "sessions").await;
    let args = json!({"purpose": "race", "idempotency_key": "race-2", "auth_token": alice});
    let mut set = tokio::task::JoinSet::new();
    for i in 0..10 {
        let (client, args) = (clients[i % clients.len()].clone(), args.clone());
        set.spawn(async move { ok(&client, "create_session", args).await.0 });
    }
    let answers = set.join_all().await;
    assert!(answers.iter().all(|a| a == &answers[0]));
    assert_eq!(db_count(&db, "sessions").await, sessions + 1);
}

/// Two server processes on one database: a retry that lands on the other process replays; calls
/// racing on both processes write once.
pub(super) async fn idempotency_two_processes(backend: Backend) {
    let db = TestDb::new(backend).await;
    let a = HttpServer::start(&db, &[]).await;
    let on_a = a.client().await;
    // SQLite: the second process is a stdio server on the same file; PostgreSQL: a second HTTP server.
    let b = match backend {
        Backend::Postgres => Some(HttpServer::start(&db, &[]).await),
        Backend::Sqlite => None,
    };
    let on_b = match &b {
        Some(server) => server.client().await,
        None => stdio_client(&db).await,
    };
    // Tokens live in the database: alice's token works on both processes.
    let alice = login(&on_a, "alice", "claude", false).await;
    let token_b = alice.clone();
    let sid = new_session(&on_a, &alice, "retries").await;

    let post = json!({"session_id": sid, "content": "via A", "idempotency_key": "p-1", "auth_token": alice});
    let first = ok(&on_a, "add_message", post.clone()).await;
    assert_eq!(
        ok(
            &on_b,
            "add_message",
            with(post.clone(), json!({"auth_token": token_b}))
        )
        .await,
        first
    );
    expect_code(
        &on_b,
        "add_message",
        with(
            post.clone(),
            json!({"content": "via B", "auth_token": token_b}),
        ),
        "IDEMPOTENCY_CONFLICT",
    )
    .await;
    assert_eq!(db_count(&db, "messages").await, 1);

    // Racing on both processes at once.
    let (on_a, on_b) = (Arc::new(on_a), Arc::new(on_b));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..16 {
        let client = if i % 2 == 0 {
            on_a.clone()
        } else {
            on_b.clone()
        };
        let token = if i % 2 == 0 {
            alice.clone()
        } else {
            token_b.clone()
        };
        let args = json!({"session_id": sid, "content": "raced", "idempotency_key": "p-2", "auth_token": token});
        set.spawn(async move { ok(&client, "add_message", args).await.0 });
    }
    let answers = set.join_all().await;
    assert!(answers.iter().all(|x| x == &answers[0]), "{answers:?}");
    assert_eq!(db_count(&db, "messages").await, 2);

    // A keyed write wakes waiters like a plain one: a waiter on B sees a message posted on A,
    // and on A itself (PostgreSQL: NOTIFY; SQLite: the change check and the in-process notifier).
    let after = answers[0]["message_id"].as_i64().unwrap();
    let wait =
        json!({"session_id": sid, "after_id": after, "timeout_seconds": 20, "auth_token": alice});
    let mut waiters = tokio::task::JoinSet::new();
    for client in [on_a.clone(), on_b.clone()] {
        let wait = wait.clone();
        waiters.spawn(async move {
            let started = std::time::Instant::now();
            (
                ok(&client, "wait_for_messages", wait).await.0,
                started.elapsed(),
            )
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let woke = ok(
        &on_a,
        "add_message",
        json!({"session_id": sid, "content": "wake up", "idempotency_key": "p-3", "auth_token": alice}),
    )
    .await
    .0;
    for (body, elapsed) in waiters.join_all().await {
        assert_eq!(body["messages"][0]["id"], woke["message_id"], "{body}");
        assert!(elapsed < Duration::from_secs(10), "woke after {elapsed:?}");
    }
    drop(b);
}
