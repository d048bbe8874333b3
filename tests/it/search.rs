//! search_context, search_by_sender and search_by_timerange through a real MCP client on both
//! backends: a shared corpus with expected hits (typos, partial words, metadata-only words, an old
//! message behind 2,100 newer ones, found only through the index, identical contents), the same answers on SQLite and
//! PostgreSQL, the visibility matrix for every reader kind, and the input errors.

use futures_util::{StreamExt, stream};
use serde_json::{Value, json};
use shared_context_server::domain::{SessionId, Visibility};
use shared_context_server::storage::{InsertOutcome, NewMessage};

use crate::support::*;

/// (content, metadata) of the shared corpus, posted in this order by alice, publicly.
fn corpus() -> Vec<(String, Value)> {
    let mut c: Vec<(String, Value)> = [
        (
            "The database index on orders is missing, so every query scans the whole table.",
            json!({"topic": "db"}),
        ),
        (
            "Postgres database migrations run at startup and take two seconds.",
            json!({"topic": "db"}),
        ),
        (
            "Connection pool exhausted under load; raised the pool size to 40.",
            json!({"topic": "perf"}),
        ),
        (
            "Token refresh fails after expiry: the cache keeps the revoked token.",
            json!({"topic": "auth"}),
        ),
        (
            "Reviewed the payment flow; details are in the ticket.",
            json!({"component": "zanzibar-gateway"}),
        ),
        ("Deploy finished without errors.", json!({})),
        ("Deploy finished without errors.", json!({})),
        ("Deploy finished without errors.", json!({"env": "staging"})),
        ("db ok", json!({})),
        (
            "Kubernetes pods restart every hour because the liveness probe times out.",
            json!({"topic": "infra"}),
        ),
        (
            "The flamegraph shows most time in JSON serialisation of large responses.",
            json!({"topic": "perf"}),
        ),
        (
            "Frontend build is broken on Node 22; pinned Node 20 for now.",
            json!({"topic": "ui", "urgent": true}),
        ),
        (
            "Refund emails go out twice when the webhook retries.",
            json!({"topic": "billing", "ticket": 4242}),
        ),
    ]
    .into_iter()
    .map(|(t, m)| (t.to_owned(), m))
    .collect();
    let topics = [
        "cache",
        "router",
        "scheduler",
        "parser",
        "exporter",
        "allocator",
        "tracing",
        "config",
    ];
    for (i, topic) in topics.iter().cycle().take(46).enumerate() {
        c.push((
            format!("Note {i}: the {topic} change is merged and the follow-up is tracked."),
            json!({"n": i}),
        ));
    }
    let long = format!(
        "{} The checksum mismatch happens only on ARM builds. {}",
        "padding words ".repeat(700),
        "tail ".repeat(700)
    );
    c.push((long, json!({"topic": "build"})));
    c
}

/// Queries whose answers both backends must agree on, with the checks each must pass.
const QUERIES: [&str; 12] = [
    "databse",
    "database index",
    "zanzibar",
    "quasar telemetry",
    "quasr telemetri",
    "deploy finished",
    "db",
    "POSTGRES",
    "kubernets pods",
    "refund 4242",
    "checksum mismatch",
    "alice",
];

struct Setup {
    _db: TestDb,
    _server: HttpServer,
    client: Client,
    sid: String,
    alice: String,
}

