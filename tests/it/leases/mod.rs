//! Leases through a real MCP client over HTTP on both backends: grants, conflicts (deny and
//! warn), shared mode, scopes, renewal, expiry on the injected clock and the sweeper, release,
//! safe retries and bad input; the concurrency proofs (`concurrency.rs`) and read plans
//! (`plans.rs`).

mod concurrency;
mod crash;
mod plans;

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

async fn acquire(c: &Client, token: &str, args: Value) -> Reply {
    call(c, "acquire_lease", with(args, json!({"auth_token": token}))).await
}

fn conflict_holders(body: &Value) -> Vec<(String, String)> {
    body["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["resource"].as_str().unwrap().to_owned(),
                c["held_by"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn grant_conflict_and_release(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db).await;
    let c = app.client().await;
    let alice = login(&c, "alice", "claude", false).await;
    let bob = login(&c, "bob", "codex", false).await;

    let held = acquire(
        &c,
        &alice,
        json!({"resources": ["src/**"], "reason": "refactor"}),
    )
    .await
    .ok();
    assert_eq!(held["conflicts"], json!([]));
    assert_eq!(held["resources"], json!(["src/**"]));
    assert_eq!(held["mode"], json!("exclusive"));
    let first_token = held["fencing_token"].as_i64().unwrap();
    let lease = held["lease_id"].as_str().unwrap().to_owned();
    assert!(lease.starts_with("lease_"));

    // Overlap with another holder: denied, with who holds what until when; nothing granted.
    let denied = expect_code(
        &c,
        "acquire_lease",
        json!({"resources": ["docs/a.md", "src/db/*.rs"], "auth_token": bob}),
        "LEASE_CONFLICT",
    )
    .await;
    let conflicts = denied["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{denied}");
    assert_eq!(conflicts[0]["resource"], json!("src/db/*.rs"));
    assert_eq!(conflicts[0]["held_by"], json!("alice"));
    assert_eq!(conflicts[0]["lease_id"], json!(lease));
    assert_eq!(conflicts[0]["expires_at"], held["expires_at"]);
    assert_eq!(db_count(&db, "leases").await, 1);

    // Disjoint globs: granted, with a larger fencing token.
    let docs = acquire(&c, &bob, json!({"resources": ["docs/**"]}))
        .await
        .ok();
    assert!(docs["fencing_token"].as_i64().unwrap() > first_token);

    // warn: granted anyway, the overlaps listed.
    let warned = acquire(
        &c,
        &bob,
        json!({"resources": ["src/main.rs"], "on_conflict": "warn"}),
    )
    .await
    .ok();
    assert_eq!(
        conflict_holders(&warned),
        vec![("src/main.rs".into(), "alice".into())]
    );

    // check_leases: what overlaps, read-only.
    let seen = call(
        &c,
        "check_leases",
        json!({"resources": ["src/main.rs"], "auth_token": bob}),
    )
    .await
    .ok();
    assert_eq!(seen["count"], json!(2), "{seen}");
    let holders: Vec<&str> = seen["leases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["held_by"].as_str().unwrap())
        .collect();
    assert!(holders.contains(&"alice") && holders.contains(&"bob"));
    let none = call(
        &c,
        "check_leases",
        json!({"resources": ["README.md"], "auth_token": bob}),
    )
    .await
    .ok();
    assert_eq!(none["leases"], json!([]));
    let all = call(&c, "check_leases", json!({"auth_token": bob}))
        .await
        .ok();
    assert_eq!(all["count"], json!(3));

    // Only the holder (or an admin) releases; releasing again is a no-op success.
    let refused = expect_code(
        &c,
        "release_lease",
        json!({"lease_id": lease, "auth_token": bob}),
        "PERMISSION_DENIED",
    )
    .await;
    assert!(refused["error"].as_str().unwrap().contains("alice"));
    let released = call(
        &c,
        "release_lease",
        json!({"lease_id": lease, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(released["released"], json!(true));
    let again = call(
        &c,
        "release_lease",
        json!({"lease_id": lease, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(again["released"], json!(false));
    let now_free = acquire(&c, &bob, json!({"resources": ["src/db/*.rs"]}))
        .await
        .ok();
    assert_eq!(now_free["conflicts"], json!([]));

    let admin = login(&c, "ops", "admin", true).await;
    let by_admin = call(
        &c,
        "release_lease",
        json!({"lease_id": now_free["lease_id"], "auth_token": admin}),
    )
    .await
    .ok();
    assert_eq!(by_admin["released"], json!(true));

    // Every grant and release is audited.
    let grants = db_scalar(
        &db,
        "SELECT count(*) FROM audit_log WHERE event = 'lease_acquired'",
        "SELECT count(*) FROM shared_context.audit_log WHERE event = 'lease_acquired'",
    )
    .await;
    let releases = db_scalar(
        &db,
        "SELECT count(*) FROM audit_log WHERE event = 'lease_released'",
        "SELECT count(*) FROM shared_context.audit_log WHERE event = 'lease_released'",
    )
    .await;
    assert_eq!((grants, releases), (4, 2));
}

async fn shared_mode_and_own_leases(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db).await;
    let c = app.client().await;
    let alice = login(&c, "alice", "claude", false).await;
    let bob = login(&c, "bob", "codex", false).await;
    let carol = login(&c, "carol", "gemini", false).await;
    acquire(
        &c,
        &alice,
        json!({"resources": ["schema.sql"], "mode": "shared"}),
    )
    .await
    .ok();
    acquire(&c, &bob, json!({"resources": ["*.sql"], "mode": "shared"}))
        .await
        .ok();
    let denied = expect_code(
        &c,
        "acquire_lease",
        json!({"resources": ["schema.sql"], "auth_token": carol}),
        "LEASE_CONFLICT",
    )
    .await;
    let mut holders: Vec<String> = conflict_holders(&denied).into_iter().map(|c| c.1).collect();
    holders.sort();
    assert_eq!(holders, vec!["alice", "bob"]);
    // An agent's own lease never blocks it.
    let own = acquire(&c, &alice, json!({"resources": ["src/**"]}))
        .await
        .ok();
    let again = acquire(&c, &alice, json!({"resources": ["src/a.rs"]}))
        .await
        .ok();
    assert_eq!(again["conflicts"], json!([]));
    assert_ne!(own["lease_id"], again["lease_id"]);
    // A plain name is a literal.
    acquire(&c, &alice, json!({"resources": ["deploy-slot"]}))
        .await
        .ok();
    acquire(&c, &bob, json!({"resources": ["deploy-slot-2"]}))
        .await
        .ok();
    expect_code(
        &c,
        "acquire_lease",
        json!({"resources": ["deploy-slot"], "auth_token": bob}),
        "LEASE_CONFLICT",
    )
    .await;
}

async fn session_scope(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db).await;
    let c = app.client().await;
    let alice = login(&c, "alice", "claude", false).await;
    let bob = login(&c, "bob", "codex", false).await;
    let s1 = call(
        &c,
        "create_session",
        json!({"purpose": "one", "auth_token": alice}),
    )
    .await
    .ok()["session_id"]
        .clone();
    let s2 = call(
        &c,
        "create_session",
        json!({"purpose": "two", "auth_token": alice}),
    )
    .await
    .ok()["session_id"]
        .clone();
    acquire(
        &c,
        &alice,
        json!({"resources": ["src/**"], "session_id": s1}),
    )
    .await
    .ok();
    // Another session's leases do not conflict; a global request conflicts with every scope.
    acquire(
        &c,
        &bob,
        json!({"resources": ["src/a.rs"], "session_id": s2}),
    )
    .await
    .ok();
    expect_code(
        &c,
        "acquire_lease",
        json!({"resources": ["src/a.rs"], "session_id": s1, "auth_token": bob}),
        "LEASE_CONFLICT",
    )
    .await;
    let global = expect_code(
        &c,
        "acquire_lease",
        json!({"resources": ["src/a.rs"], "auth_token": bob}),
        "LEASE_CONFLICT",
    )
    .await;
    assert_eq!(
        global["conflicts"].as_array().unwrap().len(),
        1,
        "bob's own lease does not count"
    );
    // A global lease conflicts with requests in any session.
    acquire(&c, &alice, json!({"resources": ["Cargo.toml"]}))
        .await
        .ok();
    expect_code(
        &c,
        "acquire_lease",
        json!({"resources": ["Cargo.*"], "session_id": s2, "auth_token": bob}),
        "LEASE_CONFLICT",
    )
    .await;
    // check_leases in a session: its leases and the global ones.
    let in_s2 = call(
        &c,
        "check_leases",
        json!({"session_id": s2, "auth_token": alice}),
    )
    .await
    .ok();
    assert_eq!(in_s2["count"], json!(2), "{in_s2}");
    // Unknown or closed sessions.
    expect_code(
        &c,
        "acquire_lease",
        json!({"resources": ["x"], "session_id": "session_0000000000000000", "auth_token": bob}),
        "SESSION_NOT_FOUND",
    )
    .await;
    call(
        &c,
        "close_session",
        json!({"session_id": s2, "auth_token": alice}),
    )
    .await
    .ok();
    expect_code(
        &c,
        "acquire_lease",
        json!({"resources": ["y"], "session_id": s2, "auth_token": bob}),
        "SESSION_CLOSED",
    )
    .await;
}

async fn expiry_renewal_and_sweeper(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start_with(&db, |s| {
        s.leases.sweep_interval = Some(Duration::from_millis(50));
        s.leases.max_ttl_seconds = 600;
    })
    .await;
    let c = app.client().await;
    let alice = login(&c, "alice", "claude", false).await;
    let bob = login(&c, "bob", "codex", false).await;
    for bad in [0, -5, 601] {
        expect_code(
            &c,
            "acquire_lease",
            json!({"resources": ["a"], "ttl_seconds": bad, "auth_token": alice}),
            "INVALID_TTL_VALUE",
        )
        .await;
    }
    let held = acquire(
        &c,
        &alice,
        json!({"resources": ["src/**"], "ttl_seconds": 30}),
    )
    .await
    .ok();
    let lease = held["lease_id"].clone();

    // Renewal: the same lease and token, a new expiry from now; only by its holder.
    app.clock.advance(Duration::from_secs(20));
    let renewed = acquire(&c, &alice, json!({"lease_id": lease, "ttl_seconds": 30}))
        .await
        .ok();
    assert_eq!(renewed["fencing_token"], held["fencing_token"]);
    assert_eq!(renewed["renewed"], json!(true));
    assert!(renewed["expires_at"].as_str() > held["expires_at"].as_str());
    expect_code(
        &c,
        "acquire_lease",
        json!({"lease_id": lease, "auth_token": bob}),
        "LEASE_NOT_FOUND",
    )
    .await;
    expect_code(
        &c,
        "acquire_lease",
        json!({"lease_id": lease, "mode": "shared", "auth_token": alice}),
        "INVALID_INPUT",
    )
    .await;

    // 29 s later it still holds; at 30 s it stops counting at once, before any sweep.
    app.clock.advance(Duration::from_secs(29));
    expect_code(
        &c,
        "acquire_lease",
        json!({"resources": ["src/x.rs"], "auth_token": bob}),
        "LEASE_CONFLICT",
    )
    .await;
    app.clock.advance(Duration::from_secs(1));
    let after = call(
        &c,
        "check_leases",
        json!({"resources": ["src/x.rs"], "auth_token": bob}),
    )
    .await
    .ok();
    assert_eq!(after["leases"], json!([]));
    let taken = acquire(
        &c,
        &bob,
        json!({"resources": ["src/x.rs"], "ttl_seconds": 5}),
    )
    .await
    .ok();
    assert!(taken["fencing_token"].as_i64() > held["fencing_token"].as_i64());
    expect_code(
        &c,
        "acquire_lease",
        json!({"lease_id": lease, "auth_token": alice}),
        "LEASE_NOT_FOUND",
    )
    .await;

    // The sweeper (on the same clock) deletes what expired, and only that.
    app.clock.advance(Duration::from_secs(3));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while db_count(&db, "leases").await != 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the sweeper did not remove the expired lease"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.clock.advance(Duration::from_secs(3));
    while db_count(&db, "leases").await != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the sweeper did not remove bob's lease"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn safe_retries(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db).await;
    let c = app.client().await;
    let alice = login(&c, "alice", "claude", false).await;
    let args = json!({"resources": ["src/**"], "idempotency_key": "claim-1"});
    let first = acquire(&c, &alice, args.clone()).await.ok();
    let replay = acquire(&c, &alice, args).await.ok();
    assert_eq!(first, replay);
    assert_eq!(db_count(&db, "leases").await, 1);
    expect_code(
        &c,
        "acquire_lease",
        json!({"resources": ["docs/**"], "idempotency_key": "claim-1", "auth_token": alice}),
        "IDEMPOTENCY_CONFLICT",
    )
    .await;
    let release =
        json!({"lease_id": first["lease_id"], "idempotency_key": "rel-1", "auth_token": alice});
    let r1 = call(&c, "release_lease", release.clone()).await.ok();
    let r2 = call(&c, "release_lease", release).await.ok();
    assert_eq!(
        (r1["released"].clone(), r2["released"].clone()),
        (json!(true), json!(true))
    );
    // A denied request stores nothing under its key: retried after the release, it is granted.
    let bob = login(&c, "bob", "codex", false).await;
    let held = acquire(&c, &alice, json!({"resources": ["x/**"]}))
        .await
        .ok();
    let keyed = json!({"resources": ["x/y"], "idempotency_key": "try", "auth_token": bob});
    expect_code(&c, "acquire_lease", keyed.clone(), "LEASE_CONFLICT").await;
    call(
        &c,
        "release_lease",
        json!({"lease_id": held["lease_id"], "auth_token": alice}),
    )
    .await
    .ok();
    call(&c, "acquire_lease", keyed).await.ok();
}

async fn bad_input_writes_nothing(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start(&db).await;
    let c = app.client().await;
    let alice = login(&c, "alice", "claude", false).await;
    let audit_before = db_count(&db, "audit_log").await;
    let many: Vec<String> = (0..51).map(|i| format!("f{i}")).collect();
    for (args, code) in [
        (json!({"resources": []}), "INVALID_INPUT"),
        (json!({}), "INVALID_INPUT"),
        (json!({"resources": many}), "INVALID_INPUT"),
        (json!({"resources": ["src/**x"]}), "INVALID_INPUT"),
        (json!({"resources": ["/etc/passwd"]}), "INVALID_INPUT"),
        (json!({"resources": ["a/../b"]}), "INVALID_INPUT"),
        (json!({"resources": ["src/{a,b}.rs"]}), "INVALID_INPUT"),
        (json!({"resources": ["[a-"]}), "INVALID_INPUT"),
        (
            json!({"resources": ["a"], "mode": "write"}),
            "INVALID_INPUT",
        ),
        (
            json!({"resources": ["a"], "on_conflict": "ignore"}),
            "INVALID_INPUT",
        ),
        (
            json!({"resources": ["a"], "session_id": "nope"}),
            "INVALID_SESSION_ID",
        ),
        (
            json!({"resources": ["a"], "lease_id": "lease_nope"}),
            "INVALID_INPUT",
        ),
        (
            json!({"resources": ["a"], "reason": "x".repeat(501)}),
            "INVALID_INPUT",
        ),
    ] {
        expect_code(
            &c,
            "acquire_lease",
            with(args, json!({"auth_token": alice})),
            code,
        )
        .await;
    }
    let unknown = call(
        &c,
        "acquire_lease",
        json!({"resources": ["a"], "exclusive": true, "auth_token": alice}),
    )
    .await;
    assert!(
        unknown.is_error,
        "unknown arguments are refused: {}",
        unknown.body
    );
    expect_code(
        &c,
        "release_lease",
        json!({"lease_id": "x", "auth_token": alice}),
        "INVALID_INPUT",
    )
    .await;
    expect_code(
        &c,
        "check_leases",
        json!({"resources": ["a//b"], "auth_token": alice}),
        "INVALID_INPUT",
    )
    .await;
    // Without an identity: nothing to hold a lease.
    let anonymous = call(&c, "acquire_lease", json!({"resources": ["a"]})).await;
    assert!(anonymous.is_error);
    assert_eq!(db_count(&db, "leases").await, 0);
    assert_eq!(db_count(&db, "audit_log").await, audit_before);
}

contract!(
    grant_conflict_and_release,
    shared_mode_and_own_leases,
    session_scope,
    expiry_renewal_and_sweeper,
    safe_retries,
    bad_input_writes_nothing,
);
