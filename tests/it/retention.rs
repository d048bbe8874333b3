//! Retention on both backends: dry runs change nothing, pruning removes exactly what the server
//! rule and each session's own rule say (old messages, the excess over a count, closed sessions,
//! old audit rows), pruned messages are gone from every read, replies outlive their pruned
//! parents, and the per-sender counts stay exact, also while writers keep posting.

use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::{Map, Value, json};
use shared_context_server::domain::retention::{MessageRetention, RetentionSettings};
use shared_context_server::domain::{Reader, SessionId, Visibility};
use shared_context_server::service::{Service, ServiceSettings};
use shared_context_server::storage::{
    AuditEvent, InsertOutcome, MessageQuery, NewMessage, NewSession, SessionClose, SessionRead,
    Store,
};
use tokio_util::sync::CancellationToken;

use crate::support::*;

fn service(db: &TestDb, store: Arc<dyn Store>, retention: RetentionSettings) -> Service {
    let settings = ServiceSettings {
        retention,
        ..test_settings(db, ManualClock::new())
    };
    Service::new(store, settings)
}

async fn session(store: &dyn Store, metadata: Value) -> SessionId {
    let id = SessionId::generate();
    store
        .create_session(&NewSession {
            id: id.clone(),
            purpose: "retention".into(),
            created_by: "alice".into(),
            metadata: metadata.as_object().cloned().unwrap_or_default(),
            at: Utc::now(),
        })
        .await
        .unwrap();
    id
}

async fn post(store: &dyn Store, s: &SessionId, i: i64, age_days: i64, parent: Option<i64>) -> i64 {
    let visibility = [
        Visibility::Public,
        Visibility::Private,
        Visibility::AgentOnly,
    ][i as usize % 3];
    let new = NewMessage {
        session_id: s.clone(),
        sender: format!("agent{}", i % 4),
        sender_type: "claude".into(),
        content: format!("message {i} marker{i}x"),
        visibility,
        metadata: Map::new(),
        parent_message_id: parent,
        to: Vec::new(),
        at: Utc::now() - Duration::days(age_days),
    };
    match store.add_message(&new).await.unwrap() {
        InsertOutcome::Inserted(m) => m.id,
        other => panic!("{other:?}"),
    }
}

async fn ids(store: &dyn Store, s: &SessionId) -> Vec<i64> {
    let reader = Reader::Admin;
    let q = MessageQuery {
        session_id: s,
        reader: &reader,
        only: None,
        after_id: 0,
        offset: 0,
        limit: 10_000,
        newest_first: false,
    };
    store
        .list_messages(&q)
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect()
}

/// Rows of the per-sender counts that disagree with the messages themselves (0: exact).
async fn count_mismatches(db: &TestDb) -> i64 {
    let sql = |p: &str| {
        format!(
            "SELECT COUNT(*) FROM (SELECT session_id, visibility, sender, sender_type, COUNT(*) AS n FROM {p}messages \
               GROUP BY session_id, visibility, sender, sender_type) a \
             FULL JOIN (SELECT * FROM {p}session_message_counts WHERE n <> 0) c \
               USING (session_id, visibility, sender, sender_type) \
             WHERE COALESCE(a.n, 0) <> COALESCE(c.n, 0)"
        )
    };
    db_scalar(db, &sql(""), &sql("shared_context.")).await
}

