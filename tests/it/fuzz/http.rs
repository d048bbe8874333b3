//! Raw POSTs to `/mcp`: the structured cases twice and the random ones, judged one by one, with
//! `/health` checked after each and the server's RSS compared before and after.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{Value, json};

use super::cases::{Case, Context, Expect, SessionMode};
use super::random::{random_case, templates};
use super::structured::structured_cases;
use super::{CASE_TIMEOUT, PROTOCOL, RSS_GROWTH_LIMIT_KB, SEED};
use crate::support::*;

/// The JSON-RPC messages in a response body (plain JSON or SSE `data:` lines).
pub(super) fn jsonrpc_messages(body: &[u8]) -> Result<Vec<Value>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "body is not UTF-8".to_owned())?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return match serde_json::from_str(trimmed).map_err(|e| format!("body is not JSON ({e})"))? {
            Value::Array(items) => Ok(items),
            v => Ok(vec![v]),
        };
    }
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(data) = line.strip_prefix("data:") {
            let data = data.trim();
            if !data.is_empty() {
                out.push(
                    serde_json::from_str(data)
                        .map_err(|e| format!("SSE data is not JSON ({e}): {data:.200}"))?,
                );
            }
        }
    }
    Ok(out)
}

pub(super) fn is_rejection(msg: &Value) -> bool {
    msg.get("error").is_some() || msg["result"]["isError"] == json!(true)
}

/// Bad input must never be an internal or database error: those codes mean the input got past
/// validation and broke something.
pub(super) fn internal_error(msg: &Value) -> Option<String> {
    let code = msg["result"]["structuredContent"]["code"].as_str()?;
    matches!(code, "INTERNAL_ERROR" | "DATABASE_UNAVAILABLE")
        .then(|| msg.to_string().chars().take(400).collect())
}

struct Http {
    client: reqwest::Client,
    base: String,
    mcp_session: String,
}

