//! The write statements on SQLite ([`Writes`]), each on a connection the caller provides (inside
//! a `BEGIN IMMEDIATE` transaction on the writer): the plain store methods and the idempotent path
//! share them, so there is one place to change a write.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{Sqlite, SqliteConnection};

use super::group::{Scope, Scoped, scoped};
use super::insert_audit;
use crate::domain::SessionId;
use crate::storage::reads::{Reads, session_state};
use crate::storage::rows::session_columns;
use crate::storage::writes::Writes;
use crate::storage::{
    AuditEvent, InsertOutcome, MemoryAddress, MemoryRecord, MessageRecord, NewMemory, NewMessage,
    NewSession, SessionRecord, SetMemoryOutcome, StoreError, StoreResult,
};
use crate::util::rfc3339;

/// As in `memory.rs`: insert, or replace an expired entry (any entry with `$9` overwrite).
macro_rules! memory_upsert {
    () => {
        "INSERT INTO agent_memory \
     (agent_id, session_id, key, value, value_size, metadata, created_at, updated_at, expires_at) \
     SELECT $1, $2, $3, $4, $5, $6, $7, $7, $8 \
     WHERE $2 IS NULL OR EXISTS (SELECT 1 FROM sessions WHERE id = $2) \
     ON CONFLICT (agent_id, scope, key) DO UPDATE SET \
       value = excluded.value, value_size = excluded.value_size, metadata = excluded.metadata, \
       created_at = CASE WHEN agent_memory.expires_at IS NOT NULL AND agent_memory.expires_at <= excluded.updated_at \
         THEN excluded.created_at ELSE agent_memory.created_at END, \
       updated_at = excluded.updated_at, expires_at = excluded.expires_at \
     WHERE $9 OR (agent_memory.expires_at IS NOT NULL AND agent_memory.expires_at <= excluded.updated_at) \
     RETURNING created_at"
    };
}

/// A message with neither recipients nor parent, in one round trip to the writer's thread (three
/// statements in one query): the insert, only into an open session; the session's `updated_at`;
/// the audit row. Each later statement runs only if the one before changed a row (`changes()`
/// counts the statement before, not its triggers), so a refused insert writes nothing. Binds:
/// [`bind_message`]'s (the parent $7 is NULL here). It was
/// four round trips (a session check, the three writes), plus SAVEPOINT and RELEASE around them
/// in a shared transaction (`group.rs`): at 20 agents each is two thread wake-ups while the
/// other writers wait for the connection.
const ADD_PLAIN_MESSAGE: Scoped = scoped!(
    "INSERT INTO messages \
     (session_id, sender, sender_type, content, visibility, metadata, parent_message_id, created_at) \
     SELECT $1, $2, $3, $4, $5, $6, $7, $8 \
     WHERE EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND is_active = 1) RETURNING id; \
     UPDATE sessions SET updated_at = $8 WHERE id = $1 AND changes() = 1; \
     INSERT INTO audit_log (created_at, event, actor, session_id, details) \
     SELECT $8, 'message_added', $2, $1, json_object('message_id', last_insert_rowid(), 'visibility', $5) \
     WHERE changes() = 1"
);

/// The memory upsert and its audit row (details `$10`) in one round trip, the audit only when the
/// upsert stored the value (as [`ADD_PLAIN_MESSAGE`]).
const SET_MEMORY: Scoped = scoped!(
    memory_upsert!(),
    "; INSERT INTO audit_log (created_at, event, actor, session_id, details) \
     SELECT $7, 'memory_set', $1, $2, $10 WHERE changes() = 1"
);

fn is_plain(new: &NewMessage) -> bool {
    new.to.is_empty() && new.parent_message_id.is_none()
}

/// A plain message's insert in one of [`ADD_PLAIN_MESSAGE`]'s forms; `None` when the session is
/// missing or closed (nothing written).
async fn insert_plain(
    conn: &mut SqliteConnection,
    new: &NewMessage,
    sql: &'static str,
) -> StoreResult<Option<i64>> {
    // fetch_all: with a row limit (fetch_one) sqlx stops after the first statement.
    let inserted: Vec<(i64,)> = bind_message(sqlx::query_as(sql), new)
        .fetch_all(&mut *conn)
        .await?;
    Ok(inserted.first().map(|&(id,)| id))
}

