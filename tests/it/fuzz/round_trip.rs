//! Valid but extreme values (floats, f64::MAX) round-trip through the server on both backends.

use serde_json::{Map, Value, json};

use super::SEED;
use crate::support::*;

/// Metadata numbers come back as the same f64. FAILS without serde_json's `float_roundtrip`
/// feature: its default float parser is not correctly rounded, so some values (for example
/// 1.2345678901234567e-7) come back one ulp off, through both backends.
async fn metadata_floats_round_trip(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let client = server.client().await;
    let token = login(&client, "floats", "claude", false).await;
    let sid = call(
        &client,
        "create_session",
        json!({"purpose": "floats", "auth_token": token}),
    )
    .await
    .ok()["session_id"]
        .clone();
    let mut rng = XorShift::new(SEED ^ 0xf10a7);
    let mut values: Vec<f64> = vec![
        0.1,
        1.2345678901234567e-7,
        5e-324,
        2.2250738585072014e-308,
        1.7976931348623157e308,
        1.1063543360794556e18,
    ];
    while values.len() < 200 {
        let v = f64::from_bits(rng.next_u64());
        if v.is_finite() {
            values.push(v);
        }
    }
    let metadata: Map<String, Value> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("v{i}"), json!(v)))
        .collect();
    // 200 floats are at most ~6.5 KB of JSON, under the 10 KB metadata limit.
    call(
        &client,
        "add_message",
        json!({"session_id": sid, "content": "floats", "metadata": metadata, "auth_token": token}),
    )
    .await
    .ok();
    let read = call(
        &client,
        "get_messages",
        json!({"session_id": sid, "auth_token": token}),
    )
    .await
    .ok();
    let back = &read["messages"][0]["metadata"];
    let changed: Vec<String> = values
        .iter()
        .enumerate()
        .filter(|(i, v)| back[format!("v{i}")].as_f64().map(f64::to_bits) != Some(v.to_bits()))
        .map(|(i, v)| format!("{v:e} -> {}", back[format!("v{i}")]))
        .collect();
    assert!(
        changed.is_empty(),
        "{} of {} metadata floats changed on the way through the server: {:?}",
        changed.len(),
        values.len(),
        &changed[..changed.len().min(5)]
    );
}

/// A stored number must never make later reads fail. FAILS on PostgreSQL without serde_json's
/// `float_roundtrip` feature: JSONB prints 1.7976931348623157e308 (f64::MAX) as a 309-digit integer,
/// which serde_json's default parser rounds to infinity and rejects ("number out of range"), so the
/// write succeeds and then every read of that row is INTERNAL_ERROR: get_messages, get_session and
/// search_context of the session, get_memory, and list_sessions for every caller.
async fn huge_numbers_do_not_poison_reads(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let client = server.client().await;
    let writer = login(&client, "writer", "claude", false).await;
    let other = login(&client, "other", "gemini", false).await;
    let big = json!({"max": f64::MAX, "min": -f64::MAX, "near": 1.7e308, "tiny": 5e-324});
    let mut broken = Vec::new();
    // Writes: each must succeed (and say so).
    let with_big = call(
        &client,
        "create_session",
        json!({"purpose": "big numbers", "metadata": big, "auth_token": writer}),
    )
    .await;
    if with_big.is_error {
        broken.push(format!(
            "create_session with them: {}",
            with_big.body["code"]
        ));
    }
    let sid = call(
        &client,
        "create_session",
        json!({"purpose": "plain", "auth_token": writer}),
    )
    .await
    .ok()["session_id"]
        .clone();
    let added = call(
        &client,
        "add_message",
        json!({"session_id": sid, "content": "big numbers", "metadata": big, "auth_token": writer}),
    )
    .await;
    if added.is_error {
        broken.push(format!("add_message with them: {}", added.body["code"]));
    }
    let set = call(
        &client,
        "set_memory",
        json!({"key": "big", "value": big, "auth_token": writer}),
    )
    .await;
    if set.is_error {
        broken.push(format!("set_memory with them: {}", set.body["code"]));
    }

    for (what, tool, args) in [
        (
            "get_messages",
            "get_messages",
            json!({"session_id": sid, "auth_token": writer}),
        ),
        (
            "get_session",
            "get_session",
            json!({"session_id": sid, "auth_token": writer}),
        ),
        (
            "search_context",
            "search_context",
            json!({"session_id": sid, "query": "big numbers", "auth_token": writer}),
        ),
        (
            "get_memory",
            "get_memory",
            json!({"key": "big", "auth_token": writer}),
        ),
        (
            "list_sessions (another agent)",
            "list_sessions",
            json!({"auth_token": other}),
        ),
        ("list_sessions (anonymous)", "list_sessions", json!({})),
    ] {
        let reply = call(&client, tool, args).await;
        if reply.is_error {
            broken.push(format!("{what}: {}", reply.body["code"]));
        }
    }
    assert!(
        broken.is_empty(),
        "storing f64::MAX broke these calls: {broken:?}"
    );
    let back = call(
        &client,
        "get_memory",
        json!({"key": "big", "auth_token": writer}),
    )
    .await
    .ok();
    assert_eq!(
        back["value"], big,
        "the numbers come back as they were written"
    );
}

contract!(huge_numbers_do_not_poison_reads, metadata_floats_round_trip,);
