//! The memory tools end to end: exact round trips of every JSON value, overwrite and TTL forms,
//! isolation between agents, session and global scopes, literal prefixes, stable paging, delete,
//! and the same memory over stdio.

use super::*;

pub(super) async fn memory_round_trip(backend: Backend) {
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
