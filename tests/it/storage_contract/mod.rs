//! The storage contract: every `Store` behaviour, run against SQLite and PostgreSQL alike.

use std::sync::Arc;

use chrono::Duration;
use serde_json::json;
use shared_context_server::domain::{Reader, SessionId, Visibility};
use shared_context_server::storage::{
    InsertOutcome, MessageQuery, NewMemory, NewMessage, NewSession, SessionClose, SessionList,
    SetMemoryOutcome, Store, TokenRecord, TokenRotation,
};
use shared_context_server::util::now;

use crate::support::*;

mod idempotency;

async fn open(backend: Backend) -> (TestDb, Arc<dyn Store>) {
    let db = TestDb::new(backend).await;
    let store = db.store(8).await;
    (db, store)
}

fn list(active_only: bool, limit: u32, before_seq: Option<i64>) -> SessionList {
    SessionList {
        active_only,
        limit,
        before_seq,
    }
}

fn new_session(purpose: &str) -> NewSession {
    NewSession {
        id: SessionId::generate(),
        purpose: purpose.into(),
        created_by: "alice".into(),
        metadata: json!({"repo": "api", "n": 1}).as_object().unwrap().clone(),
        at: now(),
    }
}

fn new_message(
    session: &SessionId,
    sender: &str,
    sender_type: &str,
    visibility: Visibility,
) -> NewMessage {
    NewMessage {
        session_id: session.clone(),
        sender: sender.into(),
        sender_type: sender_type.into(),
        content: format!("{sender} says {visibility}"),
        visibility,
        metadata: json!({"k": "v"}).as_object().unwrap().clone(),
        parent_message_id: None,
        at: now(),
        to: Vec::new(),
    }
}

fn query<'a>(session: &'a SessionId, reader: &'a Reader) -> MessageQuery<'a> {
    MessageQuery {
        session_id: session,
        reader,
        only: None,
        after_id: 0,
        offset: 0,
        limit: 1000,
        newest_first: false,
    }
}

async fn inserted(store: &dyn Store, m: &NewMessage) -> i64 {
    match store.add_message(m).await.expect("insert") {
        InsertOutcome::Inserted(r) => r.id,
        other => panic!("not inserted: {other:?}"),
    }
}

async fn sessions_round_trip(backend: Backend) {
    let (_db, store) = open(backend).await;
    let new = new_session("round trip ' \" %_ ünïcode");
    let created = store.create_session(&new).await.unwrap();
    let fetched = store.get_session(&new.id).await.unwrap().expect("exists");
    assert_eq!(created, fetched, "what is written is what is read");
    assert_eq!(fetched.created_at, new.at, "timestamps keep microseconds");
    assert!(
        store
            .get_session(&SessionId::generate())
            .await
            .unwrap()
            .is_none()
    );

    let second = store.create_session(&new_session("second")).await.unwrap();
    let page = store.list_sessions(&list(true, 1, None)).await.unwrap();
    assert_eq!(page[0].id, second.id, "newest first");
    let next = store
        .list_sessions(&list(true, 10, Some(page[0].seq)))
        .await
        .unwrap();
    assert_eq!(
        next.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        vec![created.id.clone()]
    );

    let closed = store
        .close_session(&SessionClose {
            id: &new.id,
            actor: "alice",
            at: now(),
        })
        .await
        .unwrap()
        .expect("closed");
    assert!(!closed.is_active);
    assert_eq!(
        store
            .list_sessions(&list(true, 10, None))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .list_sessions(&list(false, 10, None))
            .await
            .unwrap()
            .len(),
        2
    );
    let m = new_message(&new.id, "alice", "claude", Visibility::Public);
    assert_eq!(
        store.add_message(&m).await.unwrap(),
        InsertOutcome::SessionClosed
    );
    let audit = store.recent_audit(10).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.event == "session_created"
                && a.session_id.as_deref() == Some(new.id.as_str()))
    );
}

