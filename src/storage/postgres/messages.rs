//! Sessions and messages on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::*;
use crate::storage::MessageStore;
use crate::storage::once::Writes;
use sqlx::Postgres;

/// The per-session read through `read_messages` (migration 0007), whose plan walks the session's
/// index in order and stops at the limit whatever the statistics say. Binds: reader $1-$3,
/// session $4, visibility $5, after id $6, limit $7, offset $8, newest first $9. Public so the plan
/// tests can run it.
pub const READ_MESSAGES: &str = "SELECT m.id, m.session_id, m.sender, m.sender_type, m.content, m.visibility, \
     m.message_type, m.metadata, m.parent_message_id, m.created_at \
     FROM read_messages($1, $2, $3, $4, $5, $6, $7, $8, $9) m";
/// Open sessions, newest first, through the partial index. Binds: before seq $1, limit $2.
pub const LIST_ACTIVE_SESSIONS: &str = "SELECT seq, id, purpose, created_by, metadata, is_active, created_at, updated_at \
     FROM sessions WHERE is_active AND seq < $1 ORDER BY seq DESC LIMIT $2";
pub const COUNT_MESSAGES: &str = concat!("SELECT COUNT(*) FROM messages m", message_read_where!());
pub use crate::storage::visibility::COUNT_SESSION_MESSAGES;

#[async_trait]
impl MessageStore for PgStore {
    async fn create_session(&self, new: &NewSession) -> StoreResult<SessionRecord> {
        let mut conn = self.conn().await?;
        let out = Postgres::create_session(&mut conn, new).await?;
        conn.release();
        Ok(out)
    }

    async fn get_session(&self, id: &SessionId) -> StoreResult<Option<SessionRecord>> {
        let mut conn = self.conn().await?;
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT seq, id, purpose, created_by, metadata, is_active, created_at, updated_at FROM sessions WHERE id = $1",
        )
            .bind(id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        conn.release();
        Ok(row.map(session))
    }

    async fn list_sessions(
        &self,
        active_only: bool,
        limit: u32,
        before_seq: Option<i64>,
    ) -> StoreResult<Vec<SessionRecord>> {
        let mut conn = self.conn().await?;
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
            .fetch_all(&mut *conn)
            .await?;
        conn.release();
        Ok(rows.into_iter().map(session).collect())
    }

    async fn close_session(
        &self,
        id: &SessionId,
        actor: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<SessionRecord>> {
        let mut conn = self.conn().await?;
        let out = Postgres::close_session(&mut conn, id, actor, at).await?;
        conn.release();
        Ok(out)
    }

    async fn add_message(&self, new: &NewMessage) -> StoreResult<InsertOutcome> {
        let outcome = self
            .combiner
            .add_message(&self.pool, &self.guard, new)
            .await?;
        if let InsertOutcome::Inserted(record) = &outcome {
            self.publisher.announce(record);
        }
        Ok(outcome)
    }

    async fn list_messages(&self, query: &MessageQuery<'_>) -> StoreResult<Vec<MessageRecord>> {
        let mut conn = self.conn().await?;
        let (kind, id, ty) = query.reader.sql_params();
        let rows: Vec<MessageRow> = sqlx::query_as(READ_MESSAGES)
            .bind(kind)
            .bind(id)
            .bind(ty)
            .bind(query.session_id.as_str())
            .bind(query.only.map(Visibility::as_str))
            .bind(query.after_id)
            .bind(i64::from(query.limit))
            .bind(query.offset)
            .bind(query.newest_first)
            .fetch_all(&mut *conn)
            .await?;
        conn.release();
        rows.into_iter().map(message).collect()
    }

    async fn count_messages(&self, query: &MessageQuery<'_>) -> StoreResult<i64> {
        let mut conn = self.conn().await?;
        let (kind, id, ty) = query.reader.sql_params();
        let sql = crate::storage::visibility::count_statement(query.after_id, COUNT_MESSAGES);
        let (n,): (i64,) = sqlx::query_as(sql)
            .bind(kind)
            .bind(id)
            .bind(ty)
            .bind(query.session_id.as_str())
            .bind(query.only.map(Visibility::as_str))
            .bind(query.after_id)
            .fetch_one(&mut *conn)
            .await?;
        conn.release();
        Ok(n)
    }
}
