//! Crash safety: SIGKILL the real server in the middle of a write load from several agents over
//! HTTP, restart it on the same database, and check that every write that got a success answer is
//! there exactly once (and that nothing at all is duplicated). Three kills per backend, each at a
//! different point: early in the first burst, after a few hundred acknowledgements, and after a
//! random delay. The seed is printed; `SCS_CRASH_SEED=<n>` repeats a run's kill points.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};

use crate::support::*;

const AGENTS: usize = 8;
/// Kills per test; `SCS_CRASH_ROUNDS=<n>` for a longer run (the kill points cycle through the
/// three kinds).
const ROUNDS: usize = 3;
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// One acknowledged write: who, what, and the id the server answered with.
#[derive(Debug, Clone)]
struct Ack {
    agent: String,
    content: String,
    id: i64,
}

#[derive(Default)]
struct Load {
    acks: Mutex<Vec<Ack>>,
    acked: AtomicUsize,
    /// Calls that got no success answer (transport error, timeout or tool error), and the tool
    /// error codes seen (a healthy server under this load should give none before the kill).
    unacked: AtomicUsize,
    tool_errors: Mutex<Vec<String>>,
    killed: AtomicBool,
}

/// Where to kill the server in one round.
#[derive(Debug, Clone, Copy)]
enum KillPoint {
    AfterAcks(usize),
    AfterMillis(u64),
}

async fn add_message(client: &Client, args: Value) -> Result<i64, Option<String>> {
    let params = CallToolRequestParams::new("add_message")
        .with_arguments(args.as_object().cloned().unwrap());
    match tokio::time::timeout(CALL_TIMEOUT, client.call_tool(params)).await {
        Ok(Ok(result)) if result.is_error != Some(true) => {
            let body = result.structured_content.unwrap_or(Value::Null);
            assert_eq!(
                body["success"],
                json!(true),
                "a non-error answer must be a success: {body}"
            );
            Ok(body["message_id"]
                .as_i64()
                .unwrap_or_else(|| panic!("success without message_id: {body}")))
        }
        Ok(Ok(result)) => {
            let code = result
                .structured_content
                .as_ref()
                .and_then(|b| b["code"].as_str())
                .unwrap_or("?")
                .to_owned();
            Err(Some(code))
        }
        // Transport error or no answer in time: the server is gone (or going).
        _ => Err(None),
    }
}

/// One agent posting in a loop until its connection fails. Contents are unique per call.
async fn agent_loop(
    client: Client,
    agent: String,
    token: String,
    session: String,
    round: usize,
    load: Arc<Load>,
) {
    for n in 0u64.. {
        let content = format!("crash r{round} {agent} n{n}");
        let args = json!({"session_id": session, "content": content, "auth_token": token, "metadata": {"n": n}});
        match add_message(&client, args).await {
            Ok(id) => {
                load.acks.lock().unwrap().push(Ack {
                    agent: agent.clone(),
                    content,
                    id,
                });
                load.acked.fetch_add(1, Ordering::SeqCst);
            }
            Err(code) => {
                load.unacked.fetch_add(1, Ordering::SeqCst);
                match code {
                    // A tool error: note it and go on (only expected around the kill).
                    Some(code) if !load.killed.load(Ordering::SeqCst) => {
                        load.tool_errors.lock().unwrap().push(code)
                    }
                    Some(_) => {}
                    None if !load.killed.load(Ordering::SeqCst) => {
                        load.tool_errors
                            .lock()
                            .unwrap()
                            .push("no answer (transport error or timeout)".into());
                        break;
                    }
                    None => break,
                }
                if load.killed.load(Ordering::SeqCst) {
                    break;
                }
            }
        }
    }
    // The client's own shutdown may hang on a dead server: drop it in the background.
    tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(2), client.cancel()).await;
    });
}

fn sigkill(server: &HttpServer) -> u32 {
    let pid = server
        .child
        .id()
        .expect("server still running before the kill");
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -9 {pid} failed");
    pid
}

