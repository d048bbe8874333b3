//! The coordination tables in a dump on PostgreSQL: `leases` (by fencing token), `tasks` (by id)
//! and `shared_memory` (by session and key), read page by page along an index and inserted with
//! one `INSERT … SELECT FROM UNNEST(arrays)` per batch. A lease's `resources` (a `text[]`) travels
//! as a JSON array, since UNNEST cannot carry an array per row. Their counters (fencing tokens,
//! task ids) move in `counters`.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::PgConnection;
use sqlx::types::Json;

use super::after_id;
use crate::storage::StoreResult;
use crate::storage::dump::{DumpBatch, DumpKey, LeaseDump, SharedMemoryDump, TaskDump};

type LeaseRow = (
    i64,
    String,
    String,
    Option<String>,
    String,
    Vec<String>,
    Option<String>,
    DateTime<Utc>,
    DateTime<Utc>,
);

pub(super) async fn leases(
    conn: &mut PgConnection,
    after: Option<&DumpKey>,
    limit: i64,
) -> StoreResult<DumpBatch> {
    let rows: Vec<LeaseRow> = sqlx::query_as(
        "SELECT fencing_token, lease_id, holder, session_id, mode, resources, reason, created_at, expires_at \
         FROM leases WHERE fencing_token > $1 ORDER BY fencing_token LIMIT $2",
    )
    .bind(after_id(after))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(DumpBatch::Leases(
        rows.into_iter()
            .map(|r| LeaseDump {
                fencing_token: r.0,
                lease_id: r.1,
                holder: r.2,
                session_id: r.3,
                mode: r.4,
                resources: r.5,
                reason: r.6,
                created_at: r.7,
                expires_at: r.8,
            })
            .collect(),
    ))
}

type TaskRow = (
    i64,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
    Json<Value>,
    Json<Map<String, Value>>,
    Json<Value>,
    Option<String>,
    DateTime<Utc>,
    DateTime<Utc>,
);

pub(super) async fn tasks(
    conn: &mut PgConnection,
    after: Option<&DumpKey>,
    limit: i64,
) -> StoreResult<DumpBatch> {
    let rows: Vec<TaskRow> = sqlx::query_as(
        "SELECT id, session_id, title, description, state, created_by, assignee, claimed_by, depends_on, \
         metadata, result, note, created_at, updated_at FROM tasks WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after_id(after))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(DumpBatch::Tasks(
        rows.into_iter()
            .map(|r| TaskDump {
                id: r.0,
                session_id: r.1,
                title: r.2,
                description: r.3,
                state: r.4,
                created_by: r.5,
                assignee: r.6,
                claimed_by: r.7,
                depends_on: r.8.0,
                metadata: r.9.0,
                result: r.10.0,
                note: r.11,
                created_at: r.12,
                updated_at: r.13,
            })
            .collect(),
    ))
}

type SharedRow = (
    String,
    String,
    Json<Value>,
    i64,
    i64,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
);

pub(super) async fn shared_memory(
    conn: &mut PgConnection,
    after: Option<&DumpKey>,
    limit: i64,
) -> StoreResult<DumpBatch> {
    let (after_session, after_key) = match after {
        Some(DumpKey::TextText(session, key)) => (session.as_str(), key.as_str()),
        _ => ("", ""),
    };
    // The row comparison walks the primary key; `key` compares in its column's "C" collation.
    let rows: Vec<SharedRow> = sqlx::query_as(
        "SELECT session_id, key, value, value_size, version, updated_by, created_at, updated_at \
         FROM shared_memory WHERE (session_id, key) > ($1, $2) ORDER BY session_id, key LIMIT $3",
    )
    .bind(after_session)
    .bind(after_key)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(DumpBatch::SharedMemory(
        rows.into_iter()
            .map(|r| SharedMemoryDump {
                session_id: r.0,
                key: r.1,
                value: r.2.0,
                value_size: r.3,
                version: r.4,
                updated_by: r.5,
                created_at: r.6,
                updated_at: r.7,
            })
            .collect(),
    ))
}

pub(super) async fn insert_leases(conn: &mut PgConnection, rows: &[LeaseDump]) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO leases (fencing_token, lease_id, holder, session_id, mode, resources, reason, created_at, \
           expires_at) \
         SELECT token, lease_id, holder, session_id, mode, \
           ARRAY(SELECT e.r FROM jsonb_array_elements_text(resources) WITH ORDINALITY AS e(r, n) ORDER BY e.n), \
           reason, created_at, expires_at \
         FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::text[], \
           $8::timestamptz[], $9::timestamptz[]) \
           AS u(token, lease_id, holder, session_id, mode, resources, reason, created_at, expires_at)",
    )
    .bind(rows.iter().map(|r| r.fencing_token).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.lease_id.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.holder.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.session_id.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.mode.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| Json(&r.resources)).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.reason.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.expires_at).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn insert_tasks(conn: &mut PgConnection, rows: &[TaskDump]) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO tasks (id, session_id, title, description, state, created_by, assignee, claimed_by, \
           depends_on, metadata, result, note, created_at, updated_at) \
         OVERRIDING SYSTEM VALUE \
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
           $7::text[], $8::text[], $9::jsonb[], $10::jsonb[], $11::jsonb[], $12::text[], $13::timestamptz[], \
           $14::timestamptz[])",
    )
    .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.session_id.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.title.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.description.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.state.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.created_by.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.assignee.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.claimed_by.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| Json(&r.depends_on)).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| Json(&r.metadata)).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| Json(&r.result)).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.note.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.updated_at).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn insert_shared_memory(
    conn: &mut PgConnection,
    rows: &[SharedMemoryDump],
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO shared_memory (session_id, key, value, value_size, version, updated_by, created_at, updated_at) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::jsonb[], $4::bigint[], $5::bigint[], $6::text[], \
           $7::timestamptz[], $8::timestamptz[])",
    )
    .bind(rows.iter().map(|r| r.session_id.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.key.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| Json(&r.value)).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.value_size).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.version).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.updated_by.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.updated_at).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}
