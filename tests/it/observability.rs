//! `/metrics` read by a real Prometheus text parser, on both backends; the log defaults (the MCP
//! SDK kept at warn), `LOG_FORMAT=json`, the access log at debug, and flags beating `RUST_LOG`.

use std::process::Stdio;
use std::time::Duration;

use prometheus_parse::{Sample, Scrape, Value as Prom};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{
    API_KEY, BIN, Backend, HttpServer, TestDb, call, login, new_session, server_env,
};

fn scrape(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text format")
}

fn find<'a>(scrape: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
}

fn scalar(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    match find(scrape, metric, labels).map(|s| &s.value) {
        Some(Prom::Counter(v) | Prom::Gauge(v) | Prom::Untyped(v)) => *v,
        other => panic!("{metric}{labels:?}: {other:?}"),
    }
}

async fn metrics_text(server: &HttpServer) -> String {
    let resp = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    resp.text().await.unwrap()
}

async fn metrics_parse(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = HttpServer::start(&db, &[]).await;
    let client = server.client().await;
    let token = login(&client, "alice", "claude", false).await;
    let sid = new_session(&client, &token, "metrics").await;
    call(
        &client,
        "add_message",
        json!({"session_id": sid, "content": "hi", "auth_token": token}),
    )
    .await
    .ok();
    let missing = call(
        &client,
        "get_session",
        json!({"session_id": "session_ffffffffffffffff", "auth_token": token}),
    )
    .await;
    assert!(missing.is_error);
    // Refusals that never reach a tool: no key (401), a foreign Host (403).
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(server.mcp_url()).send().await.unwrap().status(),
        401
    );
    let foreign = http
        .get(server.mcp_url())
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    // One open event stream and one blocked waiter.
    let stream = http
        .get(format!(
            "{}/sessions/{sid}/events?after_id=999999",
            server.base
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let waiter_client = server.client().await;
    let waiter_token = token.clone();
    let waiter_sid = sid.clone();
    let waiter = tokio::spawn(async move {
        call(
            &waiter_client,
            "wait_for_messages",
            json!({"session_id": waiter_sid, "after_id": 999999, "timeout_seconds": 20, "auth_token": waiter_token}),
        )
        .await
    });

    let mut text = String::new();
    let mut parsed = scrape("");
    for _ in 0..100 {
        text = metrics_text(&server).await;
        parsed = scrape(&text);
        if find(&parsed, "scs_waiters", &[]).is_some_and(|s| s.value == Prom::Gauge(1.0)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(scalar(&parsed, "scs_waiters", &[]), 1.0, "{text}");
    assert_eq!(scalar(&parsed, "scs_event_streams", &[]), 1.0);
    assert!(scalar(&parsed, "scs_mcp_sessions", &[]) >= 2.0);
    assert_eq!(scalar(&parsed, "scs_database_up", &[]), 1.0);
    let backend_name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgresql",
    };
    assert_eq!(
        scalar(
            &parsed,
            "scs_build_info",
            &[
                ("version", env!("CARGO_PKG_VERSION")),
                ("backend", backend_name)
            ]
        ),
        1.0
    );
    for status in ["401", "403"] {
        assert!(
            scalar(&parsed, "scs_http_responses_total", &[("status", status)]) >= 1.0,
            "{status}"
        );
    }
    assert!(scalar(&parsed, "scs_http_responses_total", &[("status", "200")]) >= 5.0);
    assert!(scalar(&parsed, "process_resident_memory_bytes", &[]) > 1e6);
    assert!(scalar(&parsed, "process_cpu_seconds_total", &[]) > 0.0);
    assert!(scalar(&parsed, "process_open_fds", &[]) >= 3.0);
    assert!(scalar(&parsed, "process_max_fds", &[]) >= scalar(&parsed, "process_open_fds", &[]));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let start = scalar(&parsed, "process_start_time_seconds", &[]);
    assert!(
        start > now - 600.0 && start <= now + 1.0,
        "{start} vs {now}"
    );
    assert_eq!(
        scalar(&parsed, "scs_tool_calls_total", &[("tool", "add_message")]),
        1.0
    );
    assert_eq!(
        scalar(
            &parsed,
            "scs_tool_errors_total",
            &[("tool", "get_session"), ("code", "SESSION_NOT_FOUND")]
        ),
        1.0
    );
    // 16 rounded buckets plus +Inf per histogram, and counts that add up.
    let Some(Prom::Histogram(buckets)) = find(
        &parsed,
        "scs_tool_duration_seconds",
        &[("tool", "create_session")],
    )
    .map(|s| &s.value) else {
        panic!("no create_session histogram:\n{text}");
    };
    assert_eq!(buckets.len(), 17, "{buckets:?}");
    assert_eq!(buckets.last().unwrap().count, 1.0);
    assert!(buckets.last().unwrap().less_than.is_infinite());
    for line in text.lines().filter(|l| l.contains("le=\"")) {
        let le = line
            .split("le=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(le.len() <= 6, "bucket bound not rounded: {line}");
    }
    let bucket_series = text
        .lines()
        .filter(|l| l.starts_with("scs_tool_duration_seconds_bucket"))
        .count();
    let tools = parsed
        .samples
        .iter()
        .filter(|s| s.metric == "scs_tool_calls_total")
        .count();
    assert_eq!(bucket_series, tools * 17);
    if backend == Backend::Postgres {
        assert!(find(&parsed, "scs_pool_acquire_seconds", &[]).is_some());
    }
    // Every family is documented.
    for sample in &parsed.samples {
        let family = sample
            .metric
            .trim_end_matches("_sum")
            .trim_end_matches("_count");
        assert!(
            parsed.docs.contains_key(family),
            "no HELP for {}",
            sample.metric
        );
    }
    drop(stream);
    waiter.abort();
}

#[tokio::test]
async fn metrics_parse_with_a_prometheus_parser_sqlite() {
    metrics_parse(Backend::Sqlite).await;
}

#[tokio::test]
async fn metrics_parse_with_a_prometheus_parser_postgres() {
    metrics_parse(Backend::Postgres).await;
}

/// Runs the binary (stateless HTTP) with the test env minus `remove`, plus `add` and `args`;
/// sends `requests` stateless tool calls, stops it with SIGTERM and returns its stderr lines.
async fn log_lines(
    db: &TestDb,
    remove: &[&str],
    add: &[(&str, &str)],
    args: &[&str],
    requests: usize,
) -> Vec<String> {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(["--port", "0", "--stateless"])
        .args(args)
        .envs(server_env(db))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for name in remove {
        cmd.env_remove(name);
    }
    cmd.env_remove("RUST_LOG");
    cmd.envs(add.iter().copied());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let base = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("ready in time")
            .unwrap()
            .unwrap_or_else(|| panic!("exited early: {seen:?}"));
        seen.push(line.clone());
        // The ready line as text, or (LOG_FORMAT=json) as the message of a JSON line.
        let message = serde_json::from_str::<Value>(&line)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or(line);
        if let Some(url) = message.strip_prefix("shared-context-server ready: ") {
            break url.to_owned();
        }
    };
    let http = reqwest::Client::new();
    for i in 0..requests {
        let body = json!({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": "get_usage_guidance", "arguments": {}}});
        let resp = http
            .post(&base)
            .header("x-api-key", API_KEY)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    while let Ok(Some(line)) = lines.next_line().await {
        seen.push(line);
    }
    child.wait().await.unwrap();
    seen
}

#[tokio::test]
async fn default_logs_keep_the_sdk_quiet_and_json_and_access_logs_work() {
    let db = TestDb::new(Backend::Sqlite).await;
    // Defaults (no LOG_LEVEL): info for us, warn for the MCP SDK. 20 stateless calls used to log
    // 60 INFO lines from rmcp.
    let lines = log_lines(&db, &["LOG_LEVEL"], &[], &[], 20).await;
    let sdk: Vec<&String> = lines.iter().filter(|l| l.contains("rmcp")).collect();
    assert!(sdk.is_empty(), "SDK lines at the default level: {sdk:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("INFO") && l.contains("listening on")),
        "our own info lines remain: {lines:?}"
    );

    // JSON lines with the access log at debug.
    let lines = log_lines(
        &db,
        &[],
        &[("LOG_LEVEL", "debug"), ("LOG_FORMAT", "json")],
        &[],
        3,
    )
    .await;
    // Every stderr line is JSON, the ready line included.
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        events.iter().any(|e| e["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("shared-context-server ready: http://")),
        "{lines:?}"
    );
    assert!(!events.is_empty(), "{lines:?}");
    for e in &events {
        assert!(e["timestamp"].is_string() && e["level"].is_string() && e["target"].is_string());
    }
    let access: Vec<&Value> = events
        .iter()
        .filter(|e| e["target"] == "shared_context_server::http::access")
        .collect();
    assert_eq!(access.len(), 3, "one access line per request: {access:?}");
    assert_eq!(access[0]["method"], "POST");
    assert_eq!(access[0]["path"], "/mcp");
    assert_eq!(access[0]["status"], 200);
    assert!(access[0]["ms"].as_f64().is_some());
    assert!(
        !lines.iter().any(|l| l.contains(API_KEY)),
        "the key reached the log"
    );

    // The flag beats RUST_LOG (and LOG_LEVEL): warn hides the info lines RUST_LOG asks for.
    let lines = log_lines(
        &db,
        &[],
        &[("RUST_LOG", "trace"), ("LOG_LEVEL", "debug")],
        &["--log-level", "warn"],
        2,
    )
    .await;
    let noisy: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(" INFO ") || l.contains(" DEBUG ") || l.contains(" TRACE "))
        .collect();
    assert!(
        noisy.is_empty(),
        "--log-level warn lost to the environment: {noisy:?}"
    );
    // Without a flag or LOG_LEVEL, RUST_LOG still applies.
    let lines = log_lines(
        &db,
        &["LOG_LEVEL"],
        &[("RUST_LOG", "shared_context_server=debug")],
        &[],
        1,
    )
    .await;
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" DEBUG ") && l.contains("access")),
        "{lines:?}"
    );
}

/// The first run under LOG_FORMAT=json: the notice is one JSON line (key file, connect command,
/// no key off a terminal), like every other stderr line.
#[tokio::test]
async fn json_logs_carry_the_first_run_notice() {
    let db = TestDb::new(Backend::Sqlite).await;
    let lines = log_lines(
        &db,
        &["API_KEY", "ADMIN_API_KEY"],
        &[("LOG_FORMAT", "json"), ("LOG_LEVEL", "info")],
        &[],
        0,
    )
    .await;
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let notice = events
        .iter()
        .find(|e| e["event"] == "first_run")
        .unwrap_or_else(|| panic!("no first-run notice: {lines:?}"));
    assert!(
        notice["api_key_file"]
            .as_str()
            .unwrap()
            .ends_with("api_key")
    );
    assert!(
        notice["connect"]
            .as_str()
            .unwrap()
            .contains("claude mcp add")
    );
    assert!(
        notice.get("api_key").is_none(),
        "the key was printed off a terminal"
    );
    let key = std::fs::read_to_string(notice["api_key_file"].as_str().unwrap()).unwrap();
    assert!(
        !lines.iter().any(|l| l.contains(key.trim())),
        "the key reached the log"
    );
}
