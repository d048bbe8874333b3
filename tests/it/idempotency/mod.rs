//! Safe retries through real clients on both backends: an `idempotency_key` replays the first
//! response and writes nothing, other arguments under the same key conflict, keys are per agent,
//! expire and are swept, errors are never remembered, concurrent identical calls write once, and
//! two server processes on one database agree.
//! The storage side (a keyed write does exactly what the plain write does) is in
//! `storage_contract/idempotency.rs`.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};

use crate::support::*;

mod lifetimes;
mod tools;

use lifetimes::{
    idempotency_concurrent_identical_calls, idempotency_expiry_and_sweeper,
    idempotency_two_processes,
};
use tools::{idempotency_memory_and_close, idempotency_replay_and_conflict};

/// One tool call: (is_error, structuredContent, content[0].text).
async fn raw(client: &Client, tool: &str, args: Value) -> (bool, Value, String) {
    let params = CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().cloned().unwrap());
    let result = client
        .call_tool(params)
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    let text = result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default();
    (
        result.is_error.unwrap_or(false),
        result.structured_content.clone().unwrap_or(Value::Null),
        text,
    )
}

/// `compact` is `full` with some fields left out, at any depth.
fn compacted_from(compact: &Value, full: &Value) -> bool {
    match (compact, full) {
        (Value::Object(c), Value::Object(f)) => c
            .iter()
            .all(|(k, v)| f.get(k).is_some_and(|fv| compacted_from(v, fv))),
        (Value::Array(c), Value::Array(f)) => {
            c.len() == f.len() && c.iter().zip(f).all(|(a, b)| compacted_from(a, b))
        }
        _ => compact == full,
    }
}

/// A successful call's body, and its text form (the same object, compacted).
async fn ok(client: &Client, tool: &str, args: Value) -> (Value, String) {
    let (is_error, body, text) = raw(client, tool, args).await;
    assert!(
        !is_error && body["success"] == json!(true),
        "{tool} failed: {body}"
    );
    // A write's text is the compact form of the same object (empty fields left out); a read's
    // is its rendering for a model (tests/it/compact_results.rs).
    if text.starts_with('{') {
        let compact: Value = serde_json::from_str(&text).unwrap();
        assert!(
            compacted_from(&compact, &body),
            "text {text} is not the compact form of {body}"
        );
    } else {
        assert!(!text.is_empty(), "{tool}: no text");
    }
    (body, text)
}

async fn audits(db: &TestDb, event: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM audit_log WHERE event = '{event}'");
    db_scalar(
        db,
        &sql,
        &sql.replace("FROM audit_log", "FROM shared_context.audit_log"),
    )
    .await
}

/// A tools/call with hand-written JSON arguments, on a stateless server: key order and spacing
/// as the caller wrote them.
async fn raw_http(server: &HttpServer, tool: &str, arguments: &str) -> Value {
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{{"name":"{tool}","arguments":{arguments}}}}}"#
    );
    let resp = reqwest::Client::new()
        .post(server.mcp_url())
        .header("x-api-key", API_KEY)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let reply: Value = resp.json().await.unwrap();
    reply["result"]["structuredContent"].clone()
}

contract!(
    idempotency_replay_and_conflict,
    idempotency_memory_and_close,
    idempotency_expiry_and_sweeper,
    idempotency_concurrent_identical_calls,
    idempotency_two_processes,
);
