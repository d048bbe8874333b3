//! The id counters in a move on SQLite: the AUTOINCREMENT counters in `sqlite_sequence` behind
//! `sessions.seq`, `messages.id`, `agent_memory.id`, `audit_log.id`, `leases.fencing_token` and
//! `tasks.id`. An export reads them in its snapshot; an import moves them forward only (explicit
//! ids already move them past the imported keys by themselves).

use std::sync::LazyLock;

use sqlx::SqliteConnection;

use crate::storage::StoreResult;
use crate::storage::dump::IdCounters;

/// Each counter: the larger of its `sqlite_sequence` row (absent before the table's first row)
/// and the largest key in its table.
static READ: LazyLock<String> = LazyLock::new(|| {
    let columns: Vec<String> = IdCounters::COLUMNS
        .iter()
        .map(|(table, column)| {
            format!(
                "max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0), \
                 coalesce((SELECT max({column}) FROM {table}), 0))"
            )
        })
        .collect();
    format!("SELECT {}", columns.join(", "))
});

pub(super) async fn read(conn: &mut SqliteConnection) -> StoreResult<IdCounters> {
    let (a, b, c, d, e, f): (i64, i64, i64, i64, i64, i64) =
        sqlx::query_as(READ.as_str()).fetch_one(conn).await?;
    Ok(IdCounters::from_values([a, b, c, d, e, f]))
}

/// Moves each counter up to its value, never back. `sqlite_sequence` has no unique name, so
/// the row is raised where it exists and added where it does not.
pub(super) async fn advance(conn: &mut SqliteConnection, counters: &IdCounters) -> StoreResult<()> {
    for ((table, _), value) in IdCounters::COLUMNS.iter().zip(counters.values()) {
        if value <= 0 {
            continue;
        }
        for sql in [
            "UPDATE sqlite_sequence SET seq = $2 WHERE name = $1 AND seq < $2",
            "INSERT INTO sqlite_sequence (name, seq) SELECT $1, $2 \
             WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = $1)",
        ] {
            sqlx::query(sql)
                .bind(table.as_str())
                .bind(value)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}
