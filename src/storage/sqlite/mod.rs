//! SQLite backend: WAL, busy timeout, foreign keys; one writer connection so writers queue in
//! the pool instead of failing with SQLITE_BUSY (concurrent writes share one transaction:
//! `group.rs`), and a few read-only connections (`readers.rs`).
//!
//! A LIMIT or a LIKE pattern is bound as `+$n`, never as a bare `$n`, in every statement SQLite
//! runs, the ones shared with PostgreSQL included (there `+` changes nothing; a unit test below
//! checks the sources). SQLite (3.51) lets the
//! value bound to a bare LIMIT or LIKE parameter shape the plan, and so marks the prepared
//! statement stale whenever that parameter is bound again: every execution parsed and planned
//! the statement anew, though the cache held it (callgrind: 330k instructions of `sqlite3Reprepare`
//! in a `get_messages` of 2.97M, 490k in a `search_context` of 1.78M). The unary plus is an
//! expression the planner does not look into; the value and the plan are the same.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

mod dashboard;
mod group;
mod idempotency;
mod inbox;
pub use inbox::{DIRECT_SENDS_SINCE, INBOX, INBOX_IN_SESSION};
mod leases;
pub use leases::LIVE_LEASES;
mod memory;
mod messages;
mod readers;
mod retention;
mod search;
mod tasks;
pub use crate::storage::reads::LIST_SESSIONS;
pub use dashboard::READ_MESSAGES_BEFORE;
pub use messages::{LIST_ACTIVE_SESSIONS, READ_MESSAGES_ASC, READ_MESSAGES_DESC};
pub use search::{BY_SENDER, IN_RANGE, window_statement as search_window_statement};
pub use tasks::{LIST_TASKS, NEXT_CLAIMABLE_TASK};
mod tokens;
mod transfer;
mod watch;
mod writes;

use super::flow_store::{Backend, FlowCall};
use super::reads::{Dialect, Reads};
use super::*;
use crate::util::rfc3339;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    reader: readers::Readers,
    writer: SqlitePool,
    /// Batches concurrent writes on `writer` into one transaction.
    group: group::GroupCommit,
    /// For the change watcher's own connection; `None` for in-memory databases (one process).
    watch_options: Option<SqliteConnectOptions>,
}

impl SqliteStore {
    pub async fn connect(url: &str, options: &ConnectOptions) -> anyhow::Result<Self> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let mut opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        if !in_memory {
            opts = opts.journal_mode(SqliteJournalMode::Wal).synchronous(
                if options.sqlite_full_sync {
                    SqliteSynchronous::Full
                } else {
                    SqliteSynchronous::Normal
                },
            );
        }
        let acquire = options.acquire_timeout;
        // An in-memory database lives as long as its connection: pin exactly one for everything.
        // No ping when the writer is taken (once per group-commit transaction): it is a round
        // trip to the connection's thread, which cannot have gone away (`readers.rs`).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .test_before_acquire(false)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(acquire)
            .connect_with(opts.clone())
            .await?;
        super::migrate(&MIGRATOR, &writer).await?;
        let reader = if in_memory {
            readers::Readers::Shared(writer.clone())
        } else {
            readers::Readers::open(
                opts.clone().read_only(true),
                options.max_connections.clamp(1, 8),
                acquire,
            )
            .await?
        };
        let watch_options = (!in_memory).then(|| opts.clone());
        Ok(Self {
            reader,
            group: group::GroupCommit::new(writer.clone()),
            writer,
            watch_options,
        })
    }
}

fn ts(raw: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Internal(format!("bad timestamp '{raw}' in database: {e}")))
}

fn json_map(raw: &str) -> StoreResult<Map<String, Value>> {
    serde_json::from_str(raw)
        .map_err(|e| StoreError::Internal(format!("bad JSON in database: {e}")))
}

async fn insert_audit<'c, E: sqlx::SqliteExecutor<'c>>(exec: E, e: &AuditEvent) -> StoreResult<()> {
    sqlx::query(<sqlx::Sqlite as Dialect>::AUDIT)
        .bind(rfc3339(e.at))
        .bind(e.event)
        .bind(&e.actor)
        .bind(&e.session_id)
        .bind(e.details.to_string())
        .execute(exec)
        .await?;
    Ok(())
}

impl SqliteStore {
    /// Runs `work` in the group commit's `BEGIN IMMEDIATE` transaction on the writer (writers
    /// queue there, so none fails with SQLITE_BUSY): kept when `work` succeeds, rolled back
    /// otherwise, answered after the COMMIT.
    async fn in_write_tx<T>(
        &self,
        work: impl AsyncFnOnce(&mut sqlx::SqliteConnection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.group
            .write(async |conn| work(conn).await.map(|v| (v, true)))
            .await
    }

    /// As [`SqliteStore::in_write_tx`], for a write that opens its scope in the transaction
    /// itself, in the round trip of its first statement (`group::GroupCommit::write_scoped`).
    async fn in_scoped_write_tx<T>(
        &self,
        work: impl AsyncFnOnce(&mut sqlx::SqliteConnection, group::Scope) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.group.write_scoped(work).await
    }
}

/// The store methods written once (`flow_store.rs`): writes as members of the group commit, reads
/// on the reader pool.
impl Backend for SqliteStore {
    type Db = sqlx::Sqlite;