/// A session with the old needle, 2,100 newer filler messages, then the corpus. The needle lies
/// outside the 2,000 newest messages a search scans first, so only the index fallback finds it.
///
/// On PostgreSQL the server gets a pool of one connection: a search that held a connection while
/// taking another (the needle's search reads the recent window, then the whole session) would
/// wait for itself and fail after the 5 s pool timeout, where a full pool in production would
/// starve.
async fn setup(backend: Backend) -> Setup {
    let db = TestDb::new(backend).await;
    let one_connection = [
        ("POSTGRES_POOL_SIZE", "1"),
        ("POSTGRES_MAX_OVERFLOW", "0"),
        ("POSTGRES_POOL_TIMEOUT", "5"),
    ];
    let server = HttpServer::start(&db, &one_connection).await;
    let client = server.client().await;
    let alice = login(&client, "alice", "claude", false).await;
    let sid = new_session(&client, &alice, "search corpus").await;
    let post = |content: String, metadata: Value| {
        let args = json!({"session_id": sid, "content": content, "metadata": metadata, "auth_token": alice});
        let client = &client;
        async move { call(client, "add_message", args).await.ok() }
    };
    post(
        "Quasar telemetry pipeline drops spans under load.".into(),
        json!({"topic": "observability"}),
    )
    .await;
    // The filler goes straight through the storage layer (2,100 MCP calls are slow in debug
    // builds), eight writes at a time.
    let store = db.store(2).await;
    let filler = |i: usize| NewMessage {
        session_id: SessionId::parse(&sid).unwrap(),
        sender: "filler-bot".into(),
        sender_type: "claude".into(),
        content: format!("filler note {i}: routine heartbeat ok"),
        visibility: Visibility::Public,
        metadata: serde_json::Map::new(),
        parent_message_id: None,
        at: shared_context_server::util::now(),
        to: Vec::new(),
    };
    let store_ref = &store;
    let inserted: Vec<_> = stream::iter(0..2_100)
        .map(|i| async move { store_ref.add_message(&filler(i)).await.expect("insert") })
        .buffer_unordered(8)
        .collect()
        .await;
    assert!(
        inserted
            .iter()
            .all(|o| matches!(o, InsertOutcome::Inserted(_)))
    );
    store.close().await;
    for (content, metadata) in corpus() {
        post(content, metadata).await;
    }
    Setup {
        _db: db,
        _server: server,
        client,
        sid,
        alice,
    }
}

async fn search(s: &Setup, args: Value) -> Value {
    let mut args = args;
    args["session_id"] = json!(s.sid);
    args["auth_token"] = json!(s.alice);
    call(&s.client, "search_context", args).await.ok()
}

fn contents(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message"]["content"].as_str().unwrap().to_owned())
        .collect()
}

/// Runs the corpus checks; returns, per query, (content, score, relevance) of every result.
async fn search_context_corpus(backend: Backend) -> Vec<Vec<(String, f64, String)>> {
    let s = setup(backend).await;
    let typo = search(&s, json!({"query": "databse"})).await;
    let top: Vec<&Value> = typo["results"].as_array().unwrap().iter().take(2).collect();
    for r in &top {
        assert!(
            r["message"]["content"]
                .as_str()
                .unwrap()
                .contains("database"),
            "{backend:?}: {typo}"
        );
        assert_eq!(r["score"], json!(85.71));
        assert_eq!(r["relevance"], json!("high"));
    }
    assert_eq!(typo["query"], json!("databse"));
    assert_eq!(typo["threshold"], json!(60.0));
    assert_eq!(typo["search_scope"], json!("all"));
    assert_eq!(
        typo["message_count"],
        json!(typo["results"].as_array().unwrap().len())
    );
    assert!(typo["search_time_ms"].as_f64().is_some());

    let exact = search(&s, json!({"query": "database index"})).await;
    assert!(
        contents(&exact)[0].starts_with("The database index"),
        "{backend:?}: {exact}"
    );
    assert_eq!(exact["results"][0]["score"], json!(100.0));

    let meta = search(&s, json!({"query": "zanzibar"})).await;
    assert!(
        contents(&meta)[0].starts_with("Reviewed the payment flow"),
        "{backend:?}: {meta}"
    );
    let no_meta = search(&s, json!({"query": "zanzibar", "search_metadata": false})).await;
    assert!(
        !contents(&no_meta).iter().any(|c| c.starts_with("Reviewed")),
        "{backend:?}: metadata searched: {no_meta}"
    );

    for q in ["quasar telemetry", "quasr telemetri"] {
        let old = search(&s, json!({"query": q})).await;
        assert!(
            contents(&old)[0].starts_with("Quasar telemetry"),
            "{backend:?}: old message missed for {q}: {old}"
        );
    }

    let dup = search(&s, json!({"query": "deploy finished", "limit": 5})).await;
    let ids: Vec<i64> = dup["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        3,
        "{backend:?}: identical contents must be distinct results: {dup}"
    );
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "ties rank newest first: {ids:?}"
    );

    assert_eq!(
        contents(&search(&s, json!({"query": "db"})).await)[0],
        "db ok"
    );
    assert!(contents(&search(&s, json!({"query": "POSTGRES"})).await)[0].starts_with("Postgres"));
    assert!(
        contents(&search(&s, json!({"query": "kubernets pods"})).await)[0]
            .starts_with("Kubernetes")
    );
    assert!(contents(&search(&s, json!({"query": "refund 4242"})).await)[0].starts_with("Refund"));

    let deep = search(&s, json!({"query": "checksum mismatch"})).await;
    let preview = deep["results"][0]["match_preview"].as_str().unwrap();
    assert!(
        preview.contains("checksum mismatch") && preview.starts_with("..."),
        "{backend:?}: {preview}"
    );

    // The sender id is not searchable text: no message mentions alice.
    let by_name = search(&s, json!({"query": "alice", "fuzzy_threshold": 80})).await;
    assert_eq!(by_name["results"], json!([]), "{backend:?}: {by_name}");

    let capped = search(&s, json!({"query": "note", "limit": 3})).await;
    assert_eq!(capped["results"].as_array().unwrap().len(), 3);

    let mut signature = Vec::new();
    for q in QUERIES {
        let body = search(&s, json!({"query": q, "limit": 20})).await;
        signature.push(
            body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["message"]["content"].as_str().unwrap().to_owned(),
                        r["score"].as_f64().unwrap(),
                        r["relevance"].as_str().unwrap().to_owned(),
                    )
                })
                .collect(),
        );
    }
    signature
}

