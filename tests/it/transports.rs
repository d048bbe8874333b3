//! Transport behaviour: stdout purity over stdio, the HTTP gate, host/origin checks, health,
//! body limits, the CLI and graceful shutdown.

use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

const TOOLS: [&str; 10] = [
    "authenticate_agent",
    "refresh_token",
    "revoke_token",
    "create_session",
    "get_session",
    "list_sessions",
    "close_session",
    "add_message",
    "get_messages",
    "health",
];

#[tokio::test]
async fn stdio_stdout_carries_only_json_rpc() {
    let db = TestDb::new(Backend::Sqlite).await;
    let mut child = tokio::process::Command::new(BIN)
        .args(["--transport", "stdio", "--log-level", "debug"])
        .envs(server_env(&db))
        .env("LOG_LEVEL", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let requests = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "authenticate_agent", "arguments": {"agent_id": "a", "agent_type": "claude"}}}),
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "add_message", "arguments": {"session_id": "session_0000000000000000", "content": "x", "auth_token": "bad"}}}),
        json!({"jsonrpc": "2.0", "id": 5, "method": "no/such/method"}),
    ];
    for r in &requests {
        stdin.write_all(format!("{r}\n").as_bytes()).await.unwrap();
    }
    stdin.write_all(b"{this is not json\n").await.unwrap();
    stdin.flush().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    drop(stdin);
    let output = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .await
            .unwrap();
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .await
            .unwrap();
        (out, err)
    })
    .await
    .expect("server exits when stdin closes");
    let (stdout, stderr) = output;
    let mut answered = Vec::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let msg: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("non-JSON on stdout ({e}): {line}"));
        assert_eq!(msg["jsonrpc"], "2.0", "not JSON-RPC: {line}");
        if let Some(id) = msg["id"].as_i64() {
            answered.push(id);
        }
    }
    for id in 1..=5 {
        assert!(
            answered.contains(&id),
            "request {id} got no answer; stdout: {stdout}"
        );
    }
    assert!(
        stderr.contains("ready: stdio"),
        "logs belong on stderr: {stderr}"
    );
    let status = child.wait().await.unwrap();
    assert!(status.success(), "stdin EOF is a clean exit: {status:?}");
}

#[tokio::test]
async fn http_gate_host_origin_health_and_limits() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = HttpServer::start(&db, &[("MAX_REQUEST_BODY_BYTES", "65536")]).await;
    let http = reqwest::Client::new();
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let post = |headers: Vec<(&'static str, String)>, body: String| {
        let mut req = http
            .post(server.mcp_url())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.body(body).send()
    };
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(
        status(post(vec![], init.to_string()).await.unwrap()),
        401,
        "no credentials"
    );
    assert_eq!(
        status(
            post(
                vec![("x-api-key", "wrong-wrong-wrong-wrong".into())],
                init.to_string()
            )
            .await
            .unwrap()
        ),
        401
    );
    let unknown = shared_context_server::auth::new_token();
    assert_eq!(
        status(
            post(
                vec![("authorization", format!("Bearer {unknown}"))],
                init.to_string()
            )
            .await
            .unwrap()
        ),
        401
    );
    assert_eq!(
        status(
            post(vec![("x-api-key", API_KEY.into())], init.to_string())
                .await
                .unwrap()
        ),
        200
    );
    assert_eq!(
        status(
            post(
                vec![
                    ("x-api-key", API_KEY.into()),
                    ("host", "evil.example".into())
                ],
                init.to_string()
            )
            .await
            .unwrap()
        ),
        403,
        "DNS rebinding: foreign Host"
    );
    assert_eq!(
        status(
            post(
                vec![
                    ("x-api-key", API_KEY.into()),
                    ("origin", "http://evil.example".into())
                ],
                init.to_string()
            )
            .await
            .unwrap()
        ),
        403,
        "foreign Origin"
    );
    assert_eq!(
        status(
            post(
                vec![
                    ("x-api-key", API_KEY.into()),
                    ("origin", "http://localhost:3000".into())
                ],
                init.to_string()
            )
            .await
            .unwrap()
        ),
        200
    );
    let huge = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {"pad": "x".repeat(100_000)}});
    assert_eq!(
        status(
            post(vec![("x-api-key", API_KEY.into())], huge.to_string())
                .await
                .unwrap()
        ),
        413,
        "body over the limit"
    );
    assert!(
        server.client_with(&[]).await.is_err(),
        "an MCP client without credentials cannot connect"
    );

    let health: Value = http
        .get(format!("{}/health", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["backend"], "sqlite");
    assert!(
        health["database"]["server_version"]
            .as_str()
            .unwrap()
            .starts_with("SQLite")
    );
    for path in ["/health/live", "/health/ready"] {
        assert_eq!(
            http.get(format!("{}{path}", server.base))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
            200,
            "{path}"
        );
    }
    let stderr = server.stderr.lock().unwrap().join("\n");
    assert!(
        !stderr.contains(API_KEY) && !stderr.contains(ADMIN_KEY),
        "a key reached the log"
    );
}

