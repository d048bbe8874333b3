//! Tasks, handoffs and shared session memory through a real MCP client over HTTP, on both
//! backends: the state machine, dependencies, handoffs to the inbox, exactly one winner among
//! concurrent claimants (also across two server processes on PostgreSQL), compare-and-set
//! increments that lose nothing, idempotent retries, and bad input that writes nothing.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::support::*;

async fn create(client: &Client, token: &str, sid: &str, extra: Value) -> i64 {
    let args = with(
        json!({"session_id": sid, "title": "a task", "auth_token": token}),
        extra,
    );
    let body = call(client, "create_task", args).await.ok();
    assert_eq!(body["state"], "submitted", "{body}");
    body["task_id"].as_i64().unwrap()
}

async fn dependencies_gate_claims_and_final_states_are_final(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let c = server.client().await;
    let alice = login(&c, "alice", "claude", false).await;
    let bob = login(&c, "bob", "claude", false).await;
    let sid = new_session(&c, &alice, "tasks").await;
    let design = create(&c, &alice, &sid, json!({"title": "design"})).await;
    let build = create(
        &c,
        &alice,
        &sid,
        json!({"title": "build", "depends_on": [design]}),
    )
    .await;

    let listed = call(
        &c,
        "list_tasks",
        json!({"session_id": sid, "auth_token": bob}),
    )
    .await
    .ok();
    assert_eq!(ids_of(&listed["tasks"], "task_id"), [design, build]);
    assert_eq!(listed["tasks"][1]["blocked_by"], json!([design]));

    // A blocked task cannot be claimed; the next claimable one is the design.
    let blocked = expect_code(
        &c,
        "claim_task",
        json!({"session_id": sid, "task_id": build, "auth_token": bob}),
        "INVALID_TASK_TRANSITION",
    )
    .await;
    assert_eq!(blocked["blocked_by"], json!([design]));
    let claimed = call(
        &c,
        "claim_task",
        json!({"session_id": sid, "auth_token": bob}),
    )
    .await
    .ok();
    assert_eq!(claimed["task_id"], design);
    assert_eq!(claimed["state"], "working");
    assert_eq!(claimed["claimed_by"], "bob");
    let none = call(
        &c,
        "claim_task",
        json!({"session_id": sid, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(none["task"], Value::Null, "build is still blocked: {none}");

    // Only the claimant completes it; then build is free.
    expect_code(
        &c,
        "update_task",
        json!({"task_id": design, "state": "completed", "auth_token": alice}),
        "PERMISSION_DENIED",
    )
    .await;
    let done = call(
        &c,
        "update_task",
        json!({"task_id": design, "state": "completed",
        "note": "see docs/design.md", "result": {"doc": "docs/design.md"}, "auth_token": bob}),
    )
    .await
    .ok();
    assert_eq!(done["state"], "completed");
    assert_eq!(done["result"]["doc"], "docs/design.md");
    let freed = call(
        &c,
        "list_tasks",
        json!({"session_id": sid, "state": "submitted", "auth_token": bob}),
    )
    .await
    .ok();
    assert_eq!(ids_of(&freed["tasks"], "task_id"), [build]);
    assert_eq!(freed["tasks"][0]["blocked_by"], json!([]));

    // Final is final, even for the claimant.
    expect_code(
        &c,
        "update_task",
        json!({"task_id": design, "state": "working", "auth_token": bob}),
        "INVALID_TASK_TRANSITION",
    )
    .await;
    expect_code(
        &c,
        "claim_task",
        json!({"session_id": sid, "task_id": design, "auth_token": alice}),
        "INVALID_TASK_TRANSITION",
    )
    .await;

    // Every change posted a compact public message in the session.
    let messages = call(
        &c,
        "get_messages",
        json!({"session_id": sid, "auth_token": alice}),
    )
    .await
    .ok();
    let texts: Vec<&str> = messages["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), 4, "{texts:?}");
    assert!(
        texts[0].starts_with(&format!("task {design} created")),
        "{texts:?}"
    );
    assert!(
        texts[2].starts_with(&format!("task {design} claimed")),
        "{texts:?}"
    );
    assert!(
        texts[3].contains("completed") && texts[3].contains("see docs/design.md"),
        "{texts:?}"
    );
    // The completion made build claimable for claim-next too (its index, migration 0017/0014).
    let next = call(
        &c,
        "claim_task",
        json!({"session_id": sid, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(next["task_id"], build, "{next}");
}

async fn a_handoff_reaches_the_inbox_and_only_the_assignee_claims_it(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let c = server.client().await;
    let alice = login(&c, "alice", "claude", false).await;
    let bob = login(&c, "bob", "claude", false).await;
    let carol = login(&c, "carol", "gemini", false).await;
    let sid = new_session(&c, &alice, "tasks").await;

    let unknown = expect_code(
        &c,
        "create_task",
        json!({"session_id": sid, "title": "parser", "assignee": "bobb", "auth_token": alice}),
        "RECIPIENT_NOT_FOUND",
    )
    .await;
    assert!(unknown.to_string().contains("\"bob\""), "{unknown}");
    let task = create(
        &c,
        &alice,
        &sid,
        json!({"title": "parser", "assignee": "bob"}),
    )
    .await;

    let inbox = call(&c, "get_inbox", json!({"auth_token": bob})).await.ok();
    let handoff = &inbox["messages"][0];
    assert!(
        handoff["content"]
            .as_str()
            .unwrap()
            .contains("handed off to bob"),
        "{inbox}"
    );
    // Private to the parties: carol does not see the handoff in the session.
    let seen = call(
        &c,
        "get_messages",
        json!({"session_id": sid, "auth_token": carol}),
    )
    .await
    .ok();
    assert_eq!(seen["messages"], json!([]));

    expect_code(
        &c,
        "claim_task",
        json!({"session_id": sid, "task_id": task, "auth_token": carol}),
        "PERMISSION_DENIED",
    )
    .await;
    let skipped = call(
        &c,
        "claim_task",
        json!({"session_id": sid, "auth_token": carol}),
    )
    .await
    .ok();
    assert_eq!(skipped["task"], Value::Null);
    let mine = call(
        &c,
        "claim_task",
        json!({"session_id": sid, "auth_token": bob}),
    )
    .await
    .ok();
    assert_eq!(mine["task_id"], task);
    expect_code(
        &c,
        "claim_task",
        json!({"session_id": sid, "task_id": task, "auth_token": carol}),
        "TASK_ALREADY_CLAIMED",
    )
    .await;
    // Claiming your own task again returns it unchanged.
    let again = call(
        &c,
        "claim_task",
        json!({"session_id": sid, "task_id": task, "auth_token": bob}),
    )
    .await
    .ok();
    assert_eq!(again["state"], "working");

    // Completion reaches the creator's inbox.
    call(
        &c,
        "update_task",
        json!({"task_id": task, "state": "completed", "auth_token": bob}),
    )
    .await
    .ok();
    let creator_inbox = call(&c, "get_inbox", json!({"auth_token": alice}))
        .await
        .ok();
    let last = creator_inbox["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(
        last["content"].as_str().unwrap().contains("completed"),
        "{creator_inbox}"
    );
}

async fn bad_input_writes_nothing(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let c = server.client().await;
    let alice = login(&c, "alice", "claude", false).await;
    let sid = new_session(&c, &alice, "tasks").await;
    let base = json!({"session_id": sid, "title": "t", "auth_token": alice});
    expect_code(
        &c,
        "create_task",
        with(base.clone(), json!({"depends_on": [99]})),
        "TASK_NOT_FOUND",
    )
    .await;
    expect_code(
        &c,
        "create_task",
        with(base.clone(), json!({"depends_on": [0]})),
        "INVALID_INPUT",
    )
    .await;
    expect_code(
        &c,
        "create_task",
        with(base.clone(), json!({"title": "  "})),
        "INVALID_INPUT",
    )
    .await;
    expect_code(
        &c,
        "create_task",
        with(
            base.clone(),
            json!({"session_id": "session_00000000000000ff"}),
        ),
        "SESSION_NOT_FOUND",
    )
    .await;
    expect_code(
        &c,
        "create_task",
        with(base.clone(), json!({"bogus": 1})),
        "UNKNOWN_ARGUMENT",
    )
    .await;
    expect_code(
        &c,
        "update_task",
        json!({"task_id": 5, "state": "done", "auth_token": alice}),
        "INVALID_INPUT",
    )
    .await;
    expect_code(
        &c,
        "update_task",
        json!({"task_id": 5, "state": "failed", "auth_token": alice}),
        "TASK_NOT_FOUND",
    )
    .await;
    expect_code(
        &c,
        "claim_task",
        json!({"session_id": sid, "task_id": 5, "auth_token": alice}),
        "TASK_NOT_FOUND",
    )
    .await;
    expect_code(&c, "set_memory", json!({"session_id": sid, "key": "k", "value": 1, "expected_version": 1, "auth_token": alice}), "INVALID_INPUT").await;
    expect_code(
        &c,
        "set_memory",
        json!({"key": "k", "value": 1, "shared": true, "auth_token": alice}),
        "INVALID_INPUT",
    )
    .await;
    expect_code(&c, "set_memory", json!({"session_id": sid, "key": "k", "value": 1, "shared": true, "expected_version": -1, "auth_token": alice}), "INVALID_INPUT").await;
    assert_eq!(db_count(&db, "tasks").await, 0);
    assert_eq!(db_count(&db, "shared_memory").await, 0);
    assert_eq!(db_count(&db, "messages").await, 0);
}

async fn idempotent_task_writes_replay(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let c = server.client().await;
    let alice = login(&c, "alice", "claude", false).await;
    let sid = new_session(&c, &alice, "tasks").await;
    let args = json!({"session_id": sid, "title": "once", "idempotency_key": "create-1", "auth_token": alice});
    let first = call(&c, "create_task", args.clone()).await.ok();
    let second = call(&c, "create_task", args).await.ok();
    assert_eq!(first, second);
    let claim = json!({"session_id": sid, "idempotency_key": "claim-1", "auth_token": alice});
    let claimed = call(&c, "claim_task", claim.clone()).await.ok();
    assert_eq!(call(&c, "claim_task", claim).await.ok(), claimed);
    let update = json!({"task_id": first["task_id"], "state": "completed", "idempotency_key": "done-1", "auth_token": alice});
    let done = call(&c, "update_task", update.clone()).await.ok();
    assert_eq!(call(&c, "update_task", update).await.ok(), done);
    let set = json!({"session_id": sid, "key": "plan", "value": 1, "shared": true, "idempotency_key": "set-1", "auth_token": alice});
    let stored = call(&c, "set_memory", set.clone()).await.ok();
    assert_eq!(call(&c, "set_memory", set).await.ok(), stored);
    assert_eq!(stored["version"], 1);
    assert_eq!(db_count(&db, "tasks").await, 1);
    assert_eq!(db_count(&db, "messages").await, 3);
    let audited = db_scalar(
        &db,
        "SELECT COUNT(*) FROM audit_log WHERE event LIKE 'task_%' OR (event = 'memory_set' AND details LIKE '%\"shared\":true%')",
        "SELECT COUNT(*) FROM shared_context.audit_log WHERE event LIKE 'task_%' OR (event = 'memory_set' AND details->>'shared' = 'true')",
    )
    .await;
    assert_eq!(audited, 4);
}

/// `agents` agents, each with its own token.
async fn agents(c: &Client, n: usize) -> Vec<String> {
    let mut tokens = Vec::with_capacity(n);
    for i in 0..n {
        tokens.push(login(c, &format!("worker-{i}"), "claude", false).await);
    }
    tokens
}

/// 50 agents claim concurrently: 10 tasks go to 10 different agents, each exactly once; then 50
/// race for one named task and exactly one wins.
async fn fifty_concurrent_claimants_one_winner_per_task(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let c = server.client().await;
    let owner = login(&c, "owner", "claude", false).await;
    let sid = new_session(&c, &owner, "tasks").await;
    for _ in 0..10 {
        create(&c, &owner, &sid, json!({})).await;
    }
    let tokens = agents(&c, 50).await;
    let c = Arc::new(c);
    let race = |args: Arc<dyn Fn(&str) -> Value + Send + Sync>| {
        let handles: Vec<_> = tokens
            .iter()
            .map(|t| {
                let (c, t, args) = (c.clone(), t.clone(), args.clone());
                tokio::spawn(async move { call(&c, "claim_task", args(&t)).await })
            })
            .collect();
        async move {
            let mut out = Vec::new();
            for h in handles {
                out.push(h.await.unwrap());
            }
            out
        }
    };
    let sid2 = sid.clone();
    let replies = race(Arc::new(
        move |t| json!({"session_id": sid2, "auth_token": t}),
    ))
    .await;
    let mut won: Vec<i64> = replies
        .into_iter()
        .filter_map(|r| r.ok()["task_id"].as_i64())
        .collect();
    won.sort_unstable();
    assert_eq!(won.len(), 10, "{won:?}");
    won.dedup();
    assert_eq!(won.len(), 10, "a task went to two claimants");

    let contested = create(&c, &owner, &sid, json!({"title": "contested"})).await;
    let sid3 = sid.clone();
    let replies = race(Arc::new(
        move |t| json!({"session_id": sid3, "task_id": contested, "auth_token": t}),
    ))
    .await;
    let winners = replies.iter().filter(|r| !r.is_error).count();
    assert_eq!(winners, 1);
    assert!(
        replies
            .iter()
            .filter(|r| r.is_error)
            .all(|r| r.err_code() == "TASK_ALREADY_CLAIMED")
    );
    let claims = db_scalar(
        &db,
        "SELECT COUNT(*) FROM audit_log WHERE event = 'task_claimed'",
        "SELECT COUNT(*) FROM shared_context.audit_log WHERE event = 'task_claimed'",
    )
    .await;
    assert_eq!(claims, 11);
}

/// N agents each add 1 to a shared counter with compare-and-set, retrying on VERSION_CONFLICT:
/// the counter ends at N and its version at N.
async fn concurrent_cas_increments_lose_no_update(backend: Backend) {
    const N: usize = 20;
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let c = server.client().await;
    let owner = login(&c, "owner", "claude", false).await;
    let sid = new_session(&c, &owner, "tasks").await;
    let created = call(
        &c,
        "set_memory",
        json!({"session_id": sid, "key": "counter", "value": 0,
        "shared": true, "expected_version": 0, "auth_token": owner}),
    )
    .await
    .ok();
    assert_eq!(created["version"], 1);
    expect_code(
        &c,
        "set_memory",
        json!({"session_id": sid, "key": "counter", "value": 0,
        "shared": true, "expected_version": 0, "auth_token": owner}),
        "VERSION_CONFLICT",
    )
    .await;
    let tokens = agents(&c, N).await;
    let c = Arc::new(c);
    let mut handles = Vec::new();
    for t in tokens {
        let (c, sid) = (c.clone(), sid.clone());
        handles.push(tokio::spawn(async move {
            let read = call(
                &c,
                "get_memory",
                json!({"session_id": sid, "key": "counter", "shared": true, "auth_token": t}),
            )
            .await
            .ok();
            let (mut value, mut version) = (
                read["value"].as_i64().unwrap(),
                read["version"].as_i64().unwrap(),
            );
            let mut conflicts = 0;
            loop {
                let reply = call(
                    &c,
                    "set_memory",
                    json!({"session_id": sid, "key": "counter", "value": value + 1,
                    "shared": true, "expected_version": version, "auth_token": t}),
                )
                .await;
                if !reply.is_error {
                    return conflicts;
                }
                assert_eq!(reply.err_code(), "VERSION_CONFLICT");
                conflicts += 1;
                value = reply.body["current_value"].as_i64().unwrap();
                version = reply.body["current_version"].as_i64().unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let end = call(
        &c,
        "get_memory",
        json!({"session_id": sid, "key": "counter", "shared": true, "auth_token": owner}),
    )
    .await
    .ok();
    assert_eq!(end["value"], N as i64);
    assert_eq!(end["version"], N as i64 + 1);
    let listed = call(
        &c,
        "list_memory",
        json!({"session_id": sid, "shared": true, "auth_token": owner}),
    )
    .await
    .ok();
    assert_eq!(listed["entries"][0]["version"], N as i64 + 1);
    assert!(
        listed["entries"][0]["updated_by"]
            .as_str()
            .unwrap()
            .starts_with("worker-")
    );
}

contract!(
    dependencies_gate_claims_and_final_states_are_final,
    a_handoff_reaches_the_inbox_and_only_the_assignee_claims_it,
    bad_input_writes_nothing,
    idempotent_task_writes_replay,
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    fifty_concurrent_claimants_one_winner_per_task,
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    concurrent_cas_increments_lose_no_update,
);

/// Two server processes on one PostgreSQL database: 50 claimants split between them still give
/// each task to exactly one agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_postgres_processes_one_winner_per_task() {
    let db = TestDb::new(Backend::Postgres).await;
    let a = HttpServer::start(&db, &[]).await;
    let b = HttpServer::start(&db, &[]).await;
    let ca = Arc::new(a.client().await);
    let cb = Arc::new(b.client().await);
    let owner = login(&ca, "owner", "claude", false).await;
    let sid = new_session(&ca, &owner, "tasks").await;
    for _ in 0..20 {
        create(&ca, &owner, &sid, json!({})).await;
    }
    let tokens = agents(&ca, 50).await;
    let mut handles = Vec::new();
    for (i, t) in tokens.into_iter().enumerate() {
        let c = if i % 2 == 0 { ca.clone() } else { cb.clone() };
        let sid = sid.clone();
        handles.push(tokio::spawn(async move {
            call(
                &c,
                "claim_task",
                json!({"session_id": sid, "auth_token": t}),
            )
            .await
            .ok()["task_id"]
                .as_i64()
        }));
    }
    let mut won = Vec::new();
    for h in handles {
        won.extend(h.await.unwrap());
    }
    won.sort_unstable();
    assert_eq!(won.len(), 20, "{won:?}");
    won.dedup();
    assert_eq!(
        won.len(),
        20,
        "a task went to two claimants across processes"
    );
}