#[tokio::test]
async fn search_context_same_results_on_both_backends() {
    let (lite, pg) = tokio::join!(
        search_context_corpus(Backend::Sqlite),
        search_context_corpus(Backend::Postgres)
    );
    for (i, q) in QUERIES.iter().enumerate() {
        assert_eq!(
            lite[i], pg[i],
            "query {q:?} differs between SQLite and PostgreSQL"
        );
    }
}

/// A reader kind, its token, what it may read, and its own private messages.
type Reader<'a> = (&'a str, Option<&'a String>, Vec<&'a str>, Vec<&'a str>);

/// Every reader kind against messages of every visibility, on all three search tools.
async fn search_visibility_matrix(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let client = server.client().await;
    let alice = login(&client, "alice", "claude", false).await;
    let bob = login(&client, "bob", "claude", false).await;
    let carol = login(&client, "carol", "gemini", false).await;
    let root = login(&client, "root", "admin", true).await;
    let ops = login(&client, "ops", "system", true).await;
    let sid = new_session(&client, &alice, "leaks").await;
    let posts = [
        (&alice, "public", "zebra public note"),
        (&alice, "private", "zebra private note of alice"),
        (&alice, "agent_only", "zebra agent note"),
        (&root, "admin_only", "zebra admin note"),
        (&bob, "private", "zebra private note of bob"),
    ];
    for (token, vis, content) in posts {
        call(
            &client,
            "add_message",
            json!({"session_id": sid, "content": content, "visibility": vis, "auth_token": token}),
        )
        .await
        .ok();
    }
    let public = ["zebra public note"];
    let readers: [Reader<'_>; 5] = [
        (
            "sender",
            Some(&alice),
            vec![
                "zebra public note",
                "zebra private note of alice",
                "zebra agent note",
            ],
            vec!["zebra private note of alice"],
        ),
        (
            "same_type",
            Some(&bob),
            vec![
                "zebra public note",
                "zebra agent note",
                "zebra private note of bob",
            ],
            vec!["zebra private note of bob"],
        ),
        ("other_type", Some(&carol), public.to_vec(), vec![]),
        (
            "admin",
            Some(&ops),
            posts.iter().map(|p| p.2).collect(),
            vec![],
        ),
        ("anonymous", None, public.to_vec(), vec![]),
    ];
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let texts = |list: &Value| {
        sorted(
            list.as_array()
                .unwrap()
                .iter()
                .map(|m| m["content"].as_str().unwrap().to_owned())
                .collect(),
        )
    };
    let want = |v: &Vec<&str>| sorted(v.iter().map(|s| s.to_string()).collect());
    for (kind, token, all, private) in readers {
        let with = |mut args: Value| {
            args["session_id"] = json!(sid);
            if let Some(t) = token {
                args["auth_token"] = json!(t);
            }
            args
        };
        for (scope, expected) in [
            ("all", &all),
            ("public", &public.to_vec()),
            ("private", &private),
        ] {
            let body = call(
                &client,
                "search_context",
                with(json!({"query": "zebra", "search_scope": scope, "limit": 50})),
            )
            .await
            .ok();
            let got: Vec<Value> = body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["message"].clone())
                .collect();
            assert_eq!(
                texts(&json!(got)),
                want(expected),
                "{backend:?}: search_context scope={scope} by {kind}"
            );
        }
        let range = call(
            &client,
            "search_by_timerange",
            with(json!({"start_time": "2000-01-01", "end_time": "2999-12-31"})),
        )
        .await
        .ok();
        assert_eq!(
            texts(&range["messages"]),
            want(&all),
            "{backend:?}: search_by_timerange by {kind}"
        );
        let mut from_senders = Vec::new();
        for sender in ["alice", "bob", "root"] {
            let body = call(&client, "search_by_sender", with(json!({"sender": sender})))
                .await
                .ok();
            assert_eq!(body["sender"], json!(sender));
            assert!(
                body["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|m| m["sender"] == json!(sender))
            );
            from_senders.extend(
                body["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["content"].as_str().unwrap().to_owned()),
            );
        }
        assert_eq!(
            sorted(from_senders),
            want(&all),
            "{backend:?}: search_by_sender by {kind}"
        );
    }
}

/// Ordering, limits and inclusive bounds of search_by_sender and search_by_timerange.
async fn search_by_sender_and_timerange(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let client = server.client().await;
    let alice = login(&client, "alice", "claude", false).await;
    let sid = new_session(&client, &alice, "time").await;
    let mut stamps = Vec::new();
    for i in 0..4 {
        let body = call(
            &client,
            "add_message",
            json!({"session_id": sid, "content": format!("step {i}"), "auth_token": alice}),
        )
        .await
        .ok();
        stamps.push(body["timestamp"].as_str().unwrap().to_owned());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let range = |start: &str, end: &str, limit: Option<i64>| {
        let mut args =
            json!({"session_id": sid, "start_time": start, "end_time": end, "auth_token": alice});
        if let Some(l) = limit {
            args["limit"] = json!(l);
        }
        let client = &client;
        async move { call(client, "search_by_timerange", args).await.ok() }
    };
    let contents = |b: &Value| -> Vec<String> {
        b["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap().to_owned())
            .collect()
    };
    let inner = range(&stamps[1], &stamps[2], None).await;
    assert_eq!(
        contents(&inner),
        ["step 1", "step 2"],
        "{backend:?}: inclusive, oldest first"
    );
    assert_eq!(inner["count"], json!(2));
    assert_eq!(inner["timerange"]["start"], json!(stamps[1]));
    // The same instants without the Z (UTC assumed) and with an offset.
    let t1 = chrono::DateTime::parse_from_rfc3339(&stamps[1]).unwrap();
    let naive = t1.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    let shifted = t1
        .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap())
        .to_rfc3339();
    assert_eq!(
        contents(&range(&naive, &stamps[2], None).await),
        ["step 1", "step 2"]
    );
    assert_eq!(
        contents(&range(&shifted, &stamps[2], None).await),
        ["step 1", "step 2"]
    );
    let today = &stamps[0][..10];
    assert_eq!(
        contents(&range(today, today, Some(3)).await),
        ["step 0", "step 1", "step 2"],
        "a date alone covers the day"
    );
    let newest = call(
        &client,
        "search_by_sender",
        json!({"session_id": sid, "sender": "alice", "limit": 2, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(
        contents(&newest),
        ["step 3", "step 2"],
        "{backend:?}: newest first"
    );
    assert_eq!(newest["count"], json!(2));
    let none = call(
        &client,
        "search_by_sender",
        json!({"session_id": sid, "sender": "nobody", "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(none["messages"], json!([]));
    let missing = call(
        &client,
        "search_by_sender",
        json!({"session_id": "session_0000000000000000", "sender": "alice"}),
    )
    .await;
    assert_eq!(missing.err_code(), "SESSION_NOT_FOUND");
}

#[tokio::test]
async fn search_rejects_bad_input() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = HttpServer::start(&db, &[]).await;
    let client = server.client().await;
    let alice = login(&client, "alice", "claude", false).await;
    let sid = new_session(&client, &alice, "bad").await;
    let ctx = |extra: Value| {
        let mut args = json!({"session_id": sid, "query": "x", "auth_token": alice});
        args.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        args
    };
    let cases = [
        (
            "search_context",
            ctx(json!({"search_scope": "everything"})),
            "INVALID_INPUT",
        ),
        (
            "search_context",
            ctx(json!({"query": "   "})),
            "INVALID_INPUT",
        ),
        (
            "search_context",
            ctx(json!({"query": "q".repeat(501)})),
            "INVALID_INPUT",
        ),
        (
            "search_context",
            ctx(json!({"fuzzy_threshold": 100.5})),
            "INVALID_INPUT",
        ),
        (
            "search_context",
            ctx(json!({"fuzzy_threshold": -1})),
            "INVALID_INPUT",
        ),
        ("search_context", ctx(json!({"limit": 0})), "INVALID_LIMIT"),
        (
            "search_context",
            ctx(json!({"limit": 101})),
            "INVALID_LIMIT",
        ),
        (
            "search_context",
            ctx(json!({"session_id": "nope"})),
            "INVALID_SESSION_ID",
        ),
        (
            "search_context",
            ctx(json!({"session_id": "session_0000000000000000"})),
            "SESSION_NOT_FOUND",
        ),
        (
            "search_by_sender",
            json!({"session_id": sid, "sender": " "}),
            "INVALID_INPUT",
        ),
        (
            "search_by_sender",
            json!({"session_id": sid, "sender": "a", "limit": 101}),
            "INVALID_LIMIT",
        ),
        (
            "search_by_timerange",
            json!({"session_id": sid, "start_time": "yesterday", "end_time": "2025-01-01"}),
            "INVALID_DATETIME",
        ),
        (
            "search_by_timerange",
            json!({"session_id": sid, "start_time": "2025-01-02", "end_time": "2025-01-01T00:00:00Z"}),
            "INVALID_INPUT",
        ),
        (
            "search_by_timerange",
            json!({"session_id": sid, "start_time": "2025-01-01", "end_time": "2025-01-02", "limit": 201}),
            "INVALID_LIMIT",
        ),
    ];
    for (tool, args, code) in cases {
        let reply = call(&client, tool, args.clone()).await;
        assert_eq!(reply.err_code(), code, "{tool} {args}: {}", reply.body);
    }
    let scope = call(
        &client,
        "search_context",
        ctx(json!({"search_scope": "everything"})),
    )
    .await;
    assert!(
        scope.body["error"]
            .as_str()
            .unwrap()
            .contains("all, public or private"),
        "{}",
        scope.body
    );
    let date = call(
        &client,
        "search_by_timerange",
        json!({"session_id": sid, "start_time": "soon", "end_time": "later"}),
    )
    .await;
    assert!(
        date.body["suggestions"][0]
            .as_str()
            .unwrap()
            .contains("2025-01-15T10:30:00Z"),
        "{}",
        date.body
    );
    // Only the query is required; the session exists but holds nothing.
    let empty = call(
        &client,
        "search_context",
        json!({"session_id": sid, "query": "anything"}),
    )
    .await
    .ok();
    assert_eq!(empty["results"], json!([]));
    assert_eq!(empty["message_count"], json!(0));
}

contract!(
    search_context_corpus,
    search_visibility_matrix,
    search_by_sender_and_timerange,
);
