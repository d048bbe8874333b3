//! Agents, recipients, the inbox and receipts on SQLite. Id lists travel as one JSON array bound
//! once (`json_each`), so a statement never grows with its input.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::*;
use crate::storage::inbox_flow::InboxSql;
use crate::storage::rows::message_columns;
use crate::storage::{
    AgentFilter, AgentRecord, InboxItem, InboxQuery, InboxStore, PairSends, ParentThread, SeenAgent,
};
use sqlx::Sqlite;

/// A recipient's inbox after a cursor, across sessions: a walk of the inbox index. Binds: agent
/// $1, after id $2, limit $3. Public so tests can check its plan.
pub const INBOX: &str = concat!(
    "SELECT ",
    message_columns!(),
    ", r.acked_at FROM message_recipients r JOIN messages m ON m.id = r.message_id \
     WHERE r.agent_id = $1 AND r.message_id > $2 ORDER BY r.message_id LIMIT $3"
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
     WHERE r.agent_id = $1 AND r.session_id = $4 AND r.message_id > $2 ORDER BY r.message_id LIMIT $3"
);

#[derive(sqlx::FromRow)]
struct InboxRow {
    #[sqlx(flatten)]
    message: MessageRecord,
    acked_at: Option<DateTime<Utc>>,
}

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

impl SqliteStore {
    /// Fills in `to` for the direct messages among `messages`.
    async fn with_recipients(&self, messages: &mut [MessageRecord]) -> StoreResult<()> {
        let ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
        for (id, agent_id) in self.recipients_of(&ids).await? {
            if let Some(m) = messages.iter_mut().find(|m| m.id == id) {
                m.to.push(agent_id);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl InboxStore for SqliteStore {
    async fn record_agents_seen(&self, seen: &[SeenAgent]) -> StoreResult<()> {
        if seen.is_empty() {
            return Ok(());
        }
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
             ORDER BY last_seen DESC, agent_id LIMIT $3",
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
        .bind(serde_json::to_string(ids).unwrap_or_else(|_| "[]".into()))
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn agent_ids(&self, limit: u32) -> StoreResult<Vec<String>> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT agent_id FROM agents ORDER BY last_seen DESC LIMIT $1")
                .bind(i64::from(limit))
                .fetch_all(&self.reader)
                .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn direct_sends_since(
        &self,
        sender: &str,
        recipients: &[String],
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<PairSends>> {
        let rows: Vec<(String, i64, String)> = sqlx::query_as(DIRECT_SENDS_SINCE)
            .bind(sender)
            .bind(rfc3339(since))
            .bind(serde_json::to_string(recipients).unwrap_or_else(|_| "[]".into()))
            .fetch_all(&self.reader)
            .await?;
        rows.into_iter()
            .map(|(recipient, count, oldest)| {
                Ok(PairSends {
                    recipient,
                    count: count as u64,
                    oldest: ts(&oldest)?,
                })
            })
            .collect()
    }

    async fn parent_thread(
        &self,
        session_id: &str,
        message_id: i64,
        max_depth: u32,
    ) -> StoreResult<Option<ParentThread>> {
        let row: Option<(String, i64, Option<String>)> = sqlx::query_as(
            "WITH RECURSIVE chain(id, parent, n) AS ( \
               SELECT id, parent_message_id, 1 FROM messages WHERE id = $1 \
               UNION ALL \
               SELECT p.id, p.parent_message_id, c.n + 1 FROM messages p JOIN chain c ON p.id = c.parent \
               WHERE c.n <= $3) \
             SELECT m.sender, (SELECT max(n) FROM chain), \
               (SELECT group_concat(r.agent_id, char(31)) FROM message_recipients r WHERE r.message_id = m.id) \
             FROM messages m WHERE m.id = $1 AND m.session_id = $2",
        )
        .bind(message_id)
        .bind(session_id)
        .bind(i64::from(max_depth))
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|(sender, depth, to)| ParentThread {
            sender,
            to: to
                .map(|t| t.split('\u{1f}').map(str::to_owned).collect())
                .unwrap_or_default(),
            depth: u32::try_from(depth).unwrap_or(u32::MAX),
        }))
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
        let rows: Vec<InboxRow> = sqlx::query_as(sql)
            .bind(query.agent_id)
            .bind(query.after_id)
            .bind(i64::from(query.limit))
            .bind(query.session_id)
            .fetch_all(&self.reader)
            .await?;
        let acks: Vec<Option<DateTime<Utc>>> = rows.iter().map(|r| r.acked_at).collect();
        let mut messages: Vec<MessageRecord> = rows.into_iter().map(|r| r.message).collect();
        self.with_recipients(&mut messages).await?;
        Ok(messages
            .into_iter()
            .zip(acks)
            .map(|(message, acked_at)| InboxItem { message, acked_at })
            .collect())
    }

    async fn record_deliveries(
        &self,
        deliveries: &[(i64, String)],
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let at = rfc3339(at);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        for (id, agent_id) in deliveries {
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
}
