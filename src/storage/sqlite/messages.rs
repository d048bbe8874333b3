//! Sessions and messages on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::*;
use crate::storage::MessageStore;
use crate::storage::once::Writes;
use sqlx::Sqlite;

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
        let rows: Vec<SessionRow> = sqlx::query_as(
            "SELECT seq, id, purpose, created_by, metadata, is_active, created_at, updated_at FROM sessions \
             WHERE ($1 = 0 OR is_active = 1) AND seq < $2 ORDER BY seq DESC LIMIT $3",
        )
        .bind(i64::from(active_only))
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
        const ASC: &str = concat!(
            "SELECT m.id, m.session_id, m.sender, m.sender_type, m.content, m.visibility, m.message_type, m.metadata, \
             m.parent_message_id, m.created_at FROM messages m",
            message_read_where!(),
            "ORDER BY m.id ASC LIMIT $7 OFFSET $8"
        );
        const DESC: &str = concat!(
            "SELECT m.id, m.session_id, m.sender, m.sender_type, m.content, m.visibility, m.message_type, m.metadata, \
             m.parent_message_id, m.created_at FROM messages m",
            message_read_where!(),
            "ORDER BY m.id DESC LIMIT $7 OFFSET $8"
        );
        let sql = if query.newest_first { DESC } else { ASC };
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