    async fn write<C: FlowCall<sqlx::Sqlite>>(&self, call: &C) -> StoreResult<C::Out> {
        self.group
            .write(async |conn| {
                let out = call.run(conn).await?;
                let keep = C::keep(&out);
                Ok((out, keep))
            })
            .await
    }

    async fn read<C: FlowCall<sqlx::Sqlite>>(&self, call: &C) -> StoreResult<C::Out> {
        let mut conn = self.reader.acquire().await?;
        call.run(&mut conn).await
    }
}

impl Dialect for sqlx::Sqlite {
    type Stamp = String;

    const AUDIT: &'static str = "INSERT INTO audit_log (created_at, event, actor, session_id, details) \
         VALUES ($1, $2, $3, $4, $5)";

    fn stamp(at: DateTime<Utc>) -> String {
        rfc3339(at)
    }
}

#[async_trait]
impl CoreStore for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn pool_stats(&self) -> PoolStats {
        let (readers, readers_idle, readers_max) = self.reader.stats();
        let size = readers + self.writer.size();
        let idle = (readers_idle + self.writer.num_idle()) as u32;
        let max = readers_max + 1;
        PoolStats {
            size,
            idle,
            in_use: size.saturating_sub(idle),
            max,
            ..PoolStats::default()
        }
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn server_version(&self) -> StoreResult<String> {
        let (v,): (String,) = sqlx::query_as("SELECT sqlite_version()")
            .fetch_one(&self.reader)
            .await?;
        Ok(format!("SQLite {v}"))
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    fn watch_changes(
        &self,
        notifier: crate::realtime::Notifier,
        stop: tokio_util::sync::CancellationToken,
    ) {
        if let Some(options) = self.watch_options.clone() {
            tokio::spawn(watch::watch(options, notifier, stop));
        }
    }

    async fn announce_revocation(&self, _token_hash: &str) -> StoreResult<()> {
        Ok(())
    }

    async fn db_stats(&self) -> StoreResult<Value> {
        let (pages, page_size, free, journal): (i64, i64, i64, String) = sqlx::query_as(
            "SELECT p.page_count, s.page_size, f.freelist_count, j.journal_mode \
             FROM pragma_page_count() p, pragma_page_size() s, pragma_freelist_count() f, pragma_journal_mode() j",
        )
        .fetch_one(&self.reader)
        .await?;
        let (commits, writes) = self.group.stats();
        Ok(serde_json::json!({
            "size_bytes": pages * page_size,
            "free_bytes": free * page_size,
            "journal_mode": journal,
            // Writes per transaction under concurrency (group commit), since start.
            "group_commit": {"transactions": commits, "writes": writes},
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn synchronous(full: bool) -> i64 {
        let dir = std::env::temp_dir().join(format!("scs-sync-{}-{full}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite:{}", dir.join("db.sqlite").display());
        let options = ConnectOptions {
            sqlite_full_sync: full,
            ..ConnectOptions::default()
        };
        let store = SqliteStore::connect(&url, &options).await.unwrap();
        let level: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&store.writer)
            .await
            .unwrap();
        store.writer.close().await;
        store.reader.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
        level
    }

    /// No statement outside PostgreSQL's own files binds a bare `LIMIT $n` or `LIKE $n` (see the
    /// module comment: SQLite would plan it again at every execution).
    #[test]
    fn limits_and_patterns_are_bound_as_expressions() {
        fn walk(dir: &std::path::Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    if !path.ends_with("postgres") {
                        walk(&path, found);
                    }
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for (n, line) in text.lines().enumerate() {
                    let code = !line.trim_start().starts_with("//") && !line.contains("assert");
                    let bare = [concat!("LIMIT ", "$"), concat!("LIKE ", "$")];
                    if code && bare.iter().any(|b| line.contains(b)) {
                        found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                    }
                }
            }
        }
        let mut found = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/storage"),
            &mut found,
        );
        assert!(
            found.is_empty(),
            "bare LIMIT/LIKE parameters:\n{}",
            found.join("\n")
        );
    }

    /// The writer commits with the chosen durability: 1 is NORMAL, 2 is FULL.
    #[tokio::test]
    async fn writes_sync_as_configured() {
        assert_eq!(synchronous(false).await, 1);
        assert_eq!(synchronous(true).await, 2);
    }
}
