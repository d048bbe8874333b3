//! Bad input to the memory tools: every argument rejected with its own code, nothing written.

use super::*;

pub(super) async fn memory_bad_input(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let client = server.client().await;
    let alice = login(&client, "alice", "claude", false).await;
    let viewer = login(&client, "viewer", "generic", false).await;
    let sid = create_session(&client, &alice).await;
    call(
        &client,
        "set_memory",
        json!({"key": "keep", "value": {"v": 1}, "auth_token": alice}),
    )
    .await
    .ok();
    call(&client, "set_memory", json!({"key": "keep", "value": {"v": 2}, "session_id": sid, "expires_in": 3600, "auth_token": alice})).await.ok();
    let before = dump(&db).await;

    let set = |extra: Value| {
        with(
            json!({"key": "new", "value": "v", "auth_token": alice}),
            extra,
        )
    };
    for key in [
        json!("a b"),
        json!(""),
        json!("   "),
        json!("a\tb"),
        json!("x\ny"),
        json!("k".repeat(256)),
    ] {
        expect_code(
            &client,
            "set_memory",
            set(json!({"key": key})),
            "INVALID_KEY",
        )
        .await;
    }
    for ttl in [
        json!(-1),
        json!("-5"),
        json!(31_536_001),
        json!("31536001"),
        json!(1e12),
    ] {
        expect_code(
            &client,
            "set_memory",
            set(json!({"expires_in": ttl})),
            "INVALID_TTL_VALUE",
        )
        .await;
    }
    for ttl in [
        json!("abc"),
        json!("1.5"),
        json!(1.5),
        json!(true),
        json!([60]),
    ] {
        expect_code(
            &client,
            "set_memory",
            set(json!({"expires_in": ttl})),
            "INVALID_TTL_FORMAT",
        )
        .await;
    }
    expect_code(
        &client,
        "set_memory",
        set(json!({"value": "x".repeat(1 << 20)})),
        "VALUE_TOO_LARGE",
    )
    .await;
    expect_code(
        &client,
        "set_memory",
        set(json!({"value": {"nul": "a\u{0}b"}})),
        "INVALID_INPUT",
    )
    .await;
    expect_code(
        &client,
        "set_memory",
        set(json!({"metadata": [1]})),
        "INVALID_METADATA_FORMAT",
    )
    .await;
    expect_code(
        &client,
        "set_memory",
        set(json!({"metadata": {"k": "m".repeat(20_000)}})),
        "METADATA_TOO_LARGE",
    )
    .await;
    expect_code(
        &client,
        "set_memory",
        set(json!({"session_id": "session_ffffffffffffffff"})),
        "SESSION_NOT_FOUND",
    )
    .await;
    expect_code(
        &client,
        "set_memory",
        set(json!({"session_id": "'; DROP TABLE agent_memory; --"})),
        "INVALID_SESSION_ID",
    )
    .await;
    expect_code(
        &client,
        "set_memory",
        set(json!({"session_id": "all"})),
        "INVALID_SESSION_ID",
    )
    .await;
    expect_code(
        &client,
        "set_memory",
        set(json!({"key": "keep", "value": "no", "overwrite": false})),
        "KEY_EXISTS",
    )
    .await;
    expect_code(
        &client,
        "set_memory",
        set(json!({"key": "keep", "session_id": sid, "overwrite": false})),
        "KEY_EXISTS",
    )
    .await;
    expect_code(
        &client,
        "set_memory",
        set(json!({"auth_token": viewer})),
        "PERMISSION_DENIED",
    )
    .await;
    expect_code(
        &client,
        "set_memory",
        set(json!({"auth_token": null})),
        "PERMISSION_DENIED",
    )
    .await;
    expect_code(
        &client,
        "set_memory",
        set(json!({"auth_token": "not-a-token"})),
        "INVALID_TOKEN_FORMAT",
    )
    .await;
    expect_code(
        &client,
        "delete_memory",
        json!({"key": "keep", "auth_token": viewer}),
        "PERMISSION_DENIED",
    )
    .await;
    expect_code(
        &client,
        "delete_memory",
        json!({"key": "keep"}),
        "PERMISSION_DENIED",
    )
    .await;
    expect_code(
        &client,
        "delete_memory",
        json!({"key": "a b", "auth_token": alice}),
        "INVALID_KEY",
    )
    .await;
    expect_code(
        &client,
        "delete_memory",
        json!({"key": "keep", "session_id": "session_ffffffffffffffff", "auth_token": alice}),
        "SESSION_NOT_FOUND",
    )
    .await;
    expect_code(
        &client,
        "delete_memory",
        json!({"key": "missing", "auth_token": alice}),
        "MEMORY_NOT_FOUND",
    )
    .await;

    // Reads need an agent identity: anonymous callers have no memory.
    let anonymous = call(&client, "get_memory", json!({"key": "keep"})).await;
    assert_eq!(anonymous.err_code(), "PERMISSION_DENIED");
    assert!(
        anonymous.body["suggestions"]
            .to_string()
            .contains("authenticate_agent"),
        "{}",
        anonymous.body
    );
    expect_code(&client, "list_memory", json!({}), "PERMISSION_DENIED").await;
    expect_code(
        &client,
        "get_memory",
        json!({"key": "keep", "auth_token": viewer}),
        "MEMORY_NOT_FOUND",
    )
    .await;
    assert_eq!(
        call(&client, "list_memory", json!({"auth_token": viewer}))
            .await
            .ok()["count"],
        0,
        "read-only agents read their own (empty) memory"
    );
    expect_code(
        &client,
        "get_memory",
        json!({"key": "", "auth_token": alice}),
        "INVALID_KEY",
    )
    .await;
    expect_code(
        &client,
        "get_memory",
        json!({"key": "keep", "session_id": "session_ffffffffffffffff", "auth_token": alice}),
        "SESSION_NOT_FOUND",
    )
    .await;
    expect_code(
        &client,
        "get_memory",
        json!({"key": "keep", "session_id": "bogus", "auth_token": alice}),
        "INVALID_SESSION_ID",
    )
    .await;
    expect_code(
        &client,
        "get_memory",
        json!({"key": "missing", "auth_token": alice}),
        "MEMORY_NOT_FOUND",
    )
    .await;
    expect_code(
        &client,
        "list_memory",
        json!({"limit": 0, "auth_token": alice}),
        "INVALID_LIMIT",
    )
    .await;
    expect_code(
        &client,
        "list_memory",
        json!({"limit": 201, "auth_token": alice}),
        "INVALID_LIMIT",
    )
    .await;
    expect_code(
        &client,
        "list_memory",
        json!({"cursor": "garbage", "auth_token": alice}),
        "INVALID_INPUT",
    )
    .await;
    expect_code(
        &client,
        "list_memory",
        json!({"prefix": "a b", "auth_token": alice}),
        "INVALID_KEY",
    )
    .await;
    expect_code(
        &client,
        "list_memory",
        json!({"session_id": "session_ffffffffffffffff", "auth_token": alice}),
        "SESSION_NOT_FOUND",
    )
    .await;

    assert_eq!(dump(&db).await, before, "a rejected call changed memory");
    let kept = call(
        &client,
        "get_memory",
        json!({"key": "keep", "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(kept["value"], json!({"v": 1}));
}
