//! Agents, recipients, the inbox and deliveries on SQLite, and the dialect's inbox statements
//! ([`InboxSql`]; acks, receipts, replies, threads and sends per pair are written once in
//! `storage/inbox_flow.rs`). Id lists travel as one JSON array bound once (`json_each`), so a
//! statement never grows with its input.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::*;
use crate::storage::inbox_flow::InboxSql;
use crate::storage::rows::message_columns;
use crate::storage::{AgentFilter, AgentRecord, InboxItem, InboxQuery, InboxStore, SeenAgent};
use sqlx::Sqlite;

/// A recipient's inbox after a cursor, across sessions: a walk of the inbox index. Binds: agent
/// $1, after id $2, limit $3. Public so tests can check its plan.
pub const INBOX: &str = concat!(
    "SELECT ",
    message_columns!(),
    ", r.acked_at FROM message_recipients r JOIN messages m ON m.id = r.message_id \
     WHERE r.agent_id = $1 AND r.message_id > $2 ORDER BY r.message_id LIMIT +$3"
);
/// A sender's ($1) direct messages since $2 per recipient in the JSON array $3: a range of the
/// sender's private messages, each checked by message_recipients' primary key.
pub const DIRECT_SENDS_SINCE: &str = "SELECT r.agent_id, count(*), min(m.created_at) \
     FROM messages m INDEXED BY messages_direct_sender_idx \
     JOIN message_recipients r ON r.message_id = m.id AND r.agent_id IN (SELECT value FROM json_each($3)) \
     WHERE m.sender = $1 AND m.visibility = 'private' AND m.created_at >= $2 GROUP BY r.agent_id";
/// The same in one session ($4). Pinned to the per-session index: left to itself the planner
/// walks the agent's whole inbox filtering by session (the inbox index covers `session_id`).
pub const INBOX_IN_SESSION: &str = concat!(
    "SELECT ",
    message_columns!(),
    ", r.acked_at FROM message_recipients r INDEXED BY message_recipients_session_idx \
     JOIN messages m ON m.id = r.message_id \
     WHERE r.agent_id = $1 AND r.session_id = $4 AND r.message_id > $2 ORDER BY r.message_id LIMIT +$3"
);

fn json_ids(ids: &[i64]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())
}

fn agent(row: (String, String, String, String)) -> StoreResult<AgentRecord> {
    Ok(AgentRecord {
        agent_id: row.0,
        agent_type: row.1,
        first_seen: ts(&row.2)?,
        last_seen: ts(&row.3)?,
    })
}

#[async_trait]
impl InboxStore for SqliteStore {
    async fn upsert_agents(&self, seen: &[SeenAgent]) -> StoreResult<()> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        for a in seen {
            sqlx::query(
                "INSERT INTO agents (agent_id, agent_type, first_seen, last_seen) VALUES ($1, $2, $3, $3) \
                 ON CONFLICT (agent_id) DO UPDATE SET agent_type = excluded.agent_type, \
                 last_seen = max(agents.last_seen, excluded.last_seen)",
            )
            .bind(&a.agent_id)
            .bind(&a.agent_type)
            .bind(rfc3339(a.at))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_agents(&self, filter: &AgentFilter<'_>) -> StoreResult<Vec<AgentRecord>> {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT agent_id, agent_type, first_seen, last_seen FROM agents \
             WHERE ($1 IS NULL OR last_seen >= $1) AND ($2 IS NULL OR agent_type = $2) \
             ORDER BY last_seen DESC, agent_id LIMIT +$3",
        )
        .bind(filter.seen_since.map(rfc3339))
        .bind(filter.agent_type)
        .bind(i64::from(filter.limit))
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter().map(agent).collect()
    }

    async fn known_agents(&self, ids: &[String]) -> StoreResult<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT agent_id FROM agents WHERE agent_id IN (SELECT value FROM json_each($1))",
        )
        .bind(Sqlite::names(ids))
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn agent_ids(&self, limit: u32) -> StoreResult<Vec<String>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT agent_id FROM agents ORDER BY last_seen DESC LIMIT +$1")
                .bind(i64::from(limit))
                .fetch_all(&self.reader)
                .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn recipients_of(&self, ids: &[i64]) -> StoreResult<Vec<(i64, String)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as(
            "SELECT message_id, agent_id FROM message_recipients \
             WHERE message_id IN (SELECT value FROM json_each($1)) ORDER BY message_id, agent_id",
        )
        .bind(json_ids(ids))
        .fetch_all(&self.reader)
        .await?)
    }

    async fn inbox(&self, query: &InboxQuery<'_>) -> StoreResult<Vec<InboxItem>> {
        // Two statements rather than `$4 IS NULL OR …`, so each has one plan: the inbox index, or
        // the per-session one.
        let sql = if query.session_id.is_some() {
            INBOX_IN_SESSION
        } else {
            INBOX
        };
        let mut items: Vec<InboxItem> = sqlx::query_as(sql)
            .bind(query.agent_id)
            .bind(query.after_id)
            .bind(i64::from(query.limit))
            .bind(query.session_id)
            .fetch_all(&self.reader)
            .await?;
        let ids: Vec<i64> = items.iter().map(|i| i.message.id).collect();
        for (id, agent_id) in self.recipients_of(&ids).await? {
            if let Some(i) = items.iter_mut().find(|i| i.message.id == id) {
                i.message.to.push(agent_id);
            }
        }
        Ok(items)
    }

    async fn mark_delivered(&self, list: &[(i64, String)], at: DateTime<Utc>) -> StoreResult<()> {
        let at = rfc3339(at);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        for (id, agent_id) in list {
            sqlx::query(
                "UPDATE message_recipients SET delivered_at = $3 \
                 WHERE message_id = $1 AND agent_id = $2 AND delivered_at IS NULL",
            )
            .bind(id)
            .bind(agent_id)
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

impl InboxSql for Sqlite {
    type Ids = String;

    fn ids(ids: &[i64]) -> String {
        json_ids(ids)
    }

    /// No row locks to take: the writer's transaction holds the database's write lock.
    const ADDRESSED: &'static str = "SELECT message_id FROM message_recipients \
         WHERE agent_id = $1 AND message_id IN (SELECT value FROM json_each($2))";
    const ACK: &'static str = "UPDATE message_recipients SET acked_at = coalesce(acked_at, $3) \
         WHERE agent_id = $1 AND message_id IN (SELECT value FROM json_each($2))";

    type Names = String;

    fn names(names: &[String]) -> String {
        serde_json::to_string(names).unwrap_or_else(|_| "[]".into())
    }

    const DIRECT_SENDS_SINCE: &'static str = DIRECT_SENDS_SINCE;
}
