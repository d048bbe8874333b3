//! The coordination tables in a dump on SQLite: `leases` (by fencing token), `tasks` (by id) and
//! `shared_memory` (by session and key), read page by page in primary-key order and inserted many
//! rows per statement. Explicit fencing tokens and task ids move the AUTOINCREMENT counters
//! (`sqlite_sequence`) past them, so new grants and tasks keep growing.

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::super::{json_map, ts};
use super::{after_id, json, object};
use crate::storage::dump::{DumpBatch, DumpKey, LeaseDump, SharedMemoryDump, TaskDump};
use crate::storage::{StoreError, StoreResult};
use crate::util::rfc3339;

type LeaseRow = (
    i64,
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    String,
    String,
);

pub(super) async fn leases(
    conn: &mut SqliteConnection,
    after: Option<&DumpKey>,
    limit: i64,
) -> StoreResult<DumpBatch> {
    let rows: Vec<LeaseRow> = sqlx::query_as(
        "SELECT fencing_token, lease_id, holder, session_id, mode, resources, reason, created_at, expires_at \
         FROM leases WHERE fencing_token > $1 ORDER BY fencing_token LIMIT +$2",
    )
    .bind(after_id(after))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    let rows = rows
        .into_iter()
        .map(
            |(
                fencing_token,
                lease_id,
                holder,
                session_id,
                mode,
                resources,
                reason,
                created,
                expires,
            )| {
                Ok(LeaseDump {
                    fencing_token,
                    lease_id,
                    holder,
                    session_id,
                    mode,
                    resources: serde_json::from_str(&resources).map_err(|e| {
                        StoreError::Internal(format!("bad JSON in leases.resources: {e}"))
                    })?,
                    reason,
                    created_at: ts(&created)?,
                    expires_at: ts(&expires)?,
                })
            },
        )
        .collect::<StoreResult<_>>()?;
    Ok(DumpBatch::Leases(rows))
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
    String,
    String,
    String,
    Option<String>,
    String,
    String,
);

pub(super) async fn tasks(
    conn: &mut SqliteConnection,
    after: Option<&DumpKey>,
    limit: i64,
) -> StoreResult<DumpBatch> {
    let rows: Vec<TaskRow> = sqlx::query_as(
        "SELECT id, session_id, title, description, state, created_by, assignee, claimed_by, depends_on, \
         metadata, result, note, created_at, updated_at FROM tasks WHERE id > $1 ORDER BY id LIMIT +$2",
    )
    .bind(after_id(after))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    let rows = rows
        .into_iter()
        .map(|r| {
            Ok(TaskDump {
                id: r.0,
                session_id: r.1,
                title: r.2,
                description: r.3,
                state: r.4,
                created_by: r.5,
                assignee: r.6,
                claimed_by: r.7,
                depends_on: json(&r.8, "tasks.depends_on")?,
                metadata: json_map(&r.9)?,
                result: json(&r.10, "tasks.result")?,
                note: r.11,
                created_at: ts(&r.12)?,
                updated_at: ts(&r.13)?,
            })
        })
        .collect::<StoreResult<_>>()?;
    Ok(DumpBatch::Tasks(rows))
}

type SharedRow = (String, String, String, i64, i64, String, String, String);

pub(super) async fn shared_memory(
    conn: &mut SqliteConnection,
    after: Option<&DumpKey>,
    limit: i64,
) -> StoreResult<DumpBatch> {
    let (after_session, after_key) = match after {
        Some(DumpKey::TextText(session, key)) => (session.as_str(), key.as_str()),
        _ => ("", ""),
    };
    let rows: Vec<SharedRow> = sqlx::query_as(
        "SELECT session_id, key, value, value_size, version, updated_by, created_at, updated_at \
         FROM shared_memory WHERE (session_id, key) > ($1, $2) ORDER BY session_id, key LIMIT +$3",
    )
    .bind(after_session)
    .bind(after_key)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    let rows = rows
        .into_iter()
        .map(
            |(session_id, key, value, value_size, version, updated_by, created, updated)| {
                Ok(SharedMemoryDump {
                    session_id,
                    key,
                    value: json(&value, "shared_memory.value")?,
                    value_size,
                    version,
                    updated_by,
                    created_at: ts(&created)?,
                    updated_at: ts(&updated)?,
                })
            },
        )
        .collect::<StoreResult<_>>()?;
    Ok(DumpBatch::SharedMemory(rows))
}

pub(super) fn insert_leases(rows: &[LeaseDump]) -> QueryBuilder<Sqlite> {
    let mut qb = QueryBuilder::new(
        "INSERT INTO leases (fencing_token, lease_id, holder, session_id, mode, resources, reason, \
         created_at, expires_at) ",
    );
    qb.push_values(rows, |mut b, r| {
        b.push_bind(r.fencing_token)
            .push_bind(&r.lease_id)
            .push_bind(&r.holder)
            .push_bind(&r.session_id)
            .push_bind(&r.mode)
            .push_bind(serde_json::to_string(&r.resources).unwrap_or_else(|_| "[]".into()))
            .push_bind(&r.reason)
            .push_bind(rfc3339(r.created_at))
            .push_bind(rfc3339(r.expires_at));
    });
    qb
}

pub(super) fn insert_tasks(rows: &[TaskDump]) -> QueryBuilder<Sqlite> {
    let mut qb = QueryBuilder::new(
        "INSERT INTO tasks (id, session_id, title, description, state, created_by, assignee, claimed_by, \
         depends_on, metadata, result, note, created_at, updated_at) ",
    );
    qb.push_values(rows, |mut b, r| {
        b.push_bind(r.id)
            .push_bind(&r.session_id)
            .push_bind(&r.title)
            .push_bind(&r.description)
            .push_bind(&r.state)
            .push_bind(&r.created_by)
            .push_bind(&r.assignee)
            .push_bind(&r.claimed_by)
            .push_bind(r.depends_on.to_string())
            .push_bind(object(&r.metadata))
            .push_bind(r.result.to_string())
            .push_bind(&r.note)
            .push_bind(rfc3339(r.created_at))
            .push_bind(rfc3339(r.updated_at));
    });
    qb
}

pub(super) fn insert_shared_memory(rows: &[SharedMemoryDump]) -> QueryBuilder<Sqlite> {
    let mut qb = QueryBuilder::new(
        "INSERT INTO shared_memory (session_id, key, value, value_size, version, updated_by, created_at, \
         updated_at) ",
    );
    qb.push_values(rows, |mut b, r| {
        b.push_bind(&r.session_id)
            .push_bind(&r.key)
            .push_bind(r.value.to_string())
            .push_bind(r.value_size)
            .push_bind(r.version)
            .push_bind(&r.updated_by)
            .push_bind(rfc3339(r.created_at))
            .push_bind(rfc3339(r.updated_at));
    });
    qb
}
