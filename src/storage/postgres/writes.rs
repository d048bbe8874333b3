//! The write statements on PostgreSQL ([`Writes`]), each on a connection the caller provides: the plain
//! store methods run them on a pooled connection, the idempotent path inside its transaction.
//! One statement per write, so there is one place to change it.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres};

use crate::domain::SessionId;
use crate::storage::reads::Reads;
use crate::storage::rows::session_columns;
use crate::storage::writes::Writes;
use crate::storage::{
    InsertOutcome, MemoryAddress, MemoryRecord, MessageRecord, NewMemory, NewMessage, NewSession,
    SessionRecord, SetMemoryOutcome, StoreError, StoreResult,
};

/// The session's row lock first (ids commit in order), the message, its recipients ($9, empty
/// unless direct) and its audit row, in one statement. Other processes hear of it from `watch::Publisher`, after the commit.
pub(super) const ADD_MESSAGE: &str = "WITH s AS (UPDATE sessions SET updated_at = $8 WHERE id = $1 AND is_active RETURNING id), \
     ins AS (INSERT INTO messages (session_id, sender, sender_type, content, visibility, metadata, parent_message_id, created_at) \
       SELECT s.id, $2, $3, $4, $5, $6, $7, $8 FROM s \
       WHERE $7::bigint IS NULL OR EXISTS (SELECT 1 FROM messages p WHERE p.id = $7 AND p.session_id = $1) \
       RETURNING id), \
     r AS (INSERT INTO message_recipients (message_id, agent_id, session_id) \
       SELECT ins.id, t.agent_id, $1 FROM ins, unnest($9::text[]) AS t(agent_id)), \
     a AS (INSERT INTO audit_log (created_at, event, actor, session_id, details) \
       SELECT $8, 'message_added', $2, $1, jsonb_build_object('message_id', ins.id, 'visibility', $5::text) \
         || CASE WHEN cardinality($9::text[]) > 0 THEN jsonb_build_object('to', $9::text[]) ELSE '{}'::jsonb END FROM ins) \
     SELECT ins.id FROM ins";

/// Several messages for one session in one statement (the group commit of `combine.rs`): one
/// row lock, one commit. Rows are inserted in input order, so ids ascend with `ord`; each input row
/// comes back with `ok` (its parent is in the session) and its id (NULL when not inserted).
/// Binds: session $1, then one array per column ($2-$8), the latest time $9.
pub(super) const ADD_MESSAGES: &str = "WITH s AS (UPDATE sessions SET updated_at = $9 WHERE id = $1 AND is_active RETURNING id), \
     c AS (SELECT r.*, (r.parent IS NULL OR EXISTS (SELECT 1 FROM messages p WHERE p.id = r.parent AND p.session_id = $1)) AS ok \
       FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::timestamptz[]) \
       WITH ORDINALITY AS r(sender, sender_type, content, visibility, metadata, parent, at, ord)), \
     ins AS (INSERT INTO messages (session_id, sender, sender_type, content, visibility, metadata, parent_message_id, created_at) \
       SELECT s.id, c.sender, c.sender_type, c.content, c.visibility, c.metadata::jsonb, c.parent, c.at FROM s, c \
       WHERE c.ok ORDER BY c.ord RETURNING id, sender, visibility, created_at), \
     a AS (INSERT INTO audit_log (created_at, event, actor, session_id, details) \
       SELECT ins.created_at, 'message_added', ins.sender, $1, jsonb_build_object('message_id', ins.id, 'visibility', ins.visibility) \
       FROM ins) \
     SELECT c.ok, i.id FROM (SELECT ord, ok, row_number() OVER (PARTITION BY ok ORDER BY ord) AS k FROM c) c \
     LEFT JOIN (SELECT id, row_number() OVER (ORDER BY id) AS k FROM ins) i ON c.ok AND c.k = i.k ORDER BY c.ord";

