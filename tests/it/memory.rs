//! Agent memory over real clients on both backends: exact round trips, isolation, scopes, literal
//! prefixes, stable paging, every bad input, TTL expiry, and the sweeper proven in the database.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::Connection as _;

use crate::support::*;

fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}")))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

async fn expect_code(client: &Client, tool: &str, args: Value, code: &str) {
    let reply = call(client, tool, args.clone()).await;
    let mut shown = args.to_string();
    shown.truncate(200);
    assert_eq!(reply.err_code(), code, "{tool}({shown}) → {}", reply.body);
    assert!(
        reply.body["suggestions"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{code} should say what to do next: {}",
        reply.body
    );
}

async fn listed(client: &Client, token: &str, args: Value) -> Vec<(String, Option<String>)> {
    let body = call(
        client,
        "list_memory",
        with(json!({"auth_token": token, "limit": 200}), args),
    )
    .await
    .ok();
    body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().to_owned(),
                e["session_id"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// Every memory row in the database as text: (agent, scope, key, value, updated_at, expires_at).
async fn dump(db: &TestDb) -> Vec<(String, String, String, String, String, Option<String>)> {
    match db.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::sqlite::SqliteConnection::connect(&db.url)
                .await
                .expect("open sqlite");
            sqlx::query_as("SELECT agent_id, scope, key, value, updated_at, expires_at FROM agent_memory ORDER BY agent_id, scope, key")
                .fetch_all(&mut conn).await.expect("dump")
        }
        Backend::Postgres => {
            let mut conn = sqlx::postgres::PgConnection::connect(&db.url)
                .await
                .expect("open postgres");
            sqlx::query_as("SELECT agent_id, scope, key, value::text, updated_at::text, expires_at::text FROM shared_context.agent_memory ORDER BY agent_id, scope, key")
                .fetch_all(&mut conn).await.expect("dump")
        }
    }
}

async fn rows_of(db: &TestDb, agent: &str) -> Vec<String> {
    dump(db)
        .await
        .into_iter()
        .filter(|r| r.0 == agent)
        .map(|r| r.2)
        .collect()
}

/// Inserts `n` global entries for `agent` that expired an hour ago, keys `{prefix}1..n`.
async fn insert_expired(db: &TestDb, agent: &str, prefix: &str, n: u32) {
    let created = shared_context_server::util::rfc3339(Utc::now() - chrono::Duration::hours(2));
    let expired = shared_context_server::util::rfc3339(Utc::now() - chrono::Duration::hours(1));
    let sqlite = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) \
         INSERT INTO agent_memory (agent_id, session_id, key, value, value_size, metadata, created_at, updated_at, expires_at) \
         SELECT '{agent}', NULL, '{prefix}' || i, '\"stale\"', 7, '{{}}', '{created}', '{created}', '{expired}' FROM n"
    );
    let postgres = format!(
        "INSERT INTO shared_context.agent_memory (agent_id, session_id, key, value, value_size, metadata, created_at, updated_at, expires_at) \
         SELECT '{agent}', NULL, '{prefix}' || i, '\"stale\"'::jsonb, 7, '{{}}'::jsonb, now() - interval '2 hours', now() - interval '2 hours', now() - interval '1 hour' \
         FROM generate_series(1, {n}) AS i"
    );
    assert_eq!(db_exec(db, &sqlite, &postgres).await, u64::from(n));
}

