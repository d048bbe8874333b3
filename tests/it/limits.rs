//! The per-agent rate limit: over it, RATE_LIMITED with retry_after, and other agents unaffected.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn per_agent_rate_limit_sqlite() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = HttpServer::start(
        &db,
        &[("RATE_LIMIT_PER_MINUTE", "60"), ("RATE_LIMIT_BURST", "5")],
    )
    .await;
    let client = server.client().await;
    let alice = login(&client, "alice", "claude", false).await; // authenticate counts: 1 of 5
    let sid = call(
        &client,
        "create_session",
        json!({"purpose": "limits", "auth_token": alice}),
    )
    .await
    .ok()["session_id"]
        .clone();
    for _ in 0..3 {
        call(
            &client,
            "get_messages",
            json!({"session_id": sid, "auth_token": alice}),
        )
        .await
        .ok();
    }
    let limited = call(
        &client,
        "add_message",
        json!({"session_id": sid, "content": "x", "auth_token": alice}),
    )
    .await;
    assert_eq!(limited.err_code(), "RATE_LIMITED");
    assert!(limited.body["retry_after"].as_u64().is_some_and(|s| s >= 1));
    let admin = login(&client, "ops", "admin", true).await;
    let all = call(
        &client,
        "get_messages",
        json!({"session_id": sid, "auth_token": admin}),
    )
    .await
    .ok();
    assert_eq!(all["count"], json!(0), "the limited call wrote nothing");
    let bob = login(&client, "bob", "claude", false).await;
    call(
        &client,
        "get_messages",
        json!({"session_id": sid, "auth_token": bob}),
    )
    .await
    .ok();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    call(
        &client,
        "get_messages",
        json!({"session_id": sid, "auth_token": alice}),
    )
    .await
    .ok();
}