/// A message row's binds, as both inserts number them: session $1, sender $2, sender type $3,
/// content $4, visibility $5, metadata $6, parent $7, at $8.
fn bind_message<'q, O>(
    query: sqlx::query::QueryAs<'q, Sqlite, O, <Sqlite as sqlx::Database>::Arguments>,
    new: &'q NewMessage,
) -> sqlx::query::QueryAs<'q, Sqlite, O, <Sqlite as sqlx::Database>::Arguments> {
    query
        .bind(new.session_id.as_str())
        .bind(&new.sender)
        .bind(&new.sender_type)
        .bind(&new.content)
        .bind(new.visibility.as_str())
        .bind(Value::Object(new.metadata.clone()).to_string())
        .bind(new.parent_message_id)
        .bind(rfc3339(new.at))
}

/// `add_message` as a group-commit write that opens its own [`Scope`]: a plain message in one
/// round trip; one with recipients or a parent in the scope opened alone.
pub(super) async fn add_message_scoped(
    conn: &mut SqliteConnection,
    new: &NewMessage,
    scope: Scope,
) -> StoreResult<InsertOutcome> {
    if !is_plain(new) {
        scope.open(conn).await?;
        let outcome = Sqlite::add_message(conn, new).await?;
        scope.close(conn).await?;
        return Ok(outcome);
    }
    match insert_plain(conn, new, ADD_PLAIN_MESSAGE.sql(scope)).await? {
        Some(id) => Ok(InsertOutcome::Inserted(MessageRecord::from_new(id, new))),
        None => refused(conn, &new.session_id).await,
    }
}

/// Why a message was not stored: its session is missing or closed.
async fn refused(conn: &mut SqliteConnection, session: &SessionId) -> StoreResult<InsertOutcome> {
    match session_state(&mut *conn, session.as_str()).await? {
        None => Ok(InsertOutcome::SessionMissing),
        Some(false) => Ok(InsertOutcome::SessionClosed),
        Some(true) => Err(StoreError::Internal(format!(
            "an insert into open session '{session}' stored nothing"
        ))),
    }
}

/// `set_memory` as a group-commit write that opens its own [`Scope`], in one round trip.
pub(super) async fn set_memory_scoped(
    conn: &mut SqliteConnection,
    new: &NewMemory,
    scope: Scope,
) -> StoreResult<SetMemoryOutcome> {
    set_memory_in(conn, new, SET_MEMORY.sql(scope)).await
}

/// The memory write in one of [`SET_MEMORY`]'s forms.
async fn set_memory_in(
    conn: &mut SqliteConnection,
    new: &NewMemory,
    sql: &'static str,
) -> StoreResult<SetMemoryOutcome> {
    let details = serde_json::json!({
        "key": new.key,
        "session_scoped": new.session_id.is_some(),
        "has_expiration": new.expires_at.is_some(),
        "value_size": new.value_json.len(),
    });
    // fetch_all: with a row limit (fetch_optional) sqlx stops after the first statement.
    let stored: Vec<(DateTime<Utc>,)> = sqlx::query_as(sql)
        .bind(&new.agent_id)
        .bind(&new.session_id)
        .bind(&new.key)
        .bind(&new.value_json)
        .bind(new.value_json.len() as i64)
        .bind(Value::Object(new.metadata.clone()).to_string())
        .bind(rfc3339(new.at))
        .bind(new.expires_at.map(rfc3339))
        .bind(new.overwrite)
        .bind(details.to_string())
        .fetch_all(&mut *conn)
        .await?;
    let Some(&(created_at,)) = stored.first() else {
        return Reads::memory_refusal(&mut *conn, new.session_id.as_deref()).await;
    };
    Ok(SetMemoryOutcome::Stored(MemoryRecord::stored(
        new, created_at,
    )))
}

impl Writes for Sqlite {
    async fn create_session(
        conn: &mut SqliteConnection,
        new: &NewSession,
    ) -> StoreResult<SessionRecord> {
        let (seq,): (i64,) = sqlx::query_as(
            "INSERT INTO sessions (id, purpose, created_by, metadata, is_active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 1, $5, $5) RETURNING seq",
        )
        .bind(new.id.as_str())
        .bind(&new.purpose)
        .bind(&new.created_by)
        .bind(Value::Object(new.metadata.clone()).to_string())
        .bind(rfc3339(new.at))
        .fetch_one(&mut *conn)
        .await?;
        let audit = AuditEvent {
            at: new.at,
            ..AuditEvent::new(
                "session_created",
                new.created_by.clone(),
                serde_json::json!({"purpose_chars": new.purpose.chars().count()}),
            )
            .in_session(new.id.as_str())
        };
        insert_audit(&mut *conn, &audit).await?;
        Ok(SessionRecord {
            id: new.id.as_str().to_owned(),
            purpose: new.purpose.clone(),
            created_by: new.created_by.clone(),
            metadata: new.metadata.clone(),
            is_active: true,
            created_at: new.at,
            updated_at: new.at,
            seq,
        })
    }

