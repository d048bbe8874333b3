//! Group commit on SQLite (`storage/sqlite/group.rs`): concurrent writes share transactions,
//! each is kept or undone alone, idempotent writes stay exactly-once inside a batch, and callers
//! that go away mid-batch leave no transaction open behind them.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Map, json};
use shared_context_server::domain::{SessionId, Visibility};
use shared_context_server::storage::{
    IdempotencyClaim, IdempotentWrite, InsertOutcome, NewMemory, NewMessage, NewSession,
    OnceOutcome, OnceWrite, SessionClose, SetMemoryOutcome, Store, WriteResult,
};

use crate::support::*;

async fn new_session(store: &dyn Store) -> SessionId {
    let id = SessionId::generate();
    store
        .create_session(&NewSession {
            id: id.clone(),
            purpose: "group commit".into(),
            created_by: "alice".into(),
            metadata: Map::new(),
            at: Utc::now(),
        })
        .await
        .unwrap();
    id
}

fn message(session: &SessionId, content: String) -> NewMessage {
    NewMessage {
        session_id: session.clone(),
        sender: "alice".into(),
        sender_type: "claude".into(),
        content,
        visibility: Visibility::Public,
        metadata: Map::new(),
        parent_message_id: None,
        to: Vec::new(),
        at: Utc::now(),
    }
}

/// An idempotent add_message as the service sends it: the response is the new id, and a refused
/// post (closed session) has none, so its claim is rolled back.
async fn post_once(store: &dyn Store, key: &str, m: &NewMessage) -> OnceOutcome {
    let now = Utc::now();
    let claim = IdempotencyClaim {
        agent_id: "alice",
        key,
        tool: "add_message",
        fingerprint: "same-request",
        now,
        expires_at: now + chrono::Duration::hours(1),
    };
    let respond = |r: &WriteResult| match r {
        WriteResult::Message(InsertOutcome::Inserted(m)) => Some(json!({"id": m.id}).to_string()),
        _ => None,
    };
    store
        .write_once(OnceWrite {
            claim: &claim,
            write: IdempotentWrite::AddMessage(m),
            respond: &respond,
        })
        .await
        .unwrap()
}

fn memory(key: String) -> NewMemory {
    NewMemory {
        agent_id: "alice".into(),
        session_id: None,
        key,
        value: json!(1),
        value_json: "1".into(),
        metadata: Map::new(),
        expires_at: None,
        overwrite: true,
        at: Utc::now(),
    }
}

async fn group_stats(store: &dyn Store) -> (i64, i64) {
    let stats = store.db_stats().await.unwrap();
    let g = &stats["group_commit"];
    (
        g["transactions"].as_i64().unwrap(),
        g["writes"].as_i64().unwrap(),
    )
}

