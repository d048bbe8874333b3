//! Sessions and messages on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::*;
use crate::storage::MessageStore;

/// The per-session read, oldest first. Binds: reader $1-$3, session $4, visibility $5, after id $6,
/// limit $7, offset $8. Public so tests can check its plan.
pub const LIST_MESSAGES_ASC: &str = concat!(
    "SELECT m.id, m.session_id, m.sender, m.sender_type, m.content, m.visibility, m.message_type, m.metadata, \
     m.parent_message_id, m.created_at FROM messages m",
    message_read_where!(),
    "ORDER BY m.id ASC LIMIT $7 OFFSET $8"
);
/// The same read, newest first.
pub const LIST_MESSAGES_DESC: &str = concat!(
    "SELECT m.id, m.session_id, m.sender, m.sender_type, m.content, m.visibility, m.message_type, m.metadata, \
     m.parent_message_id, m.created_at FROM messages m",
    message_read_where!(),
    "ORDER BY m.id DESC LIMIT $7 OFFSET $8"
);
/// Open sessions, newest first, through the partial index. Binds: before seq $1, limit $2.
pub const LIST_ACTIVE_SESSIONS: &str = "SELECT seq, id, purpose, created_by, metadata, is_active, created_at, updated_at \
     FROM sessions WHERE is_active AND seq < $1 ORDER BY seq DESC LIMIT $2";
pub const COUNT_MESSAGES: &str = concat!("SELECT COUNT(*) FROM messages m", message_read_where!());

#[async_trait]
impl MessageStore for PgStore {
    async fn create_session(&self, new: &NewSession) -> StoreResult<SessionRecord> {
        let row: SessionRow = sqlx::query_as(
            "WITH s AS (INSERT INTO sessions (id, purpose, created_by, metadata, is_active, created_at, updated_at) \
               VALUES ($1, $2, $3, $4, TRUE, $5, $5) \
               RETURNING seq, id, purpose, created_by, metadata, is_active, created_at, updated_at), \
             a AS (INSERT INTO audit_log (created_at, event, actor, session_id, details) \
               SELECT $5, 'session_created', $3, s.id, jsonb_build_object('purpose_chars', char_length(s.purpose)) FROM s) \
             SELECT seq, id, purpose, created_by, metadata, is_active, created_at, updated_at FROM s",
        )
        .bind(new.id.as_str())
        .bind(&new.purpose)
        .bind(&new.created_by)
        .bind(Json(&new.metadata))
        .bind(new.at)
        .fetch_one(&mut *self.conn().await?)
        .await?;
        Ok(session(row))
    }

    async fn get_session(&self, id: &SessionId) -> StoreResult<Option<SessionRecord>> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT seq, id, purpose, created_by, metadata, is_active, created_at, updated_at FROM sessions WHERE id = $1",
        )
            .bind(id.as_str())
            .fetch_optional(&mut *self.conn().await?)
            .await?;
        Ok(row.map(session))
    }

    async fn list_sessions(
        &self,
        active_only: bool,
        limit: u32,
        before_seq: Option<i64>,
    ) -> StoreResult<Vec<SessionRecord>> {
        // Two statements so the active-only read can use the partial index.
        let sql = if active_only {
            LIST_ACTIVE_SESSIONS
        } else {
            "SELECT seq, id, purpose, created_by, metadata, is_active, created_at, updated_at FROM sessions \
             WHERE seq < $1 ORDER BY seq DESC LIMIT $2"
        };
        let rows: Vec<SessionRow> = sqlx::query_as(sql)
            .bind(before_seq.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&mut *self.conn().await?)
            .await?;
        Ok(rows.into_iter().map(session).collect())
    }

    async fn close_session(
        &self,
        id: &SessionId,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<SessionRecord>> {
        let row: Option<SessionRow> = sqlx::query_as(
            "UPDATE sessions SET is_active = FALSE, updated_at = $2 WHERE id = $1 \
             RETURNING seq, id, purpose, created_by, metadata, is_active, created_at, updated_at",
        )
        .bind(id.as_str())
        .bind(at)
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        Ok(row.map(session))
    }

    async fn add_message(&self, new: &NewMessage) -> StoreResult<InsertOutcome> {
        // The UPDATE takes the session's row lock before the INSERT draws an id, so ids within a
        // session commit in order and `after_id` cursors never skip a message.
        let inserted: Option<(i64,)> = sqlx::query_as(
            "WITH s AS (UPDATE sessions SET updated_at = $8 WHERE id = $1 AND is_active RETURNING id), \
             ins AS (INSERT INTO messages (session_id, sender, sender_type, content, visibility, metadata, parent_message_id, created_at) \
               SELECT s.id, $2, $3, $4, $5, $6, $7, $8 FROM s \
               WHERE $7::bigint IS NULL OR EXISTS (SELECT 1 FROM messages p WHERE p.id = $7 AND p.session_id = $1) \
               RETURNING id), \
             a AS (INSERT INTO audit_log (created_at, event, actor, session_id, details) \
               SELECT $8, 'message_added', $2, $1, jsonb_build_object('message_id', ins.id, 'visibility', $5::text) FROM ins), \
             n AS (SELECT pg_notify('shared_context_messages', json_build_object('s', $1::text, 'i', ins.id, 'v', $5::text, \
               'u', $2::text, 't', $3::text)::text) FROM ins) \
             SELECT ins.id FROM ins, n",
        )
        .bind(new.session_id.as_str())
        .bind(&new.sender)
        .bind(&new.sender_type)
        .bind(&new.content)
        .bind(new.visibility.as_str())
        .bind(Json(&new.metadata))
        .bind(new.parent_message_id)
        .bind(new.at)
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        if let Some((id,)) = inserted {
            return Ok(InsertOutcome::Inserted(MessageRecord::from_new(id, new)));
        }
        let state: Option<(bool,)> = sqlx::query_as("SELECT is_active FROM sessions WHERE id = $1")
            .bind(new.session_id.as_str())
            .fetch_optional(&mut *self.conn().await?)
            .await?;
        Ok(match state {
            None => InsertOutcome::SessionMissing,
            Some((false,)) => InsertOutcome::SessionClosed,
            Some((true,)) => InsertOutcome::ParentNotInSession,
        })
    }

    async fn list_messages(&self, query: &MessageQuery<'_>) -> StoreResult<Vec<MessageRecord>> {
        let (kind, id, ty) = query.reader.sql_params();
        let rows: Vec<MessageRow> = sqlx::query_as(if query.newest_first {
            LIST_MESSAGES_DESC
        } else {
            LIST_MESSAGES_ASC
        })
        .bind(kind)
        .bind(id)
        .bind(ty)
        .bind(query.session_id.as_str())
        .bind(query.only.map(Visibility::as_str))
        .bind(query.after_id)
        .bind(i64::from(query.limit))
        .bind(query.offset)
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.into_iter().map(message).collect()
    }

    async fn count_messages(&self, query: &MessageQuery<'_>) -> StoreResult<i64> {
        let (kind, id, ty) = query.reader.sql_params();
        let (n,): (i64,) = sqlx::query_as(COUNT_MESSAGES)
            .bind(kind)
            .bind(id)
            .bind(ty)
            .bind(query.session_id.as_str())
            .bind(query.only.map(Visibility::as_str))
            .bind(query.after_id)
            .fetch_one(&mut *self.conn().await?)
            .await?;
        Ok(n)
    }
}
