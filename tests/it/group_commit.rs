//! Group commit on PostgreSQL (`storage/postgres/combine.rs`): posts that queue behind a busy
//! session are written together, and a post whose caller gives up before its batch starts is
//! withdrawn, never written later.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use shared_context_server::domain::{Reader, SessionId, Visibility};
use shared_context_server::storage::{InsertOutcome, MessageQuery, NewMessage, NewSession, Store};
use shared_context_server::util::now;
use sqlx::Connection as _;

use crate::support::*;

fn post(session: &SessionId, content: &str) -> NewMessage {
    NewMessage {
        session_id: session.clone(),
        sender: "alice".into(),
        sender_type: "claude".into(),
        content: content.into(),
        visibility: Visibility::Public,
        metadata: json!({}).as_object().unwrap().clone(),
        parent_message_id: None,
        at: now(),
        to: Vec::new(),
    }
}

async fn spawn_post(
    store: &Arc<dyn Store>,
    m: NewMessage,
) -> tokio::task::JoinHandle<InsertOutcome> {
    let store = store.clone();
    let handle = tokio::spawn(async move { store.add_message(&m).await.expect("post") });
    // Let it reach the database (the first) or the session's queue (the others).
    tokio::time::sleep(Duration::from_millis(300)).await;
    handle
}

#[tokio::test]
async fn postgres_queued_posts_commit_together_and_withdrawn_ones_never() {
    let db = TestDb::new(Backend::Postgres).await;
    let store = db.store(4).await;
    let session = store
        .create_session(&NewSession {
            id: SessionId::generate(),
            purpose: "group commit".into(),
            created_by: "alice".into(),
            metadata: Default::default(),
            at: now(),
        })
        .await
        .unwrap();
    let sid = SessionId::parse(&session.id).unwrap();

    // Another client holds the session's row lock, so the first post blocks inside the database.
    let mut holder = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let mut tx = holder.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM shared_context.sessions WHERE id = $1 FOR UPDATE")
        .bind(&session.id)
        .execute(&mut *tx)
        .await
        .unwrap();
    let first = spawn_post(&store, post(&sid, "first")).await;
    // The next caller gives up while its post waits behind the first.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(300),
        store.add_message(&post(&sid, "withdrawn")),
    )
    .await;
    assert!(
        gave_up.is_err(),
        "the post should still be queued: {gave_up:?}"
    );
    let second = spawn_post(&store, post(&sid, "second")).await;
    let third = spawn_post(&store, post(&sid, "third")).await;
    tx.rollback().await.unwrap();

    let mut ids = Vec::new();
    for handle in [first, second, third] {
        match handle.await.unwrap() {
            InsertOutcome::Inserted(m) => ids.push(m.id),
            other => panic!("not inserted: {other:?}"),
        }
    }
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids follow the order of the posts: {ids:?}"
    );
    let stored = store
        .list_messages(&MessageQuery {
            session_id: &sid,
            reader: &Reader::Admin,
            only: None,
            after_id: 0,
            offset: 0,
            limit: 100,
            newest_first: false,
        })
        .await
        .unwrap();
    let contents: Vec<&str> = stored.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["first", "second", "third"]);
    // Second and third went in as one statement, each still with its own audit row.
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM shared_context.audit_log WHERE event = 'message_added' AND session_id = $1",
    )
    .bind(&session.id)
    .fetch_one(&mut holder)
    .await
    .unwrap();
    assert_eq!(audited, 3);
}