/// As in `memory.rs`: insert, or replace an expired entry (any entry with `$9` overwrite), and
/// audit it when stored.
pub(super) const MEMORY_UPSERT: &str = "WITH up AS (INSERT INTO agent_memory \
       (agent_id, session_id, key, value, value_size, metadata, created_at, updated_at, expires_at) \
       SELECT $1, $2::text, $3, $4::jsonb, $5, $6::jsonb, $7::timestamptz, $7::timestamptz, $8::timestamptz \
       WHERE $2::text IS NULL OR EXISTS (SELECT 1 FROM sessions WHERE id = $2::text) \
       ON CONFLICT (agent_id, scope, key) DO UPDATE SET \
         value = EXCLUDED.value, value_size = EXCLUDED.value_size, metadata = EXCLUDED.metadata, \
         created_at = CASE WHEN agent_memory.expires_at IS NOT NULL AND agent_memory.expires_at <= EXCLUDED.updated_at \
           THEN EXCLUDED.created_at ELSE agent_memory.created_at END, \
         updated_at = EXCLUDED.updated_at, expires_at = EXCLUDED.expires_at \
       WHERE $9::boolean OR (agent_memory.expires_at IS NOT NULL AND agent_memory.expires_at <= EXCLUDED.updated_at) \
       RETURNING created_at), \
     a AS (INSERT INTO audit_log (created_at, event, actor, session_id, details) \
       SELECT $7, 'memory_set', $1, $2::text, $10::jsonb FROM up) \
     SELECT created_at FROM up";

impl Writes for Postgres {
    async fn create_session(
        conn: &mut PgConnection,
        new: &NewSession,
    ) -> StoreResult<SessionRecord> {
        Ok(sqlx::query_as(concat!(
            "WITH s AS (INSERT INTO sessions (id, purpose, created_by, metadata, is_active, created_at, updated_at) \
               VALUES ($1, $2, $3, $4, TRUE, $5, $5) RETURNING ",
            session_columns!(),
            "), a AS (INSERT INTO audit_log (created_at, event, actor, session_id, details) \
               SELECT $5, 'session_created', $3, s.id, jsonb_build_object('purpose_chars', char_length(s.purpose)) FROM s) \
             SELECT ",
            session_columns!(),
            " FROM s"
        ))
        .bind(new.id.as_str())
        .bind(&new.purpose)
        .bind(&new.created_by)
        .bind(Json(&new.metadata))
        .bind(new.at)
        .fetch_one(&mut *conn)
        .await?)
    }

    async fn add_message(conn: &mut PgConnection, new: &NewMessage) -> StoreResult<InsertOutcome> {
        let inserted: Option<(i64,)> = sqlx::query_as(ADD_MESSAGE)
            .bind(new.session_id.as_str())
            .bind(&new.sender)
            .bind(&new.sender_type)
            .bind(&new.content)
            .bind(new.visibility.as_str())
            .bind(Json(&new.metadata))
            .bind(new.parent_message_id)
            .bind(new.at)
            .bind(&new.to)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some((id,)) = inserted {
            return Ok(InsertOutcome::Inserted(MessageRecord::from_new(id, new)));
        }
        Ok(session_refusal(conn, new.session_id.as_str())
            .await?
            .unwrap_or(InsertOutcome::ParentNotInSession))
    }

