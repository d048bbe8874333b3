//! Sessions and messages on SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::*;
use crate::storage::MessageStore;

#[async_trait]
impl MessageStore for SqliteStore {
    async fn create_session(&self, new: &NewSession) -> StoreResult<SessionRecord> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let at = rfc3339(new.at);
        let (seq,): (i64,) = sqlx::query_as(
            "INSERT INTO sessions (id, purpose, created_by, metadata, is_active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 1, $5, $5) RETURNING seq",
        )
        .bind(new.id.as_str())
        .bind(&new.purpose)
        .bind(&new.created_by)
        .bind(Value::Object(new.metadata.clone()).to_string())
        .bind(&at)
        .fetch_one(&mut *tx)
        .await?;
        let audit = AuditEvent::new(
            "session_created",
            new.created_by.clone(),
            serde_json::json!({"purpose_chars": new.purpose.chars().count()}),
        )
        .in_session(new.id.as_str());
        insert_audit(
            &mut *tx,
            &AuditEvent {
                at: new.at,
                ..audit
            },
        )
        .await?;
        tx.commit().await?;
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
        at: DateTime<Utc>,
    ) -> StoreResult<Option<SessionRecord>> {
        let row: Option<SessionRow> = sqlx::query_as(
            "UPDATE sessions SET is_active = 0, updated_at = $2 WHERE id = $1 \
             RETURNING seq, id, purpose, created_by, metadata, is_active, created_at, updated_at",
        )
        .bind(id.as_str())
        .bind(rfc3339(at))
        .fetch_optional(&self.writer)
        .await?;
        row.map(session).transpose()
    }

    async fn add_message(&self, new: &NewMessage) -> StoreResult<InsertOutcome> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let at = rfc3339(new.at);
        let state: Option<(i64,)> = sqlx::query_as("SELECT is_active FROM sessions WHERE id = $1")
            .bind(new.session_id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        match state {
            None => return Ok(InsertOutcome::SessionMissing),
            Some((0,)) => return Ok(InsertOutcome::SessionClosed),
            Some(_) => {}
        }
        if let Some(parent) = new.parent_message_id {
            let found: Option<(i64,)> =
                sqlx::query_as("SELECT id FROM messages WHERE id = $1 AND session_id = $2")
                    .bind(parent)
                    .bind(new.session_id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            if found.is_none() {
                return Ok(InsertOutcome::ParentNotInSession);
            }
        }
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO messages (session_id, sender, sender_type, content, visibility, metadata, parent_message_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(new.session_id.as_str())
        .bind(&new.sender)
        .bind(&new.sender_type)
        .bind(&new.content)
        .bind(new.visibility.as_str())
        .bind(Value::Object(new.metadata.clone()).to_string())
        .bind(new.parent_message_id)
        .bind(&at)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("UPDATE sessions SET updated_at = $2 WHERE id = $1")
            .bind(new.session_id.as_str())
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        let audit = AuditEvent {
            event: "message_added",
            actor: new.sender.clone(),
            session_id: Some(new.session_id.as_str().to_owned()),
            details: serde_json::json!({"message_id": id, "visibility": new.visibility.as_str()}),
            at: new.at,
        };
        insert_audit(&mut *tx, &audit).await?;
        tx.commit().await?;
        Ok(InsertOutcome::Inserted(MessageRecord::from_new(id, new)))
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
        const SQL: &str = concat!("SELECT COUNT(*) FROM messages m", message_read_where!());
        let (kind, id, ty) = query.reader.sql_params();
        let (n,): (i64,) = sqlx::query_as(SQL)
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
