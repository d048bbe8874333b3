//! `scs-bench --waiters N --writers M`: wake-up latency of `wait_for_messages`. Waiters block on one
//! session; writers post messages stamped with the send time; every delivery's latency (post to
//! the waiter's return) is recorded. `--writer-url` sends the writers to another server process,
//! which measures the cross-process path (PostgreSQL LISTEN/NOTIFY). `--inbox` measures the same
//! path for direct messages: writers address every waiter, waiters long-poll `get_inbox`.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::anyhow;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::BenchArgs;
use super::agent::{Client, call_ok, object};
use super::stats::percentile;

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

async fn token(client: &Client, agent_id: &str) -> anyhow::Result<String> {
    let body = call_ok(
        client,
        "authenticate_agent",
        object(json!({"agent_id": agent_id, "agent_type": "claude"})),
    )
    .await?;
    body.get("token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no token"))
}

/// Runs the wake-up measurement; returns the lines to print.
pub async fn run(args: &BenchArgs) -> anyhow::Result<String> {
    let api_key = args.api_key.clone().filter(|k| !k.is_empty());
    let writer_url = args.writer_url.clone().unwrap_or_else(|| args.url.clone());
    let duration = Duration::from_secs_f64(args.duration);
    let setup = Client::connect(&writer_url, api_key.as_deref()).await?;
    let setup_token = token(&setup, "wake-setup").await?;
    let body = call_ok(
        &setup,
        "create_session",
        object(json!({"purpose": "wake-up bench", "auth_token": setup_token})),
    )
    .await?;
    let session_id = body["session_id"]
        .as_str()
        .ok_or_else(|| anyhow!("no session id"))?
        .to_owned();

    let latencies = Arc::new(Mutex::new(Vec::<u64>::new()));
    // An inbox outlives a run (the script runs several on one database): posts stamped before
    // this run started are an earlier run's backlog, not wake-ups, and are not counted.
    let run_started = now_micros();
    let waits = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut waiters = JoinSet::new();
    for i in 0..args.waiters {
        let client = Client::connect(&args.url, api_key.as_deref()).await?;
        let tok = token(&client, &format!("waiter-{i}")).await?;
        let (sid, lat, waits) = (session_id.clone(), latencies.clone(), waits.clone());
        let inbox = args.inbox;
        waiters.spawn(async move {
            let mut cursor = 0i64;
            let deadline = tokio::time::Instant::now() + duration + Duration::from_secs(2);
            while tokio::time::Instant::now() < deadline {
                let (tool, args) = if inbox {
                    ("get_inbox", object(json!({"after_cursor": cursor.to_string(), "wait_seconds": 5, "limit": 200, "auth_token": tok})))
                } else {
                    ("wait_for_messages", object(json!({"session_id": sid, "after_id": cursor, "timeout_seconds": 5, "limit": 1000, "auth_token": tok})))
                };
                let Ok(body) = call_ok(&client, tool, args).await else { continue };
                waits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let now = now_micros();
                let mut got = lat.lock().unwrap_or_else(|p| p.into_inner());
                for m in body["messages"].as_array().into_iter().flatten() {
                    if let Some(sent) = m["content"].as_str().and_then(|c| c.strip_prefix("t=")).and_then(|t| t.parse::<u64>().ok()).filter(|&sent| sent >= run_started) {
                        got.push(now.saturating_sub(sent));
                    }
                }
                cursor = body["next_after_id"]
                    .as_i64()
                    .or_else(|| body["next_cursor"].as_str().and_then(|c| c.parse().ok()))
                    .unwrap_or(cursor);
            }
            let _ = client.cancel().await;
        });
    }
    // Let every waiter reach its first block before writing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let interval = Duration::from_millis(args.write_interval_ms.max(1));
    let mut writers = JoinSet::new();
    let written = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for j in 0..args.writers {
        let client = Client::connect(&writer_url, api_key.as_deref()).await?;
        let tok = token(&client, &format!("writer-{j}")).await?;
        let (sid, written) = (session_id.clone(), written.clone());
        let to: Vec<String> = (0..args.waiters.min(20))
            .map(|i| format!("waiter-{i}"))
            .collect();
        let inbox = args.inbox;
        writers.spawn(async move {
            let deadline = tokio::time::Instant::now() + duration;
            let mut tick = tokio::time::interval(interval);
            while tokio::time::Instant::now() < deadline {
                tick.tick().await;
                let mut args = object(json!({"session_id": sid, "content": format!("t={}", now_micros()), "auth_token": tok}));
                if inbox {
                    args.insert("to".into(), json!(to));
                }
                if call_ok(&client, "add_message", args).await.is_ok() {
                    written.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            let _ = client.cancel().await;
        });
    }
    while writers.join_next().await.is_some() {}
    while waiters.join_next().await.is_some() {}
    let mut lat = latencies.lock().unwrap_or_else(|p| p.into_inner()).clone();
    lat.sort_unstable();
    let ms = |p: f64| percentile(&lat, p).map_or(f64::NAN, |us| us as f64 / 1000.0);
    let writes = written.load(std::sync::atomic::Ordering::Relaxed);
    let secs = duration.as_secs_f64();
    let mut out = String::new();
    writeln!(
        out,
        "wake-up: {} waiters on {}, {} writers on {}, {:.0} s",
        args.waiters, args.url, args.writers, writer_url, secs
    )?;
    writeln!(
        out,
        "  writes {writes} ({:.0}/s), deliveries {} ({:.0}/s), wait calls {}",
        writes as f64 / secs,
        lat.len(),
        lat.len() as f64 / secs,
        waits.load(std::sync::atomic::Ordering::Relaxed)
    )?;
    writeln!(
        out,
        "  latency post→waiter return: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(50.0),
        ms(95.0),
        ms(99.0),
        ms(100.0)
    )?;
    let expected = writes * u64::from(args.waiters);
    if (lat.len() as u64) < expected {
        writeln!(
            out,
            "  note: {} deliveries expected, {} seen (messages posted in the last moments may be unread)",
            expected,
            lat.len()
        )?;
    }
    let _ = setup.cancel().await;
    Ok(out)
}
