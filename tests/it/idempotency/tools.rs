//! Replay and conflict for every keyed tool: messages and sessions, then memory writes and closing a session.

use super::*;

pub(super) async fn idempotency_replay_and_conflict(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[("MCP_STATELESS", "true")]).await;
    let client = server.client().await;
    let alice = login(&client, "alice", "claude", false).await;
    let bob = login(&client, "bob", "claude", false).await;

    // create_session: the retry returns the same session_id and timestamps; one session exists.
    let create = json!({"purpose": "retry me", "metadata": {"b": [1, 2], "a": 1}, "idempotency_key": "s-1", "auth_token": alice});
    let (first, text) = ok(&client, "create_session", create.clone()).await;
    let sessions = db_count(&db, "sessions").await;
    // Validated arguments are compared, not raw text: the purpose is trimmed before it counts.
    let (again, again_text) = ok(
        &client,
        "create_session",
        with(create.clone(), json!({"purpose": "  retry me "})),
    )
    .await;
    assert_eq!(
        (&again, &again_text),
        (&first, &text),
        "the replay is the first body, byte for byte"
    );
    assert_eq!(
        db_count(&db, "sessions").await,
        sessions,
        "a replay opens nothing"
    );
    let sid = first["session_id"].as_str().unwrap().to_owned();

    // add_message: same body, no new row, one audit row.
    let post = json!({"session_id": sid, "content": "only once", "metadata": {"x": 1, "y": {"b": 2, "a": 1}}, "idempotency_key": "m-1", "auth_token": alice});
    let (posted, _) = ok(&client, "add_message", post.clone()).await;
    let messages = db_count(&db, "messages").await;
    for variant in [
        post.clone(),
        with(post.clone(), json!({"visibility": "public"})),
        with(
            post.clone(),
            json!({"visibility": " public ", "parent_message_id": null}),
        ),
    ] {
        assert_eq!(
            ok(&client, "add_message", variant).await.0,
            posted,
            "defaults spelled out still replay"
        );
    }
    // Key order and whitespace in the request text do not matter either.
    let hand_written = format!(
        r#"{{ "auth_token" : "{alice}", "idempotency_key":"m-1",
             "metadata": {{ "y": {{"a":1,"b":2}}, "x": 1 }}, "content": "only once", "session_id": "{sid}" }}"#
    );
    assert_eq!(
        raw_http(&server, "add_message", &hand_written).await,
        posted
    );
    assert_eq!(
        db_count(&db, "messages").await,
        messages,
        "replays write nothing"
    );
    assert_eq!(audits(&db, "message_added").await, 1);
    let read = call(
        &client,
        "get_messages",
        json!({"session_id": sid, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(
        (read["count"].as_i64(), &read["messages"][0]["id"]),
        (Some(1), &posted["message_id"])
    );

    // The same key with other arguments is a conflict, and writes nothing.
    for changed in [
        json!({"content": "something else"}),
        json!({"visibility": "private"}),
        json!({"metadata": {"x": 2}}),
        json!({"metadata": {"x": 1, "y": {"b": 2, "a": 1}, "z": null}}),
    ] {
        let err = expect_code(
            &client,
            "add_message",
            with(post.clone(), changed),
            "IDEMPOTENCY_CONFLICT",
        )
        .await;
        assert!(
            err["suggestions"][0]
                .as_str()
                .unwrap()
                .contains("new idempotency_key"),
            "{err}"
        );
    }
    // Another tool with a used key conflicts too (keys are per agent, not per tool).
    expect_code(
        &client,
        "create_session",
        with(create.clone(), json!({"idempotency_key": "m-1"})),
        "IDEMPOTENCY_CONFLICT",
    )
    .await;
    expect_code(
        &client,
        "set_memory",
        json!({"key": "k", "value": 1, "idempotency_key": "s-1", "auth_token": alice}),
        "IDEMPOTENCY_CONFLICT",
    )
    .await;
    assert_eq!(
        (
            db_count(&db, "messages").await,
            db_count(&db, "sessions").await,
            db_count(&db, "agent_memory").await
        ),
        (messages, sessions, 0)
    );

    // Keys are per agent: bob's "m-1" is his own request.
    let (bobs, _) = ok(
        &client,
        "add_message",
        with(post.clone(), json!({"content": "bob's", "auth_token": bob})),
    )
    .await;
    assert_ne!(bobs["message_id"], posted["message_id"]);
    assert_eq!(
        ok(
            &client,
            "add_message",
            with(post.clone(), json!({"content": "bob's", "auth_token": bob}))
        )
        .await
        .0,
        bobs
    );
    assert_eq!(
        ok(&client, "add_message", post.clone()).await.0,
        posted,
        "alice's key is untouched by bob's"
    );
    assert_eq!(db_count(&db, "messages").await, messages + 1);

    // Bad keys are refused before anything happens.
    for key in [
        json!(""),
        json!("   "),
        json!("a\nb"),
        json!("nul\u{0}"),
        json!("k".repeat(201)),
    ] {
        expect_code(
            &client,
            "add_message",
            with(
                post.clone(),
                json!({"idempotency_key": key, "content": "bad key"}),
            ),
            "INVALID_IDEMPOTENCY_KEY",
        )
        .await;
    }
    ok(
        &client,
        "add_message",
        with(
            post.clone(),
            json!({"idempotency_key": "k".repeat(200), "content": "long key"}),
        ),
    )
    .await;

    // A call that fails validation with a key stores nothing: the corrected retry with the same key writes.
    expect_code(
        &client,
        "add_message",
        with(
            post.clone(),
            json!({"idempotency_key": "v-1", "content": " "}),
        ),
        "INVALID_INPUT",
    )
    .await;
    expect_code(
        &client,
        "add_message",
        with(
            post.clone(),
            json!({"idempotency_key": "v-1", "session_id": "session_ffffffffffffffff"}),
        ),
        "SESSION_NOT_FOUND",
    )
    .await;
    let fixed = ok(
        &client,
        "add_message",
        with(
            post.clone(),
            json!({"idempotency_key": "v-1", "content": "fixed"}),
        ),
    )
    .await
    .0;
    assert_eq!(
        ok(
            &client,
            "add_message",
            with(
                post.clone(),
                json!({"idempotency_key": "v-1", "content": "fixed"})
            )
        )
        .await
        .0,
        fixed
    );

    // Errors are not remembered: KEY_EXISTS under a key, then the same call succeeds once the way is clear.
    call(
        &client,
        "set_memory",
        json!({"key": "slot", "value": "taken", "auth_token": alice}),
    )
    .await
    .ok();
    let claim = json!({"key": "slot", "value": "mine", "overwrite": false, "idempotency_key": "e-1", "auth_token": alice});
    expect_code(&client, "set_memory", claim.clone(), "KEY_EXISTS").await;
    call(
        &client,
        "delete_memory",
        json!({"key": "slot", "auth_token": alice}),
    )
    .await
    .ok();
    let stored = ok(&client, "set_memory", claim.clone()).await.0;
    assert_eq!(
        call(
            &client,
            "get_memory",
            json!({"key": "slot", "auth_token": alice})
        )
        .await
        .ok()["value"],
        "mine"
    );
    assert_eq!(ok(&client, "set_memory", claim).await.0, stored);

    // Without a key nothing changes: every call writes.
    let plain = with(
        post.clone(),
        json!({"idempotency_key": null, "content": "plain"}),
    );
    let a = ok(&client, "add_message", plain.clone()).await.0;
    let b = ok(&client, "add_message", plain).await.0;
    assert_ne!(a["message_id"], b["message_id"]);
}

pub(super) async fn idempotency_memory_and_close(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let client = server.client().await;
    let alice = login(&client, "alice", "claude", false).await;
    let sid = new_session(&client, &alice, "retries").await;

    // set_memory: the replay returns the first body and does not overwrite what came later.
    let set = json!({"key": "plan", "value": {"step": 1}, "expires_in": 3600, "metadata": {"m": true}, "idempotency_key": "sm-1", "auth_token": alice});
    let (first, text) = ok(&client, "set_memory", set.clone()).await;
    call(
        &client,
        "set_memory",
        json!({"key": "plan", "value": {"step": 2}, "auth_token": alice}),
    )
    .await
    .ok();
    // "3600" parses to the same TTL, and overwrite defaults to true: the same request.
    let (again, again_text) = ok(
        &client,
        "set_memory",
        with(
            set.clone(),
            json!({"expires_in": "3600", "overwrite": true}),
        ),
    )
    .await;
    assert_eq!((again, again_text), (first.clone(), text));
    assert_eq!(
        call(
            &client,
            "get_memory",
            json!({"key": "plan", "auth_token": alice})
        )
        .await
        .ok()["value"],
        json!({"step": 2}),
        "the replay wrote nothing"
    );
    for changed in [
        json!({"value": {"step": 3}}),
        json!({"expires_in": 60}),
        json!({"session_id": sid}),
        json!({"overwrite": false}),
    ] {
        expect_code(
            &client,
            "set_memory",
            with(set.clone(), changed),
            "IDEMPOTENCY_CONFLICT",
        )
        .await;
    }
    assert_eq!(audits(&db, "memory_set").await, 2);

    // delete_memory: the retry of a delete that worked says deleted, not MEMORY_NOT_FOUND.
    let delete = json!({"key": "plan", "idempotency_key": "dm-1", "auth_token": alice});
    let (deleted, _) = ok(&client, "delete_memory", delete.clone()).await;
    assert_eq!(deleted["deleted"], json!(true));
    assert_eq!(
        ok(&client, "delete_memory", delete.clone()).await.0,
        deleted
    );
    expect_code(
        &client,
        "delete_memory",
        json!({"key": "plan", "auth_token": alice}),
        "MEMORY_NOT_FOUND",
    )
    .await;
    expect_code(
        &client,
        "delete_memory",
        with(delete.clone(), json!({"session_id": sid})),
        "IDEMPOTENCY_CONFLICT",
    )
    .await;
    // A delete that found nothing is not remembered: once the entry exists, the same call deletes it.
    let later = json!({"key": "later", "idempotency_key": "dm-2", "auth_token": alice});
    expect_code(&client, "delete_memory", later.clone(), "MEMORY_NOT_FOUND").await;
    call(
        &client,
        "set_memory",
        json!({"key": "later", "value": 1, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(
        ok(&client, "delete_memory", later.clone()).await.0["deleted"],
        json!(true)
    );
    assert_eq!(audits(&db, "memory_deleted").await, 2);

    // close_session: the retry returns the first body (same updated_at), one audit row.
    let close = json!({"session_id": sid, "idempotency_key": "c-1", "auth_token": alice});
    let (closed, closed_text) = ok(&client, "close_session", close.clone()).await;
    assert_eq!(closed["is_active"], json!(false));
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        ok(&client, "close_session", close.clone()).await,
        (closed.clone(), closed_text)
    );
    let plain = call(
        &client,
        "close_session",
        json!({"session_id": sid, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(
        plain["session"]["updated_at"], closed["session"]["updated_at"],
        "closing twice changes nothing"
    );
    assert_eq!(audits(&db, "session_closed").await, 1);
    let other = new_session(&client, &alice, "retries").await;
    expect_code(
        &client,
        "close_session",
        with(close.clone(), json!({"session_id": other})),
        "IDEMPOTENCY_CONFLICT",
    )
    .await;
    // Closing an already closed session under a new key answers like the plain call.
    let late = ok(
        &client,
        "close_session",
        with(close.clone(), json!({"idempotency_key": "c-2"})),
    )
    .await
    .0;
    assert_eq!(late["session"], closed["session"]);
    assert_eq!(audits(&db, "session_closed").await, 1);
    // Permission is checked on every call, replay or not.
    let mallory = login(&client, "mallory", "claude", false).await;
    expect_code(
        &client,
        "close_session",
        with(close.clone(), json!({"auth_token": mallory})),
        "PERMISSION_DENIED",
    )
    .await;
    // A closed session refuses messages; that error is not remembered either.
    expect_code(&client, "add_message", json!({"session_id": sid, "content": "late", "idempotency_key": "x-1", "auth_token": alice}), "SESSION_CLOSED").await;
    assert_eq!(
        db_scalar(
            &db,
            "SELECT COUNT(*) FROM idempotency_keys WHERE key = 'x-1'",
            "SELECT COUNT(*) FROM shared_context.idempotency_keys WHERE key = 'x-1'"
        )
        .await,
        0
    );

    // Every write tool documents the key; reads do not take one.
    let tools = client.list_all_tools().await.unwrap();
    for tool in &tools {
        let has_key = tool
            .input_schema
            .get("properties")
            .and_then(|p| p.get("idempotency_key"))
            .is_some();
        let writes = [
            "create_session",
            "add_message",
            "close_session",
            "set_memory",
            "delete_memory",
            "ask",
            "ack_messages",
            "create_task",
            "claim_task",
            "update_task",
            "acquire_lease",
            "release_lease",
        ]
        .contains(&tool.name.as_ref());
        assert_eq!(has_key, writes, "{} idempotency_key", tool.name);
        if writes {
            // Said once per parameter (and in the server instructions), not in every description.
            let described = tool.input_schema["properties"]["idempotency_key"]["description"]
                .as_str()
                .unwrap_or_default();
            assert!(described.contains("retry"), "{}: {described}", tool.name);
            assert_eq!(
                tool.input_schema["properties"]["idempotency_key"]["type"],
                json!("string"),
                "{}",
                tool.name
            );
        }
    }
}
