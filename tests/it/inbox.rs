//! Direct messages, the inbox, receipts, `ask`, presence and the loop guards, through a real MCP
//! client over HTTP, on both backends; and the inbox long-poll across two server processes.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

async fn direct_messages_and_inbox(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let c = server.client().await;
    let alice = login(&c, "alice", "claude", false).await;
    let bob = login(&c, "bob", "claude", false).await;
    let carol = login(&c, "carol", "gemini", false).await;
    let sid = new_session(&c, &alice, "inbox").await;

    // An unknown recipient: refused with suggestions, nothing written.
    let refused = call(
        &c,
        "add_message",
        json!({"session_id": sid, "content": "hi", "to": ["bobb"], "auth_token": alice}),
    )
    .await;
    assert_eq!(refused.err_code(), "RECIPIENT_NOT_FOUND");
    assert!(
        refused.body.to_string().contains("\"bob\""),
        "{}",
        refused.body
    );
    let none = call(
        &c,
        "get_messages",
        json!({"session_id": sid, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(none["messages"], json!([]));
    let bad = call(
        &c,
        "add_message",
        json!({"session_id": sid, "content": "hi", "to": [], "auth_token": alice}),
    )
    .await;
    assert_eq!(bad.err_code(), "INVALID_INPUT");

    // A direct message, even one that asks to be public, is private to alice and bob.
    let dm = call(&c, "add_message", json!({"session_id": sid, "content": "handoff: take the parser", "to": ["bob"], "visibility": "public", "auth_token": alice})).await.ok();
    let dm_id = dm["message_id"].as_i64().unwrap();
    assert_eq!(dm["to"], json!(["bob"]));
    assert_eq!(dm["visibility"], json!("direct"));
    let seen_by_carol = call(
        &c,
        "get_messages",
        json!({"session_id": sid, "auth_token": carol}),
    )
    .await
    .ok();
    assert!(!ids_of(&seen_by_carol["messages"], "id").contains(&dm_id));

    // Bob's inbox: reading twice returns the same thing (reads change nothing).
    let first = call(&c, "get_inbox", json!({"auth_token": bob})).await.ok();
    let again = call(&c, "get_inbox", json!({"auth_token": bob})).await.ok();
    assert_eq!(ids_of(&first["messages"], "id"), vec![dm_id]);
    assert_eq!(first["messages"], again["messages"]);
    let m = &first["messages"][0];
    assert_eq!(
        (
            m["sender"].clone(),
            m["to"].clone(),
            m["acked"].clone(),
            m["session_id"].clone()
        ),
        (json!("alice"), json!(["bob"]), json!(false), json!(sid))
    );
    assert_eq!(first["has_more"], json!(false));
    let cursor = first["next_cursor"].clone();
    let after = call(
        &c,
        "get_inbox",
        json!({"after_cursor": cursor, "auth_token": bob}),
    )
    .await
    .ok();
    assert_eq!(after["messages"], json!([]));
    assert_eq!(after["next_cursor"], cursor);
    let bodyless = call(
        &c,
        "get_inbox",
        json!({"include_body": false, "auth_token": bob}),
    )
    .await
    .ok();
    assert!(bodyless["messages"][0].get("content").is_none());
    assert_eq!(
        call(&c, "get_inbox", json!({"auth_token": carol}))
            .await
            .ok()["messages"],
        json!([])
    );
    assert_eq!(
        call(
            &c,
            "get_inbox",
            json!({"after_cursor": "x", "auth_token": bob})
        )
        .await
        .err_code(),
        "INVALID_INPUT"
    );
    assert_eq!(
        call(&c, "get_inbox", json!({"limit": 0, "auth_token": bob}))
            .await
            .err_code(),
        "INVALID_LIMIT"
    );

    // Bob replies without `to`: the reply goes back to alice only.
    let reply = call(&c, "add_message", json!({"session_id": sid, "content": "on it", "parent_message_id": dm_id, "auth_token": bob})).await.ok();
    assert_eq!(reply["to"], json!(["alice"]));
    let alice_inbox = call(
        &c,
        "get_inbox",
        json!({"session_id": sid, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(
        ids_of(&alice_inbox["messages"], "id"),
        vec![reply["message_id"].as_i64().unwrap()]
    );

    // Acks: idempotent; someone else's message is refused and changes nothing.
    assert_eq!(
        call(
            &c,
            "ack_messages",
            json!({"message_ids": [dm_id], "auth_token": carol})
        )
        .await
        .err_code(),
        "PERMISSION_DENIED"
    );
    let acked = call(
        &c,
        "ack_messages",
        json!({"message_ids": [dm_id, dm_id], "auth_token": bob}),
    )
    .await
    .ok();
    assert_eq!(acked["acked"], json!([dm_id]));
    call(
        &c,
        "ack_messages",
        json!({"message_ids": [dm_id], "auth_token": bob}),
    )
    .await
    .ok();
    let read = call(&c, "get_inbox", json!({"auth_token": bob})).await.ok();
    assert_eq!(read["messages"][0]["acked"], json!(true));

    // Receipts: the sender sees delivery and ack; others are refused.
    let receipts = call(
        &c,
        "get_receipts",
        json!({"message_id": dm_id, "auth_token": alice}),
    )
    .await
    .ok();
    let r = &receipts["receipts"][0];
    assert_eq!(r["agent_id"], json!("bob"));
    assert!(
        r["delivered_at"].is_string() && r["acked_at"].is_string(),
        "{receipts}"
    );
    assert_eq!(
        call(
            &c,
            "get_receipts",
            json!({"message_id": dm_id, "auth_token": carol})
        )
        .await
        .err_code(),
        "PERMISSION_DENIED"
    );

    // Presence.
    let agents = call(&c, "list_agents", json!({"auth_token": carol}))
        .await
        .ok();
    let names: Vec<&str> = agents["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["agent_id"].as_str().unwrap())
        .collect();
    for n in ["alice", "bob", "carol"] {
        assert!(names.contains(&n), "{agents}");
    }
    assert!(
        agents["agents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["active"] == json!(true))
    );
    let typed = call(
        &c,
        "list_agents",
        json!({"agent_type": "gemini", "auth_token": carol}),
    )
    .await
    .ok();
    assert_eq!(typed["count"], json!(1));
    assert_eq!(
        call(&c, "list_agents", json!({"limit": 0, "auth_token": carol}))
            .await
            .err_code(),
        "INVALID_LIMIT"
    );
}

#[tokio::test]
async fn direct_messages_and_inbox_sqlite() {
    direct_messages_and_inbox(Backend::Sqlite).await;
}

#[tokio::test]
async fn direct_messages_and_inbox_postgres() {
    direct_messages_and_inbox(Backend::Postgres).await;
}

async fn ask_and_long_poll(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let c = server.client().await;
    let alice = login(&c, "alice", "claude", false).await;
    let bob = login(&c, "bob", "claude", false).await;
    let sid = new_session(&c, &alice, "inbox").await;

    // Bob long-polls his inbox; alice's question wakes him; he answers; alice's ask returns it.
    let bob_client = server.client().await;
    let bob_token = bob.clone();
    let sid2 = sid.clone();
    let answerer = tokio::spawn(async move {
        let got = call(
            &bob_client,
            "get_inbox",
            json!({"wait_seconds": 20, "auth_token": bob_token}),
        )
        .await
        .ok();
        let q = got["messages"][0]["id"]
            .as_i64()
            .expect("woken with the question");
        call(&bob_client, "add_message", json!({"session_id": sid2, "content": "42", "parent_message_id": q, "auth_token": bob_token})).await.ok();
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let asked = call(&c, "ask", json!({"session_id": sid, "to": "bob", "content": "the answer?", "timeout_seconds": 20, "auth_token": alice})).await.ok();
    answerer.await.unwrap();
    assert_eq!(asked["timed_out"], json!(false));
    assert_eq!(asked["reply"]["content"], json!("42"));
    assert!(started.elapsed() < Duration::from_secs(10));

    // Nobody answers in time: timed_out; the late reply still reaches alice's inbox.
    let slow = call(&c, "ask", json!({"session_id": sid, "to": "bob", "content": "still there?", "timeout_seconds": 0.3, "auth_token": alice})).await.ok();
    assert_eq!(
        (slow["timed_out"].clone(), slow["reply"].clone()),
        (json!(true), Value::Null)
    );
    let q = slow["message_id"].as_i64().unwrap();
    let late = call(
        &c,
        "add_message",
        json!({"session_id": sid, "content": "yes", "parent_message_id": q, "auth_token": bob}),
    )
    .await
    .ok();
    let inbox = call(&c, "get_inbox", json!({"auth_token": alice}))
        .await
        .ok();
    assert!(ids_of(&inbox["messages"], "id").contains(&late["message_id"].as_i64().unwrap()));
    assert_eq!(
        call(
            &c,
            "ask",
            json!({"session_id": sid, "to": "nobody", "content": "?", "auth_token": alice})
        )
        .await
        .err_code(),
        "RECIPIENT_NOT_FOUND"
    );
    assert_eq!(call(&c, "ask", json!({"session_id": sid, "to": "bob", "content": "?", "timeout_seconds": -1, "auth_token": alice})).await.err_code(), "INVALID_INPUT");
}

#[tokio::test]
async fn ask_and_inbox_long_poll_sqlite() {
    ask_and_long_poll(Backend::Sqlite).await;
}

#[tokio::test]
async fn ask_and_inbox_long_poll_postgres() {
    ask_and_long_poll(Backend::Postgres).await;
}

/// Replies alternate between `agents` in one thread until refused; returns how many were posted.
async fn reply_chain(
    c: &Client,
    sid: &str,
    tokens: &[(&str, String)],
    rounds: usize,
) -> (usize, Reply) {
    let (first_name, first) = &tokens[0];
    let next = &tokens[1].0;
    let mut parent = call(
        c,
        "add_message",
        json!({"session_id": sid, "content": "ping", "to": [next], "auth_token": first}),
    )
    .await
    .ok()["message_id"]
        .as_i64()
        .unwrap();
    let _ = first_name;
    for i in 1..rounds {
        let (_, token) = &tokens[i % tokens.len()];
        let r = call(c, "add_message", json!({"session_id": sid, "content": "pong", "parent_message_id": parent, "auth_token": token})).await;
        if r.is_error {
            return (i, r);
        }
        parent = r.body["message_id"].as_i64().unwrap();
    }
    (
        rounds,
        Reply {
            is_error: false,
            body: Value::Null,
        },
    )
}

async fn loop_guards(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(
        &db,
        &[
            ("MAX_THREAD_DEPTH", "8"),
            ("DIRECT_MESSAGES_PER_PAIR_PER_MINUTE", "6"),
        ],
    )
    .await;
    let c = server.client().await;
    let mut agents = Vec::new();
    for name in ["a", "b", "c"] {
        agents.push((name, login(&c, name, "claude", false).await));
    }
    let sid = new_session(&c, &agents[0].1, "inbox").await;

    // Ping-pong in one thread: stopped at the depth limit.
    let (posted, refused) = reply_chain(&c, &sid, &agents[..2], 50).await;
    assert_eq!(posted, 8);
    assert_eq!(refused.err_code(), "THREAD_TOO_DEEP");

    // Triangle x -> y -> z -> x, each message a new thread: the pair cap (6) stops it at the
    // 19th send, when x -> y comes round a 7th time.
    let mut trio = Vec::new();
    for name in ["x", "y", "z"] {
        trio.push((name, login(&c, name, "claude", false).await));
    }
    let mut refused = None;
    for round in 0..30 {
        let from = round % 3;
        let to = trio[(from + 1) % 3].0;
        let r = call(
            &c,
            "add_message",
            json!({"session_id": sid, "content": "fwd", "to": [to], "auth_token": trio[from].1}),
        )
        .await;
        if r.is_error {
            refused = Some((round, r));
            break;
        }
    }
    let (round, r) = refused.expect("the triangle was never stopped");
    assert_eq!(r.err_code(), "RATE_LIMITED");
    assert!(r.body["retry_after"].as_u64().unwrap() >= 1, "{}", r.body);
    assert_eq!(round, 18);

    // A normal exchange (a question, an answer, a thanks; public posts) is untouched.
    let sid2 = new_session(&c, &agents[0].1, "inbox").await;
    let q = call(
        &c,
        "add_message",
        json!({"session_id": sid2, "content": "review?", "auth_token": agents[0].1}),
    )
    .await
    .ok();
    let a = call(&c, "add_message", json!({"session_id": sid2, "content": "lgtm", "parent_message_id": q["message_id"], "auth_token": agents[2].1})).await.ok();
    call(&c, "add_message", json!({"session_id": sid2, "content": "thanks", "parent_message_id": a["message_id"], "auth_token": agents[0].1})).await.ok();
}

#[tokio::test]
async fn loop_guards_stop_ping_pong_and_triangles_sqlite() {
    loop_guards(Backend::Sqlite).await;
}

#[tokio::test]
async fn loop_guards_stop_ping_pong_and_triangles_postgres() {
    loop_guards(Backend::Postgres).await;
}

/// Two server processes on one PostgreSQL database: bob long-polls on one, alice posts on the
/// other; returns the wake-up latencies (post answered → long-poll answered), in ms, of
/// `get_inbox` for a direct message and of `wait_for_messages` for a session post, measured
/// alternately under the same conditions.
async fn wakeups_across_processes(rounds: usize) -> (Vec<f64>, Vec<f64>) {
    let db = TestDb::new(Backend::Postgres).await;
    let one = HttpServer::start(&db, &[]).await;
    let two = HttpServer::start(&db, &[("DIRECT_MESSAGES_PER_PAIR_PER_MINUTE", "0")]).await;
    let c1 = one.client().await;
    let c2 = two.client().await;
    let bob = login(&c1, "bob", "claude", false).await;
    let alice = login(&c2, "alice", "claude", false).await;
    let sid = new_session(&c2, &alice, "inbox").await;
    let waiter_client = one.client().await;
    let (mut inbox_ms, mut wait_ms) = (Vec::new(), Vec::new());
    let (mut cursor, mut after_id) = (json!("0"), 0i64);
    for i in 0..rounds * 2 {
        let direct = i % 2 == 0;
        let (tool, args) = if direct {
            (
                "get_inbox",
                json!({"after_cursor": cursor, "wait_seconds": 20, "auth_token": bob}),
            )
        } else {
            (
                "wait_for_messages",
                json!({"session_id": sid, "after_id": after_id, "timeout_seconds": 20, "auth_token": bob}),
            )
        };
        let wc = waiter_client.peer().clone();
        let waiter = tokio::spawn(async move {
            let got = call(&wc, tool, args).await.ok();
            (Instant::now(), got)
        });
        tokio::time::sleep(Duration::from_millis(150)).await;
        let mut post =
            json!({"session_id": sid, "content": format!("wake {i}"), "auth_token": alice});
        if direct {
            post["to"] = json!(["bob"]);
        }
        let id = call(&c2, "add_message", post).await.ok()["message_id"]
            .as_i64()
            .unwrap();
        let posted = Instant::now();
        let (woke, got) = waiter.await.unwrap();
        assert_eq!(got["messages"][0]["content"], json!(format!("wake {i}")));
        let ms = woke.saturating_duration_since(posted).as_secs_f64() * 1000.0;
        if direct {
            cursor = got["next_cursor"].clone();
            inbox_ms.push(ms);
        } else {
            wait_ms.push(ms);
        }
        after_id = id;
    }
    (inbox_ms, wait_ms)
}

#[tokio::test]
async fn inbox_long_poll_wakes_across_processes_postgres() {
    let (mut inbox, mut wait) = wakeups_across_processes(10).await;
    inbox.sort_by(f64::total_cmp);
    wait.sort_by(f64::total_cmp);
    let median = |v: &[f64]| v[v.len() / 2];
    eprintln!(
        "cross-process wake-up ms (post answered -> long-poll answered): get_inbox median {:.1} max {:.1}; \
         wait_for_messages median {:.1} max {:.1}",
        median(&inbox),
        inbox[inbox.len() - 1],
        median(&wait),
        wait[wait.len() - 1]
    );
    assert!(median(&inbox) < 1000.0, "{inbox:?}");
}