#[derive(Default)]
struct Tally {
    sent: usize,
    by_kind: BTreeMap<&'static str, usize>,
    statuses: BTreeMap<u16, usize>,
    by_kind_status: BTreeMap<(&'static str, u16), usize>,
    findings: Vec<String>,
}

impl Http {
    fn request(&self, case: &Case) -> reqwest::RequestBuilder {
        use reqwest::header::{HeaderMap, HeaderValue};
        let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert(
            "accept",
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        headers.insert("mcp-protocol-version", HeaderValue::from_static(PROTOCOL));
        headers.insert("x-api-key", HeaderValue::from_static(API_KEY));
        match case.session {
            SessionMode::Real => {
                headers.insert(
                    "mcp-session-id",
                    HeaderValue::from_str(&self.mcp_session).unwrap(),
                );
            }
            SessionMode::Bogus => {
                headers.insert(
                    "mcp-session-id",
                    HeaderValue::from_static("00000000-0000-0000-0000-000000000000"),
                );
            }
            SessionMode::Missing => {}
        }
        // A case's header replaces the default; an empty value removes it.
        for (k, v) in &case.headers {
            if v.is_empty() {
                headers.remove(*k);
            } else {
                headers.insert(*k, HeaderValue::from_str(v).unwrap());
            }
        }
        let mut req = self
            .client
            .request(method, format!("{}/mcp", self.base))
            .headers(headers);
        if !case.body.is_empty() {
            req = req.body(case.body.clone());
        }
        req
    }

    /// A fresh MCP session (initialize + initialized), so that structured cases never run on a
    /// session an earlier random case may have ended.
    async fn new_session(&mut self) {
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "1"}}});
        let response = self
            .request(&Case::json("setup", &init, Expect::NoCrash).session(SessionMode::Missing))
            .send()
            .await
            .expect("initialize");
        assert_eq!(response.status().as_u16(), 200, "initialize");
        self.mcp_session = response
            .headers()
            .get("mcp-session-id")
            .expect("mcp-session-id")
            .to_str()
            .unwrap()
            .to_owned();
        let _ = response.bytes().await;
        let initialized = Case::json(
            "setup",
            &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            Expect::NoCrash,
        );
        assert_eq!(
            self.send(&initialized).await,
            Ok(202),
            "notifications/initialized"
        );
    }

    /// Sends one case and judges the answer; `Err` is a finding.
    async fn send(&self, case: &Case) -> Result<u16, String> {
        let response = match tokio::time::timeout(CASE_TIMEOUT, self.request(case).send()).await {
            Err(_) => return Err(format!("no answer within {CASE_TIMEOUT:?}")),
            // A server may close the connection on a body it will not read (over the limit).
            Ok(Err(e)) if case.kind == "over-limit" => {
                return Ok(e.status().map_or(0, |s| s.as_u16()));
            }
            Ok(Err(e)) => return Err(format!("transport error: {e}")),
            Ok(Ok(r)) => r,
        };
        let status = response.status().as_u16();
        // A GET on a live session would be an endless SSE stream; we never send one.
        let body = match tokio::time::timeout(CASE_TIMEOUT, response.bytes()).await {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => return Err(format!("HTTP {status}, body broke off: {e}")),
            Err(_) => {
                return Err(format!(
                    "HTTP {status}, body not finished within {CASE_TIMEOUT:?}"
                ));
            }
        };
        if status >= 500 {
            return Err(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            ));
        }
        if status == 200 {
            let messages = jsonrpc_messages(&body)
                .map_err(|e| format!("HTTP 200 with a malformed body: {e}"))?;
            let answers: Vec<&Value> = messages
                .iter()
                .filter(|m| m.get("id").is_some() || m.get("error").is_some())
                .collect();
            if let Some(bad) = answers.iter().find_map(|m| internal_error(m)) {
                return Err(format!("internal error on bad input: {bad}"));
            }
            if case.expect == Expect::Reject {
                if answers.is_empty() {
                    return Err(format!(
                        "HTTP 200 without a JSON-RPC answer: {}",
                        String::from_utf8_lossy(&body[..body.len().min(300)])
                    ));
                }
                if let Some(ok) = answers.iter().find(|m| !is_rejection(m)) {
                    return Err(format!(
                        "accepted: {}",
                        ok.to_string().chars().take(300).collect::<String>()
                    ));
                }
            }
        } else if (200..300).contains(&status) && case.expect == Expect::Reject {
            return Err(format!(
                "HTTP {status} without an answer for a request that needs a rejection"
            ));
        }
        Ok(status)
    }

    async fn healthy(&self) -> Result<(), String> {
        match tokio::time::timeout(
            CASE_TIMEOUT,
            self.client.get(format!("{}/health", self.base)).send(),
        )
        .await
        {
            Ok(Ok(r)) if r.status().as_u16() == 200 => Ok(()),
            Ok(Ok(r)) => Err(format!("GET /health answered {}", r.status())),
            Ok(Err(e)) => Err(format!("GET /health failed: {e}")),
            Err(_) => Err("GET /health timed out".into()),
        }
    }

    /// A raw request inside the fuzz session, for set-up; returns the first JSON-RPC result.
    async fn rpc(&self, body: &Value) -> Value {
        let case = Case::json("setup", body, Expect::NoCrash);
        let response = self.request(&case).send().await.expect("set-up request");
        assert_eq!(response.status().as_u16(), 200, "set-up request {body}");
        let messages = jsonrpc_messages(&response.bytes().await.unwrap()).unwrap();
        messages
            .into_iter()
            .find(|m| m.get("result").is_some())
            .unwrap_or_else(|| panic!("no result for {body}"))["result"]
            .clone()
    }
}

async fn run_case(http: &Http, server: &mut HttpServer, case: &Case, tally: &mut Tally) {
    tally.sent += 1;
    *tally.by_kind.entry(case.kind).or_default() += 1;
    match http.send(case).await {
        Ok(status) => {
            *tally.statuses.entry(status).or_default() += 1;
            *tally.by_kind_status.entry((case.kind, status)).or_default() += 1;
        }
        Err(finding) => {
            let body = String::from_utf8_lossy(&case.body[..case.body.len().min(160)]).into_owned();
            tally.findings.push(format!(
                "[{}] {finding} (session {:?}, body {body:?})",
                case.kind, case.session
            ));
        }
    }
    if let Ok(Some(status)) = server.child.try_wait() {
        let log = server.stderr.lock().unwrap().join("\n");
        panic!(
            "the server died ({status}) on case {} [{}] {:?}; stderr:\n{log}",
            tally.sent,
            case.kind,
            String::from_utf8_lossy(&case.body[..case.body.len().min(500)])
        );
    }
    if let Err(e) = http.healthy().await {
        panic!(
            "unhealthy after case {} [{}] {:?}: {e}",
            tally.sent,
            case.kind,
            String::from_utf8_lossy(&case.body[..case.body.len().min(500)])
        );
    }
}

