//! Sessions and messages on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::*;
use crate::storage::MessageStore;
use crate::storage::once::Writes;
use sqlx::Sqlite;

/// The per-session read, oldest first. `INDEXED BY` pins the (session_id, id) index whatever
/// `ANALYZE` has recorded: the scan seeks the session, walks ids in order and stops at the limit.
/// Binds: reader $1-$3, session $4, visibility $5, after id $6, limit $7, offset $8. Public so the
/// plan tests can read its plan.
pub const READ_MESSAGES_ASC: &str = concat!(
    "SELECT m.id, m.session_id, m.sender, m.sender_type, m.content, m.visibility, m.message_type, m.metadata, \
     m.parent_message_id, m.created_at FROM messages m INDEXED BY messages_session_read_idx",
    message_read_where!(),
    "ORDER BY m.id ASC LIMIT $7 OFFSET $8"
);
/// The same read, newest first.
pub const READ_MESSAGES_DESC: &str = concat!(
    "SELECT m.id, m.session_id, m.sender, m.sender_type, m.content, m.visibility, m.message_type, m.metadata, \
     m.parent_message_id, m.created_at FROM messages m INDEXED BY messages_session_read_idx",
    message_read_where!(),
    "ORDER BY m.id DESC LIMIT $7 OFFSET $8"
);
/// Sessions newest first (binds: before seq $1, limit $2), all of them or only the open ones
/// (through the partial index on open sessions).
pub const LIST_SESSIONS: &str = "SELECT seq, id, purpose, created_by, metadata, is_active, created_at, updated_at \
     FROM sessions WHERE seq < $1 ORDER BY seq DESC LIMIT $2";
pub const LIST_ACTIVE_SESSIONS: &str = "SELECT seq, id, purpose, created_by, metadata, is_active, created_at, updated_at \
     FROM sessions INDEXED BY sessions_active_seq_idx WHERE is_active = 1 AND seq < $1 ORDER BY seq DESC LIMIT $2";

#[async_trait]
impl MessageStore for SqliteStore {
    async fn create_session(&self, new: &NewSession) -> StoreResult<SessionRecord> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let outcome = Sqlite::create_session(&mut tx, new).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn get_session(&self, id: &SessionId) -> StoreResult<Option<SessionRecord>> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT seq, id, purpose, created_by, metadata, is_active, created_at, updated_at FROM sessions WHERE id = $1",
        )
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await?;
        row.map(session).transpose()
    }

    async fn list_sessions(
        &self,
        active_only: bool,
        limit: u32,
        before_seq: Option<i64>,
    ) -> StoreResult<Vec<SessionRecord>> {
        let sql = if active_only {
            LIST_ACTIVE_SESSIONS
        } else {
            LIST_SESSIONS
        };
        let rows: Vec<SessionRow> = sqlx::query_as(sql)
            .bind(before_seq.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        rows.into_iter().map(session).collect()
    }

    async fn close_session(
        &self,
        id: &SessionId,
        actor: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<SessionRecord>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let outcome = Sqlite::close_session(&mut tx, id, actor, at).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn add_message(&self, new: &NewMessage) -> StoreResult<InsertOutcome> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let outcome = Sqlite::add_message(&mut tx, new).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn list_messages(&self, query: &MessageQuery<'_>) -> StoreResult<Vec<MessageRecord>> {
        let sql = if query.newest_first {
            READ_MESSAGES_DESC
        } else {
            READ_MESSAGES_ASC
        };
        let rows = bind_read(sqlx::query_as(sql), query)
            .bind(i64::from(query.limit))
            .bind(query.offset)
            .fetch_all(&self.reader)
            .await?;
        rows.into_iter().map(message).collect()
    }

    async fn count_messages(&self, query: &MessageQuery<'_>) -> StoreResult<i64> {
        const SCAN: &str = concat!("SELECT COUNT(*) FROM messages m", message_read_where!());
        let (kind, id, ty) = query.reader.sql_params();
        let sql = crate::storage::visibility::count_statement(query.after_id, SCAN);
        let (n,): (i64,) = sqlx::query_as(sql)
            .bind(kind)
            .bind(id)
            .bind(ty)
            .bind(query.session_id.as_str())
            .bind(query.only.map(Visibility::as_str))
            .bind(query.after_id)
            .fetch_one(&self.reader)
            .await?;
        Ok(n)
    }
}