async fn prune_by_age_count_and_closing(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store(4).await;
    let svc = service(
        &db,
        store.clone(),
        RetentionSettings {
            messages: MessageRetention {
                max_age_days: Some(30),
                max_messages: None,
            },
            closed_session_days: Some(7),
            audit_days: Some(30),
            interval: None,
            batch: 7,
        },
    );
    let st = store.as_ref();
    // A: the server rule. 20 messages 40 days old (a thread among them), 10 recent, one recent
    // reply to an old message.
    let a = session(st, json!({})).await;
    let mut old = Vec::new();
    for i in 0..20 {
        old.push(post(st, &a, i, 40, old.last().copied()).await);
    }
    let mut recent = Vec::new();
    for i in 20..30 {
        recent.push(post(st, &a, i, 0, None).await);
    }
    recent.push(post(st, &a, 30, 0, Some(old[3])).await);
    // B: its own rule, keep the newest 5 whatever their age.
    let b = session(
        st,
        json!({"retention": {"max_age_days": null, "max_messages": 5}}),
    )
    .await;
    let mut b_ids = Vec::new();
    for i in 0..30 {
        b_ids.push(post(st, &b, i, 60, None).await);
    }
    // C: closed 10 days ago, with messages; D: closed just now.
    let c = session(st, json!({})).await;
    post(st, &c, 1, 1, None).await;
    st.close_session(&SessionClose {
        id: &c,
        actor: "alice",
        at: Utc::now() - Duration::days(10),
    })
    .await
    .unwrap();
    let d = session(st, json!({})).await;
    post(st, &d, 1, 1, None).await;
    st.close_session(&SessionClose {
        id: &d,
        actor: "alice",
        at: Utc::now(),
    })
    .await
    .unwrap();
    for _ in 0..9 {
        let mut e = AuditEvent::new("test_event", "alice", json!({}));
        e.at = Utc::now() - Duration::days(45);
        st.audit(&e).await.unwrap();
    }

    let audit_before = db_count(&db, "audit_log").await;

    let stop = CancellationToken::new();
    let dry = svc.prune(true, &stop).await.unwrap();
    // Audit: the 9 old events and the posts audited 40 and 60 days ago (20 in A, 30 in B).
    assert_eq!(
        (dry.messages, dry.sessions, dry.audit_rows),
        (20 + 25 + 1, 1, 9 + 20 + 30),
        "{dry:?}"
    );
    assert_eq!(ids(st, &a).await.len(), 31, "a dry run deletes nothing");
    assert_eq!(db_count(&db, "audit_log").await, audit_before);

    let done = svc.prune(false, &stop).await.unwrap();
    assert_eq!(
        (done.messages, done.sessions, done.audit_rows),
        (dry.messages, dry.sessions, dry.audit_rows)
    );
    assert_eq!(ids(st, &a).await, recent);
    assert_eq!(ids(st, &b).await, b_ids[25..].to_vec());
    assert!(
        st.get_session(&c).await.unwrap().is_none(),
        "closed long ago: gone"
    );
    assert_eq!(ids(st, &d).await.len(), 1, "closed just now: kept");
    assert_eq!(db_count(&db, "audit_log").await, audit_before - 59);
    // The reply outlived its parent, unlinked.
    let reader = Reader::Admin;
    let last = st
        .messages_by_sender(&SessionRead {
            session_id: &a,
            reader: &reader,
            by: "agent2",
            limit: 50,
        })
        .await
        .unwrap();
    let reply = last
        .iter()
        .find(|m| m.id == *recent.last().unwrap())
        .unwrap();
    assert_eq!(reply.parent_message_id, None);
    // Gone from search too, and from the counts.
    let hits = st
        .messages_in_range(&SessionRead {
            session_id: &a,
            reader: &reader,
            by: Utc::now() - Duration::days(100)..=Utc::now(),
            limit: 100,
        })
        .await
        .unwrap();
    assert_eq!(hits.len(), recent.len());
    assert_eq!(count_mismatches(&db).await, 0);
    let q = MessageQuery {
        session_id: &a,
        reader: &reader,
        only: None,
        after_id: 0,
        offset: 0,
        limit: 1,
        newest_first: false,
    };
    assert_eq!(st.count_messages(&q).await.unwrap(), recent.len() as i64);
    // Nothing is left to prune.
    let again = svc.prune(false, &stop).await.unwrap();
    assert_eq!(
        (again.messages, again.sessions, again.audit_rows),
        (0, 0, 0)
    );
    store.close().await;
}

