//! Retention on SQLite: bounded deletes, each batch one short write transaction on the single
//! writer connection (so writers wait at most one batch), and the file's page figures.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use sqlx::Sqlite;

use super::SqliteStore;
use crate::storage::reads::Reads;
use crate::storage::retention::{Prune, RetentionSql};
use crate::storage::{PruneRule, RetentionStore, StoreResult, TableStats};
use crate::util::rfc3339;

impl RetentionSql for Sqlite {
    const KEEP_THRESHOLD: &'static str = "SELECT COALESCE((SELECT id FROM messages INDEXED BY messages_session_read_idx \
     WHERE session_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2), -1)";
    const CLOSED_SESSIONS: &'static str =
        "SELECT id FROM sessions WHERE is_active = 0 AND updated_at < $1 ORDER BY seq LIMIT +$2";
}
/// The messages of session $1 created before $2 or with an id at or below $3, oldest first.
const DOOMED: &str = "SELECT id FROM messages INDEXED BY messages_session_read_idx \
     WHERE session_id = $1 AND (created_at < $2 OR id <= $3) ORDER BY id LIMIT +$4";

#[async_trait]
impl RetentionStore for SqliteStore {
    async fn prune_messages(&self, rule: &PruneRule<'_>, batch: Option<u32>) -> StoreResult<u64> {
        let threshold = Prune::threshold(&self.reader, rule).await?;
        let before = rule.before.map(rfc3339);
        let Some(batch) = batch else {
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM ({DOOMED})"
            )))
            .bind(rule.session_id)
            .bind(before)
            .bind(threshold)
            .bind(-1i64)
            .fetch_one(&self.reader)
            .await?;
            return Ok(n as u64);
        };
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let ids: Vec<i64> = sqlx::query_scalar(DOOMED)
            .bind(rule.session_id)
            .bind(before)
            .bind(threshold)
            .bind(i64::from(batch))
            .fetch_all(&mut *tx)
            .await?;
        if ids.is_empty() {
            tx.rollback().await?;
            return Ok(0);
        }
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        // Replies to doomed messages lose their parent link (the foreign key would refuse the
        // delete); triggers keep the per-sender counts and the search index in step.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE messages SET parent_message_id = NULL WHERE parent_message_id IN ({list}) AND id NOT IN ({list})"
        )))
        .execute(&mut *tx)
        .await?;
        let n = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM messages WHERE id IN ({list})"
        )))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    async fn closed_sessions(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<Vec<String>> {
        Prune::closed_sessions(&self.reader, before, limit).await
    }

    async fn drop_closed_session(&self, session_id: &str) -> StoreResult<bool> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let empty_and_closed: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM sessions WHERE id = $1 AND is_active = 0 \
             AND NOT EXISTS (SELECT 1 FROM messages WHERE session_id = $1)",
        )
        .bind(session_id)
        .fetch_optional(&mut *tx)
        .await?;
        if empty_and_closed.is_none() {
            tx.rollback().await?;
            return Ok(false);
        }
        for sql in [
            "DELETE FROM agent_memory WHERE session_id = $1",
            "DELETE FROM tasks WHERE session_id = $1",
            "DELETE FROM shared_memory WHERE session_id = $1",
            "DELETE FROM session_message_counts WHERE session_id = $1",
            "DELETE FROM sessions WHERE id = $1",
        ] {
            sqlx::query(sql).bind(session_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn prune_audit(&self, before: DateTime<Utc>, batch: Option<u32>) -> StoreResult<u64> {
        if batch.is_none() {
            return Prune::audit(&self.reader, before, None).await;
        }
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let n = Prune::audit(&mut *tx, before, batch).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn table_stats(&self) -> StoreResult<Vec<TableStats>> {
        // Row counts from the largest id (no full count: that reads the whole table on SQLite);
        // sizes come from the whole file, as SQLite keeps no per-table sizes without dbstat.
        let mut out = Vec::new();
        for table in ["messages", "audit_log"] {
            let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT COALESCE(MAX(id) - MIN(id) + 1, 0) FROM {table}"
            )))
            .fetch_one(&self.reader)
            .await?;
            out.push(TableStats {
                table: table.to_owned(),
                rows,
                total_bytes: 0,
                dead_rows: None,
                last_vacuum: None,
                last_analyze: None,
            });
        }
        Ok(out)
    }

    async fn delete_expired_leases(&self, now: DateTime<Utc>, batch: u32) -> StoreResult<u64> {
        const SQL: &str = "DELETE FROM leases WHERE fencing_token IN (SELECT fencing_token FROM leases \
             INDEXED BY leases_expires_idx WHERE expires_at <= $1 ORDER BY expires_at LIMIT +$2)";
        Reads::sweep(&self.writer, SQL, now, batch).await
    }
}
