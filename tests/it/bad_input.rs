//! Bad input through a real client: each case gets its error code, and nothing is written.

use serde_json::{Value, json};

use crate::support::*;

/// Messages and sessions as an admin sees them, to prove bad calls changed nothing.
async fn snapshot(client: &Client, admin: &str, sessions: &[&str]) -> Value {
    let mut out = Vec::new();
    for sid in sessions {
        let messages = call(
            client,
            "get_messages",
            json!({"session_id": sid, "auth_token": admin, "limit": 1000}),
        )
        .await
        .ok();
        let session = call(
            client,
            "get_session",
            json!({"session_id": sid, "auth_token": admin}),
        )
        .await
        .ok();
        out.push(
            json!({"messages": messages["messages"], "active": session["session"]["is_active"]}),
        );
    }
    let listed = call(
        client,
        "list_sessions",
        json!({"active_only": false, "auth_token": admin}),
    )
    .await
    .ok();
    json!({"sessions": out, "listed": listed["count"]})
}

async fn bad_input(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let client = server.client().await;
    let alice = login(&client, "alice", "claude", false).await;
    let bob = login(&client, "bob", "claude", false).await;
    let reader = login(&client, "viewer", "generic", false).await;
    let admin = login(&client, "ops", "admin", true).await;
    let s1 = new_session(&client, &alice, "one").await;
    let s2 = new_session(&client, &alice, "two").await;
    let m2 = call(
        &client,
        "add_message",
        json!({"session_id": s2, "content": "in two", "auth_token": alice}),
    )
    .await
    .ok()["message_id"]
        .clone();
    let closed = new_session(&client, &alice, "closed").await;
    call(
        &client,
        "close_session",
        json!({"session_id": closed, "auth_token": alice}),
    )
    .await
    .ok();
    let before = snapshot(&client, &admin, &[&s1, &s2, &closed]).await;

    let post = |extra: Value| {
        let mut args = json!({"session_id": s1, "content": "hello", "auth_token": alice});
        for (k, v) in extra.as_object().unwrap() {
            args[k] = v.clone();
        }
        args
    };
    expect_code(
        &client,
        "add_message",
        post(json!({"content": ""})),
        "INVALID_INPUT",
    )
    .await;
    expect_code(
        &client,
        "add_message",
        post(json!({"content": " \n\t "})),
        "INVALID_INPUT",
    )
    .await;
    expect_code(
        &client,
        "add_message",
        post(json!({"content": "x".repeat(100_001)})),
        "CONTENT_TOO_LARGE",
    )
    .await;
    expect_code(
        &client,
        "add_message",
        post(json!({"visibility": "secret"})),
        "INVALID_VISIBILITY",
    )
    .await;
    expect_code(
        &client,
        "add_message",
        post(json!({"metadata": [1, 2]})),
        "INVALID_METADATA_FORMAT",
    )
    .await;
    expect_code(
        &client,
        "add_message",
        post(json!({"metadata": {"k": "v".repeat(20_000)}})),
        "METADATA_TOO_LARGE",
    )
    .await;
    expect_code(
        &client,
        "add_message",
        post(json!({"session_id": "session_ffffffffffffffff"})),
        "SESSION_NOT_FOUND",
    )
    .await;
    expect_code(
        &client,
        "add_message",
        post(json!({"session_id": "'; DROP TABLE messages; --"})),
        "INVALID_SESSION_ID",
    )
    .await;
    expect_code(
        &client,
        "add_message",
        post(json!({"parent_message_id": m2})),
        "PARENT_MESSAGE_NOT_FOUND",
    )
    .await;
    expect_code(
        &client,
        "add_message",
        post(json!({"parent_message_id": 999_999})),
        "PARENT_MESSAGE_NOT_FOUND",
    )
    .await;
    expect_code(
        &client,
        "add_message",
        post(json!({"session_id": closed})),
        "SESSION_CLOSED",
    )
    .await;
    expect_code(
        &client,
        "add_message",
        post(json!({"visibility": "admin_only"})),
        "PERMISSION_DENIED",
    )
    .await;
    expect_code(
        &client,
        "add_message",
        post(json!({"auth_token": reader})),
        "PERMISSION_DENIED",
    )
    .await;
    expect_code(
        &client,
        "add_message",
        post(json!({"auth_token": null})),
        "PERMISSION_DENIED",
    )
    .await;
    expect_code(
        &client,
        "add_message",
        post(json!({"auth_token": "not-a-token"})),
        "INVALID_TOKEN_FORMAT",
    )
    .await;
    let unknown = shared_context_server::auth::new_token();
    expect_code(
        &client,
        "add_message",
        post(json!({"auth_token": unknown})),
        "TOKEN_AUTHENTICATION_FAILED",
    )
    .await;
    let expired = insert_expired_token(&db, "alice").await;
    expect_code(
        &client,
        "add_message",
        post(json!({"auth_token": expired})),
        "TOKEN_AUTHENTICATION_FAILED",
    )
    .await;
    expect_code(
        &client,
        "refresh_token",
        json!({"current_token": expired}),
        "TOKEN_REFRESH_FAILED",
    )
    .await;

    // A token from another server (its own database) means nothing here.
    let other_db = TestDb::new(backend).await;
    let other = HttpServer::start(&other_db, &[]).await;
    let other_client = other.client().await;
    let foreign = login(&other_client, "alice", "claude", false).await;
    expect_code(
        &client,
        "add_message",
        post(json!({"auth_token": foreign})),
        "TOKEN_AUTHENTICATION_FAILED",
    )
    .await;

    // Revoked and rotated tokens stop working at once in this process.
    let doomed = login(&client, "alice", "claude", false).await;
    call(&client, "revoke_token", json!({"auth_token": doomed}))
        .await
        .ok();
    expect_code(
        &client,
        "add_message",
        post(json!({"auth_token": doomed})),
        "TOKEN_AUTHENTICATION_FAILED",
    )
    .await;
    expect_code(
        &client,
        "refresh_token",
        json!({"current_token": doomed}),
        "TOKEN_REFRESH_FAILED",
    )
    .await;
    let rotated = login(&client, "alice", "claude", false).await;
    let fresh = call(&client, "refresh_token", json!({"current_token": rotated}))
        .await
        .ok()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    expect_code(
        &client,
        "get_messages",
        json!({"session_id": s1, "auth_token": rotated}),
        "TOKEN_AUTHENTICATION_FAILED",
    )
    .await;
    call(
        &client,
        "get_messages",
        json!({"session_id": s1, "auth_token": fresh}),
    )
    .await
    .ok();
    expect_code(
        &client,
        "revoke_token",
        json!({"token": fresh, "auth_token": bob}),
        "PERMISSION_DENIED",
    )
    .await;

    expect_code(
        &client,
        "create_session",
        json!({"purpose": "x", "auth_token": reader}),
        "PERMISSION_DENIED",
    )
    .await;
    expect_code(
        &client,
        "create_session",
        json!({"purpose": "   ", "auth_token": alice}),
        "INVALID_INPUT",
    )
    .await;
    expect_code(
        &client,
        "create_session",
        json!({"purpose": "x", "metadata": "str", "auth_token": alice}),
        "INVALID_METADATA_FORMAT",
    )
    .await;
    expect_code(
        &client,
        "close_session",
        json!({"session_id": s1, "auth_token": bob}),
        "PERMISSION_DENIED",
    )
    .await;
    expect_code(
        &client,
        "get_messages",
        json!({"session_id": s1, "visibility_filter": "everything"}),
        "INVALID_VISIBILITY",
    )
    .await;
    expect_code(
        &client,
        "get_messages",
        json!({"session_id": s1, "limit": 0}),
        "INVALID_LIMIT",
    )
    .await;
    expect_code(
        &client,
        "get_messages",
        json!({"session_id": s1, "limit": 1001}),
        "INVALID_LIMIT",
    )
    .await;
    expect_code(
        &client,
        "get_messages",
        json!({"session_id": s1, "offset": -1}),
        "INVALID_INPUT",
    )
    .await;
    expect_code(
        &client,
        "get_messages",
        json!({"session_id": s1, "offset": 5, "after_id": 1}),
        "INVALID_INPUT",
    )
    .await;
    // Deep offsets are capped (a keyset, after_id, pages any depth); the cap itself is allowed.
    expect_code(
        &client,
        "get_messages",
        json!({"session_id": s1, "offset": 10_001}),
        "INVALID_INPUT",
    )
    .await;
    let page = call(
        &client,
        "get_messages",
        json!({"session_id": s1, "offset": 10_000}),
    )
    .await
    .ok();
    assert_eq!(page["messages"], json!([]));
    expect_code(
        &client,
        "get_messages",
        json!({"session_id": "session_ffffffffffffffff"}),
        "SESSION_NOT_FOUND",
    )
    .await;
    expect_code(
        &client,
        "get_session",
        json!({"session_id": "session_ffffffffffffffff"}),
        "SESSION_NOT_FOUND",
    )
    .await;
    expect_code(
        &client,
        "list_sessions",
        json!({"limit": 500}),
        "INVALID_LIMIT",
    )
    .await;
    expect_code(
        &client,
        "list_sessions",
        json!({"cursor": "abc"}),
        "INVALID_INPUT",
    )
    .await;
    expect_code(
        &client,
        "authenticate_agent",
        json!({"agent_id": "x", "agent_type": "claude", "api_key": "wrong-key-wrong-key"}),
        "AUTH_FAILED",
    )
    .await;
    expect_code(
        &client,
        "authenticate_agent",
        json!({"agent_id": "x", "agent_type": "admin", "requested_permissions": ["admin"]}),
        "PERMISSION_DENIED",
    )
    .await;
    expect_code(
        &client,
        "authenticate_agent",
        json!({"agent_id": "", "agent_type": "claude"}),
        "INVALID_INPUT",
    )
    .await;
    expect_code(
        &client,
        "authenticate_agent",
        json!({"agent_id": "x", "agent_type": "claude", "requested_permissions": ["root"]}),
        "INVALID_INPUT",
    )
    .await;

    let after = snapshot(&client, &admin, &[&s1, &s2, &closed]).await;
    assert_eq!(before, after, "a rejected call changed the data");

    // Wrong argument types are protocol errors (invalid params), not tool results.
    let params = rmcp::model::CallToolRequestParams::new("get_messages").with_arguments(
        json!({"session_id": s1, "limit": "ten"})
            .as_object()
            .unwrap()
            .clone(),
    );
    match client.call_tool(params).await {
        Err(_) => {}
        Ok(result) => {
            assert_eq!(
                result.is_error,
                Some(true),
                "a string limit must be rejected: {result:?}"
            );
            let text = result
                .content
                .first()
                .and_then(|c| c.as_text())
                .map(|t| t.text.clone())
                .unwrap_or_default();
            assert!(
                text.contains("limit") || text.contains("invalid"),
                "the error should name the argument: {text}"
            );
        }
    }
}

