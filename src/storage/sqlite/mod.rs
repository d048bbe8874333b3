//! SQLite backend: WAL, busy timeout, foreign keys; one writer connection so writers queue in
//! the pool instead of failing with SQLITE_BUSY, and a small pool of readers.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

mod idempotency;
mod memory;
mod messages;
mod search;
pub use messages::{LIST_ACTIVE_SESSIONS, LIST_SESSIONS, READ_MESSAGES_ASC, READ_MESSAGES_DESC};
pub use search::{BY_SENDER, IN_RANGE};
mod tokens;
mod transfer;
mod watch;
mod writes;

use super::visibility::message_read_where;
use super::*;
use crate::domain::{SessionId, Visibility};
use crate::util::rfc3339;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
    /// For the change watcher's own connection; `None` for in-memory databases (one process).
    watch_options: Option<SqliteConnectOptions>,
}

type SessionRow = (i64, String, String, String, String, i64, String, String);
type MessageRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    String,
);
type TokenRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
);

impl SqliteStore {
    pub async fn connect(url: &str, options: &ConnectOptions) -> anyhow::Result<Self> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let mut opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        if !in_memory {
            opts = opts
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
        }
        let acquire = options.acquire_timeout;
        // An in-memory database lives as long as its connection: pin exactly one for everything.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(acquire)
            .connect_with(opts.clone())
            .await?;
        super::migrate(&MIGRATOR, &writer).await?;
        let reader = if in_memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(options.max_connections.clamp(1, 8))
                .min_connections(1)
                .acquire_timeout(acquire)
                .connect_with(opts.clone().read_only(true))
                .await?
        };
        let watch_options = (!in_memory).then(|| opts.clone());
        Ok(Self {
            reader,
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

fn session(row: SessionRow) -> StoreResult<SessionRecord> {
    let (seq, id, purpose, created_by, metadata, is_active, created_at, updated_at) = row;
    Ok(SessionRecord {
        id,
        purpose,
        created_by,
        metadata: json_map(&metadata)?,
        is_active: is_active != 0,
        created_at: ts(&created_at)?,
        updated_at: ts(&updated_at)?,
        seq,
    })
}

fn message(row: MessageRow) -> StoreResult<MessageRecord> {
    let (
        id,
        session_id,
        sender,
        sender_type,
        content,
        visibility,
        message_type,
        metadata,
        parent,
        created_at,
    ) = row;
    Ok(MessageRecord {
        id,
        session_id,
        sender,
        sender_type,
        content,
        visibility: Visibility::parse(&visibility).map_err(|e| StoreError::Internal(e.message))?,
        message_type,
        metadata: json_map(&metadata)?,
        parent_message_id: parent,
        created_at: ts(&created_at)?,
    })
}

fn token(row: TokenRow) -> StoreResult<TokenRecord> {
    let (token_hash, agent_id, agent_type, permissions, issued_at, expires_at, revoked_at) = row;
    Ok(TokenRecord {
        token_hash,
        agent_id,
        agent_type,
        permissions: parse_permissions(&permissions),
        issued_at: ts(&issued_at)?,
        expires_at: ts(&expires_at)?,
        revoked_at: revoked_at.as_deref().map(ts).transpose()?,
    })
}

async fn insert_audit<'c, E: sqlx::SqliteExecutor<'c>>(exec: E, e: &AuditEvent) -> StoreResult<()> {
    sqlx::query("INSERT INTO audit_log (created_at, event, actor, session_id, details) VALUES ($1, $2, $3, $4, $5)")
        .bind(rfc3339(e.at))
        .bind(e.event)
        .bind(&e.actor)
        .bind(&e.session_id)
        .bind(e.details.to_string())
        .execute(exec)
        .await?;
    Ok(())
}

fn bind_read<'q>(
    q: sqlx::query::QueryAs<'q, sqlx::Sqlite, MessageRow, sqlx::sqlite::SqliteArguments>,
    query: &'q MessageQuery<'_>,
) -> sqlx::query::QueryAs<'q, sqlx::Sqlite, MessageRow, sqlx::sqlite::SqliteArguments> {
    let (kind, id, ty) = query.reader.sql_params();
    q.bind(kind)
        .bind(id.to_owned())
        .bind(ty.to_owned())
        .bind(query.session_id.as_str().to_owned())
        .bind(query.only.map(Visibility::as_str))
        .bind(query.after_id)
}

#[async_trait]
impl CoreStore for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn pool_stats(&self) -> PoolStats {
        let size = self.reader.size() + self.writer.size();
        let idle = (self.reader.num_idle() + self.writer.num_idle()) as u32;
        let max = self.reader.options().get_max_connections() + 1;
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
        Ok(serde_json::json!({
            "size_bytes": pages * page_size,
            "free_bytes": free * page_size,
            "journal_mode": journal,
        }))
    }
}