async fn message_outcomes_and_paging(backend: Backend) {
    let (_db, store) = open(backend).await;
    let s = store.create_session(&new_session("paging")).await.unwrap();
    let sid = SessionId::parse(&s.id).unwrap();
    let other = store.create_session(&new_session("other")).await.unwrap();
    let other_id = SessionId::parse(&other.id).unwrap();
    let foreign = inserted(
        store.as_ref(),
        &new_message(&other_id, "bob", "claude", Visibility::Public),
    )
    .await;

    assert_eq!(
        store
            .add_message(&new_message(
                &SessionId::generate(),
                "a",
                "claude",
                Visibility::Public
            ))
            .await
            .unwrap(),
        InsertOutcome::SessionMissing
    );
    let mut reply = new_message(&sid, "alice", "claude", Visibility::Public);
    reply.parent_message_id = Some(foreign);
    assert_eq!(
        store.add_message(&reply).await.unwrap(),
        InsertOutcome::ParentNotInSession
    );

    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(
            inserted(
                store.as_ref(),
                &new_message(&sid, "alice", "claude", Visibility::Public),
            )
            .await,
        );
    }
    reply.parent_message_id = Some(ids[0]);
    let child = inserted(store.as_ref(), &reply).await;
    ids.push(child);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase");

    let admin = Reader::Admin;
    let all = store.list_messages(&query(&sid, &admin)).await.unwrap();
    assert_eq!(all.iter().map(|m| m.id).collect::<Vec<_>>(), ids);
    assert_eq!(all.last().unwrap().parent_message_id, Some(ids[0]));
    assert_eq!(all[0].metadata, *json!({"k": "v"}).as_object().unwrap());
    assert_eq!(store.count_messages(&query(&sid, &admin)).await.unwrap(), 8);

    let page = MessageQuery {
        offset: 2,
        limit: 3,
        ..query(&sid, &admin)
    };
    assert_eq!(
        store
            .list_messages(&page)
            .await
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect::<Vec<_>>(),
        ids[2..5]
    );
    let after = MessageQuery {
        after_id: ids[5],
        ..query(&sid, &admin)
    };
    assert_eq!(
        store
            .list_messages(&after)
            .await
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect::<Vec<_>>(),
        ids[6..]
    );
    assert_eq!(store.count_messages(&after).await.unwrap(), 2);
    let newest = MessageQuery {
        newest_first: true,
        limit: 2,
        ..query(&sid, &admin)
    };
    assert_eq!(
        store
            .list_messages(&newest)
            .await
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect::<Vec<_>>(),
        vec![ids[7], ids[6]]
    );
    let touched = store.get_session(&sid).await.unwrap().unwrap();
    assert!(touched.updated_at >= touched.created_at);
}

/// The SQL predicate agrees with `Reader::may_read` on every reader × visibility × sender.
async fn sql_visibility_matches_rule(backend: Backend) {
    let (_db, store) = open(backend).await;
    let s = store.create_session(&new_session("rule")).await.unwrap();
    let sid = SessionId::parse(&s.id).unwrap();
    let senders = [("alice", "claude"), ("bob", "claude"), ("carol", "gemini")];
    let mut messages = Vec::new();
    for (sender, ty) in senders {
        for vis in Visibility::ALL {
            let id = inserted(store.as_ref(), &new_message(&sid, sender, ty, vis)).await;
            messages.push((id, vis, sender, ty));
        }
    }
    let mut readers = vec![Reader::Admin, Reader::PublicOnly];
    for (id, ty) in senders
        .iter()
        .chain(&[("dave", "gemini"), ("eve", "codex")])
    {
        readers.push(Reader::Agent {
            agent_id: (*id).into(),
            agent_type: (*ty).into(),
        });
    }
    for reader in &readers {
        for only in [
            None,
            Some(Visibility::Public),
            Some(Visibility::Private),
            Some(Visibility::AgentOnly),
            Some(Visibility::AdminOnly),
        ] {
            let q = MessageQuery {
                only,
                ..query(&sid, reader)
            };
            let got: Vec<i64> = store
                .list_messages(&q)
                .await
                .unwrap()
                .iter()
                .map(|m| m.id)
                .collect();
            let want: Vec<i64> = messages
                .iter()
                .filter(|(_, vis, sender, ty)| {
                    reader.may_read(*vis, sender, ty, &[]) && only.is_none_or(|o| o == *vis)
                })
                .map(|(id, ..)| *id)
                .collect();
            assert_eq!(got, want, "{reader:?} with filter {only:?}");
            assert_eq!(store.count_messages(&q).await.unwrap(), want.len() as i64);
        }
    }
}

fn rotation<'a>(old_hash: &'a str, new: &'a TokenRecord) -> TokenRotation<'a> {
    TokenRotation {
        old_hash,
        new,
        at: now(),
    }
}

