//! Agents, recipients, the inbox and deliveries on PostgreSQL, and the dialect's inbox statements
//! ([`InboxSql`]; acks, receipts, replies, threads and sends per pair are written once in
//! `storage/inbox_flow.rs`): id lists bound as arrays, batches in one statement (`unnest`), one
//! round trip per call where the statement allows it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::*;
use crate::storage::inbox_flow::InboxSql;
use crate::storage::rows::message_columns;
use crate::storage::{AgentFilter, AgentRecord, InboxItem, InboxQuery, InboxStore, SeenAgent};
use sqlx::Postgres;

/// A recipient's inbox after a cursor, across sessions: a walk of the inbox index. Binds: agent
/// $1, after id $2, limit $3. Public so tests can check its plan.
pub const INBOX: &str = concat!(
    "SELECT ",
    message_columns!(),
    ", r.acked_at, ARRAY(SELECT x.agent_id FROM message_recipients x WHERE x.message_id = m.id ORDER BY x.agent_id) AS recipients \
     FROM message_recipients r JOIN messages m ON m.id = r.message_id \
     WHERE r.agent_id = $1 AND r.message_id > $2 ORDER BY r.message_id LIMIT $3"
);
/// A sender's ($1) direct messages since $2 per recipient in $3: a range of the sender's
/// private messages (`messages_direct_sender_idx`), each checked by message_recipients' primary
/// key. Public so tests can check its plan.
pub const DIRECT_SENDS_SINCE: &str = "SELECT r.agent_id, count(*), min(m.created_at) \
     FROM messages m JOIN message_recipients r ON r.message_id = m.id AND r.agent_id = ANY($3) \
     WHERE m.sender = $1 AND m.visibility = 'private' AND m.created_at >= $2 GROUP BY r.agent_id";
/// The same in one session ($4).
pub const INBOX_IN_SESSION: &str = concat!(
    "SELECT ",
    message_columns!(),
    ", r.acked_at, ARRAY(SELECT x.agent_id FROM message_recipients x WHERE x.message_id = m.id ORDER BY x.agent_id) AS recipients \
     FROM message_recipients r JOIN messages m ON m.id = r.message_id \
     WHERE r.agent_id = $1 AND r.session_id = $4 AND r.message_id > $2 ORDER BY r.message_id LIMIT $3"
);

#[derive(sqlx::FromRow)]
struct InboxRow {
    #[sqlx(flatten)]
    item: InboxItem,
    recipients: Vec<String>,
}

fn agent(row: (String, String, DateTime<Utc>, DateTime<Utc>)) -> AgentRecord {
    AgentRecord {
        agent_id: row.0,
        agent_type: row.1,
        first_seen: row.2,
        last_seen: row.3,
    }
}

#[async_trait]
impl InboxStore for PgStore {
    async fn upsert_agents(&self, seen: &[SeenAgent]) -> StoreResult<()> {
        // Key order, so concurrent flushes from several processes lock rows in the same order.
        let mut seen = seen.to_vec();
        seen.sort_by(|a, b| a.agent_id.cmp(&b.agent_id));
        seen.dedup_by(|a, b| a.agent_id == b.agent_id);
        let ids: Vec<String> = seen.iter().map(|a| a.agent_id.clone()).collect();
        let types: Vec<String> = seen.iter().map(|a| a.agent_type.clone()).collect();
        let times: Vec<DateTime<Utc>> = seen.iter().map(|a| a.at).collect();
        self.with_conn(async |conn| {
            sqlx::query(
                "INSERT INTO agents (agent_id, agent_type, first_seen, last_seen) \
                 SELECT t.a, t.ty, t.at, t.at FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS t(a, ty, at) \
                 ON CONFLICT (agent_id) DO UPDATE SET agent_type = EXCLUDED.agent_type, \
                 last_seen = GREATEST(agents.last_seen, EXCLUDED.last_seen)",
            )
            .bind(&ids)
            .bind(&types)
            .bind(&times)
            .execute(conn)
            .await?;
            Ok(())
        })
        .await
    }

