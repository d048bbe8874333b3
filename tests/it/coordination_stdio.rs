//! Leases, tasks and shared session memory over stdio, as local agents use them: each agent's
//! client spawns its own server process on one database, so every rule below holds across two
//! processes that share nothing but the database; both backends.

use serde_json::json;

use crate::support::*;

async fn coordination_tools_across_stdio_processes(backend: Backend) {
    let db = TestDb::new(backend).await;
    let alice_process = stdio_client(&db).await;
    let bob_process = stdio_client(&db).await;
    let alice = login(&alice_process, "alice", "claude", false).await;
    let bob = login(&bob_process, "bob", "codex", false).await;
    let sid = new_session(&alice_process, &alice, "stdio coordination").await;

    // Leases: alice's glob blocks bob's file in the other process until she releases it.
    let held = call(
        &alice_process,
        "acquire_lease",
        json!({"resources": ["src/db/**"], "session_id": sid, "auth_token": alice}),
    )
    .await
    .ok();
    let denied = expect_code(
        &bob_process,
        "acquire_lease",
        json!({"resources": ["src/db/pool.rs"], "session_id": sid, "auth_token": bob}),
        "LEASE_CONFLICT",
    )
    .await;
    assert_eq!(denied["conflicts"][0]["held_by"], "alice", "{denied}");
    assert_eq!(denied["conflicts"][0]["lease_id"], held["lease_id"]);
    let seen = call(
        &bob_process,
        "check_leases",
        json!({"resources": ["src/db/pool.rs"], "auth_token": bob}),
    )
    .await
    .ok();
    assert_eq!(seen["leases"][0]["lease_id"], held["lease_id"], "{seen}");
    call(
        &alice_process,
        "release_lease",
        json!({"lease_id": held["lease_id"], "auth_token": alice}),
    )
    .await
    .ok();
    let granted = call(
        &bob_process,
        "acquire_lease",
        json!({"resources": ["src/db/pool.rs"], "session_id": sid, "auth_token": bob}),
    )
    .await
    .ok();
    assert!(
        granted["fencing_token"].as_i64() > held["fencing_token"].as_i64(),
        "fencing tokens grow across processes: {held} then {granted}"
    );

    // Tasks: bob claims alice's task from his process; her claim is refused; his update shows.
    let task = call(
        &alice_process,
        "create_task",
        json!({"session_id": sid, "title": "split the parser", "auth_token": alice}),
    )
    .await
    .ok();
    let claimed = call(
        &bob_process,
        "claim_task",
        json!({"session_id": sid, "auth_token": bob}),
    )
    .await
    .ok();
    assert_eq!(
        (claimed["task_id"].clone(), claimed["claimed_by"].clone()),
        (task["task_id"].clone(), json!("bob")),
        "{claimed}"
    );
    expect_code(
        &alice_process,
        "claim_task",
        json!({"session_id": sid, "task_id": task["task_id"], "auth_token": alice}),
        "TASK_ALREADY_CLAIMED",
    )
    .await;
    call(
        &bob_process,
        "update_task",
        json!({"task_id": task["task_id"], "state": "completed", "auth_token": bob}),
    )
    .await
    .ok();
    let listed = call(
        &alice_process,
        "list_tasks",
        json!({"session_id": sid, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(listed["tasks"][0]["state"], "completed", "{listed}");

    // Shared memory: compare-and-set decides between the two processes.
    let first = call(&alice_process, "set_memory", json!({"session_id": sid, "key": "plan", "value": "v1", "shared": true, "expected_version": 0, "auth_token": alice})).await.ok();
    assert_eq!(first["version"], 1, "{first}");
    let conflict = expect_code(&bob_process, "set_memory", json!({"session_id": sid, "key": "plan", "value": "mine", "shared": true, "expected_version": 0, "auth_token": bob}), "VERSION_CONFLICT").await;
    assert_eq!(conflict["current_version"], 1, "{conflict}");
    call(&bob_process, "set_memory", json!({"session_id": sid, "key": "plan", "value": "v2", "shared": true, "expected_version": 1, "auth_token": bob})).await.ok();
    let read = call(
        &alice_process,
        "get_memory",
        json!({"session_id": sid, "key": "plan", "shared": true, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(
        (
            read["value"].clone(),
            read["version"].clone(),
            read["updated_by"].clone()
        ),
        (json!("v2"), json!(2), json!("bob")),
        "{read}"
    );
}

contract!(coordination_tools_across_stdio_processes);