async fn create_session(client: &Client, token: &str) -> String {
    call(
        client,
        "create_session",
        json!({"purpose": "memory", "auth_token": token}),
    )
    .await
    .ok()["session_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn memory_round_trip(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let client = server.client().await;
    let alice = login(&client, "alice", "claude", false).await;
    let bob = login(&client, "bob", "gemini", false).await;
    let sid = create_session(&client, &alice).await;

    // Every kind of JSON value comes back exactly as it went in, with its metadata and size.
    let values = [
        json!({"a": 1, "nested": {"b": [1, 2, {"c": null}]}, "z": "last"}),
        json!([1, "two", 3.5, false, null, [], {}]),
        json!("plain string"),
        json!(""),
        json!(42),
        json!(-7),
        json!(3.25),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(1e300),
        json!(true),
        json!(false),
        json!(null),
        json!({}),
        json!([]),
        json!("ünïcode ✓ \"quotes\" \\ back\nslash \u{1F600} %_"),
    ];
    for (i, value) in values.iter().enumerate() {
        let key = format!("v/{i}");
        let set = call(
            &client,
            "set_memory",
            json!({"key": key, "value": value, "metadata": {"i": i}, "auth_token": alice}),
        )
        .await
        .ok();
        assert_eq!(
            (
                set["key"].as_str(),
                set["scope"].as_str(),
                &set["session_scoped"],
                &set["expires_at"]
            ),
            (
                Some(key.as_str()),
                Some("global"),
                &json!(false),
                &Value::Null
            ),
            "{set}"
        );
        time(&set["stored_at"]);
        let got = call(
            &client,
            "get_memory",
            json!({"key": key, "auth_token": alice}),
        )
        .await
        .ok();
        assert_eq!(&got["value"], value, "{key} did not round-trip: {got}");
        assert_eq!(got["metadata"], json!({"i": i}));
        assert_eq!(
            got["value_size"],
            json!(value.to_string().len()),
            "value_size is the JSON byte length"
        );
        assert_eq!(
            (
                got["scope"].as_str(),
                &got["expires_at"],
                &got["session_id"]
            ),
            (Some("global"), &Value::Null, &Value::Null)
        );
        assert_eq!(time(&got["created_at"]), time(&got["updated_at"]));
    }

    // Overwriting keeps created_at; a numeric string TTL is accepted; 0 means permanent.
    let first = call(
        &client,
        "get_memory",
        json!({"key": "v/0", "auth_token": alice}),
    )
    .await
    .ok();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let set = call(
        &client,
        "set_memory",
        json!({"key": "  v/0 ", "value": "replaced", "expires_in": "3600", "auth_token": alice}),
    )
    .await
    .ok();
    let expires = time(&set["expires_at"]) - time(&set["stored_at"]);
    assert_eq!(expires.num_seconds(), 3600, "{set}");
    let got = call(
        &client,
        "get_memory",
        json!({"key": "v/0", "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(
        (&got["value"], &got["metadata"], &got["created_at"]),
        (&json!("replaced"), &json!({}), &first["created_at"]),
        "{got}"
    );
    assert!(time(&got["updated_at"]) > time(&first["updated_at"]));
    let set = call(
        &client,
        "set_memory",
        json!({"key": "v/0", "value": 1, "expires_in": 0, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(
        set["expires_at"],
        Value::Null,
        "expires_in 0 keeps the entry: {set}"
    );

    // Two agents, one key: separate values; neither can read, list or delete the other's.
    call(
        &client,
        "set_memory",
        json!({"key": "shared", "value": "alice's", "auth_token": alice}),
    )
    .await
    .ok();
    call(
        &client,
        "set_memory",
        json!({"key": "shared", "value": "bob's", "auth_token": bob}),
    )
    .await
    .ok();
    assert_eq!(
        call(
            &client,
            "get_memory",
            json!({"key": "shared", "auth_token": alice})
        )
        .await
        .ok()["value"],
        "alice's"
    );
    assert_eq!(
        call(
            &client,
            "get_memory",
            json!({"key": "shared", "auth_token": bob})
        )
        .await
        .ok()["value"],
        "bob's"
    );
    expect_code(
        &client,
        "get_memory",
        json!({"key": "v/1", "auth_token": bob}),
        "MEMORY_NOT_FOUND",
    )
    .await;
    expect_code(
        &client,
        "delete_memory",
        json!({"key": "v/1", "auth_token": bob}),
        "MEMORY_NOT_FOUND",
    )
    .await;
    assert_eq!(
        listed(&client, &bob, json!({"session_id": "all"})).await,
        vec![("shared".to_owned(), None)]
    );
    assert_eq!(
        call(
            &client,
            "get_memory",
            json!({"key": "v/1", "auth_token": alice})
        )
        .await
        .ok()["value"],
        values[1]
    );

    // Session scope and global scope are separate entries; "null" means global.
    call(
        &client,
        "set_memory",
        json!({"key": "scoped", "value": "in session", "session_id": sid, "auth_token": alice}),
    )
    .await
    .ok();
    call(
        &client,
        "set_memory",
        json!({"key": "scoped", "value": "global", "session_id": "null", "auth_token": alice}),
    )
    .await
    .ok();
    let in_session = call(
        &client,
        "get_memory",
        json!({"key": "scoped", "session_id": sid, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(
        (
            &in_session["value"],
            in_session["scope"].as_str(),
            in_session["session_id"].as_str()
        ),
        (&json!("in session"), Some("session"), Some(sid.as_str()))
    );
    assert_eq!(
        call(
            &client,
            "get_memory",
            json!({"key": "scoped", "auth_token": alice})
        )
        .await
        .ok()["value"],
        "global"
    );
    expect_code(
        &client,
        "get_memory",
        json!({"key": "v/1", "session_id": sid, "auth_token": alice}),
        "MEMORY_NOT_FOUND",
    )
    .await;
    assert_eq!(
        listed(&client, &alice, json!({"session_id": sid})).await,
        vec![("scoped".to_owned(), Some(sid.clone()))]
    );
    let global = listed(&client, &alice, json!({})).await;
    assert!(
        global.iter().all(|(_, s)| s.is_none()) && global.contains(&("scoped".to_owned(), None)),
        "{global:?}"
    );
    let all = listed(
        &client,
        &alice,
        json!({"session_id": "all", "prefix": "scoped"}),
    )
    .await;
    assert_eq!(
        all,
        vec![
            ("scoped".to_owned(), None),
            ("scoped".to_owned(), Some(sid.clone()))
        ],
        "global first for one key"
    );
    let body = call(
        &client,
        "list_memory",
        json!({"session_id": "all", "prefix": "scoped", "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(
        (
            body["count"].as_i64(),
            body["scope_filter"].as_str(),
            &body["next_cursor"]
        ),
        (Some(2), Some("all"), &Value::Null)
    );
    let entry = &body["entries"][1];
    assert_eq!(
        (
            entry["scope"].as_str(),
            entry["value_size"].as_i64(),
            entry.get("value")
        ),
        (Some("session"), Some(12), None),
        "{entry}"
    );
    time(&entry["created_at"]);
    time(&entry["updated_at"]);

    // Prefixes are literal: % and _ are ordinary characters.
    for key in ["p%x", "p_x", "pax", "p%", "pzz", "P%x"] {
        call(
            &client,
            "set_memory",
            json!({"key": key, "value": key, "auth_token": alice}),
        )
        .await
        .ok();
    }
    let keys = |v: Vec<(String, Option<String>)>| v.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    assert_eq!(
        keys(listed(&client, &alice, json!({"prefix": "p%"})).await),
        ["p%", "p%x"]
    );
    assert_eq!(
        keys(listed(&client, &alice, json!({"prefix": "p_"})).await),
        ["p_x"]
    );
    assert_eq!(
        keys(listed(&client, &alice, json!({"prefix": "pa"})).await),
        ["pax"]
    );

    // Paging: stable order (key, then scope), no duplicates or gaps, whatever the page size.
    for i in 0..7 {
        call(
            &client,
            "set_memory",
            json!({"key": format!("page/{i}"), "value": i, "auth_token": alice}),
        )
        .await
        .ok();
        if i % 2 == 0 {
            call(&client, "set_memory", json!({"key": format!("page/{i}"), "value": i, "session_id": sid, "auth_token": alice})).await.ok();
        }
    }
    let everything = listed(
        &client,
        &alice,
        json!({"session_id": "all", "prefix": "page/"}),
    )
    .await;
    assert_eq!(everything.len(), 11);
    let mut sorted = everything.clone();
    sorted.sort_by(|a, b| {
        (&a.0, a.1.as_deref().unwrap_or("")).cmp(&(&b.0, b.1.as_deref().unwrap_or("")))
    });
    assert_eq!(everything, sorted);
    for size in [1, 3, 4, 11] {
        let mut pages = Vec::new();
        let mut cursor = Value::Null;
        loop {
            let body = call(&client, "list_memory", json!({"session_id": "all", "prefix": "page/", "limit": size, "cursor": cursor, "auth_token": alice})).await.ok();
            let entries = body["entries"].as_array().unwrap();
            assert!(entries.len() <= size);
            pages.extend(entries.iter().map(|e| {
                (
                    e["key"].as_str().unwrap().to_owned(),
                    e["session_id"].as_str().map(str::to_owned),
                )
            }));
            cursor = body["next_cursor"].clone();
            if cursor.is_null() {
                break;
            }
        }
        assert_eq!(pages, everything, "page size {size}");
    }

    // Delete removes one entry in one scope.
    let deleted = call(
        &client,
        "delete_memory",
        json!({"key": "scoped", "session_id": sid, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(
        (&deleted["deleted"], deleted["scope"].as_str()),
        (&json!(true), Some("session"))
    );
    expect_code(
        &client,
        "get_memory",
        json!({"key": "scoped", "session_id": sid, "auth_token": alice}),
        "MEMORY_NOT_FOUND",
    )
    .await;
    expect_code(
        &client,
        "delete_memory",
        json!({"key": "scoped", "session_id": sid, "auth_token": alice}),
        "MEMORY_NOT_FOUND",
    )
    .await;
    assert_eq!(
        call(
            &client,
            "get_memory",
            json!({"key": "scoped", "auth_token": alice})
        )
        .await
        .ok()["value"],
        "global"
    );
    assert_eq!(
        call(
            &client,
            "get_memory",
            json!({"key": "shared", "auth_token": bob})
        )
        .await
        .ok()["value"],
        "bob's"
    );

    // The same memory over stdio (a second process on the same database).
    let stdio = stdio_client(&db).await;
    let token = login(&stdio, "alice", "claude", false).await;
    assert_eq!(
        call(
            &stdio,
            "get_memory",
            json!({"key": "v/1", "auth_token": token})
        )
        .await
        .ok()["value"],
        values[1]
    );
    call(
        &stdio,
        "set_memory",
        json!({"key": "from-stdio", "value": [1], "auth_token": token}),
    )
    .await
    .ok();
    assert_eq!(
        call(
            &client,
            "get_memory",
            json!({"key": "from-stdio", "auth_token": alice})
        )
        .await
        .ok()["value"],
        json!([1])
    );
    stdio.cancel().await.ok();
}

async fn memory_bad_input(backend: Backend) {
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

/// TTLs in process on a manual clock (no waiting for an entry to expire), then the binary's
/// sweeper, configured by `MEMORY_SWEEP_INTERVAL_SECONDS`, clearing a backlog.
async fn memory_expiry_and_sweeper(backend: Backend) {
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
    db_exec(&db, "UPDATE agent_memory SET expires_at = '2000-01-01T00:00:00.000000Z' WHERE key = 'guarded'",
        "UPDATE shared_context.agent_memory SET expires_at = now() - interval '1 second' WHERE key = 'guarded'").await;
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
            ("RUST_LOG", "warn,shared_context_server=debug"),
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

contract!(
    memory_round_trip,
    memory_bad_input,
    memory_expiry_and_sweeper,
);
