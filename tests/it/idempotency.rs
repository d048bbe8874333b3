//! Safe retries through real clients on both backends: an `idempotency_key` replays the first
//! response and writes nothing, other arguments under the same key conflict, keys are per agent,
//! expire and are swept, errors are never remembered, concurrent identical calls write once, and
//! two server processes on one database agree.
//! The storage side (a keyed write does exactly what the plain write does) is in
//! `storage_contract/idempotency.rs`.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};

use crate::support::*;

fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

/// One tool call: (is_error, structuredContent, content[0].text).
async fn raw(client: &Client, tool: &str, args: Value) -> (bool, Value, String) {
    let params = CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().cloned().unwrap());
    let result = client
        .call_tool(params)
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    let text = result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default();
    (
        result.is_error.unwrap_or(false),
        result.structured_content.clone().unwrap_or(Value::Null),
        text,
    )
}

/// A successful call's body, and its text form (which must be the same object).
async fn ok(client: &Client, tool: &str, args: Value) -> (Value, String) {
    let (is_error, body, text) = raw(client, tool, args).await;
    assert!(
        !is_error && body["success"] == json!(true),
        "{tool} failed: {body}"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        body,
        "text and structured content differ"
    );
    (body, text)
}

async fn expect_code(client: &Client, tool: &str, args: Value, code: &str) -> Value {
    let reply = call(client, tool, args.clone()).await;
    assert_eq!(reply.err_code(), code, "{tool}({args}) → {}", reply.body);
    assert!(
        reply.body["suggestions"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{}",
        reply.body
    );
    reply.body
}

async fn audits(db: &TestDb, event: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM audit_log WHERE event = '{event}'");
    db_scalar(
        db,
        &sql,
        &sql.replace("FROM audit_log", "FROM shared_context.audit_log"),
    )
    .await
}

async fn new_session(client: &Client, token: &str) -> String {
    call(
        client,
        "create_session",
        json!({"purpose": "retries", "auth_token": token}),
    )
    .await
    .ok()["session_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A tools/call with hand-written JSON arguments, on a stateless server: key order and spacing
/// as the caller wrote them.
async fn raw_http(server: &HttpServer, tool: &str, arguments: &str) -> Value {
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{{"name":"{tool}","arguments":{arguments}}}}}"#
    );
    let resp = reqwest::Client::new()
        .post(server.mcp_url())
        .header("x-api-key", API_KEY)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let reply: Value = resp.json().await.unwrap();
    reply["result"]["structuredContent"].clone()
}

async fn idempotency_replay_and_conflict(backend: Backend) {
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

async fn idempotency_memory_and_close(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let client = server.client().await;
    let alice = login(&client, "alice", "claude", false).await;
    let sid = new_session(&client, &alice).await;

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
    let other = new_session(&client, &alice).await;
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
        ]
        .contains(&tool.name.as_ref());
        assert_eq!(has_key, writes, "{} idempotency_key", tool.name);
        if writes {
            let described = tool.description.as_deref().unwrap_or_default();
            assert!(
                described.contains("retry") && described.contains("idempotency_key"),
                "{}: {described}",
                tool.name
            );
            assert_eq!(
                tool.input_schema["properties"]["idempotency_key"]["type"],
                json!("string"),
                "{}",
                tool.name
            );
        }
    }
}

/// The binary applies `IDEMPOTENCY_TTL_SECONDS` to the keys it stores; then, in process on a
/// manual clock, time moves past a 2 s TTL without waiting for it, and the sweeper runs every
/// 100 ms.
async fn idempotency_expiry_and_sweeper(backend: Backend) {
    const TTL: Duration = Duration::from_secs(2);
    let db = TestDb::new(backend).await;
    {
        let server = HttpServer::start(&db, &[("IDEMPOTENCY_TTL_SECONDS", "7")]).await;
        let client = server.client().await;
        let bob = login(&client, "bob", "claude", false).await;
        let sid = new_session(&client, &bob).await;
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
    let sid = new_session(&client, &alice).await;

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

async fn idempotency_concurrent_identical_calls(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(Arc::new(server.client().await));
    }
    let alice = login(&clients[0], "alice", "claude", false).await;
    let sid = new_session(&clients[0], &alice).await;
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
async fn idempotency_two_processes(backend: Backend) {
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
    let sid = new_session(&on_a, &alice).await;

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

contract!(
    idempotency_replay_and_conflict,
    idempotency_memory_and_close,
    idempotency_expiry_and_sweeper,
    idempotency_concurrent_identical_calls,
    idempotency_two_processes,
);
