//! A second `initialize` on a live session, over stdio and HTTP.

use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::http::jsonrpc_messages;
use super::{CASE_TIMEOUT, PROTOCOL};
use crate::support::*;

/// A second `initialize` on a live session asking for a protocol version the server does not
/// support. FAILS (rmcp 3.11): the answer says `protocolVersion: "2025-11-25"`, but the session then
/// behaves as 2026-07-28: `ping` answers -32601 and tool results carry `resultType`. Same over
/// stdio and HTTP. A client that re-initializes (or a fuzzer) loses ping for the rest of the session.
#[tokio::test]
async fn reinitialize_with_an_unknown_version_keeps_ping() {
    let init = |id: u64, version: &str| json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "reinit", "version": "1"}}});
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let ping = json!({"jsonrpc": "2.0", "id": 3, "method": "ping"});
    let db = TestDb::new(Backend::Sqlite).await;
    let mut broken = Vec::new();

    // stdio: one line at a time, each answer read before the next line.
    let mut child = tokio::process::Command::new(BIN)
        .args(["--transport", "stdio"])
        .envs(server_env(&db))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut answer = async |line: &Value| -> Option<Value> {
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        line.get("id")?;
        let text = tokio::time::timeout(CASE_TIMEOUT, stdout.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        Some(serde_json::from_str(&text).unwrap())
    };
    answer(&init(1, PROTOCOL)).await;
    answer(&initialized).await;
    let again = answer(&init(2, "2026-07-28")).await.unwrap();
    let pong = answer(&ping).await.unwrap();
    if pong.get("result").is_none() {
        broken.push(format!(
            "stdio: re-initialize answered {} then ping answered {pong}",
            again["result"]["protocolVersion"]
        ));
    }
    drop(stdin);
    let _ = child.wait().await;

    // HTTP: the same inside one MCP session.
    let server = HttpServer::start(&db, &[]).await;
    let http = reqwest::Client::new();
    let post = |body: &Value, session: Option<&str>| {
        let mut req = http
            .post(server.mcp_url())
            .header("x-api-key", API_KEY)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string());
        // Like a client's initialize, the re-initialize carries no MCP-Protocol-Version header
        // (with one that differs from its params, rmcp refuses it with -32600, which is fine).
        if let Some(s) = session {
            req = req.header("mcp-session-id", s);
            if body["method"] != "initialize" {
                req = req.header("mcp-protocol-version", PROTOCOL);
            }
        }
        req.send()
    };
    let first = post(&init(1, PROTOCOL), None).await.unwrap();
    let session = first.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let _ = first.bytes().await;
    let _ = post(&initialized, Some(&session))
        .await
        .unwrap()
        .bytes()
        .await;
    let again = post(&init(2, "2026-07-28"), Some(&session))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let again = jsonrpc_messages(&again).unwrap();
    let pong = post(&ping, Some(&session))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let pong = jsonrpc_messages(&pong).unwrap();
    if std::env::var_os("SCS_FUZZ_VERBOSE").is_some() {
        eprintln!("http re-initialize: {again:?}\nhttp ping: {pong:?}");
    }
    if !pong.iter().any(|m| m.get("result").is_some()) {
        broken.push(format!(
            "http: re-initialize answered {:?} then ping answered {pong:?}",
            again
                .iter()
                .map(|m| &m["result"]["protocolVersion"])
                .collect::<Vec<_>>()
        ));
    }
    assert!(
        broken.is_empty(),
        "after a re-initialize with an unsupported version: {broken:#?}"
    );
}
