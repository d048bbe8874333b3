//! Real-time coordination through real clients: wait_for_messages wake-ups and timeouts,
//! visibility of what wakes you, resource subscriptions, the SSE stream, and several processes
//! on one store.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::ResourceUpdatedNotificationParam;
use rmcp::service::NotificationContext;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};

use crate::support::*;

async fn wait_for_messages(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let waiter_client = server.client().await;
    let writer = server.client().await;
    let alice = login(&writer, "alice", "claude", false).await;
    let carol = login(&waiter_client, "carol", "gemini", false).await;
    let sid = new_session(&writer, &alice, "realtime").await;

    // Timeout: empty, with the cursor to use next.
    let started = Instant::now();
    let r = call(
        &waiter_client,
        "wait_for_messages",
        json!({"session_id": sid, "after_id": 0, "timeout_seconds": 0.5, "auth_token": carol}),
    )
    .await
    .ok();
    assert_eq!(
        (
            r["count"].clone(),
            r["timed_out"].clone(),
            r["next_after_id"].clone()
        ),
        (json!(0), json!(true), json!(0))
    );
    assert!(
        started.elapsed() >= Duration::from_millis(450),
        "returned early: {:?}",
        started.elapsed()
    );

    // Wake-up: the waiter returns as soon as a message it may read is posted; a private message
    // to someone else does not wake it.
    let waiter = {
        let (client, sid, carol) = (waiter_client.clone(), sid.clone(), carol.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let r = call(&client, "wait_for_messages", json!({"session_id": sid, "after_id": 0, "timeout_seconds": 20, "auth_token": carol})).await.ok();
            (r, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    call(&writer, "add_message", json!({"session_id": sid, "content": "not for carol", "visibility": "private", "auth_token": alice})).await.ok();
    call(&writer, "add_message", json!({"session_id": sid, "content": "not for carol either", "visibility": "agent_only", "auth_token": alice})).await.ok();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !waiter.is_finished(),
        "a message the waiter may not read woke it"
    );
    let posted = call(
        &writer,
        "add_message",
        json!({"session_id": sid, "content": "for everyone", "auth_token": alice}),
    )
    .await
    .ok();
    let (r, waited) = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("waiter woke")
        .unwrap();
    assert!(
        waited < Duration::from_secs(5) && waited >= Duration::from_millis(900),
        "{waited:?}"
    );
    let got: Vec<&str> = r["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec!["for everyone"]);
    assert_eq!(r["next_after_id"], posted["message_id"]);

    // Already there: returns at once.
    let started = Instant::now();
    let r = call(
        &writer,
        "wait_for_messages",
        json!({"session_id": sid, "after_id": 0, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(r["count"], json!(3));
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(
        call(
            &writer,
            "wait_for_messages",
            json!({"session_id": sid, "after_id": -1})
        )
        .await
        .err_code(),
        "INVALID_INPUT"
    );
    assert_eq!(
        call(
            &writer,
            "wait_for_messages",
            json!({"session_id": "session_ffffffffffffffff", "after_id": 0})
        )
        .await
        .err_code(),
        "SESSION_NOT_FOUND"
    );
}

/// Two HTTP server processes on one PostgreSQL database: the waiter on A wakes when the writer
/// posts through B; a token revoked through A stops working on B at once.
#[tokio::test]
async fn two_processes_on_one_postgres() {
    let db = TestDb::new(Backend::Postgres).await;
    let a = HttpServer::start(&db, &[]).await;
    let b = HttpServer::start(&db, &[]).await;
    let on_a = a.client().await;
    let on_b = b.client().await;
    let alice = login(&on_b, "alice", "claude", false).await;
    let bob = login(&on_a, "bob", "claude", false).await;
    let sid = new_session(&on_b, &alice, "realtime").await;
    let waiter = {
        let (client, sid, bob) = (on_a.clone(), sid.clone(), bob.clone());
        tokio::spawn(async move {
            call(
                &client,
                "wait_for_messages",
                json!({"session_id": sid, "after_id": 0, "timeout_seconds": 20, "auth_token": bob}),
            )
            .await
            .ok()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    call(
        &on_b,
        "add_message",
        json!({"session_id": sid, "content": "from B", "auth_token": alice}),
    )
    .await
    .ok();
    let r = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("the waiter on A woke")
        .unwrap();
    assert_eq!(r["messages"][0]["content"], "from B");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "cross-process wake took {:?}",
        started.elapsed()
    );

    // Revocation: warm B's cache with the token, revoke through A, B refuses it within a second.
    call(
        &on_b,
        "get_messages",
        json!({"session_id": sid, "auth_token": bob}),
    )
    .await
    .ok();
    call(&on_a, "revoke_token", json!({"auth_token": bob}))
        .await
        .ok();
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let r = call(
            &on_b,
            "get_messages",
            json!({"session_id": sid, "auth_token": bob}),
        )
        .await;
        if r.is_error {
            assert_eq!(r.err_code(), "TOKEN_AUTHENTICATION_FAILED");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "process B still accepts a token revoked through A"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Four stdio processes (one per agent client, the usual local set-up) on one SQLite file.
#[tokio::test]
async fn four_stdio_processes_share_one_sqlite_file() {
    let db = TestDb::new(Backend::Sqlite).await;
    let first = stdio_client(&db).await;
    let token = login(&first, "setup", "claude", false).await;
    let sid = new_session(&first, &token, "realtime").await;
    let mut processes = vec![first];
    for _ in 1..4 {
        processes.push(stdio_client(&db).await);
    }
    let mut tasks = Vec::new();
    for (p, process) in processes.iter().enumerate() {
        let client = process.peer().clone();
        let sid = sid.clone();
        tasks.push(tokio::spawn(async move {
            let token = login(&client, &format!("writer-{p}"), "claude", false).await;
            for i in 0..500 {
                let r = call(&client, "add_message", json!({"session_id": sid, "content": format!("p{p}-m{i}"), "auth_token": token})).await;
                assert!(!r.is_error, "process {p} write {i} failed: {}", r.body);
            }
            client
        }));
    }
    let mut clients = Vec::new();
    for t in tasks {
        clients.push(t.await.unwrap());
    }

    let mut seen = std::collections::HashSet::new();
    let mut after = 0;
    loop {
        let page = call(
            &clients[1],
            "get_messages",
            json!({"session_id": sid, "after_id": after, "limit": 1000}),
        )
        .await
        .ok();
        let messages = page["messages"].as_array().unwrap();
        if messages.is_empty() {
            break;
        }
        for m in messages {
            assert!(
                seen.insert(m["content"].as_str().unwrap().to_owned()),
                "duplicate {}",
                m["content"]
            );
        }
        after = page["next_after_id"].as_i64().unwrap();
    }
    assert_eq!(seen.len(), 2000, "every message present exactly once");
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl ClientHandler for Recorder {
    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        self.0.lock().unwrap().push(params.uri);
    }
}

#[allow(deprecated)] // resources/subscribe is what legacy (stateful) MCP sessions use
async fn resource_subscription_notifies(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let keyed = server.client().await;
    let alice = login(&keyed, "alice", "claude", false).await;
    let carol = login(&keyed, "carol", "gemini", false).await;
    let sid = new_session(&keyed, &alice, "realtime").await;
    let recorder = Recorder::default();
    let headers = [(
        reqwest::header::AUTHORIZATION,
        reqwest::header::HeaderValue::from_str(&format!("Bearer {carol}")).unwrap(),
    )];
    let config = StreamableHttpClientTransportConfig::with_uri(server.mcp_url())
        .custom_headers(headers.into_iter().collect());
    let as_carol = recorder
        .clone()
        .serve(rmcp::transport::StreamableHttpClientTransport::from_config(
            config,
        ))
        .await
        .unwrap();
    let uri = format!("session://{sid}");
    as_carol
        .subscribe(rmcp::model::SubscribeRequestParams::new(uri.clone()))
        .await
        .unwrap();
    call(&keyed, "add_message", json!({"session_id": sid, "content": "private", "visibility": "private", "auth_token": alice})).await.ok();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        recorder.0.lock().unwrap().is_empty(),
        "a message carol may not read must not notify her"
    );
    call(
        &keyed,
        "add_message",
        json!({"session_id": sid, "content": "public", "auth_token": alice}),
    )
    .await
    .ok();
    let deadline = Instant::now() + Duration::from_secs(5);
    while recorder.0.lock().unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "no notifications/resources/updated received"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(recorder.0.lock().unwrap()[0], uri);
}

/// Reads SSE events until `n` message events arrived (or the time runs out).
async fn read_events(resp: reqwest::Response, n: usize) -> Vec<(i64, Value)> {
    let mut resp = resp;
    let mut buf = String::new();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while out.len() < n {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .expect("events in time")
            .unwrap()
            .expect("stream open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let id = block
                .lines()
                .find_map(|l| l.strip_prefix("id:"))
                .map(|v| v.trim().parse::<i64>().unwrap());
            let data = block
                .lines()
                .find_map(|l| l.strip_prefix("data:"))
                .map(|v| serde_json::from_str::<Value>(v.trim()).unwrap());
            if let (Some(id), Some(data)) = (id, data) {
                out.push((id, data));
            }
        }
    }
    out
}

async fn sse_stream_filtered_and_resumable(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let client = server.client().await;
    let alice = login(&client, "alice", "claude", false).await;
    let carol = login(&client, "carol", "gemini", false).await;
    let sid = new_session(&client, &alice, "realtime").await;
    let http = reqwest::Client::new();
    let url = format!("{}/sessions/{sid}/events", server.base);
    assert_eq!(
        http.get(&url).send().await.unwrap().status().as_u16(),
        401,
        "the stream needs credentials"
    );
    let stream = http.get(&url).bearer_auth(&carol).send().await.unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    let mut ids = Vec::new();
    for (content, visibility) in [
        ("one", "public"),
        ("secret", "private"),
        ("two", "public"),
        ("three", "public"),
    ] {
        let r = call(&client, "add_message", json!({"session_id": sid, "content": content, "visibility": visibility, "auth_token": alice})).await.ok();
        ids.push(r["message_id"].as_i64().unwrap());
    }
    let got = read_events(stream, 3).await;
    let contents: Vec<&str> = got
        .iter()
        .map(|(_, m)| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        vec!["one", "two", "three"],
        "carol sees public messages only, in order"
    );
    // Resume after "one": the stream replays what came later.
    let resumed = http
        .get(&url)
        .bearer_auth(&carol)
        .header("last-event-id", got[0].0.to_string())
        .send()
        .await
        .unwrap();
    let again = read_events(resumed, 2).await;
    assert_eq!(
        again.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        vec![ids[2], ids[3]]
    );
    // Alice's own stream includes her private message.
    let own = http
        .get(format!("{url}?after_id=0"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(read_events(own, 4).await.len(), 4);
    let missing = http
        .get(format!(
            "{}/sessions/session_ffffffffffffffff/events",
            server.base
        ))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
}

/// A database migrated by a newer version is refused at start-up with a clear message.
#[tokio::test]
async fn refuses_a_database_from_a_newer_version_sqlite() {
    let db = TestDb::new(Backend::Sqlite).await;
    let out = std::process::Command::new(BIN)
        .arg("migrate")
        .envs(server_env(&db))
        .output()
        .unwrap();
    assert!(out.status.success());
    use sqlx::Connection as _;
    let mut conn = sqlx::sqlite::SqliteConnection::connect(&db.url)
        .await
        .unwrap();
    sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (9999, 'future', 1, x'00', 0)")
        .execute(&mut conn)
        .await
        .unwrap();
    let out = std::process::Command::new(BIN)
        .arg("migrate")
        .envs(server_env(&db))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("newer shared-context-server"),
        "{err}"
    );
}

contract!(
    wait_for_messages,
    resource_subscription_notifies,
    sse_stream_filtered_and_resumable,
);
