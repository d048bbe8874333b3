//! Malformed lines over stdio: every stdout line must stay JSON-RPC, a ping after each line must be
//! answered, and the server's RSS must level off.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::cases::{Case, Context, Expect, SessionMode};
use super::http::{internal_error, is_rejection};
use super::random::{random_case, templates};
use super::structured::structured_cases;
use super::{CASE_TIMEOUT, PROTOCOL, RSS_GROWTH_LIMIT_KB, SEED};
use crate::support::*;

/// The last lines written to the stdio server, printed when it stops answering.
static RECENT: std::sync::Mutex<std::collections::VecDeque<String>> =
    std::sync::Mutex::new(std::collections::VecDeque::new());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_stdio_bad_lines_sqlite() {
    let started = Instant::now();
    let db = TestDb::new(Backend::Sqlite).await;
    let mut child = tokio::process::Command::new(BIN)
        .args(["--transport", "stdio"])
        .envs(server_env(&db))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    tokio::spawn(async move {
        loop {
            let mut line = Vec::new();
            match stdout.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let stderr_lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = stderr_lines.clone();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            sink.lock().unwrap().push(line);
        }
    });

    let mut sent = 0usize;
    let mut silent = 0usize; // lines that got no answer at all (unparseable ones, by rmcp's design)
    let mut probe = 0u64;
    // Sends raw bytes as one line, then a ping; every stdout line must be a JSON-RPC message.
    // Answers may come in any order (requests run concurrently), so this waits for the ping's
    // answer and, when the line is a request with a usable id, for that request's answer too
    // (at most 2 s after the ping's). Returns the answers other than the ping's.
    async fn exchange(
        stdin: &mut tokio::process::ChildStdin,
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
        line: &[u8],
        probe: &mut u64,
    ) -> Vec<Value> {
        *probe += 1;
        let probe_id = json!(format!("probe-{probe}"));
        let expect_id = serde_json::from_slice::<Value>(line).ok().and_then(|v| {
            let id = v.get("id")?;
            (v.get("method").is_some_and(Value::is_string)
                && (id.is_string() || id.is_i64() || id.is_u64()))
            .then(|| id.clone())
        });
        let mut bytes = line.to_vec();
        bytes.push(b'\n');
        bytes.extend_from_slice(
            json!({"jsonrpc": "2.0", "id": probe_id, "method": "ping"})
                .to_string()
                .as_bytes(),
        );
        bytes.push(b'\n');
        stdin
            .write_all(&bytes)
            .await
            .expect("the stdio server stopped reading its input");
        stdin.flush().await.unwrap();
        let shown = || String::from_utf8_lossy(&line[..line.len().min(300)]).into_owned();
        {
            let mut recent = RECENT.lock().unwrap();
            if recent.len() == 12 {
                recent.pop_front();
            }
            recent.push_back(shown());
        }
        let mut answers = Vec::new();
        let mut grace_until: Option<Instant> = None;
        loop {
            let wait = grace_until.map_or(CASE_TIMEOUT, |t| {
                t.saturating_duration_since(Instant::now())
            });
            let raw = match tokio::time::timeout(wait, rx.recv()).await {
                Err(_) if grace_until.is_some() => {
                    eprintln!(
                        "stdio: no answer for id {} of {:?}",
                        expect_id.as_ref().unwrap(),
                        shown()
                    );
                    return answers;
                }
                Err(_) => panic!(
                    "no answer to the probe within {CASE_TIMEOUT:?} after {:?}",
                    shown()
                ),
                Ok(None) => panic!("stdout closed (the server exited) after {:?}", shown()),
                Ok(Some(raw)) => raw,
            };
            let text = String::from_utf8(raw).expect("stdout carries UTF-8 only");
            let msg: Value = serde_json::from_str(text.trim())
                .unwrap_or_else(|e| panic!("non-JSON on stdout ({e}): {text}"));
            assert_eq!(msg["jsonrpc"], "2.0", "not JSON-RPC on stdout: {text}");
            if msg["id"] == probe_id {
                assert!(
                    msg.get("result").is_some(),
                    "ping failed: {msg}; the last lines sent:\n{}",
                    RECENT
                        .lock()
                        .unwrap()
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join("\n")
                );
                grace_until = Some(Instant::now() + Duration::from_secs(2));
            } else {
                answers.push(msg);
            }
            // rmcp answers an envelope it cannot read with -32600 and no id: that counts too.
            let complete = expect_id.as_ref().is_none_or(|id| {
                answers
                    .iter()
                    .any(|a| &a["id"] == id || (a["id"].is_null() && a.get("error").is_some()))
            });
            if grace_until.is_some() && complete {
                return answers;
            }
        }
    }

    // Before initialize: garbage and requests.
    for line in [&b"{not json"[..], b"", b"\xff\xfe", br#"{"jsonrpc":"2.0","id":"pre-1","method":"tools/list"}"#, br#"{"jsonrpc":"2.0","id":"pre-2","method":"server/discover","params":{}}"#, br#"{"jsonrpc":"2.0","id":"pre-3","method":"tools/call","params":{"name":"health","arguments":{}}}"#, br#"[{"jsonrpc":"2.0","id":"pre-4","method":"ping"}]"#] {
        let answers = exchange(&mut stdin, &mut rx, line, &mut probe).await;
        sent += 1;
        if answers.is_empty() {
            silent += 1;
        }
        for a in &answers {
            assert!(a.get("error").is_some() || a.get("result").is_some(), "{a}");
        }
    }
    let init = json!({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "1"}}});
    let answers = exchange(&mut stdin, &mut rx, init.to_string().as_bytes(), &mut probe).await;
    assert!(
        answers
            .iter()
            .any(|a| a["id"] == "init" && a.get("result").is_some()),
        "initialize after garbage: {answers:?}"
    );
    exchange(
        &mut stdin,
        &mut rx,
        br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        &mut probe,
    )
    .await;

    // Token, session and tool list through the same pipe.
    let auth = json!({"jsonrpc": "2.0", "id": "auth", "method": "tools/call", "params": {"name": "authenticate_agent", "arguments": {"agent_id": "fuzzer", "agent_type": "claude"}}});
    let answers = exchange(&mut stdin, &mut rx, auth.to_string().as_bytes(), &mut probe).await;
    let by_id = |answers: &[Value], id: &str| {
        answers
            .iter()
            .find(|a| a["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no answer {id}: {answers:?}"))
    };
    let token = by_id(&answers, "auth")["result"]["structuredContent"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let create = json!({"jsonrpc": "2.0", "id": "create", "method": "tools/call", "params": {"name": "create_session", "arguments": {"purpose": "fuzz", "auth_token": token}}});
    let answers = exchange(
        &mut stdin,
        &mut rx,
        create.to_string().as_bytes(),
        &mut probe,
    )
    .await;
    let chat_session = by_id(&answers, "create")["result"]["structuredContent"]["session_id"]
        .as_str()
        .expect("session_id")
        .to_owned();
    let answers = exchange(
        &mut stdin,
        &mut rx,
        br#"{"jsonrpc":"2.0","id":"list","method":"tools/list"}"#,
        &mut probe,
    )
    .await;
    let tools = by_id(&answers, "list")["result"]["tools"]
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
    let mut ctx = Context {
        token,
        chat_session,
        tools,
        next_id: 1000,
    };

    // The structured cases that make sense on a pipe (no HTTP headers or sessions; no multi-MB
    // bodies, which stdio has no limit for: the client that spawned us is trusted), then random ones.
    let structured: Vec<Case> = structured_cases(&mut ctx)
        .into_iter()
        .filter(|c| {
            c.session == SessionMode::Real
                && c.headers.is_empty()
                && c.method == "POST"
                && c.body.len() < 1 << 20
        })
        .collect();
    // No random re-initialize here: rmcp then answers ping with -32601 for the rest of the
    // session (see reinitialize_with_an_unknown_version_keeps_ping, which tests that alone).
    let templates: Vec<Value> = templates(&mut ctx)
        .into_iter()
        .filter(|t| t["method"] != "initialize")
        .collect();
    let mut rng = XorShift::new(SEED ^ 0x57d10);
    let mut findings = Vec::new();
    let mut rss_before = 0;
    // SCS_FUZZ_STDIO_ROUNDS=<n> repeats the measured round for a longer run (RSS trend).
    let rounds: usize = std::env::var("SCS_FUZZ_STDIO_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
        .max(2);
    for round in 0..rounds {
        if round == 1 {
            rss_before = vm_rss_kb(pid);
        }
        if round > 0 && std::env::var_os("SCS_FUZZ_VERBOSE").is_some() {
            eprintln!("fuzz stdio: round {round}, RSS {} KiB", vm_rss_kb(pid));
        }
        let mut cases = structured.clone();
        cases.extend((0..300).map(|_| random_case(&mut rng, &templates)));
        for case in &cases {
            // A line is one message: newlines inside a case would split it, so escape them.
            let line: Vec<u8> = case
                .body
                .iter()
                .map(|&b| if b == b'\n' { b' ' } else { b })
                .collect();
            let answers = exchange(&mut stdin, &mut rx, &line, &mut probe).await;
            sent += 1;
            if answers.is_empty() {
                silent += 1;
            }
            if let Some(bad) = answers.iter().find_map(internal_error) {
                findings.push(format!("[{}] internal error over stdio: {bad}", case.kind));
            }
            if case.expect == Expect::Reject
                && case.kind != "invalid-json"
                && case.kind != "truncated-json"
                && case.kind != "invalid-utf8"
                && case.kind != "bad-escape"
                && case.kind != "nul-raw"
                && case.kind != "deep-nesting"
            {
                // A parseable request with an id must be answered, with an error.
                match answers
                    .iter()
                    .find(|a| a.get("id").is_some() || a.get("error").is_some())
                {
                    None => findings.push(format!(
                        "[{}] no answer over stdio: {:.200}",
                        case.kind,
                        String::from_utf8_lossy(&line)
                    )),
                    Some(a) if !is_rejection(a) => {
                        findings.push(format!("[{}] accepted over stdio: {a:.300}", case.kind))
                    }
                    Some(_) => {}
                }
            }
        }
    }
    let rss_after = vm_rss_kb(pid);

    // A 5 MB line: answered (CONTENT_TOO_LARGE), and the server goes on.
    let huge = ctx.call("add_message", json!({"session_id": ctx.chat_session, "content": "y".repeat(5 << 20), "auth_token": ctx.token}));
    let answers = exchange(&mut stdin, &mut rx, huge.to_string().as_bytes(), &mut probe).await;
    sent += 1;
    assert!(
        answers.iter().any(is_rejection),
        "a 5 MB message must be rejected: {:.300}",
        format!("{answers:?}")
    );

    drop(stdin);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exit on stdin EOF")
        .unwrap();
    assert!(
        status.success(),
        "stdin EOF is a clean exit, not {status:?}"
    );
    let log = stderr_lines.lock().unwrap().join("\n");
    assert!(
        !log.contains("panicked"),
        "the stdio server logged a panic:\n{log}"
    );
    eprintln!(
        "fuzz stdio: {sent} lines sent ({silent} got no answer: unparseable lines, which rmcp drops silently), {probe} probes answered, \
         {:.1} s, RSS {rss_before} KiB -> {rss_after} KiB ({:+} KiB)",
        started.elapsed().as_secs_f64(),
        rss_after as i64 - rss_before as i64
    );
    assert!(
        findings.is_empty(),
        "{} findings:\n{}",
        findings.len(),
        findings.join("\n")
    );
    assert!(
        rss_after <= rss_before + RSS_GROWTH_LIMIT_KB,
        "stdio server RSS grew by {} KiB",
        rss_after - rss_before
    );
}