#[tokio::test]
async fn tools_are_listed_with_descriptions_and_schemas() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = HttpServer::start(&db, &[]).await;
    let client = server.client().await;
    let tools = client.list_all_tools().await.unwrap();
    for name in TOOLS {
        let tool = tools
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("{name} missing"));
        assert!(
            // Short on purpose (tests/it/tool_surface.rs holds the token budget), never empty.
            tool.description.as_deref().is_some_and(|d| d.len() >= 20),
            "{name} needs a real description"
        );
        assert_eq!(
            tool.input_schema.get("type"),
            Some(&json!("object")),
            "{name} schema"
        );
        let text = serde_json::to_string(&tool.input_schema).unwrap();
        assert!(
            !text.contains("\"null\""),
            "{name}: nullable unions break Gemini function declarations: {text}"
        );
    }
    let stdio = stdio_client(&db).await;
    assert_eq!(
        stdio.list_all_tools().await.unwrap().len(),
        tools.len(),
        "same tools over stdio"
    );
}

#[tokio::test]
async fn sigterm_drains_and_exits_cleanly() {
    let db = TestDb::new(Backend::Sqlite).await;
    let mut server = HttpServer::start(&db, &[]).await;
    let client = server.client().await;
    let token = login(&client, "alice", "claude", false).await;
    call(
        &client,
        "create_session",
        json!({"purpose": "before shutdown", "auth_token": token}),
    )
    .await
    .ok();
    let pid = server.child.id().expect("pid") as i32;
    assert_eq!(unsafe_kill(pid), 0);
    let status = tokio::time::timeout(std::time::Duration::from_secs(15), server.child.wait())
        .await
        .expect("exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "clean exit: {status:?}");
}

fn unsafe_kill(pid: i32) -> i32 {
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .map(|s| if s.success() { 0 } else { 1 })
        .unwrap_or(1)
}

#[tokio::test]
async fn cli_client_config_migrate_and_config_errors() {
    let db = TestDb::new(Backend::Sqlite).await;
    let run = |args: &[&str], env: Vec<(String, String)>| {
        std::process::Command::new(BIN)
            .args(args)
            .envs(env)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = run(&["client-config", "claude"], server_env(&db));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("claude mcp add") && text.contains(API_KEY),
        "{text}"
    );
    for client in ["cursor", "vscode", "codex", "gemini", "generic"] {
        let out = run(&["client-config", client], server_env(&db));
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("/mcp"),
            "{client}"
        );
    }
    let out = run(&["migrate"], server_env(&db));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut bad = server_env(&db);
    bad.push(("API_KEY".into(), "short".into()));
    let out = run(&["migrate"], bad);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("API_KEY is shorter"),
        "{err}"
    );
    let mut bad = server_env(&db);
    bad.push(("DATABASE_URL".into(), "mysql://root:hunter2@db/x".into()));
    let out = run(&["migrate"], bad);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("DATABASE_URL") && !err.contains("hunter2"),
        "{err}"
    );
}

#[tokio::test]
async fn first_run_generates_a_private_key() {
    let dir = temp_dir();
    let out = std::process::Command::new(BIN)
        .args(["migrate"])
        .env_remove("API_KEY")
        .env_remove("ADMIN_API_KEY")
        .env("SCS_DATA_DIR", &dir)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = std::fs::read_to_string(dir.join("api_key")).unwrap();
    assert_eq!(key.trim().len(), 64);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(dir.join("api_key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    assert!(
        dir.join("shared-context.db").exists(),
        "embedded database created in the data directory"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// `--stateless`: every POST stands alone (no MCP session id), for load balancers.
#[tokio::test]
async fn stateless_http_serves_without_sessions() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = HttpServer::start(&db, &[("MCP_STATELESS", "true")]).await;
    let client = server.client().await;
    let token = login(&client, "alice", "claude", false).await;
    let sid = call(
        &client,
        "create_session",
        json!({"purpose": "stateless", "auth_token": token}),
    )
    .await
    .ok()["session_id"]
        .clone();
    call(
        &client,
        "add_message",
        json!({"session_id": sid, "content": "hi", "auth_token": token}),
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
    assert_eq!(read["count"], json!(1));
    let http = reqwest::Client::new();
    let list = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/list"});
    let resp = http
        .post(server.mcp_url())
        .header("x-api-key", API_KEY)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(list.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers().get("mcp-session-id").is_none(),
        "stateless mode hands out no session"
    );
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
}