    async fn close_session(
        conn: &mut PgConnection,
        id: &SessionId,
        actor: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<SessionRecord>> {
        let closed: Option<SessionRecord> = sqlx::query_as(concat!(
            "WITH c AS (UPDATE sessions SET is_active = FALSE, updated_at = $2 WHERE id = $1 AND is_active \
               RETURNING ",
            session_columns!(),
            "), a AS (INSERT INTO audit_log (created_at, event, actor, session_id, details) \
               SELECT $2, 'session_closed', $3, c.id, '{}'::jsonb FROM c) \
             SELECT ",
            session_columns!(),
            " FROM c"
        ))
        .bind(id.as_str())
        .bind(at)
        .bind(actor)
        .fetch_optional(&mut *conn)
        .await?;
        if closed.is_some() {
            return Ok(closed);
        }
        // Already closed (nothing to do) or missing.
        Reads::session(&mut *conn, id).await
    }

    async fn set_memory(conn: &mut PgConnection, new: &NewMemory) -> StoreResult<SetMemoryOutcome> {
        let details = serde_json::json!({
            "key": new.key,
            "session_scoped": new.session_id.is_some(),
            "has_expiration": new.expires_at.is_some(),
            "value_size": new.value_json.len(),
        });
        let stored: Option<(DateTime<Utc>,)> = sqlx::query_as(MEMORY_UPSERT)
            .bind(&new.agent_id)
            .bind(&new.session_id)
            .bind(&new.key)
            .bind(Json(&new.value))
            .bind(new.value_json.len() as i64)
            .bind(Json(&new.metadata))
            .bind(new.at)
            .bind(new.expires_at)
            .bind(new.overwrite)
            .bind(Json(&details))
            .fetch_optional(&mut *conn)
            .await?;
        if let Some((created_at,)) = stored {
            return Ok(SetMemoryOutcome::Stored(MemoryRecord::stored(
                new, created_at,
            )));
        }
        Reads::memory_refusal(&mut *conn, new.session_id.as_deref()).await
    }

    async fn delete_memory(conn: &mut PgConnection, at: &MemoryAddress<'_>) -> StoreResult<bool> {
        let (deleted,): (i64,) = sqlx::query_as(
            "WITH d AS (DELETE FROM agent_memory WHERE agent_id = $1 AND scope = $2 AND key = $3 \
               AND (expires_at IS NULL OR expires_at > $4) RETURNING key), \
             a AS (INSERT INTO audit_log (created_at, event, actor, session_id, details) \
               SELECT $4, 'memory_deleted', $1, NULLIF($2, ''), \
                 jsonb_build_object('key', d.key, 'session_scoped', $2 <> '') FROM d) \
             SELECT COUNT(*) FROM d",
        )
        .bind(at.agent_id)
        .bind(at.session_id.unwrap_or(""))
        .bind(at.key)
        .bind(at.now)
        .fetch_one(&mut *conn)
        .await?;
        Ok(deleted > 0)
    }
}

/// Posts `batch` (all for one session, at least one message) in one statement; one outcome per
/// message, in order.
pub(super) async fn add_messages(
    conn: &mut PgConnection,
    batch: &[&NewMessage],
) -> StoreResult<Vec<InsertOutcome>> {
    let [first, ..] = batch else {
        return Ok(Vec::new());
    };
    if batch.len() == 1 || batch.iter().any(|m| !m.to.is_empty()) {
        // Direct messages carry recipient rows, which the combined statement does not write;
        // they are rare next to session posts, so a batch holding one goes one by one.
        let mut out = Vec::with_capacity(batch.len());
        for m in batch {
            out.push(Postgres::add_message(conn, m).await?);
        }
        return Ok(out);
    }
    let column = |f: fn(&NewMessage) -> String| batch.iter().map(|m| f(m)).collect::<Vec<_>>();
    let metadata = batch
        .iter()
        .map(|m| serde_json::to_string(&m.metadata))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError::Internal(format!("message metadata did not serialize: {e}")))?;
    let rows: Vec<(bool, Option<i64>)> = sqlx::query_as(ADD_MESSAGES)
        .bind(first.session_id.as_str())
        .bind(column(|m| m.sender.clone()))
        .bind(column(|m| m.sender_type.clone()))
        .bind(column(|m| m.content.clone()))
        .bind(column(|m| m.visibility.as_str().to_owned()))
        .bind(metadata)
        .bind(
            batch
                .iter()
                .map(|m| m.parent_message_id)
                .collect::<Vec<_>>(),
        )
        .bind(batch.iter().map(|m| m.at).collect::<Vec<_>>())
        .bind(batch.iter().map(|m| m.at).max())
        .fetch_all(&mut *conn)
        .await?;
    if rows.len() != batch.len() {
        return Err(StoreError::Internal(format!(
            "a batch of {} messages returned {} rows",
            batch.len(),
            rows.len()
        )));
    }
    // Nothing inserted although some rows were valid: the session is missing or closed.
    let refused = if rows.iter().all(|(_, id)| id.is_none()) {
        Some(session_refusal(conn, first.session_id.as_str()).await?)
    } else {
        None
    };
    Ok(rows
        .into_iter()
        .zip(batch)
        .map(|((_, id), new)| match (id, &refused) {
            (Some(id), _) => InsertOutcome::Inserted(MessageRecord::from_new(id, new)),
            (None, Some(Some(refusal))) => refusal.clone(),
            (None, _) => InsertOutcome::ParentNotInSession,
        })
        .collect())
}

/// Why a session took no message: missing or closed; `None` when it is open.
async fn session_refusal(
    conn: &mut PgConnection,
    session_id: &str,
) -> StoreResult<Option<InsertOutcome>> {
    let state: Option<(bool,)> = sqlx::query_as("SELECT is_active FROM sessions WHERE id = $1")
        .bind(session_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match state {
        None => Some(InsertOutcome::SessionMissing),
        Some((false,)) => Some(InsertOutcome::SessionClosed),
        Some((true,)) => None,
    })
}