/// The checks after a restart: every acknowledged write present exactly once with the id it was
/// acknowledged with; no content stored twice; the server's own read path agrees with the table.
async fn verify(
    db: &TestDb,
    server: &HttpServer,
    admin: &str,
    sessions: &[String],
    acks: &[Ack],
) -> usize {
    let http = reqwest::Client::new();
    let health = http
        .get(format!("{}/health", server.base))
        .send()
        .await
        .expect("GET /health after restart");
    assert_eq!(
        health.status().as_u16(),
        200,
        "the server answers /health after the restart"
    );

    let rows = stored_rows(db).await;
    let mut by_content: HashMap<&str, Vec<(i64, &str)>> = HashMap::new();
    for (id, sender, content) in &rows {
        by_content
            .entry(content.as_str())
            .or_default()
            .push((*id, sender.as_str()));
    }
    let duplicated: Vec<_> = by_content
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .take(5)
        .collect();
    assert!(
        duplicated.is_empty(),
        "contents stored more than once: {duplicated:?}"
    );
    let mut lost = Vec::new();
    for ack in acks {
        match by_content.get(ack.content.as_str()).map(Vec::as_slice) {
            Some([(id, sender)]) => {
                assert_eq!(*id, ack.id, "{:?} is stored under another id", ack.content);
                assert_eq!(
                    *sender, ack.agent,
                    "{:?} is stored under another sender",
                    ack.content
                );
            }
            _ => lost.push(ack.content.clone()),
        }
    }
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost (of {}): first {:?}",
        lost.len(),
        acks.len(),
        &lost[..lost.len().min(5)]
    );

    // The same data through the server (admin reads everything), paged with after_id.
    let client = server.client().await;
    let mut served = Vec::new();
    for sid in sessions {
        let mut after = 0i64;
        loop {
            let page = call(
                &client,
                "get_messages",
                json!({"session_id": sid, "auth_token": admin, "limit": 1000, "after_id": after}),
            )
            .await
            .ok();
            let messages = page["messages"].as_array().unwrap();
            served.extend(messages.iter().map(|m| {
                (
                    m["id"].as_i64().unwrap(),
                    m["content"].as_str().unwrap().to_owned(),
                )
            }));
            after = page["next_after_id"].as_i64().unwrap();
            if !page["has_more"].as_bool().unwrap_or(false) {
                break;
            }
        }
    }
    served.sort();
    let stored: Vec<(i64, String)> = rows.iter().map(|(id, _, c)| (*id, c.clone())).collect();
    assert_eq!(
        served, stored,
        "get_messages (admin) disagrees with the messages table after the restart"
    );
    let _ = client.cancel().await;
    rows.len()
}