    async fn list_agents(&self, filter: &AgentFilter<'_>) -> StoreResult<Vec<AgentRecord>> {
        self.with_conn(async |conn| {
            let rows: Vec<(String, String, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
                "SELECT agent_id, agent_type, first_seen, last_seen FROM agents \
                 WHERE ($1::timestamptz IS NULL OR last_seen >= $1) AND ($2::text IS NULL OR agent_type = $2) \
                 ORDER BY last_seen DESC, agent_id LIMIT $3",
            )
            .bind(filter.seen_since)
            .bind(filter.agent_type)
            .bind(i64::from(filter.limit))
            .fetch_all(conn)
            .await?;
            Ok(rows.into_iter().map(agent).collect())
        })
        .await
    }

    async fn known_agents(&self, ids: &[String]) -> StoreResult<Vec<String>> {
        self.with_conn(async |conn| {
            Ok(
                sqlx::query_scalar("SELECT agent_id FROM agents WHERE agent_id = ANY($1)")
                    .bind(ids)
                    .fetch_all(conn)
                    .await?,
            )
        })
        .await
    }

    async fn agent_ids(&self, limit: u32) -> StoreResult<Vec<String>> {
        self.with_conn(async |conn| {
            Ok(
                sqlx::query_scalar("SELECT agent_id FROM agents ORDER BY last_seen DESC LIMIT $1")
                    .bind(i64::from(limit))
                    .fetch_all(conn)
                    .await?,
            )
        })
        .await
    }

    async fn recipients_of(&self, ids: &[i64]) -> StoreResult<Vec<(i64, String)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.with_conn(async |conn| {
            Ok(sqlx::query_as(
                "SELECT message_id, agent_id FROM message_recipients WHERE message_id = ANY($1) \
                 ORDER BY message_id, agent_id",
            )
            .bind(ids)
            .fetch_all(conn)
            .await?)
        })
        .await
    }

    async fn inbox(&self, query: &InboxQuery<'_>) -> StoreResult<Vec<InboxItem>> {
        let rows: Vec<InboxRow> = self
            .with_conn(async |conn| {
                let q = match query.session_id {
                    Some(s) => sqlx::query_as(INBOX_IN_SESSION)
                        .bind(query.agent_id)
                        .bind(query.after_id)
                        .bind(i64::from(query.limit))
                        .bind(s),
                    None => sqlx::query_as(INBOX)
                        .bind(query.agent_id)
                        .bind(query.after_id)
                        .bind(i64::from(query.limit)),
                };
                Ok(q.fetch_all(conn).await?)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let mut item = row.item;
                item.message.to = row.recipients;
                item
            })
            .collect())
    }

    async fn mark_delivered(&self, list: &[(i64, String)], at: DateTime<Utc>) -> StoreResult<()> {
        let mut sorted = list.to_vec();
        sorted.sort();
        sorted.dedup();
        let ids: Vec<i64> = sorted.iter().map(|d| d.0).collect();
        let agents: Vec<String> = sorted.iter().map(|d| d.1.clone()).collect();
        self.with_conn(async |conn| {
            sqlx::query(
                "UPDATE message_recipients r SET delivered_at = $3 \
                 FROM unnest($1::bigint[], $2::text[]) AS t(m, a) \
                 WHERE r.message_id = t.m AND r.agent_id = t.a AND r.delivered_at IS NULL",
            )
            .bind(&ids)
            .bind(&agents)
            .bind(at)
            .execute(conn)
            .await?;
            Ok(())
        })
        .await
    }
}

impl InboxSql for Postgres {
    type Ids = Vec<i64>;

    fn ids(ids: &[i64]) -> Vec<i64> {
        ids.to_vec()
    }

    const ADDRESSED: &'static str = "SELECT message_id FROM message_recipients \
         WHERE agent_id = $1 AND message_id = ANY($2) ORDER BY message_id FOR UPDATE";
    const ACK: &'static str = "UPDATE message_recipients SET acked_at = COALESCE(acked_at, $3) \
         WHERE agent_id = $1 AND message_id = ANY($2)";

    type Names = Vec<String>;

    fn names(names: &[String]) -> Vec<String> {
        names.to_vec()
    }

    const DIRECT_SENDS_SINCE: &'static str = DIRECT_SENDS_SINCE;
}
