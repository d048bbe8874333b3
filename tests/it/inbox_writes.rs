//! The writes around direct messages: `visibility: "direct"` reported and accepted, `ack_messages`
//! under an idempotency key (replay, conflict, refusals remembered never), and the per-pair rate
//! shared by two server processes on one database.

use serde_json::{Value, json};

use crate::support::*;

/// A direct message says so (`visibility: "direct"`, `to`) and `direct` is accepted back when the
/// message gets recipients; without recipients, or as a filter, it is refused and writes nothing.
async fn inbox_direct_visibility_is_reported_and_accepted(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let c = server.client().await;
    let alice = login(&c, "alice", "claude", false).await;
    let bob = login(&c, "bob", "claude", false).await;
    let sid = new_session(&c, &alice, "inbox writes").await;

    let posted = call(&c, "add_message", json!({"session_id": sid, "content": "yours", "visibility": "direct", "to": ["bob"], "auth_token": alice})).await.ok();
    assert_eq!(
        (&posted["visibility"], &posted["to"]),
        (&json!("direct"), &json!(["bob"]))
    );
    let note = call(
        &c,
        "add_message",
        json!({"session_id": sid, "content": "mine", "visibility": "private", "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(note["visibility"], json!("private"));
    assert_eq!(note.get("to"), None, "{note}");
    // A reply to a direct message may say `direct`: it goes back to alice.
    let reply = call(&c, "add_message", json!({"session_id": sid, "content": "thanks", "visibility": "direct", "parent_message_id": posted["message_id"], "auth_token": bob})).await.ok();
    assert_eq!(reply["to"], json!(["alice"]), "{reply}");

    let before = db_count(&db, "messages").await;
    let lonely = call(&c, "add_message", json!({"session_id": sid, "content": "to nobody", "visibility": "direct", "auth_token": alice})).await;
    assert_eq!(lonely.err_code(), "INVALID_VISIBILITY");
    assert!(lonely.body.to_string().contains("to=["), "{}", lonely.body);
    assert_eq!(db_count(&db, "messages").await, before, "nothing written");
    let filter = call(
        &c,
        "get_messages",
        json!({"session_id": sid, "visibility_filter": "direct", "auth_token": bob}),
    )
    .await;
    assert_eq!(filter.err_code(), "INVALID_VISIBILITY");
    assert!(
        filter.body.to_string().contains("get_inbox"),
        "{}",
        filter.body
    );

    let read = call(
        &c,
        "get_messages",
        json!({"session_id": sid, "auth_token": alice}),
    )
    .await
    .ok();
    let shown: Vec<(Value, Value)> = read["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["visibility"].clone(), m["to"].clone()))
        .collect();
    assert_eq!(
        shown,
        vec![
            (json!("direct"), json!(["bob"])),
            (json!("private"), json!(null)),
            (json!("direct"), json!(["alice"])),
        ]
    );
}

/// `ack_messages` with an `idempotency_key`: a retry replays the first answer and writes
/// nothing; the key with other ids is `IDEMPOTENCY_CONFLICT`; a refused ack keeps no key.
async fn inbox_ack_takes_an_idempotency_key(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let c = server.client().await;
    let alice = login(&c, "alice", "claude", false).await;
    let bob = login(&c, "bob", "claude", false).await;
    let sid = new_session(&c, &alice, "inbox writes").await;
    let first = direct(&c, &sid, &alice, "bob", "one").await;
    let second = direct(&c, &sid, &alice, "bob", "two").await;
    let own = direct(&c, &sid, &bob, "alice", "not for bob").await;

    let ack = |ids: Vec<i64>, key: &str| {
        let args = json!({"message_ids": ids, "idempotency_key": key, "auth_token": bob});
        let c = &c;
        async move { call(c, "ack_messages", args).await }
    };
    let acked = ack(vec![second, first, first], "ack-1").await.ok();
    assert_eq!(acked["acked"], json!([first, second]));
    let audits = db_count(&db, "audit_log").await;
    let replayed = ack(vec![first, second], "ack-1").await.ok();
    assert_eq!(replayed, acked, "the same ids (any order) replay");
    assert_eq!(
        db_count(&db, "audit_log").await,
        audits,
        "a replay writes nothing"
    );
    let conflict = ack(vec![first], "ack-1").await;
    assert_eq!(conflict.err_code(), "IDEMPOTENCY_CONFLICT");

    // Refused: nothing is acknowledged and the key stays free, so the same key then works.
    let refused = ack(vec![own], "ack-2").await;
    assert_eq!(refused.err_code(), "PERMISSION_DENIED");
    assert_eq!(
        ack(vec![own], "ack-2").await.err_code(),
        "PERMISSION_DENIED"
    );
    assert_eq!(db_count(&db, "audit_log").await, audits);
    let third = direct(&c, &sid, &alice, "bob", "three").await;
    assert_eq!(
        ack(vec![third], "ack-2").await.ok()["acked"],
        json!([third])
    );
    let inbox = call(&c, "get_inbox", json!({"auth_token": bob})).await.ok();
    let acked: Vec<bool> = inbox["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["acked"].as_bool().unwrap())
        .collect();
    assert_eq!(acked, vec![true, true, true]);
}

/// Two server processes on one database share the per-pair cap: alice's direct messages to bob
/// through either count against one limit, and other pairs are untouched.
async fn inbox_pair_rate_is_shared_by_two_processes(backend: Backend) {
    let db = TestDb::new(backend).await;
    let env = [("DIRECT_MESSAGES_PER_PAIR_PER_MINUTE", "4")];
    let one = HttpServer::start(&db, &env).await;
    let two = HttpServer::start(&db, &env).await;
    let (c1, c2) = (one.client().await, two.client().await);
    let alice = login(&c1, "alice", "claude", false).await;
    login(&c2, "bob", "claude", false).await;
    login(&c2, "carol", "claude", false).await;
    let sid = new_session(&c1, &alice, "inbox writes").await;
    for (i, client) in [&c1, &c2, &c1, &c2].into_iter().enumerate() {
        direct(client, &sid, &alice, "bob", &format!("ping {i}")).await;
    }
    for client in [&c1, &c2] {
        let over = call(
            client,
            "add_message",
            json!({"session_id": sid, "content": "ping 5", "to": ["bob"], "auth_token": alice}),
        )
        .await;
        assert_eq!(over.err_code(), "RATE_LIMITED");
        let wait = over.body["retry_after"].as_u64().unwrap();
        assert!((1..=60).contains(&wait), "{}", over.body);
    }
    assert_eq!(db_count(&db, "message_recipients").await, 4);
    direct(&c2, &sid, &alice, "carol", "another pair").await;
    call(
        &c1,
        "add_message",
        json!({"session_id": sid, "content": "public posts are not capped", "auth_token": alice}),
    )
    .await
    .ok();
}

contract!(
    inbox_direct_visibility_is_reported_and_accepted,
    inbox_ack_takes_an_idempotency_key,
    inbox_pair_rate_is_shared_by_two_processes,
);