async fn tokens(backend: Backend) {
    let (_db, store) = open(backend).await;
    let t = TokenRecord {
        token_hash: "h1".into(),
        agent_id: "alice".into(),
        agent_type: "claude".into(),
        permissions: vec!["read".into(), "write".into()],
        issued_at: now(),
        expires_at: now() + Duration::hours(1),
        revoked_at: None,
    };
    store.insert_token(&t).await.unwrap();
    let found = store.find_token("h1").await.unwrap().unwrap();
    assert_eq!(
        (
            found.agent_id.as_str(),
            found.permissions.len(),
            found.expires_at
        ),
        ("alice", 2, t.expires_at)
    );
    let next = TokenRecord {
        token_hash: "h2".into(),
        ..t.clone()
    };
    assert!(store.rotate_token(&rotation("h1", &next)).await.unwrap());
    assert!(
        store
            .find_token("h1")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    let again = TokenRecord {
        token_hash: "h3".into(),
        ..t.clone()
    };
    assert!(
        !store.rotate_token(&rotation("h1", &again)).await.unwrap(),
        "a token rotates once"
    );
    assert!(
        store.find_token("h3").await.unwrap().is_none(),
        "a failed rotation writes nothing"
    );
    assert!(store.revoke_token("h2", now()).await.unwrap());
    assert!(!store.revoke_token("h2", now()).await.unwrap());
    assert!(!store.revoke_token("nope", now()).await.unwrap());
    let expired = TokenRecord {
        token_hash: "h4".into(),
        expires_at: now() - Duration::seconds(1),
        ..t
    };
    store.insert_token(&expired).await.unwrap();
    assert!(
        !store
            .rotate_token(&rotation(
                "h4",
                &TokenRecord {
                    token_hash: "h5".into(),
                    ..expired.clone()
                }
            ))
            .await
            .unwrap()
    );
}

/// Concurrent writers into one session: every message lands once and ids read back in order.
async fn concurrent_writers(backend: Backend) {
    let (_db, store) = open(backend).await;
    let s = store
        .create_session(&new_session("concurrent"))
        .await
        .unwrap();
    let sid = SessionId::parse(&s.id).unwrap();
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        let sid = sid.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..25 {
                ids.push(
                    inserted(
                        store.as_ref(),
                        &new_message(&sid, &format!("w{w}"), "claude", Visibility::Public),
                    )
                    .await,
                );
            }
            ids
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 200);
    let read: Vec<i64> = store
        .list_messages(&query(&sid, &Reader::Admin))
        .await
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(read, all);
}

/// Posts arriving together (PostgreSQL writes them as one batch): each gets its own outcome,
/// bad parents and closed or missing sessions fail alone, and counts agree with a full scan.
async fn simultaneous_posts_keep_their_own_outcomes(backend: Backend) {
    let (_db, store) = open(backend).await;
    let open_s = store.create_session(&new_session("open")).await.unwrap();
    let closed_s = store.create_session(&new_session("closed")).await.unwrap();
    let open_id = SessionId::parse(&open_s.id).unwrap();
    let closed_id = SessionId::parse(&closed_s.id).unwrap();
    store
        .close_session(&SessionClose {
            id: &closed_id,
            actor: "alice",
            at: now(),
        })
        .await
        .unwrap();
    let missing_id = SessionId::generate();
    let root = inserted(
        store.as_ref(),
        &new_message(&open_id, "root", "claude", Visibility::Public),
    )
    .await;

    let start = Arc::new(tokio::sync::Barrier::new(48));
    let mut tasks = Vec::new();
    for i in 0..48u32 {
        let (store, start) = (store.clone(), start.clone());
        let (open_id, closed_id, missing_id) =
            (open_id.clone(), closed_id.clone(), missing_id.clone());
        tasks.push(tokio::spawn(async move {
            let visibility = [
                Visibility::Public,
                Visibility::Private,
                Visibility::AgentOnly,
            ][i as usize % 3];
            let mut m = new_message(
                &open_id,
                &format!("agent-{}", i % 5),
                ["claude", "gemini"][i as usize % 2],
                visibility,
            );
            m.content = format!("post {i}");
            m.metadata = json!({"i": i}).as_object().unwrap().clone();
            match i % 8 {
                1 => m.parent_message_id = Some(root),
                2 => m.parent_message_id = Some(i64::MAX - 1),
                3 => m.session_id = closed_id,
                4 => m.session_id = missing_id,
                _ => {}
            }
            start.wait().await;
            (
                i,
                m.clone(),
                store.add_message(&m).await.expect("no storage error"),
            )
        }));
    }
    let mut inserted_ids = Vec::new();
    for t in tasks {
        let (i, sent, outcome) = t.await.unwrap();
        match (i % 8, outcome) {
            (2, InsertOutcome::ParentNotInSession) => {}
            (3, InsertOutcome::SessionClosed) => {}
            (4, InsertOutcome::SessionMissing) => {}
            (0 | 1 | 5 | 6 | 7, InsertOutcome::Inserted(r)) => {
                assert_eq!(
                    (r.content.as_str(), &r.metadata, r.visibility),
                    (sent.content.as_str(), &sent.metadata, sent.visibility)
                );
                assert_eq!(r.parent_message_id, sent.parent_message_id);
                inserted_ids.push(r.id);
            }
            (_, other) => panic!("post {i}: unexpected outcome {other:?}"),
        }
    }
    assert_eq!(inserted_ids.len(), 30);
    let stored = store
        .list_messages(&query(&open_id, &Reader::Admin))
        .await
        .unwrap();
    for id in &inserted_ids {
        let m = stored
            .iter()
            .find(|m| m.id == *id)
            .expect("every acknowledged post is stored");
        assert_eq!(
            m.metadata["i"].as_u64().map(|i| format!("post {i}")),
            Some(m.content.clone())
        );
    }
    assert_eq!(stored.len(), 31);
    // The whole-session count (per-sender counts on PostgreSQL) equals a scan from id 0.
    let readers = [
        Reader::Admin,
        Reader::Agent {
            agent_id: "agent-1".into(),
            agent_type: "claude".into(),
        },
        Reader::Agent {
            agent_id: "agent-2".into(),
            agent_type: "gemini".into(),
        },
        Reader::PublicOnly,
    ];
    for reader in &readers {
        for only in [None, Some(Visibility::Private), Some(Visibility::AgentOnly)] {
            for after_id in [0, root] {
                let q = MessageQuery {
                    only,
                    after_id,
                    ..query(&open_id, reader)
                };
                let counted = store.count_messages(&q).await.unwrap();
                let listed = store.list_messages(&q).await.unwrap().len() as i64;
                assert_eq!(counted, listed, "{reader:?} {only:?} after {after_id}");
            }
        }
    }
}