/// SQL-looking text and LIKE wildcards are data: stored and returned verbatim, and matched
/// literally by search and memory prefixes.
async fn sql_and_wildcards_are_verbatim(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let client = server.client().await;
    let alice = login(&client, "alice", "claude", false).await;
    let nasty = [
        "'; DROP TABLE messages; --",
        "\" OR 1=1 --",
        "100% done_with _underscores_ and \\backslashes\\",
        "%",
        "_",
        "$1 $2 ?1 :name",
        "ünïcödé 🚀 \u{202e}rtl",
    ];
    let sid = call(
        &client,
        "create_session",
        json!({"purpose": nasty[0], "metadata": {"k": nasty[1]}, "auth_token": alice}),
    )
    .await
    .ok()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for text in nasty {
        call(&client, "add_message", json!({"session_id": sid, "content": text, "metadata": {"q": text}, "auth_token": alice})).await.ok();
    }
    let read = call(
        &client,
        "get_messages",
        json!({"session_id": sid, "auth_token": alice}),
    )
    .await
    .ok();
    let contents: Vec<&str> = read["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, nasty.to_vec(), "stored and returned verbatim");
    assert_eq!(read["messages"][1]["metadata"]["q"], json!(nasty[1]));
    let session = call(
        &client,
        "get_session",
        json!({"session_id": sid, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(session["session"]["purpose"], json!(nasty[0]));
    // A lone % or _ must not act as a wildcard.
    let hits = call(
        &client,
        "search_context",
        json!({"session_id": sid, "query": "%", "fuzzy_threshold": 100, "auth_token": alice}),
    )
    .await
    .ok();
    for r in hits["results"].as_array().unwrap() {
        assert!(
            r["message"]["content"].as_str().unwrap().contains('%'),
            "'%' matched {}",
            r["message"]["content"]
        );
    }
    call(
        &client,
        "set_memory",
        json!({"key": "a%b", "value": 1, "auth_token": alice}),
    )
    .await
    .ok();
    call(
        &client,
        "set_memory",
        json!({"key": "axb", "value": 2, "auth_token": alice}),
    )
    .await
    .ok();
    let listed = call(
        &client,
        "list_memory",
        json!({"prefix": "a%", "auth_token": alice}),
    )
    .await
    .ok();
    let keys: Vec<&str> = listed["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, vec!["a%b"]);
}

contract!(bad_input, sql_and_wildcards_are_verbatim,);