async fn http_fuzz(backend: Backend, random_cases: usize) -> usize {
    let started = Instant::now();
    let db = TestDb::new(backend).await;
    let mut server = HttpServer::start(&db, &[]).await;
    let pid = server.child.id().unwrap();
    // A fresh connection per request: the server may close a connection on a body it will not
    // read (over the limit), and a pooled connection reused after that fails on the client side.
    let client = reqwest::Client::builder()
        .timeout(CASE_TIMEOUT)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();

    // A real MCP session, a token and a chat session for the cases to aim at.
    let mut http = Http {
        client,
        base: server.base.clone(),
        mcp_session: String::new(),
    };
    http.new_session().await;

    let mut ctx = Context {
        token: String::new(),
        chat_session: String::new(),
        tools: Vec::new(),
        next_id: 1,
    };
    let auth = ctx.call(
        "authenticate_agent",
        json!({"agent_id": "fuzzer", "agent_type": "claude"}),
    );
    ctx.token = http.rpc(&auth).await["structuredContent"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let create = ctx.call(
        "create_session",
        json!({"purpose": "fuzz", "auth_token": ctx.token}),
    );
    ctx.chat_session = http.rpc(&create).await["structuredContent"]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let list = ctx.request("tools/list", json!({}));
    ctx.tools = http.rpc(&list).await["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["inputSchema"].clone(),
            )
        })
        .collect();

    let structured = structured_cases(&mut ctx);
    let templates = templates(&mut ctx);
    let mut rng = XorShift::new(SEED);
    let mut tally = Tally::default();

    // Warm-up: every structured case once and some random ones, then the measured run repeats
    // the structured cases and sends the random ones. RSS is compared between the two points.
    for case in &structured {
        run_case(&http, &mut server, case, &mut tally).await;
    }
    http.new_session().await;
    for _ in 0..300 {
        let case = random_case(&mut rng, &templates);
        run_case(&http, &mut server, &case, &mut tally).await;
    }
    let rss_before = vm_rss_kb(pid);
    http.new_session().await;
    for case in &structured {
        run_case(&http, &mut server, case, &mut tally).await;
    }
    for _ in 0..random_cases {
        let case = random_case(&mut rng, &templates);
        run_case(&http, &mut server, &case, &mut tally).await;
    }
    let rss_after = vm_rss_kb(pid);

    eprintln!(
        "fuzz http {backend:?}: {} cases ({} structured x2, {} random), {:.1} s, server RSS {} KiB -> {} KiB ({:+} KiB), statuses {:?}",
        tally.sent,
        structured.len(),
        300 + random_cases,
        started.elapsed().as_secs_f64(),
        rss_before,
        rss_after,
        rss_after as i64 - rss_before as i64,
        tally.statuses
    );
    eprintln!("fuzz http {backend:?}: cases by kind {:?}", tally.by_kind);
    if std::env::var_os("SCS_FUZZ_VERBOSE").is_some() {
        eprintln!(
            "fuzz http {backend:?}: (kind, status) {:?}",
            tally.by_kind_status
        );
    }
    let panicked = server
        .stderr
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("panicked"));
    assert!(
        !panicked,
        "the server logged a panic:\n{}",
        server.stderr.lock().unwrap().join("\n")
    );
    assert!(
        tally.findings.is_empty(),
        "{} findings:\n{}",
        tally.findings.len(),
        tally.findings.join("\n")
    );
    assert!(
        rss_after <= rss_before + RSS_GROWTH_LIMIT_KB,
        "server RSS grew by {} KiB over {} cases (limit {RSS_GROWTH_LIMIT_KB} KiB)",
        rss_after - rss_before,
        tally.sent
    );
    tally.sent
}

fn random_cases() -> usize {
    std::env::var("SCS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2400)
}

/// The same structured cases on both backends, and a quarter of the random ones on PostgreSQL
/// (NUL bytes, deep JSONB, huge values reach a different store).
async fn fuzz_http_bad_input(backend: Backend) {
    let random = match backend {
        Backend::Sqlite => random_cases(),
        Backend::Postgres => random_cases() / 4,
    };
    let sent = http_fuzz(backend, random).await;
    eprintln!("fuzz_http_bad_input {backend:?}: {sent} cases sent, 0 crashes, 0 findings");
}

contract!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    fuzz_http_bad_input,
);
