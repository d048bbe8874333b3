//! The inbox tools over stdio, as local agents use them: each agent's client spawns its own
//! server process on one database. A `get_inbox` long-poll in bob's process is woken by alice's
//! direct message from hers; `ack_messages` and `ask` round-trip across the two; both backends.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

/// Bob's long-poll in his own process; returns the answer and when it came.
fn long_poll(bob: &Client, args: Value) -> tokio::task::JoinHandle<(Instant, Value)> {
    let peer = bob.peer().clone();
    tokio::spawn(async move {
        let got = call(&peer, "get_inbox", args).await.ok();
        (Instant::now(), got)
    })
}

async fn inbox_tools_across_stdio_processes(backend: Backend) {
    let db = TestDb::new(backend).await;
    let alice_process = stdio_client(&db).await;
    let bob_process = stdio_client(&db).await;
    let alice = login(&alice_process, "alice", "claude", false).await;
    let bob = login(&bob_process, "bob", "codex", false).await;
    let sid = new_session(&alice_process, &alice, "stdio inbox").await;

    // An empty inbox: the long-poll waits out its wait_seconds and returns nothing.
    let started = Instant::now();
    let empty = call(
        &bob_process,
        "get_inbox",
        json!({"wait_seconds": 0.3, "auth_token": bob}),
    )
    .await
    .ok();
    assert_eq!(empty["messages"], json!([]));
    assert!(started.elapsed() >= Duration::from_millis(300));

    // Bob blocks in his process; alice's direct message, written by hers, wakes him.
    let started = Instant::now();
    let waiter = long_poll(
        &bob_process,
        json!({"after_cursor": empty["next_cursor"], "wait_seconds": 20, "auth_token": bob}),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiter.is_finished(),
        "the long-poll returned before the post"
    );
    let dm = call(&alice_process, "add_message", json!({"session_id": sid, "content": "take the parser", "to": ["bob"], "auth_token": alice})).await.ok();
    let dm_id = dm["message_id"].as_i64().unwrap();
    let posted = Instant::now();
    let (woke, got) = tokio::time::timeout(Duration::from_secs(15), waiter)
        .await
        .expect("the direct message did not wake the long-poll")
        .unwrap();
    assert_eq!(got["messages"][0]["id"], json!(dm_id), "{got}");
    assert_eq!(
        (
            got["messages"][0]["sender"].clone(),
            got["messages"][0]["acked"].clone()
        ),
        (json!("alice"), json!(false))
    );
    assert!(
        woke.saturating_duration_since(posted) < Duration::from_secs(5)
            && started.elapsed() < Duration::from_secs(15),
        "woken {:?} after the post",
        woke.saturating_duration_since(posted)
    );

    // Bob acks in his process: alice, in hers, sees the receipt; his inbox shows it acked.
    assert_eq!(
        call(
            &alice_process,
            "ack_messages",
            json!({"message_ids": [dm_id], "auth_token": alice})
        )
        .await
        .err_code(),
        "PERMISSION_DENIED"
    );
    let acked = call(
        &bob_process,
        "ack_messages",
        json!({"message_ids": [dm_id], "auth_token": bob}),
    )
    .await
    .ok();
    assert_eq!(acked["acked"], json!([dm_id]));
    let receipts = call(
        &alice_process,
        "get_receipts",
        json!({"message_id": dm_id, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(receipts["receipts"][0]["agent_id"], json!("bob"));
    assert!(
        receipts["receipts"][0]["acked_at"].is_string(),
        "{receipts}"
    );
    let inbox = call(&bob_process, "get_inbox", json!({"auth_token": bob}))
        .await
        .ok();
    assert_eq!(inbox["messages"][0]["acked"], json!(true), "{inbox}");

    // Alice asks from her process; bob, long-polling in his, answers; her ask returns the reply.
    let waiter = long_poll(
        &bob_process,
        json!({"after_cursor": got["next_cursor"], "wait_seconds": 20, "auth_token": bob}),
    );
    let answerer = {
        let peer = bob_process.peer().clone();
        let (bob, sid) = (bob.clone(), sid.clone());
        tokio::spawn(async move {
            let (_, got) = waiter.await.unwrap();
            let question = &got["messages"][0];
            assert_eq!(question["content"], json!("which file?"), "{got}");
            call(&peer, "add_message", json!({"session_id": sid, "content": "src/parse.rs", "parent_message_id": question["id"], "auth_token": bob})).await.ok();
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let asked = call(&alice_process, "ask", json!({"session_id": sid, "to": "bob", "content": "which file?", "timeout_seconds": 20, "auth_token": alice})).await.ok();
    answerer.await.unwrap();
    assert_eq!(asked["timed_out"], json!(false), "{asked}");
    assert_eq!(asked["reply"]["content"], json!("src/parse.rs"));
    assert!(started.elapsed() < Duration::from_secs(10), "{asked}");
}

contract!(inbox_tools_across_stdio_processes);
