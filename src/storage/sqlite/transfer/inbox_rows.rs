//! The inbox tables in a dump on SQLite: `agents` and `message_recipients` (direct-message
//! recipients with their delivery receipts and acks), read page by page in primary-key order and
//! inserted many rows per statement.

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::super::ts;
use super::opt_ts;
use crate::storage::StoreResult;
use crate::storage::dump::{AgentDump, DumpBatch, DumpKey, RecipientDump};
use crate::util::rfc3339;

pub(super) async fn agents(
    conn: &mut SqliteConnection,
    after: Option<&DumpKey>,
    limit: i64,
) -> StoreResult<DumpBatch> {
    let after = match after {
        Some(DumpKey::Text(id)) => id.as_str(),
        _ => "",
    };
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT agent_id, agent_type, first_seen, last_seen FROM agents \
         WHERE agent_id > $1 ORDER BY agent_id LIMIT +$2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    let rows = rows
        .into_iter()
        .map(|(agent_id, agent_type, first_seen, last_seen)| {
            Ok(AgentDump {
                agent_id,
                agent_type,
                first_seen: ts(&first_seen)?,
                last_seen: ts(&last_seen)?,
            })
        })
        .collect::<StoreResult<_>>()?;
    Ok(DumpBatch::Agents(rows))
}

pub(super) async fn recipients(
    conn: &mut SqliteConnection,
    after: Option<&DumpKey>,
    limit: i64,
) -> StoreResult<DumpBatch> {
    let (after_id, after_agent) = match after {
        Some(DumpKey::IdText(id, agent)) => (*id, agent.as_str()),
        _ => (i64::MIN, ""),
    };
    type Row = (i64, String, String, Option<String>, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT message_id, agent_id, session_id, delivered_at, acked_at FROM message_recipients \
         WHERE (message_id, agent_id) > ($1, $2) ORDER BY message_id, agent_id LIMIT +$3",
    )
    .bind(after_id)
    .bind(after_agent)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    let rows = rows
        .into_iter()
        .map(
            |(message_id, agent_id, session_id, delivered_at, acked_at)| {
                Ok(RecipientDump {
                    message_id,
                    agent_id,
                    session_id,
                    delivered_at: opt_ts(delivered_at)?,
                    acked_at: opt_ts(acked_at)?,
                })
            },
        )
        .collect::<StoreResult<_>>()?;
    Ok(DumpBatch::MessageRecipients(rows))
}

pub(super) fn insert_agents(rows: &[AgentDump]) -> QueryBuilder<Sqlite> {
    let mut qb =
        QueryBuilder::new("INSERT INTO agents (agent_id, agent_type, first_seen, last_seen) ");
    qb.push_values(rows, |mut b, r| {
        b.push_bind(&r.agent_id)
            .push_bind(&r.agent_type)
            .push_bind(rfc3339(r.first_seen))
            .push_bind(rfc3339(r.last_seen));
    });
    qb
}

pub(super) fn insert_recipients(rows: &[RecipientDump]) -> QueryBuilder<Sqlite> {
    let mut qb = QueryBuilder::new(
        "INSERT INTO message_recipients (message_id, agent_id, session_id, delivered_at, acked_at) ",
    );
    qb.push_values(rows, |mut b, r| {
        b.push_bind(r.message_id)
            .push_bind(&r.agent_id)
            .push_bind(&r.session_id)
            .push_bind(r.delivered_at.map(rfc3339))
            .push_bind(r.acked_at.map(rfc3339));
    });
    qb
}
