//! The shared-memory (blackboard) writes and reads of [`TaskFlow`]: versioned set, get and list
//! by key prefix, each audited like a task change.

use serde_json::json;
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};

use super::{TaskFlow, TaskSql};
use crate::storage::*;

/// [`TaskSql`]'s three shared-memory writes, the same in both dialects but for how the JSON value
/// bound at $3 is read (`$json`: `"$3"` on SQLite, `"$3::jsonb"` on PostgreSQL).
macro_rules! shared_writes {
    ($json:literal) => {
        const SHARED_UPSERT: &'static str = concat!(
            "INSERT INTO shared_memory (session_id, key, value, value_size, version, updated_by, created_at, updated_at) \
             VALUES ($1, $2, ",
            $json,
            ", $4, 1, $5, $6, $6) \
             ON CONFLICT (session_id, key) DO UPDATE SET value = excluded.value, value_size = excluded.value_size, \
               version = shared_memory.version + 1, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            " RETURNING ",
            $crate::storage::task_flow::shared_columns!()
        );
        const SHARED_INSERT: &'static str = concat!(
            "INSERT INTO shared_memory (session_id, key, value, value_size, version, updated_by, created_at, updated_at) \
             VALUES ($1, $2, ",
            $json,
            ", $4, 1, $5, $6, $6) ON CONFLICT (session_id, key) DO NOTHING",
            " RETURNING ",
            $crate::storage::task_flow::shared_columns!()
        );
        const SHARED_UPDATE: &'static str = concat!(
            "UPDATE shared_memory SET value = ",
            $json,
            ", value_size = $4, version = version + 1, updated_by = $5, \
               updated_at = $6 WHERE session_id = $1 AND key = $2 AND version = $7",
            " RETURNING ",
            $crate::storage::task_flow::shared_columns!()
        );
    };
}
pub(crate) use shared_writes;

impl<DB> TaskFlow<DB>
where
    DB: TaskSql,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    String: for<'q> Encode<'q, DB> + Type<DB>,
    Option<String>: for<'q> Encode<'q, DB> + Type<DB>,
    i64: for<'q> Encode<'q, DB> + Type<DB>,
    for<'r> TaskRecord: FromRow<'r, DB::Row>,
    for<'r> SharedMemoryRecord: FromRow<'r, DB::Row>,
    for<'r> (i64, String): FromRow<'r, DB::Row>,
    for<'r> (bool,): FromRow<'r, DB::Row>,
{
    pub(crate) async fn set_shared(
        conn: &mut DB::Connection,
        new: &NewSharedMemory,
    ) -> StoreResult<SharedSetOutcome> {
        if Self::session_state(conn, &new.session_id).await?.is_none() {
            return Ok(SharedSetOutcome::SessionMissing);
        }
        let sql = match new.expected_version {
            None => DB::SHARED_UPSERT,
            Some(0) => DB::SHARED_INSERT,
            Some(_) => DB::SHARED_UPDATE,
        };
        let mut query = sqlx::query_as(sql)
            .bind(new.session_id.as_str())
            .bind(new.key.as_str())
            .bind(new.value_json.clone())
            .bind(new.value_json.len() as i64)
            .bind(new.agent_id.as_str())
            .bind(DB::stamp(new.at));
        if let Some(v) = new.expected_version.filter(|v| *v > 0) {
            query = query.bind(v);
        }
        let stored: Option<SharedMemoryRecord> = query.fetch_optional(&mut *conn).await?;
        let Some(record) = stored else {
            let current = Self::shared(conn, &new.session_id, &new.key).await?;
            return Ok(SharedSetOutcome::Conflict(current));
        };
        let details = json!({"key": new.key, "shared": true, "version": record.version,
            "value_size": record.value_size});
        Self::audit(
            conn,
            "memory_set",
            &new.agent_id,
            &new.session_id,
            details,
            new.at,
        )
        .await?;
        Ok(SharedSetOutcome::Stored(record))
    }

    pub(crate) async fn shared(
        conn: &mut DB::Connection,
        session_id: &str,
        key: &str,
    ) -> StoreResult<Option<SharedMemoryRecord>> {
        const SQL: &str = concat!(
            "SELECT ",
            shared_columns!(),
            " FROM shared_memory WHERE session_id = $1 AND key = $2"
        );
        Ok(sqlx::query_as(SQL)
            .bind(session_id)
            .bind(key)
            .fetch_optional(&mut *conn)
            .await?)
    }

    pub(crate) async fn list_shared(
        conn: &mut DB::Connection,
        q: &SharedListQuery<'_>,
    ) -> StoreResult<Vec<SharedMemoryRecord>> {
        Ok(sqlx::query_as(DB::SHARED_LIST)
            .bind(q.session_id)
            .bind(q.prefix)
            .bind(q.after)
            .bind(i64::from(q.limit))
            .fetch_all(&mut *conn)
            .await?)
    }
}
