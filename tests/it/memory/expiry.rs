//! Memory TTLs on a manual clock, and the sweepers (in process and in the binary).

use super::*;

/// TTLs in process on a manual clock (no waiting for an entry to expire), then the binary's
/// sweeper, configured by `MEMORY_SWEEP_INTERVAL_SECONDS`, clearing a backlog.
pub(super) async fn memory_expiry_and_sweeper(backend: Backend) {
    let db = TestDb::new(backend).await;
    // Sweeper off: expired entries stay in the table but are never returned.
    let app = TestApp::start(&db).await;
    let client = app.client().await;
    let alice = login(&client, "alice", "claude", false).await;
    call(
        &client,
        "set_memory",
        json!({"key": "fixed", "value": 1, "auth_token": alice}),
    )
    .await
    .ok();
    let short = call(
        &client,
        "set_memory",
        json!({"key": "short", "value": "soon gone", "expires_in": 1, "auth_token": alice}),
    )
    .await
    .ok();
    call(
        &client,
        "set_memory",
        json!({"key": "guarded", "value": "old", "expires_in": 3600, "auth_token": alice}),
    )
    .await
    .ok();
    expect_code(
        &client,
        "set_memory",
        json!({"key": "guarded", "value": "new", "overwrite": false, "auth_token": alice}),
        "KEY_EXISTS",
    )
    .await;
    insert_expired(&db, "alice", "stale", 1).await;
    expect_code(
        &client,
        "get_memory",
        json!({"key": "stale1", "auth_token": alice}),
        "MEMORY_NOT_FOUND",
    )
    .await;

    app.clock.advance(Duration::from_millis(1500));
    expect_code(
        &client,
        "get_memory",
        json!({"key": "short", "auth_token": alice}),
        "MEMORY_NOT_FOUND",
    )
    .await;
    expect_code(
        &client,
        "delete_memory",
        json!({"key": "short", "auth_token": alice}),
        "MEMORY_NOT_FOUND",
    )
    .await;
    let keys: Vec<String> = listed(&client, &alice, json!({"session_id": "all"}))
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        keys,
        ["fixed", "guarded"],
        "expired entries are never listed"
    );
    assert_eq!(
        rows_of(&db, "alice").await,
        ["fixed", "guarded", "short", "stale1"],
        "with the sweeper off the rows are still there"
    );

    // An expired entry no longer blocks overwrite=false, and its replacement is a new entry.
    let fresh = call(
        &client,
        "set_memory",
        json!({"key": "short", "value": "back", "overwrite": false, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(fresh["expires_at"], Value::Null);
    assert!(
        time(&fresh["created_at"]) > time(&short["expires_at"]),
        "a replaced expired entry starts afresh: {fresh}"
    );
    assert_eq!(
        call(
            &client,
            "get_memory",
            json!({"key": "short", "auth_token": alice})
        )
        .await
        .ok()["value"],
        "back"
    );
    // A fixed past time, not the database's now(): the service runs on the manual clock, which
    // lags the wall clock by however long the test has run.
    db_exec(&db, "UPDATE agent_memory SET expires_at = '2000-01-01T00:00:00.000000Z' WHERE key = 'guarded'",
        "UPDATE shared_context.agent_memory SET expires_at = '2000-01-01T00:00:00Z' WHERE key = 'guarded'").await;
    expect_code(
        &client,
        "get_memory",
        json!({"key": "guarded", "auth_token": alice}),
        "MEMORY_NOT_FOUND",
    )
    .await;
    call(
        &client,
        "set_memory",
        json!({"key": "guarded", "value": "new", "overwrite": false, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(
        call(
            &client,
            "get_memory",
            json!({"key": "guarded", "auth_token": alice})
        )
        .await
        .ok()["value"],
        "new"
    );
    call(
        &client,
        "set_memory",
        json!({"key": "stale1", "value": "revived", "overwrite": false, "auth_token": alice}),
    )
    .await
    .ok();
    // Sweeper on (in process, every 100 ms): an entry swept once the clock passes its TTL.
    drop(client);
    drop(app);
    let app = TestApp::start_with(&db, |s| {
        s.memory.sweep_interval = Some(Duration::from_millis(100));
    })
    .await;
    let client = app.client().await;
    let alice = login(&client, "alice", "claude", false).await;
    call(
        &client,
        "set_memory",
        json!({"key": "ttl", "value": "brief", "expires_in": 2, "auth_token": alice}),
    )
    .await
    .ok();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        rows_of(&db, "alice").await.contains(&"ttl".to_owned()),
        "a live entry is not swept"
    );
    app.clock.advance(Duration::from_secs(3));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while rows_of(&db, "alice").await.contains(&"ttl".to_owned()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the sweeper did not delete the expired entry"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(client);
    drop(app);

    // The binary's sweeper (every second): expired rows, more than one batch of them, leave the table.
    insert_expired(&db, "bulk", "old/", 1_200).await;
    let server = HttpServer::start(
        &db,
        &[
            ("MEMORY_SWEEP_INTERVAL_SECONDS", "1"),
            ("LOG_LEVEL", "warn,shared_context_server=debug"),
        ],
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let alice_rows = rows_of(&db, "alice").await;
        let bulk = rows_of(&db, "bulk").await.len();
        if bulk == 0 {
            assert_eq!(
                alice_rows,
                ["fixed", "guarded", "short", "stale1"],
                "only expired rows are swept"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sweeper did not delete expired rows: {bulk} bulk rows left, alice has {alice_rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let logs = server.stderr.lock().unwrap().join("\n");
    assert!(
        logs.contains("memory sweeper removed expired entries"),
        "the sweeper logs what it removed: {logs}"
    );
    let distinct: HashSet<_> = rows_of(&db, "alice").await.into_iter().collect();
    assert_eq!(distinct.len(), 4);
}
