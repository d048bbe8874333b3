//! Claims per second at 50 concurrent agents through one store, all claiming the next task of one
//! shared queue (claim_task without a task id) until it is empty: the contended case of a work
//! queue. Every task is claimed exactly once. A measurement, not a check:
//! `cargo test --test it task_claim_rate -- --ignored --nocapture`.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Utc;
use serde_json::Map;
use shared_context_server::domain::SessionId;
use shared_context_server::storage::{ClaimTask, NewSession, NewTask, Store, TaskOutcome};

use crate::support::*;

const AGENTS: usize = 50;
const TASKS: usize = 1_000;

async fn task_claim_rate(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store: Arc<dyn Store> = db.store(20).await;
    let sid = SessionId::generate();
    store
        .create_session(&NewSession {
            id: sid.clone(),
            purpose: "claim rate".into(),
            created_by: "lead".into(),
            metadata: Map::new(),
            at: Utc::now(),
        })
        .await
        .unwrap();
    let session = sid.as_str().to_owned();
    for i in 0..TASKS {
        let new = NewTask {
            session_id: session.clone(),
            title: format!("task {i}"),
            description: None,
            depends_on: Vec::new(),
            assignee: None,
            metadata: Map::new(),
            created_by: "lead".into(),
            at: Utc::now(),
        };
        assert!(matches!(
            store.create_task(&new).await.unwrap(),
            TaskOutcome::Changed(_)
        ));
    }
    let started = std::time::Instant::now();
    let mut agents = tokio::task::JoinSet::new();
    for a in 0..AGENTS {
        let (store, session) = (store.clone(), session.clone());
        agents.spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claim = ClaimTask {
                    session_id: session.clone(),
                    task_id: None,
                    agent_id: format!("agent{a}"),
                    at: Utc::now(),
                };
                match store.claim_task(&claim).await.unwrap() {
                    TaskOutcome::Changed(change) => mine.push(change.task.id),
                    TaskOutcome::NothingClaimable => return mine,
                    other => panic!("unexpected {other:?}"),
                }
            }
        });
    }
    let mut claimed = HashSet::new();
    while let Some(mine) = agents.join_next().await {
        for id in mine.unwrap() {
            assert!(claimed.insert(id), "task {id} claimed twice");
        }
    }
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(claimed.len(), TASKS, "every task claimed once");
    println!(
        "task claims {backend:?}: {TASKS} claims by {AGENTS} agents from one queue in {secs:.2} s = {:.0} claims/s",
        TASKS as f64 / secs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement; run with --ignored --nocapture"]
async fn task_claim_rate_sqlite() {
    task_claim_rate(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement; run with --ignored --nocapture"]
async fn task_claim_rate_postgres() {
    task_claim_rate(Backend::Postgres).await;
}