    async fn add_message(
        conn: &mut SqliteConnection,
        new: &NewMessage,
    ) -> StoreResult<InsertOutcome> {
        if is_plain(new) {
            if let Some(id) = insert_plain(conn, new, ADD_PLAIN_MESSAGE.bare).await? {
                return Ok(InsertOutcome::Inserted(MessageRecord::from_new(id, new)));
            }
            return refused(conn, &new.session_id).await;
        }
        let at = rfc3339(new.at);
        match session_state(&mut *conn, new.session_id.as_str()).await? {
            None => return Ok(InsertOutcome::SessionMissing),
            Some(false) => return Ok(InsertOutcome::SessionClosed),
            Some(true) => {}
        }
        if let Some(parent) = new.parent_message_id {
            let found: Option<(i64,)> =
                sqlx::query_as("SELECT id FROM messages WHERE id = $1 AND session_id = $2")
                    .bind(parent)
                    .bind(new.session_id.as_str())
                    .fetch_optional(&mut *conn)
                    .await?;
            if found.is_none() {
                return Ok(InsertOutcome::ParentNotInSession);
            }
        }
        let (id,): (i64,) = bind_message(
            sqlx::query_as(
                "INSERT INTO messages (session_id, sender, sender_type, content, visibility, metadata, parent_message_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            ),
            new,
        )
        .fetch_one(&mut *conn)
        .await?;
        sqlx::query("UPDATE sessions SET updated_at = $2 WHERE id = $1")
            .bind(new.session_id.as_str())
            .bind(&at)
            .execute(&mut *conn)
            .await?;
        for agent_id in &new.to {
            sqlx::query(
                "INSERT INTO message_recipients (message_id, agent_id, session_id) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(agent_id)
            .bind(new.session_id.as_str())
            .execute(&mut *conn)
            .await?;
        }
        let mut details =
            serde_json::json!({"message_id": id, "visibility": new.visibility.as_str()});
        if !new.to.is_empty() {
            details["to"] = serde_json::json!(new.to);
        }
        let audit = AuditEvent {
            event: "message_added",
            actor: new.sender.clone(),
            session_id: Some(new.session_id.as_str().to_owned()),
            details,
            at: new.at,
        };
        insert_audit(&mut *conn, &audit).await?;
        Ok(InsertOutcome::Inserted(MessageRecord::from_new(id, new)))
    }

    async fn close_session(
        conn: &mut SqliteConnection,
        id: &SessionId,
        actor: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<SessionRecord>> {
        let closed: Option<SessionRecord> = sqlx::query_as(concat!(
            "UPDATE sessions SET is_active = 0, updated_at = $2 WHERE id = $1 AND is_active = 1 RETURNING ",
            session_columns!()
        ))
        .bind(id.as_str())
        .bind(rfc3339(at))
        .fetch_optional(&mut *conn)
        .await?;
        if closed.is_some() {
            let audit = AuditEvent {
                at,
                ..AuditEvent::new("session_closed", actor, serde_json::json!({}))
                    .in_session(id.as_str())
            };
            insert_audit(&mut *conn, &audit).await?;
            return Ok(closed);
        }
        // Already closed (nothing to do) or missing.
        Reads::session(&mut *conn, id).await
    }

    async fn set_memory(
        conn: &mut SqliteConnection,
        new: &NewMemory,
    ) -> StoreResult<SetMemoryOutcome> {
        set_memory_in(conn, new, SET_MEMORY.bare).await
    }

    async fn delete_memory(
        conn: &mut SqliteConnection,
        at: &MemoryAddress<'_>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "DELETE FROM agent_memory WHERE agent_id = $1 AND scope = $2 AND key = $3 \
             AND (expires_at IS NULL OR expires_at > $4)",
        )
        .bind(at.agent_id)
        .bind(at.session_id.unwrap_or(""))
        .bind(at.key)
        .bind(rfc3339(at.now))
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let audit = AuditEvent {
            event: "memory_deleted",
            actor: at.agent_id.to_owned(),
            session_id: at.session_id.map(str::to_owned),
            details: serde_json::json!({"key": at.key, "session_scoped": at.session_id.is_some()}),
            at: at.now,
        };
        insert_audit(&mut *conn, &audit).await?;
        Ok(true)
    }
}
