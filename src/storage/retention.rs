//! Retention storage: bounded deletes of old messages, closed sessions and audit rows, and the
//! per-table figures `health` reports. Every delete removes at most `batch` rows in one short
//! transaction, so pruning never holds a lock for long; `batch = None` only counts (dry run).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;

/// Which of one session's messages go: those created before `before`, and those not among its
/// `keep_newest` newest.
#[derive(Debug, Clone, Copy, Default)]
pub struct PruneRule {
    pub before: Option<DateTime<Utc>>,
    pub keep_newest: Option<u64>,
}

/// One table's size and upkeep, for `health`.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct TableStats {
    pub table: String,
    /// Live rows (PostgreSQL's estimate; SQLite counts).
    pub rows: i64,
    pub total_bytes: i64,
    /// Rows deleted or updated but not yet vacuumed (PostgreSQL).
    pub dead_rows: Option<i64>,
    #[schemars(with = "Option<String>")]
    pub last_vacuum: Option<DateTime<Utc>>,
    #[schemars(with = "Option<String>")]
    pub last_analyze: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait RetentionStore: Send + Sync + 'static {
    /// Deletes up to `batch` of `session_id`'s messages that `rule` prunes, oldest first (replies
    /// to them lose their parent link), and returns how many; with `batch = None` counts them all.
    async fn prune_messages(
        &self,
        session_id: &str,
        rule: &PruneRule,
        batch: Option<u32>,
    ) -> StoreResult<u64>;
    /// Closed sessions whose last change is before `before`, oldest first.
    async fn closed_sessions(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<Vec<String>>;
    /// Deletes a closed session that holds no messages any more, with its memory and counts.
    /// False when it is open, gone, or still holds messages.
    async fn drop_closed_session(&self, session_id: &str) -> StoreResult<bool>;
    /// Deletes up to `batch` audit rows created before `before` (counts them all when `None`).
    async fn prune_audit(&self, before: DateTime<Utc>, batch: Option<u32>) -> StoreResult<u64>;
    /// Size and upkeep of the tables that grow.
    async fn table_stats(&self) -> StoreResult<Vec<TableStats>>;
}
