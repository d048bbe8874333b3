//! The idempotent-write storage contract, on both backends: each keyed write does what the plain
//! write does (rows, audit events), refused writes keep nothing, and the claim answers replay and
//! conflict.

use std::sync::Arc;

use chrono::Utc;
use serde_json::{Value, json};
use shared_context_server::domain::{SessionId, Visibility};
use shared_context_server::storage::{
    IdempotencyClaim, IdempotentWrite, InsertOutcome, MemoryAddress, NewMemory, NewMessage,
    NewSession, OnceOutcome, OnceWrite, SessionClose, SetMemoryOutcome, Store, WriteResult,
};

use crate::support::*;

/// The storage contract: each keyed write does what the plain write does (rows, audit events),
/// refused writes keep nothing, and the claim answers replay and conflict.
async fn keyed_writes_match_plain_writes(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store: Arc<dyn Store> = db.store(4).await;
    let now = shared_context_server::util::now();
    let claim = |key: &'static str, fingerprint: &'static str| IdempotencyClaim {
        agent_id: "alice",
        key,
        tool: "t",
        fingerprint,
        now,
        expires_at: now + chrono::Duration::hours(1),
    };
    let keep = |r: &WriteResult| Some(format!("{{\"kept\": {:?}}}", format!("{r:?}").len()));
    let session = |purpose: &str| NewSession {
        id: SessionId::generate(),
        purpose: purpose.into(),
        created_by: "alice".into(),
        metadata: json!({"k": 1}).as_object().unwrap().clone(),
        at: now,
    };

    // Sessions: the keyed record equals what the plain path returns for the same input.
    let plain_new = session("plain");
    let plain = store.create_session(&plain_new).await.unwrap();
    let keyed_new = session("keyed");
    let OnceOutcome::Fresh {
        result: WriteResult::Session(keyed),
        response: Some(response),
    } = store
        .write_once(OnceWrite {
            claim: &claim("s", "f1"),
            write: IdempotentWrite::CreateSession(&keyed_new),
            respond: &keep,
        })
        .await
        .unwrap()
    else {
        panic!("not written")
    };
    assert_eq!(
        (
            keyed.purpose.as_str(),
            &keyed.metadata,
            keyed.is_active,
            keyed.created_at
        ),
        ("keyed", &plain.metadata, true, now)
    );
    assert_eq!(
        store.get_session(&keyed_new.id).await.unwrap().as_ref(),
        Some(&keyed)
    );
    assert_eq!(
        store
            .write_once(OnceWrite {
                claim: &claim("s", "f1"),
                write: IdempotentWrite::CreateSession(&session("again")),
                respond: &keep
            })
            .await
            .unwrap(),
        OnceOutcome::Replay {
            response: response.clone()
        }
    );
    assert_eq!(
        store
            .write_once(OnceWrite {
                claim: &claim("s", "f2"),
                write: IdempotentWrite::CreateSession(&session("other")),
                respond: &keep
            })
            .await
            .unwrap(),
        OnceOutcome::Conflict { tool: "t".into() }
    );

    // Messages.
    let sid = keyed_new.id.clone();
    let message = |content: &str| NewMessage {
        session_id: sid.clone(),
        sender: "alice".into(),
        sender_type: "claude".into(),
        content: content.into(),
        visibility: Visibility::AgentOnly,
        metadata: json!({"m": [1]}).as_object().unwrap().clone(),
        parent_message_id: None,
        at: now,
        to: Vec::new(),
    };
    let InsertOutcome::Inserted(p) = store.add_message(&message("plain")).await.unwrap() else {
        panic!()
    };
    let OnceOutcome::Fresh {
        result: WriteResult::Message(InsertOutcome::Inserted(k)),
        ..
    } = store
        .write_once(OnceWrite {
            claim: &claim("m", "f"),
            write: IdempotentWrite::AddMessage(&NewMessage {
                parent_message_id: Some(p.id),
                ..message("keyed")
            }),
            respond: &keep,
        })
        .await
        .unwrap()
    else {
        panic!("not inserted")
    };
    assert_eq!(
        (k.id > p.id, k.visibility, &k.metadata, k.parent_message_id),
        (true, p.visibility, &p.metadata, Some(p.id))
    );
    // A refused write keeps nothing, key included, so the key can be used again.
    let missing = NewMessage {
        session_id: SessionId::generate(),
        ..message("nowhere")
    };
    assert_eq!(
        store
            .write_once(OnceWrite {
                claim: &claim("r", "f"),
                write: IdempotentWrite::AddMessage(&missing),
                respond: &|_| None
            })
            .await
            .unwrap(),
        OnceOutcome::Fresh {
            result: WriteResult::Message(InsertOutcome::SessionMissing),
            response: None
        }
    );
    assert!(matches!(
        store
            .write_once(OnceWrite {
                claim: &claim("r", "g"),
                write: IdempotentWrite::AddMessage(&message("now")),
                respond: &keep
            })
            .await
            .unwrap(),
        OnceOutcome::Fresh {
            result: WriteResult::Message(InsertOutcome::Inserted(_)),
            response: Some(_)
        }
    ));

    // Memory.
    let memory = |key: &str| NewMemory {
        agent_id: "alice".into(),
        session_id: Some(sid.as_str().into()),
        key: key.into(),
        value: json!([1, "two"]),
        value_json: json!([1, "two"]).to_string(),
        metadata: json!({"a": true}).as_object().unwrap().clone(),
        expires_at: Some(now + chrono::Duration::hours(1)),
        overwrite: false,
        at: now,
    };
    let SetMemoryOutcome::Stored(p) = store.set_memory(&memory("plain")).await.unwrap() else {
        panic!()
    };
    let OnceOutcome::Fresh {
        result: WriteResult::Memory(SetMemoryOutcome::Stored(k)),
        ..
    } = store
        .write_once(OnceWrite {
            claim: &claim("sm", "f"),
            write: IdempotentWrite::SetMemory(&memory("keyed")),
            respond: &keep,
        })
        .await
        .unwrap()
    else {
        panic!("not stored")
    };
    assert_eq!(MemoryRecordView::of(&k), MemoryRecordView::of(&p));
    assert_eq!(
        store
            .write_once(OnceWrite {
                claim: &claim("sm2", "f"),
                write: IdempotentWrite::SetMemory(&memory("keyed")),
                respond: &|_| None
            })
            .await
            .unwrap(),
        OnceOutcome::Fresh {
            result: WriteResult::Memory(SetMemoryOutcome::KeyExists),
            response: None
        }
    );
    let address = MemoryAddress {
        agent_id: "alice",
        session_id: Some(sid.as_str()),
        key: "keyed",
        now,
    };
    assert!(
        store
            .delete_memory(&MemoryAddress {
                key: "plain",
                ..address.clone()
            })
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .write_once(OnceWrite {
                claim: &claim("dm", "f"),
                write: IdempotentWrite::DeleteMemory(&address),
                respond: &keep
            })
            .await
            .unwrap(),
        OnceOutcome::Fresh {
            result: WriteResult::Deleted(true),
            response: Some(keep(&WriteResult::Deleted(true)).unwrap())
        }
    );
    assert!(store.get_memory(&address).await.unwrap().is_none());

    // Closing: once, then "already closed" without another audit row; a missing session is None.
    let closing = |id: &'static str| {
        (
            IdempotentWrite::CloseSession(SessionClose {
                id: &sid,
                actor: "alice",
                at: now,
            }),
            id,
        )
    };
    let (write, key) = closing("c1");
    let OnceOutcome::Fresh {
        result: WriteResult::Closed(Some(closed)),
        ..
    } = store
        .write_once(OnceWrite {
            claim: &claim(key, "f"),
            write,
            respond: &keep,
        })
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(!closed.is_active);
    let (write, key) = closing("c2");
    assert!(matches!(
        store.write_once(OnceWrite { claim: &claim(key, "f"), write, respond: &keep }).await.unwrap(),
        OnceOutcome::Fresh { result: WriteResult::Closed(Some(ref s)), .. } if !s.is_active && s.updated_at == closed.updated_at
    ));
    let ghost = SessionId::generate();
    assert_eq!(
        store
            .write_once(OnceWrite {
                claim: &claim("c3", "f"),
                write: IdempotentWrite::CloseSession(SessionClose {
                    id: &ghost,
                    actor: "alice",
                    at: now
                }),
                respond: &|_| None
            })
            .await
            .unwrap(),
        OnceOutcome::Fresh {
            result: WriteResult::Closed(None),
            response: None
        }
    );

    // Both paths wrote the same audit events (two of each; one close).
    let events: Vec<String> = store
        .recent_audit(100)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.event)
        .collect();
    let n = |e: &str| events.iter().filter(|x| x.as_str() == e).count();
    assert_eq!(
        (
            n("session_created"),
            n("message_added"),
            n("memory_set"),
            n("memory_deleted"),
            n("session_closed")
        ),
        (2, 3, 2, 2, 1),
        "{events:?}"
    );

    // Sweeping deletes expired keys only, in batches.
    let later = now + chrono::Duration::hours(2);
    let live = db_count(&db, "idempotency_keys").await;
    assert!(live >= 6);
    assert_eq!(
        store
            .delete_expired_idempotency_keys(now, 100)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .delete_expired_idempotency_keys(later, 4)
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        store
            .delete_expired_idempotency_keys(later, 100)
            .await
            .unwrap() as i64,
        live - 4
    );
    store.close().await;
}

/// A memory record without its key and timestamps-that-differ, for comparing paths.
#[derive(Debug, PartialEq)]
struct MemoryRecordView(
    Option<String>,
    Value,
    Value,
    i64,
    Option<chrono::DateTime<Utc>>,
);

impl MemoryRecordView {
    fn of(r: &shared_context_server::storage::MemoryRecord) -> Self {
        Self(
            r.session_id.clone(),
            r.value.clone(),
            Value::Object(r.metadata.clone()),
            r.value_size,
            r.expires_at,
        )
    }
}

contract!(keyed_writes_match_plain_writes);
