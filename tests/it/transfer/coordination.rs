//! The coordination tables in export, import and copy (dump format version 3): a live lease, a
//! task with a dependency and a claim, and a shared memory entry at version > 1 come back exactly;
//! afterwards new grants get larger fencing tokens and new tasks larger ids than the imported ones.

use super::*;

/// What `fill` wrote to the coordination tables, in a session of their own (task changes post
/// system messages, which the message checks of `check_live_copy` do not expect).
pub(super) struct Coordination {
    pub session: String,
    pub lease_id: String,
    pub fencing_token: i64,
    pub claimed_task: i64,
    pub dependent_task: i64,
}

/// Through the running server: two grants (the first released, so the live one's token is not 1),
/// a task claimed by bob and one depending on it, a shared entry written three times.
pub(super) async fn fill(
    client: &rmcp::Peer<rmcp::RoleClient>,
    alice: &str,
    bob: &str,
) -> Coordination {
    let session = new_session(client, alice, "split the refactor").await;
    let session = session.as_str();
    let released = call(
        client,
        "acquire_lease",
        json!({"resources": ["docs/**"], "session_id": session, "auth_token": alice}),
    )
    .await
    .ok();
    call(
        client,
        "release_lease",
        json!({"lease_id": released["lease_id"], "auth_token": alice}),
    )
    .await
    .ok();
    let lease = call(client, "acquire_lease", json!({"resources": ["src/**", "Cargo.toml"], "mode": "exclusive", "ttl_seconds": 3600, "reason": "refactor ✓", "session_id": session, "auth_token": alice})).await.ok();
    let fencing_token = lease["fencing_token"].as_i64().unwrap();
    assert!(
        fencing_token > released["fencing_token"].as_i64().unwrap(),
        "{lease}"
    );
    let task = |args: Value| async move {
        call(client, "create_task", args).await.ok()["task_id"]
            .as_i64()
            .unwrap()
    };
    let claimed_task = task(json!({"session_id": session, "title": "parser", "description": "split the parser", "metadata": {"area": "parser"}, "auth_token": alice})).await;
    let dependent_task = task(json!({"session_id": session, "title": "docs", "depends_on": [claimed_task], "auth_token": alice})).await;
    let claimed = call(
        client,
        "claim_task",
        json!({"session_id": session, "task_id": claimed_task, "auth_token": bob}),
    )
    .await
    .ok();
    assert_eq!(claimed["claimed_by"], json!("bob"), "{claimed}");
    for (i, value) in [
        json!({"plan": "a"}),
        json!({"plan": "b"}),
        json!({"plan": ["c", 3]}),
    ]
    .into_iter()
    .enumerate()
    {
        let mut args = json!({"session_id": session, "key": "decisions", "value": value, "shared": true, "auth_token": alice});
        if i > 0 {
            args["expected_version"] = json!(i);
        }
        let set = call(client, "set_memory", args).await.ok();
        assert_eq!(set["version"], json!(i + 1), "{set}");
    }
    Coordination {
        session: session.to_owned(),
        lease_id: lease["lease_id"].as_str().unwrap().to_owned(),
        fencing_token,
        claimed_task,
        dependent_task,
    }
}