async fn crash_kill9_under_write_load(backend: Backend) {
    let started = Instant::now();
    let seed = std::env::var("SCS_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    let mut rng = XorShift::new(seed);
    let rounds = std::env::var("SCS_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(ROUNDS);
    let points: Vec<KillPoint> = (0..rounds)
        .map(|i| match i % 3 {
            // Early in the very first burst,
            0 => KillPoint::AfterAcks(1 + rng.below(16) as usize),
            // after a few hundred acknowledgements,
            1 => KillPoint::AfterAcks(150 + rng.below(500) as usize),
            // or after a random time, wherever the agents are.
            _ => KillPoint::AfterMillis(300 + rng.below(2700)),
        })
        .collect();
    eprintln!("crash {backend:?}: SCS_CRASH_SEED={seed} kill points {points:?}");

    let db = TestDb::new(backend).await;
    let mut server = HttpServer::start(&db, &[]).await;
    let setup = server.client().await;
    let admin = login(&setup, "crash-admin", "admin", true).await;
    let mut agents = Vec::new();
    for a in 0..AGENTS {
        let id = format!("agent{a}");
        let token = login(&setup, &id, "claude", false).await;
        agents.push((id, token));
    }
    let mut sessions = Vec::new();
    for (s, (_, token)) in agents.iter().take(2).enumerate() {
        let body = call(
            &setup,
            "create_session",
            json!({"purpose": format!("crash test {s}"), "auth_token": token}),
        )
        .await
        .ok();
        sessions.push(body["session_id"].as_str().unwrap().to_owned());
    }
    let _ = setup.cancel().await;

    let mut all_acks: Vec<Ack> = Vec::new();
    for (round, point) in points.into_iter().enumerate() {
        // Every agent connects first (its own MCP session and token), then all start at once.
        let load = Arc::new(Load::default());
        let mut clients = Vec::new();
        for _ in 0..AGENTS {
            clients.push(server.client().await);
        }
        let mut tasks = Vec::new();
        for (a, client) in clients.into_iter().enumerate() {
            let (id, token) = agents[a].clone();
            tasks.push(tokio::spawn(agent_loop(
                client,
                id,
                token,
                sessions[a % sessions.len()].clone(),
                round,
                load.clone(),
            )));
        }

        let load_started = Instant::now();
        let deadline = load_started + Duration::from_secs(15);
        loop {
            let due = match point {
                KillPoint::AfterAcks(n) => load.acked.load(Ordering::SeqCst) >= n,
                KillPoint::AfterMillis(ms) => load_started.elapsed() >= Duration::from_millis(ms),
            };
            if due {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: {point:?} not reached in 15 s ({} acks)",
                load.acked.load(Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let acked_at_kill = load.acked.load(Ordering::SeqCst);
        let load_ms = load_started.elapsed().as_millis();
        load.killed.store(true, Ordering::SeqCst);
        let pid = sigkill(&server);
        let status = tokio::time::timeout(Duration::from_secs(10), server.child.wait())
            .await
            .expect("reap the killed server")
            .unwrap();
        assert_eq!(
            status.signal(),
            Some(9),
            "the server died of SIGKILL, not otherwise: {status:?}"
        );
        // Calls in flight at the kill can never be acknowledged; the client may keep retrying
        // its stream for a while, so stop the agents instead of waiting for their timeouts. An
        // answer received but not yet recorded only makes a write "unacknowledged but present",
        // which the checks allow.
        tokio::time::sleep(Duration::from_millis(300)).await;
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            match t.await {
                Ok(()) => {}
                Err(e) if e.is_cancelled() => {}
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
        let acks = std::mem::take(&mut *load.acks.lock().unwrap());
        let errors = load.tool_errors.lock().unwrap().clone();
        assert!(
            !acks.is_empty() || matches!(point, KillPoint::AfterMillis(_)),
            "round {round}: no write was acknowledged"
        );
        // Errors under plain load (before the kill) would be a server problem of their own.
        assert!(
            errors.is_empty(),
            "round {round}: errors under load before the kill: {errors:?}"
        );
        all_acks.extend(acks);

        // Restart on the same database and check everything acknowledged so far, all rounds.
        server = HttpServer::start(&db, &[]).await;
        let stored = verify(&db, &server, &admin, &sessions, &all_acks).await;
        let line = format!(
            "round {round}: kill -9 at {point:?} (pid {pid}, {load_ms} ms into the load, {acked_at_kill} acks this round); \
             after restart: all {} acknowledged writes present exactly once, {stored} rows ({} committed but unanswered), 0 lost, 0 duplicated",
            all_acks.len(),
            stored - all_acks.len(),
        );
        eprintln!("crash {backend:?}: {line}");
    }
    eprintln!(
        "crash {backend:?}: {rounds} kills survived, {} acknowledged writes, 0 lost, 0 duplicated ({:.1} s, seed {seed})",
        all_acks.len(),
        started.elapsed().as_secs_f64()
    );
}

contract!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    crash_kill9_under_write_load,
);
