//! Retention on PostgreSQL: bounded deletes (one short statement per batch) and the per-table
//! upkeep figures from the statistics collector.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use sqlx::Postgres;

use super::PgStore;
use crate::storage::reads::Reads;
use crate::storage::retention::{Prune, RetentionSql};
use crate::storage::{PruneRule, RetentionStore, StoreResult, TableStats};

impl RetentionSql for Postgres {
    /// Through `read_messages`: an ordered index scan whatever the statistics.
    const KEEP_THRESHOLD: &'static str = "SELECT COALESCE((SELECT id FROM read_messages('admin', '', '', $1, NULL, 0, 1, $2, TRUE)), -1)";
    const CLOSED_SESSIONS: &'static str =
        "SELECT id FROM sessions WHERE NOT is_active AND updated_at < $1 ORDER BY seq LIMIT $2";
}

/// Up to $4 messages of session $1 created before $2 or with an id at or below $3, oldest first.
/// Replies to them lose their parent link in the same statement (the foreign key would refuse
/// the delete otherwise); the count triggers of migration 0005 keep the per-sender counts exact.
const DELETE_MESSAGES: &str = "WITH doomed AS (SELECT id FROM messages \
       WHERE session_id = $1 AND (created_at < $2 OR id <= $3) ORDER BY id LIMIT $4), \
     orphaned AS (UPDATE messages c SET parent_message_id = NULL FROM doomed d \
       WHERE c.parent_message_id = d.id AND c.id NOT IN (SELECT id FROM doomed) RETURNING c.id) \
     DELETE FROM messages WHERE id IN (SELECT id FROM doomed)";
const COUNT_MESSAGES: &str =
    "SELECT COUNT(*) FROM messages WHERE session_id = $1 AND (created_at < $2 OR id <= $3)";

/// The tables that grow with use, largest first in practice.
const GROWING: &str = "'messages', 'audit_log', 'session_message_counts', 'sessions', 'agent_memory', 'idempotency_keys'";

#[async_trait]
impl RetentionStore for PgStore {
    async fn prune_messages(&self, rule: &PruneRule<'_>, batch: Option<u32>) -> StoreResult<u64> {
        self.with_conn(async |conn| {
            let threshold = Prune::threshold(&mut *conn, rule).await?;
            let Some(batch) = batch else {
                let n: i64 = sqlx::query_scalar(COUNT_MESSAGES)
                    .bind(rule.session_id)
                    .bind(rule.before)
                    .bind(threshold)
                    .fetch_one(&mut *conn)
                    .await?;
                return Ok(n as u64);
            };
            let done = sqlx::query(DELETE_MESSAGES)
                .bind(rule.session_id)
                .bind(rule.before)
                .bind(threshold)
                .bind(i64::from(batch))
                .execute(&mut *conn)
                .await?;
            Ok(done.rows_affected())
        })
        .await
    }

    async fn closed_sessions(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<Vec<String>> {
        self.with_conn(async |conn| Prune::closed_sessions(conn, before, limit).await)
            .await
    }

    async fn drop_closed_session(&self, session_id: &str) -> StoreResult<bool> {
        self.with_conn(async |conn| {
            // One statement: the session goes only if it is closed and empty; its memory and count
            // rows go with it.
            let dropped: Option<String> = sqlx::query_scalar(
                "WITH s AS (DELETE FROM sessions WHERE id = $1 AND NOT is_active \
               AND NOT EXISTS (SELECT 1 FROM messages WHERE session_id = $1) RETURNING id), \
             mem AS (DELETE FROM agent_memory WHERE session_id IN (SELECT id FROM s)), \
             tasks AS (DELETE FROM tasks WHERE session_id IN (SELECT id FROM s)), \
             shared AS (DELETE FROM shared_memory WHERE session_id IN (SELECT id FROM s)), \
             counts AS (DELETE FROM session_message_counts WHERE session_id IN (SELECT id FROM s)) \
             SELECT id FROM s",
            )
            .bind(session_id)
            .fetch_optional(&mut *conn)
            .await?;
            Ok(dropped.is_some())
        })
        .await
    }

    async fn prune_audit(&self, before: DateTime<Utc>, batch: Option<u32>) -> StoreResult<u64> {
        self.with_conn(async |conn| Prune::audit(conn, before, batch).await)
            .await
    }

    async fn table_stats(&self) -> StoreResult<Vec<TableStats>> {
        self.with_conn(async |conn| {
        type Row = (
            String,
            i64,
            i64,
            i64,
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
        );
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT s.relname::text, s.n_live_tup, pg_total_relation_size(s.relid), s.n_dead_tup, \
                    GREATEST(s.last_vacuum, s.last_autovacuum), GREATEST(s.last_analyze, s.last_autoanalyze) \
               FROM pg_stat_user_tables s WHERE s.schemaname = 'shared_context' AND s.relname IN ({GROWING}) \
              ORDER BY pg_total_relation_size(s.relid) DESC"
        )))
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(table, rows, bytes, dead, vacuum, analyze)| TableStats {
                table,
                rows,
                total_bytes: bytes,
                dead_rows: Some(dead),
                last_vacuum: vacuum,
                last_analyze: analyze,
            })
            .collect())
        })
        .await
    }

    async fn delete_expired_leases(&self, now: DateTime<Utc>, batch: u32) -> StoreResult<u64> {
        // SKIP LOCKED: several servers sweep without waiting on each other or on a release.
        const SQL: &str = "DELETE FROM leases WHERE lease_id IN (SELECT lease_id FROM leases \
             WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED) AND expires_at <= $1";
        self.with_conn(async |conn| Reads::sweep(conn, SQL, now, batch).await)
            .await
    }
}