async fn prune_while_writers_post(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store(8).await;
    let svc = service(
        &db,
        store.clone(),
        RetentionSettings {
            batch: 5,
            interval: None,
            ..RetentionSettings::default()
        },
    );
    let s = session(store.as_ref(), json!({"retention": {"max_messages": 20}})).await;
    let other = session(store.as_ref(), json!({})).await;
    let stop = CancellationToken::new();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            let (s, other) = (s.clone(), other.clone());
            tokio::spawn(async move {
                let mut parent = None;
                for i in 0..60 {
                    let id = post(store.as_ref(), &s, w * 1000 + i, 0, parent).await;
                    parent = Some(id);
                    post(store.as_ref(), &other, i, 0, None).await;
                }
            })
        })
        .collect();
    let pruner = {
        let svc = svc.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut removed = 0;
            while !stop.is_cancelled() {
                removed += svc.prune(false, &stop).await.unwrap().messages;
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            removed
        })
    };
    for w in writers {
        w.await.unwrap();
    }
    stop.cancel();
    let mut removed = pruner.await.unwrap();
    removed += svc
        .prune(false, &CancellationToken::new())
        .await
        .unwrap()
        .messages;
    assert_eq!(ids(store.as_ref(), &s).await.len(), 20);
    assert_eq!(removed, 240 - 20);
    assert_eq!(
        ids(store.as_ref(), &other).await.len(),
        240,
        "no rule: all kept"
    );
    assert_eq!(count_mismatches(&db).await, 0);
    store.close().await;
}

contract!(
    prune_by_age_count_and_closing,
    prune_while_writers_post,
    background_pruner_runs_on_its_interval
);

/// `prune --dry-run` and `prune` from the command line: the same counts, then the rows gone.
#[tokio::test]
async fn prune_command_dry_run_then_prune_sqlite() {
    let db = TestDb::new(Backend::Sqlite).await;
    let store = db.store(2).await;
    let s = session(store.as_ref(), json!({})).await;
    for i in 0..12 {
        post(store.as_ref(), &s, i, if i < 8 { 10 } else { 0 }, None).await;
    }
    store.close().await;
    let run = |dry: bool| {
        let mut cmd = std::process::Command::new(BIN);
        cmd.arg("prune");
        if dry {
            cmd.arg("--dry-run");
        }
        for (k, v) in server_env(&db) {
            cmd.env(k, v);
        }
        cmd.env("RETENTION_MESSAGE_MAX_AGE_DAYS", "7");
        cmd.env("RETENTION_BATCH", "3");
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        (
            serde_json::from_slice::<Value>(&out.stdout).unwrap(),
            stderr,
        )
    };
    let (dry, progress) = run(true);
    assert_eq!(dry["messages"], 8, "{dry}");
    assert_eq!(dry["dry_run"], true);
    assert!(
        progress.contains("prune: messages: would remove 8 messages"),
        "{progress}"
    );
    assert_eq!(db_count(&db, "messages").await, 12);
    let (done, progress) = run(false);
    assert_eq!(done["messages"], 8, "{done}");
    assert_eq!(done["batches"], 3, "8 rows in batches of 3: {done}");
    assert!(
        progress.contains("prune: messages: removed 3 messages") && progress.contains("1 batches"),
        "progress from the first batch on: {progress}"
    );
    assert_eq!(db_count(&db, "messages").await, 4);
}

/// The pruner the server starts runs on its own interval: once the (manual) clock has moved past
/// the age limit, old messages go without anyone calling prune, and new ones stay.
async fn background_pruner_runs_on_its_interval(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::start_with(&db, |s| {
        s.retention = RetentionSettings {
            messages: MessageRetention {
                max_age_days: Some(1),
                max_messages: None,
            },
            interval: Some(std::time::Duration::from_millis(50)),
            batch: 2,
            ..RetentionSettings::default()
        };
        // The token outlives the clock's jump.
        s.token_ttl = std::time::Duration::from_secs(30 * 86_400);
    })
    .await;
    let client = app.client().await;
    let alice = login(&client, "alice", "claude", false).await;
    let s = call(
        &client,
        "create_session",
        json!({"purpose": "pruned", "auth_token": alice}),
    )
    .await
    .ok()["session_id"]
        .clone();
    let post = |content: &str| {
        call(
            &client,
            "add_message",
            json!({"session_id": s, "content": content, "auth_token": alice}),
        )
    };
    for i in 0..5 {
        post(&format!("old {i}")).await.ok();
    }
    let contents = async || -> Vec<String> {
        let page = call(
            &client,
            "get_messages",
            json!({"session_id": s, "limit": 50, "auth_token": alice}),
        )
        .await
        .ok();
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    // Several intervals pass: nothing is a day old yet, so nothing goes.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(contents().await.len(), 5);

    app.clock
        .advance(std::time::Duration::from_secs(2 * 86_400));
    post("new").await.ok();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let left = contents().await;
        if left == ["new"] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the background pruner did not remove the old messages: {left:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(count_mismatches(&db).await, 0);
}