/// 90 concurrent writes of five kinds: every one gets its own right answer, the refused ones
/// leave nothing behind (not even their key), ten identical keyed posts write one message, and
/// the writes went in fewer transactions than there were writes.
#[tokio::test]
async fn sqlite_concurrent_writes_share_transactions_and_keep_their_own_outcome() {
    let db = TestDb::new(Backend::Sqlite).await;
    let store = db.store(4).await;
    let open = new_session(store.as_ref()).await;
    let closed = new_session(store.as_ref()).await;
    store
        .close_session(&SessionClose {
            id: &closed,
            actor: "alice",
            at: Utc::now(),
        })
        .await
        .unwrap();
    let before = group_stats(store.as_ref()).await;

    let mut set = tokio::task::JoinSet::new();
    for i in 0..80 {
        let store = store.clone();
        let (open, closed) = (open.clone(), closed.clone());
        set.spawn(async move {
            let kind = i % 4;
            match kind {
                0 => match store
                    .add_message(&message(&open, format!("plain {i}")))
                    .await
                {
                    Ok(InsertOutcome::Inserted(_)) => "posted",
                    other => panic!("{other:?}"),
                },
                1 => match store.set_memory(&memory(format!("k{i}"))).await {
                    Ok(SetMemoryOutcome::Stored(_)) => "stored",
                    other => panic!("{other:?}"),
                },
                2 => match post_once(
                    store.as_ref(),
                    &format!("key{i}"),
                    &message(&open, format!("keyed {i}")),
                )
                .await
                {
                    OnceOutcome::Fresh {
                        response: Some(_), ..
                    } => "posted once",
                    other => panic!("{other:?}"),
                },
                _ => match post_once(
                    store.as_ref(),
                    &format!("key{i}"),
                    &message(&closed, format!("refused {i}")),
                )
                .await
                {
                    OnceOutcome::Fresh {
                        result: WriteResult::Message(InsertOutcome::SessionClosed),
                        response: None,
                    } => "refused",
                    other => panic!("{other:?}"),
                },
            }
        });
    }
    for _ in 0..10 {
        let store = store.clone();
        let m = message(&open, "the same request".into());
        set.spawn(async move {
            match post_once(store.as_ref(), "same", &m).await {
                OnceOutcome::Fresh {
                    response: Some(_), ..
                } => "fresh",
                OnceOutcome::Replay { .. } => "replay",
                other => panic!("{other:?}"),
            }
        });
    }
    let answers = set.join_all().await;
    let n = |what: &str| answers.iter().filter(|a| **a == what).count();
    assert_eq!(
        (n("posted"), n("stored"), n("posted once"), n("refused")),
        (20, 20, 20, 20)
    );
    assert_eq!((n("fresh"), n("replay")), (1, 9), "{answers:?}");

    let in_open = db_scalar(
        &db,
        &format!("SELECT COUNT(*) FROM messages WHERE session_id = '{open}'"),
        "",
    )
    .await;
    assert_eq!(
        in_open, 41,
        "20 plain, 20 keyed, 1 for the ten identical requests"
    );
    assert_eq!(
        db_scalar(
            &db,
            &format!("SELECT COUNT(*) FROM messages WHERE session_id = '{closed}'"),
            ""
        )
        .await,
        0
    );
    assert_eq!(
        db_scalar(&db, "SELECT COUNT(*) FROM idempotency_keys", "").await,
        21,
        "the refused posts' claims were rolled back with them"
    );
    assert_eq!(db_count(&db, "agent_memory").await, 20);
    let (tx, writes) = group_stats(store.as_ref()).await;
    let (tx, writes) = (tx - before.0, writes - before.1);
    // Kept writes: 20 + 20 + 20 + the one fresh identical request (replays and refusals are undone).
    assert_eq!(writes, 61);
    assert!(
        tx < writes,
        "{writes} writes in {tx} transactions: nothing was batched"
    );
    store.close().await;
}

/// Callers dropped at every point of a batch (waiting, inside their write, waiting for the
/// commit): every answered write is stored, the writer is left outside any transaction (a write
/// on another path, which begins its own, works), and later writes go on.
#[tokio::test]
async fn sqlite_cancelled_writers_leave_no_transaction_open() {
    let db = TestDb::new(Backend::Sqlite).await;
    let store: Arc<dyn Store> = db.store(4).await;
    let s = new_session(store.as_ref()).await;
    for round in 0..6u64 {
        let mut handles = Vec::new();
        for i in 0..40 {
            let store = store.clone();
            let m = message(&s, format!("round {round} post {i}"));
            handles.push(tokio::spawn(async move {
                match store.add_message(&m).await {
                    Ok(InsertOutcome::Inserted(r)) => r.id,
                    other => panic!("{other:?}"),
                }
            }));
        }
        // Abort every third caller after a delay that shifts with the round.
        tokio::time::sleep(Duration::from_micros(200 * round)).await;
        for h in handles.iter().step_by(3) {
            h.abort();
        }
        let mut acknowledged = Vec::new();
        for h in handles {
            if let Ok(id) = h.await {
                acknowledged.push(id);
            }
        }
        for id in &acknowledged {
            assert_eq!(
                db_scalar(
                    &db,
                    &format!("SELECT COUNT(*) FROM messages WHERE id = {id}"),
                    ""
                )
                .await,
                1,
                "round {round}: acknowledged message {id} is missing"
            );
        }
        // Pruning begins its own transaction on the writer: it would fail inside one.
        tokio::time::timeout(
            Duration::from_secs(10),
            store.prune_audit(Utc::now() - chrono::Duration::days(365), Some(10)),
        )
        .await
        .expect("the writer is free")
        .expect("no transaction left open");
    }
    match store
        .add_message(&message(&s, "after".into()))
        .await
        .unwrap()
    {
        InsertOutcome::Inserted(_) => {}
        other => panic!("{other:?}"),
    }
    store.close().await;
}
