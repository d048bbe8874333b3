//! The inbox tables in a dump on PostgreSQL: `agents` and `message_recipients` (direct-message
//! recipients with their delivery receipts and acks), read page by page along the primary key
//! and inserted with one `INSERT … SELECT FROM UNNEST(arrays)` per batch.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::storage::StoreResult;
use crate::storage::dump::{AgentDump, DumpBatch, DumpKey, RecipientDump};

pub(super) async fn agents(
    conn: &mut PgConnection,
    after: Option<&DumpKey>,
    limit: i64,
) -> StoreResult<DumpBatch> {
    let after = match after {
        Some(DumpKey::Text(id)) => id.as_str(),
        _ => "",
    };
    let rows: Vec<(String, String, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT agent_id, agent_type, first_seen, last_seen FROM agents \
         WHERE agent_id > $1 ORDER BY agent_id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(DumpBatch::Agents(
        rows.into_iter()
            .map(|(agent_id, agent_type, first_seen, last_seen)| AgentDump {
                agent_id,
                agent_type,
                first_seen,
                last_seen,
            })
            .collect(),
    ))
}

pub(super) async fn recipients(
    conn: &mut PgConnection,
    after: Option<&DumpKey>,
    limit: i64,
) -> StoreResult<DumpBatch> {
    let (after_id, after_agent) = match after {
        Some(DumpKey::IdText(id, agent)) => (*id, agent.as_str()),
        _ => (i64::MIN, ""),
    };
    type Row = (
        i64,
        String,
        String,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT message_id, agent_id, session_id, delivered_at, acked_at FROM message_recipients \
         WHERE (message_id, agent_id) > ($1, $2) ORDER BY message_id, agent_id LIMIT $3",
    )
    .bind(after_id)
    .bind(after_agent)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(DumpBatch::MessageRecipients(
        rows.into_iter()
            .map(
                |(message_id, agent_id, session_id, delivered_at, acked_at)| RecipientDump {
                    message_id,
                    agent_id,
                    session_id,
                    delivered_at,
                    acked_at,
                },
            )
            .collect(),
    ))
}

pub(super) async fn insert_agents(conn: &mut PgConnection, rows: &[AgentDump]) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO agents (agent_id, agent_type, first_seen, last_seen) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[])",
    )
    .bind(rows.iter().map(|r| r.agent_id.as_str()).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|r| r.agent_type.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|r| r.first_seen).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.last_seen).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn insert_recipients(
    conn: &mut PgConnection,
    rows: &[RecipientDump],
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO message_recipients (message_id, agent_id, session_id, delivered_at, acked_at) \
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[])",
    )
    .bind(rows.iter().map(|r| r.message_id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.agent_id.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.session_id.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.delivered_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.acked_at).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}
