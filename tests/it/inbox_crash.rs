//! Crash safety of direct messages and acknowledgements: while one agent sends direct messages and
//! the recipient acknowledges what it reads, SIGKILL the server, restart it on the same database,
//! and check that every direct message that got a success answer is in the recipient's inbox and
//! every acknowledgement that got one is still recorded.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A tool call that counts only when answered with success before the timeout.
async fn answered(client: &Client, tool: &str, args: Value) -> Option<Value> {
    match tokio::time::timeout(CALL_TIMEOUT, call_raw(client, tool, args)).await {
        Ok(Some(body)) if body["success"] == json!(true) => Some(body),
        _ => None,
    }
}

async fn call_raw(client: &Client, tool: &str, args: Value) -> Option<Value> {
    let params = rmcp::model::CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().cloned().unwrap());
    let result = client.call_tool(params).await.ok()?;
    if result.is_error == Some(true) {
        return None;
    }
    result.structured_content
}

async fn direct_messages_and_acks_survive_sigkill(backend: Backend) {
    let db = TestDb::new(backend).await;
    // The loop guard would stop this sender after 30 messages a minute.
    let env = [("DIRECT_MESSAGES_PER_PAIR_PER_MINUTE", "0")];
    let mut server = HttpServer::start(&db, &env).await;
    let setup = server.client().await;
    let alice = login(&setup, "alice", "claude", false).await;
    let bob = login(&setup, "bob", "claude", false).await;
    let sid = new_session(&setup, &alice, "crash").await;
    let sent: Arc<Mutex<Vec<i64>>> = Arc::default();
    let acked: Arc<Mutex<BTreeSet<i64>>> = Arc::default();

    let sender = {
        let (client, sent, sid, alice) = (
            server.client().await,
            sent.clone(),
            sid.clone(),
            alice.clone(),
        );
        tokio::spawn(async move {
            for i in 0.. {
                let args = json!({"session_id": sid, "content": format!("dm {i}"), "to": ["bob"], "auth_token": alice});
                match answered(&client, "add_message", args).await {
                    Some(body) => sent
                        .lock()
                        .unwrap()
                        .push(body["message_id"].as_i64().unwrap()),
                    None => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        })
    };
    let reader = {
        let (client, acked, bob) = (server.client().await, acked.clone(), bob.clone());
        tokio::spawn(async move {
            let mut cursor = json!("0");
            loop {
                let args = json!({"after_cursor": cursor, "wait_seconds": 2, "auth_token": bob});
                let Some(page) = answered(&client, "get_inbox", args).await else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let ids: Vec<i64> = page["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["id"].as_i64().unwrap())
                    .collect();
                if !ids.is_empty()
                    && answered(
                        &client,
                        "ack_messages",
                        json!({"message_ids": ids, "auth_token": bob}),
                    )
                    .await
                    .is_some()
                {
                    acked.lock().unwrap().extend(ids);
                }
                cursor = page["next_cursor"].clone();
            }
        })
    };
    // Kill once both sides have some answered writes behind them.
    for _ in 0..600 {
        if sent.lock().unwrap().len() >= 40 && acked.lock().unwrap().len() >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    server.kill_9_and_reap().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    sender.abort();
    reader.abort();
    let _ = (sender.await, reader.await);
    let sent = sent.lock().unwrap().clone();
    let acked = acked.lock().unwrap().clone();
    assert!(
        sent.len() >= 40 && acked.len() >= 20,
        "load too small: {} sent, {} acked",
        sent.len(),
        acked.len()
    );

    server = HttpServer::start(&db, &env).await;
    let client = server.client().await;
    let bob = login(&client, "bob", "claude", false).await;
    let mut inbox = Vec::new();
    let mut cursor = json!("0");
    loop {
        let page = call(
            &client,
            "get_inbox",
            json!({"after_cursor": cursor, "limit": 200, "auth_token": bob}),
        )
        .await
        .ok();
        inbox.extend(page["messages"].as_array().unwrap().iter().cloned());
        cursor = page["next_cursor"].clone();
        if page["has_more"] != json!(true) {
            break;
        }
    }
    let present: BTreeSet<i64> = inbox.iter().map(|m| m["id"].as_i64().unwrap()).collect();
    let still_acked: BTreeSet<i64> = inbox
        .iter()
        .filter(|m| m["acked"] == json!(true))
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    for id in &sent {
        assert!(present.contains(id), "answered direct message {id} lost");
    }
    for id in &acked {
        assert!(still_acked.contains(id), "answered ack of {id} lost");
    }
    eprintln!(
        "inbox crash {backend:?}: kill -9 after {} answered direct messages and {} answered acks; all present after restart ({} in the inbox)",
        sent.len(),
        acked.len(),
        present.len()
    );
}

contract!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    direct_messages_and_acks_survive_sigkill,
);
