//! Crash safety of tasks and shared memory: while one agent claims tasks and another bumps a
//! shared counter by compare-and-set, SIGKILL the server, restart it on the same database, and
//! check that every answered claim is still held by its claimant (and never handed out again) and
//! that the counter is at least at the last answered version, with that write's value.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Tasks waiting to be claimed: more than the claimer gets through before the kill.
const TASKS: usize = 120;
/// Answers of each kind to wait for before the kill.
const BEFORE_KILL: usize = 25;

/// The body of a success answer; `None` for a tool error, a transport error or no answer.
async fn answered(client: &Client, tool: &str, args: Value) -> Option<Value> {
    let params = rmcp::model::CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().cloned().unwrap());
    match tokio::time::timeout(CALL_TIMEOUT, client.call_tool(params)).await {
        Ok(Ok(r)) if r.is_error != Some(true) => r.structured_content,
        _ => None,
    }
}

#[derive(Default)]
struct Answers {
    /// Task ids whose claim_task got an answer.
    claims: Vec<i64>,
    /// The version of the last answered set_memory (its value equals its version).
    cas_version: i64,
    cas_writes: usize,
}

async fn claims_and_cas_writes_survive_sigkill(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut server = HttpServer::start(&db, &[]).await;
    let setup = server.client().await;
    let alice = login(&setup, "alice", "claude", false).await;
    let bob = login(&setup, "bob", "codex", false).await;
    let sid = new_session(&setup, &alice, "task crash").await;
    for i in 0..TASKS {
        call(
            &setup,
            "create_task",
            json!({"session_id": sid, "title": format!("task {i}"), "auth_token": alice}),
        )
        .await
        .ok();
    }
    let first = call(
        &setup,
        "set_memory",
        json!({"session_id": sid, "key": "counter", "value": 1, "shared": true,
        "expected_version": 0, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(first["version"], 1);

    let answers: Arc<Mutex<Answers>> = Arc::new(Mutex::new(Answers {
        cas_version: 1,
        ..Answers::default()
    }));
    let claimer = {
        let (c, answers, sid, bob) = (
            server.client().await,
            answers.clone(),
            sid.clone(),
            bob.clone(),
        );
        tokio::spawn(async move {
            loop {
                let args = json!({"session_id": sid, "auth_token": bob});
                if let Some(body) = answered(&c, "claim_task", args).await {
                    let Some(id) = body["task_id"].as_i64() else {
                        break; // all claimed
                    };
                    answers.lock().unwrap().claims.push(id);
                }
            }
        })
    };
    let bumper = {
        let (c, answers, sid, alice) = (
            server.client().await,
            answers.clone(),
            sid.clone(),
            alice.clone(),
        );
        tokio::spawn(async move {
            // The only writer of the key: each write's value is the version it creates.
            let mut version = 1;
            loop {
                let args = json!({"session_id": sid, "key": "counter", "value": version + 1,
                    "shared": true, "expected_version": version, "auth_token": alice});
                if let Some(body) = answered(&c, "set_memory", args).await {
                    version = body["version"].as_i64().unwrap();
                    let mut a = answers.lock().unwrap();
                    a.cas_version = version;
                    a.cas_writes += 1;
                }
            }
        })
    };
    for _ in 0..1200 {
        {
            let a = answers.lock().unwrap();
            if a.claims.len() >= BEFORE_KILL && a.cas_writes >= BEFORE_KILL {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    server.kill_9_and_reap().await;
    claimer.abort();
    bumper.abort();
    let _ = claimer.await;
    let _ = bumper.await;
    let Answers {
        claims,
        cas_version,
        cas_writes,
    } = std::mem::take(&mut *answers.lock().unwrap());
    assert!(
        claims.len() >= BEFORE_KILL && cas_writes >= BEFORE_KILL,
        "only {} claims and {cas_writes} CAS writes answered before the kill",
        claims.len()
    );

    server = HttpServer::start(&db, &[]).await;
    let c = server.client().await;
    let working = call(
        &c,
        "list_tasks",
        json!({"session_id": sid, "state": "working", "limit": 200, "auth_token": alice}),
    )
    .await
    .ok();
    let held: Vec<(i64, String)> = working["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["task_id"].as_i64().unwrap(),
                t["claimed_by"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for id in &claims {
        assert!(
            held.contains(&(*id, "bob".to_owned())),
            "answered claim of task {id} lost after SIGKILL"
        );
    }
    // No task is handed out twice: what is left to claim excludes every answered claim.
    let carol = login(&c, "carol", "gemini", false).await;
    loop {
        let next = call(
            &c,
            "claim_task",
            json!({"session_id": sid, "auth_token": carol}),
        )
        .await
        .ok();
        let Some(id) = next["task_id"].as_i64() else {
            break;
        };
        assert!(!claims.contains(&id), "task {id} claimed twice");
    }
    let counter = call(
        &c,
        "get_memory",
        json!({"session_id": sid, "key": "counter", "shared": true, "auth_token": bob}),
    )
    .await
    .ok();
    let version = counter["version"].as_i64().unwrap();
    assert!(
        version >= cas_version,
        "answered CAS write to version {cas_version} lost: the counter is at {version}"
    );
    assert_eq!(counter["value"], json!(version), "{counter}");
    // The next CAS write still sees exactly one current version.
    let next = call(
        &c,
        "set_memory",
        json!({"session_id": sid, "key": "counter", "value": version + 1, "shared": true,
        "expected_version": version, "auth_token": bob}),
    )
    .await
    .ok();
    assert_eq!(next["version"], json!(version + 1));
    println!(
        "task crash {backend:?}: kill -9 after {} answered claims and {cas_writes} answered CAS writes \
         (last version {cas_version}); all held after restart (counter at {version})",
        claims.len()
    );
}

contract!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    claims_and_cas_writes_survive_sigkill,
);