/// The snapshot queries of the coordination tables (see `snapshot`), per backend.
pub(super) fn snapshot_sql(backend: Backend) -> Vec<(&'static str, String)> {
    match backend {
        Backend::Sqlite => vec![
            ("leases", "SELECT json_array(fencing_token, lease_id, holder, session_id, mode, json(resources), reason, created_at, expires_at) FROM leases ORDER BY fencing_token".into()),
            ("tasks", "SELECT json_array(id, session_id, title, description, state, created_by, assignee, claimed_by, json(depends_on), json(metadata), json(result), note, created_at, updated_at) FROM tasks ORDER BY id".into()),
            ("shared_memory", "SELECT json_array(session_id, key, json(value), value_size, version, updated_by, created_at, updated_at) FROM shared_memory ORDER BY session_id, key".into()),
        ],
        Backend::Postgres => {
            let t = |c: &str| format!("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
            vec![
                ("leases", format!("SELECT json_build_array(fencing_token, lease_id, holder, session_id, mode, to_json(resources), reason, {}, {})::text FROM shared_context.leases ORDER BY fencing_token", t("created_at"), t("expires_at"))),
                ("tasks", format!("SELECT json_build_array(id, session_id, title, description, state, created_by, assignee, claimed_by, depends_on, metadata, result, note, {}, {})::text FROM shared_context.tasks ORDER BY id", t("created_at"), t("updated_at"))),
                ("shared_memory", format!("SELECT json_build_array(session_id, key, value, value_size, version, updated_by, {}, {})::text FROM shared_context.shared_memory ORDER BY session_id COLLATE \"C\", key", t("created_at"), t("updated_at"))),
            ]
        }
    }
}

/// After a move, on the running copy: the lease still blocks others and keeps its token, the claim
/// and the dependency hold, the shared entry keeps its version for compare-and-set, and new grants
/// and tasks continue after the imported values.
pub(super) async fn check_live(client: &rmcp::Peer<rmcp::RoleClient>, filled: &Filled) {
    let c = &filled.coordination;
    let (alice, bob, sid) = (&filled.alice, &filled.bob, &c.session);
    let held = call(
        client,
        "check_leases",
        json!({"resources": ["src/lib.rs"], "auth_token": bob}),
    )
    .await
    .ok();
    assert_eq!(held["leases"][0]["lease_id"], json!(c.lease_id), "{held}");
    expect_code(
        client,
        "acquire_lease",
        json!({"resources": ["src/db/*.rs"], "auth_token": bob}),
        "LEASE_CONFLICT",
    )
    .await;
    let renewed = call(
        client,
        "acquire_lease",
        json!({"lease_id": c.lease_id, "ttl_seconds": 60, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(renewed["lease_id"], json!(c.lease_id), "{renewed}");
    let fresh = call(
        client,
        "acquire_lease",
        json!({"resources": ["tests/**"], "session_id": sid, "auth_token": bob}),
    )
    .await
    .ok();
    assert!(
        fresh["fencing_token"].as_i64().unwrap() > c.fencing_token,
        "a new grant's fencing token must exceed the imported {}: {fresh}",
        c.fencing_token
    );
    let tasks = call(
        client,
        "list_tasks",
        json!({"session_id": sid, "auth_token": alice}),
    )
    .await
    .ok();
    let find = |id: i64| {
        tasks["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["task_id"] == json!(id))
            .cloned()
            .unwrap_or_else(|| panic!("task {id} lost: {tasks}"))
    };
    assert_eq!(find(c.claimed_task)["claimed_by"], json!("bob"), "{tasks}");
    assert_eq!(
        find(c.dependent_task)["blocked_by"],
        json!([c.claimed_task]),
        "{tasks}"
    );
    let new_task = call(
        client,
        "create_task",
        json!({"session_id": sid, "title": "after the move", "auth_token": alice}),
    )
    .await
    .ok();
    assert!(
        new_task["task_id"].as_i64().unwrap() > c.dependent_task,
        "{new_task}"
    );
    expect_code(client, "set_memory", json!({"session_id": sid, "key": "decisions", "value": 0, "shared": true, "expected_version": 2, "auth_token": alice}), "VERSION_CONFLICT").await;
    let set = call(client, "set_memory", json!({"session_id": sid, "key": "decisions", "value": 4, "shared": true, "expected_version": 3, "auth_token": bob})).await.ok();
    assert_eq!(set["version"], json!(4), "{set}");
    // The imported dependency is tracked for claim-next: once bob completes the claimed task, the
    // dependent one (older than the new task) is the next claimable.
    call(
        client,
        "update_task",
        json!({"task_id": c.claimed_task, "state": "completed", "auth_token": bob}),
    )
    .await
    .ok();
    let next = call(
        client,
        "claim_task",
        json!({"session_id": sid, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(next["task_id"], json!(c.dependent_task), "{next}");
}
