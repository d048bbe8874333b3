//! The id counters in a move on PostgreSQL: the identity sequences behind `sessions.seq`,
//! `messages.id`, `agent_memory.id`, `audit_log.id`, `leases.fencing_token` and `tasks.id`. An
//! export reads each sequence's last value (sequences are not transactional, so it may be newer
//! than the snapshot: higher is safe); an import moves them forward only, to the dump's values and
//! past the imported keys.

use std::sync::LazyLock;

use sqlx::PgConnection;

use crate::storage::StoreResult;
use crate::storage::dump::IdCounters;

/// Each counter: the larger of its sequence's last value (NULL before its first use) and the
/// largest key in its table.
static READ: LazyLock<String> = LazyLock::new(|| {
    let columns: Vec<String> = IdCounters::COLUMNS
        .iter()
        .map(|(table, column)| {
            format!(
                "greatest(coalesce(pg_sequence_last_value(pg_get_serial_sequence('shared_context.{table}', \
                 '{column}')::regclass), 0), coalesce((SELECT max({column}) FROM {table}), 0))"
            )
        })
        .collect();
    format!("SELECT {}", columns.join(", "))
});

pub(super) async fn read(conn: &mut PgConnection) -> StoreResult<IdCounters> {
    let (a, b, c, d, e, f): (i64, i64, i64, i64, i64, i64) =
        sqlx::query_as(READ.as_str()).fetch_one(conn).await?;
    Ok(IdCounters::from_values([a, b, c, d, e, f]))
}

/// Moves each sequence up to its value, never back: a sequence already past it (or a value of 0)
/// is left alone.
pub(super) async fn advance(conn: &mut PgConnection, counters: &IdCounters) -> StoreResult<()> {
    let (tables, columns): (Vec<String>, Vec<&str>) = IdCounters::COLUMNS
        .iter()
        .map(|(table, column)| (format!("shared_context.{table}"), *column))
        .unzip();
    sqlx::query(
        "SELECT setval(s.seq, s.top) FROM \
           (SELECT pg_get_serial_sequence(u.tbl, u.col)::regclass AS seq, u.top \
            FROM UNNEST($1::text[], $2::text[], $3::bigint[]) AS u(tbl, col, top)) AS s \
         WHERE s.top > coalesce(pg_sequence_last_value(s.seq), 0)",
    )
    .bind(tables)
    .bind(columns)
    .bind(counters.values().to_vec())
    .execute(conn)
    .await?;
    Ok(())
}
