//! Crash safety of leases: while an agent takes leases, SIGKILL the server, restart it on the
//! same database, and check that every grant that got a success answer is still held with its
//! fencing token, and that no lease (answered or in flight at the kill) blocks anyone past its TTL.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The TTL of the short leases: past it, nothing they covered may block a new grant.
const SHORT_TTL: u64 = 2;

async fn answered(client: &Client, args: Value) -> Option<Value> {
    let params = rmcp::model::CallToolRequestParams::new("acquire_lease")
        .with_arguments(args.as_object().cloned().unwrap());
    match tokio::time::timeout(CALL_TIMEOUT, client.call_tool(params)).await {
        Ok(Ok(r)) if r.is_error != Some(true) => r.structured_content,
        _ => None,
    }
}

async fn grants_survive_sigkill(backend: Backend) {
    let db = TestDb::new(backend).await;
    let env = [("SCS_TOOLS", "all")];
    let mut server = HttpServer::start(&db, &env).await;
    let setup = server.client().await;
    let alice = login(&setup, "alice", "claude", false).await;
    let granted: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let writer = {
        let (client, granted, alice) = (server.client().await, granted.clone(), alice.clone());
        tokio::spawn(async move {
            for i in 0.. {
                // Alternate long leases (must survive) and short ones (must stop blocking).
                let (resource, ttl) = if i % 2 == 0 {
                    (format!("a/{i}"), 3600)
                } else {
                    (format!("b/{i}"), SHORT_TTL)
                };
                let args =
                    json!({"resources": [resource], "ttl_seconds": ttl, "auth_token": alice});
                if let Some(body) = answered(&client, args).await
                    && ttl == 3600
                {
                    let id = body["lease_id"].as_str().unwrap().to_owned();
                    granted
                        .lock()
                        .unwrap()
                        .push((id, body["fencing_token"].as_i64().unwrap()));
                }
            }
        })
    };
    for _ in 0..600 {
        if granted.lock().unwrap().len() >= 30 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    server.kill_9_and_reap().await;
    writer.abort();
    let _ = writer.await;
    let granted = granted.lock().unwrap().clone();
    assert!(
        granted.len() >= 30,
        "only {} answered grants before the kill",
        granted.len()
    );

    let server = HttpServer::start(&db, &env).await;
    let c = server.client().await;
    let bob = login(&c, "bob", "codex", false).await;
    let held = call(
        &c,
        "check_leases",
        json!({"resources": ["a/**"], "auth_token": bob}),
    )
    .await
    .ok();
    let held: Vec<(String, i64)> = held["leases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["lease_id"].as_str().unwrap().to_owned(),
                l["fencing_token"].as_i64().unwrap(),
            )
        })
        .collect();
    for g in &granted {
        assert!(held.contains(g), "answered grant {g:?} lost after SIGKILL");
    }
    expect_code(
        &c,
        "acquire_lease",
        json!({"resources": ["a/**"], "auth_token": bob}),
        "LEASE_CONFLICT",
    )
    .await;
    // Past the short TTL, the short leases (answered or not) block nobody.
    tokio::time::sleep(Duration::from_secs(SHORT_TTL + 1)).await;
    call(
        &c,
        "acquire_lease",
        json!({"resources": ["b/**"], "auth_token": bob}),
    )
    .await
    .ok();
    println!(
        "lease crash {backend:?}: kill -9 after {} answered long grants; all held after restart",
        granted.len()
    );
}

contract!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    grants_survive_sigkill,
);
