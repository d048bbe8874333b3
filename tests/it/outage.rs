//! The database goes away and comes back: calls fail fast with DATABASE_UNAVAILABLE, health goes
//! unhealthy, service resumes by itself, and no acknowledged write is lost.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::pg_cluster::TempCluster;
use crate::support::*;

#[tokio::test]
async fn postgres_restart_fails_fast_and_recovers() {
    let cluster = TempCluster::start();
    let db = TestDb::external(Backend::Postgres, cluster.url("postgres"));
    let server = HttpServer::start(&db, &[("POSTGRES_POOL_TIMEOUT", "30")]).await;
    let client = server.client().await;
    let alice = login(&client, "alice", "claude", false).await;
    let sid = new_session(&client, &alice, "outage").await;
    let mut acked = Vec::new();
    for i in 0..5 {
        let r = call(
            &client,
            "add_message",
            json!({"session_id": sid, "content": format!("before {i}"), "auth_token": alice}),
        )
        .await
        .ok();
        acked.push(r["message_id"].as_i64().unwrap());
    }

    cluster.stop("immediate");
    let http = reqwest::Client::new();
    let started = Instant::now();
    let reply = call(
        &client,
        "add_message",
        json!({"session_id": sid, "content": "during", "auth_token": alice}),
    )
    .await;
    assert_eq!(reply.err_code(), "DATABASE_UNAVAILABLE", "{}", reply.body);
    assert!(
        reply.body["retry_after"].as_u64().is_some(),
        "retryable errors say when to retry"
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "failed after {:?}, not fast",
        started.elapsed()
    );
    let started = Instant::now();
    let again = call(
        &client,
        "get_messages",
        json!({"session_id": sid, "auth_token": alice}),
    )
    .await;
    assert_eq!(again.err_code(), "DATABASE_UNAVAILABLE");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "while down, calls fail at once ({:?})",
        started.elapsed()
    );
    let health = http
        .get(format!("{}/health", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 503);
    let body: Value = health.json().await.unwrap();
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(
        http.get(format!("{}/health/ready", server.base))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        503
    );
    assert_eq!(
        http.get(format!("{}/health/live", server.base))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );

    cluster.resume();
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = loop {
        let r = call(
            &client,
            "add_message",
            json!({"session_id": sid, "content": "after", "auth_token": alice}),
        )
        .await;
        if !r.is_error {
            break r.body["message_id"].as_i64().unwrap();
        }
        assert_eq!(r.err_code(), "DATABASE_UNAVAILABLE");
        assert!(
            Instant::now() < deadline,
            "service did not resume within 30 s of the database"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    acked.push(id);
    let all = call(
        &client,
        "get_messages",
        json!({"session_id": sid, "auth_token": alice}),
    )
    .await
    .ok();
    let ids: Vec<i64> = all["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids, acked,
        "every acknowledged write is present exactly once"
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
}

#[tokio::test]
async fn postgres_health_and_prometheus_metrics() {
    let db = TestDb::new(Backend::Postgres).await;
    let server = HttpServer::start(&db, &[]).await;
    let client = server.client().await;
    let alice = login(&client, "alice", "claude", false).await;
    let sid = call(
        &client,
        "create_session",
        json!({"purpose": "metrics", "auth_token": alice}),
    )
    .await
    .ok()["session_id"]
        .clone();
    call(
        &client,
        "add_message",
        json!({"session_id": sid, "content": "m", "auth_token": alice}),
    )
    .await
    .ok();
    call(
        &client,
        "add_message",
        json!({"session_id": "session_ffffffffffffffff", "content": "m", "auth_token": alice}),
    )
    .await;
    let http = reqwest::Client::new();
    let health: Value = http
        .get(format!("{}/health", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["backend"], "postgresql");
    assert!(
        health["database"]["server_version"]
            .as_str()
            .unwrap()
            .starts_with("PostgreSQL")
    );
    assert!(health["database"]["stats"]["connections"].as_i64().unwrap() >= 1);
    assert!(health["database"]["stats"]["size_bytes"].as_i64().unwrap() > 0);
    let tables: Vec<&str> = health["database"]["stats"]["largest_tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert!(tables.contains(&"messages"), "{tables:?}");
    assert!(
        !health["database"]["url"]
            .as_str()
            .unwrap()
            .contains("password")
    );
    assert!(health["pool"]["acquisitions"].as_u64().unwrap() > 0);
    let text = http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "scs_tool_calls_total{tool=\"add_message\"} 2",
        "scs_tool_errors_total{tool=\"add_message\",code=\"SESSION_NOT_FOUND\"} 1",
        "scs_tool_duration_seconds_bucket{tool=\"add_message\",le=\"+Inf\"} 2",
        "scs_pool_max_connections{backend=\"postgresql\"}",
        "scs_pool_acquire_seconds_count",
    ] {
        assert!(text.contains(needle), "/metrics lacks {needle}:\n{text}");
    }
}