/// A stored message or memory value leaves one audit row with the same details on both backends
/// (SQLite writes the row in the statement that stores the value); a refused one leaves none.
async fn writes_audit_what_they_store(backend: Backend) {
    let (_db, store) = open(backend).await;
    let s = store.create_session(&new_session("audit")).await.unwrap();
    let sid = SessionId::parse(&s.id).unwrap();
    let m = new_message(&sid, "alice", "claude", Visibility::AgentOnly);
    let id = inserted(store.as_ref(), &m).await;
    let touched = store.get_session(&sid).await.unwrap().unwrap();
    assert_eq!(touched.updated_at, m.at);
    let memory = |overwrite| {
        let value = json!({"topic": "cache"});
        NewMemory {
            agent_id: "alice".into(),
            session_id: Some(s.id.clone()),
            key: "k.1".into(),
            value_json: value.to_string(),
            value,
            metadata: serde_json::Map::new(),
            expires_at: None,
            overwrite,
            at: now(),
        }
    };
    let stored = store.set_memory(&memory(false)).await.unwrap();
    assert!(matches!(stored, SetMemoryOutcome::Stored(_)), "{stored:?}");
    let before = store.recent_audit(100).await.unwrap().len();
    assert_eq!(
        store.set_memory(&memory(false)).await.unwrap(),
        SetMemoryOutcome::KeyExists
    );
    store
        .close_session(&SessionClose {
            id: &sid,
            actor: "alice",
            at: now(),
        })
        .await
        .unwrap();
    let after_close = store.recent_audit(100).await.unwrap().len();
    assert_eq!(after_close, before + 1, "only the close is audited");
    assert_eq!(
        store.add_message(&m).await.unwrap(),
        InsertOutcome::SessionClosed
    );
    assert_eq!(store.recent_audit(100).await.unwrap().len(), after_close);

    let audit = store.recent_audit(100).await.unwrap();
    let event = |name: &str| {
        audit
            .iter()
            .find(|a| a.event == name)
            .unwrap_or_else(|| panic!("no {name} in {audit:?}"))
    };
    let added = event("message_added");
    assert_eq!(
        (added.actor.as_str(), added.session_id.as_deref()),
        ("alice", Some(s.id.as_str()))
    );
    assert_eq!(
        added.details,
        json!({"message_id": id, "visibility": "agent_only"})
    );
    let set = event("memory_set");
    assert_eq!(
        (set.actor.as_str(), set.session_id.as_deref()),
        ("alice", Some(s.id.as_str()))
    );
    assert_eq!(
        set.details,
        json!({"key": "k.1", "session_scoped": true, "has_expiration": false, "value_size": 17})
    );
    assert_eq!(audit.iter().filter(|a| a.event == "memory_set").count(), 1);
}

contract!(
    sessions_round_trip,
    message_outcomes_and_paging,
    sql_visibility_matches_rule,
    tokens,
    concurrent_writers,
    simultaneous_posts_keep_their_own_outcomes,
    writes_audit_what_they_store
);
