//! Storage: one trait, a SQLite and a PostgreSQL implementation. The only place with SQL.

mod dashboard;
pub mod dump;
mod error;
mod flow_store;
mod flows;
mod idempotency;
mod inbox;
mod inbox_flow;
mod lease;
mod lease_flow;
mod memory;
mod once;
pub mod postgres;
pub mod probe;
mod reads;
mod records;
mod retention;
mod rows;
mod search_sql;
pub mod sqlite;
mod task_flow;
mod tasks;
mod visibility;
mod writes;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::domain::{Reader, SessionId, Visibility};
pub use dashboard::DashboardStore;
pub use error::StoreError;
pub use idempotency::*;
pub use inbox::*;
pub use lease::*;
pub use memory::*;
pub use records::*;
pub use retention::*;
pub use tasks::*;
pub use visibility::VISIBLE_TO_READER;

pub type StoreResult<T> = Result<T, StoreError>;

/// From, to: both ends included.
pub type TimeSpan = std::ops::RangeInclusive<DateTime<Utc>>;

/// Pool and database figures for `health`.
#[derive(Debug, Clone, Default, serde::Serialize, schemars::JsonSchema)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub in_use: u32,
    pub max: u32,
    /// Calls waiting for a connection right now.
    pub waiting: u32,
    pub acquire_mean_ms: f64,
    pub acquire_p99_ms: f64,
    pub acquisitions: u64,
}

/// Declares [`Store`] as every area trait together, and implements it for whatever implements
/// them all: the list of areas is written once.
macro_rules! store_of_areas {
    ($first:ident $(+ $area:ident)*) => {
        /// Everything a backend provides. Each area is its own trait, implemented in its own file
        /// per backend (`sqlite/memory.rs`, `postgres/search.rs`, …), so the files stay small, or
        /// once for both backends where its flow is written once (`flow_store.rs`).
        pub trait Store: $first $(+ $area)* {}

        impl<T: $first $(+ $area)*> Store for T {}
    };
}

store_of_areas!(
    CoreStore
        + SessionStore
        + MessageStore
        + TokenStore
        + MemoryStore
        + SearchStore
        + TransferStore
        + IdempotencyStore
        + InboxStore
        + DirectStore
        + RetentionStore
        + DashboardStore
        + LeaseStore
        + TaskStore
);

/// Moving every row between databases (`export`, `import`, `copy`; the rows are defined in
/// [`dump`]).
#[async_trait]
pub trait TransferStore: Send + Sync + 'static {
    /// A consistent read-only snapshot of every table, paged by primary key.
    async fn begin_export(&self) -> StoreResult<Box<dyn ExportTx>>;
    /// One write transaction for a whole import; writers wait until it ends. Dropped without
    /// `commit`, it rolls back.
    async fn begin_import(&self) -> StoreResult<Box<dyn ImportTx>>;
}

#[async_trait]
pub trait ExportTx: Send {
    /// Up to `limit` rows of `table` after the key `after`, in primary-key order.
    async fn page(
        &mut self,
        table: dump::DumpTable,
        after: Option<&dump::DumpKey>,
        limit: u32,
    ) -> StoreResult<dump::DumpBatch>;
    /// The id counters (read after the rows): each the largest of its counter's last value and
    /// the largest key in its table.
    async fn counters(&mut self) -> StoreResult<dump::IdCounters>;
}

#[async_trait]
pub trait ImportTx: Send {
    /// The tables that already hold rows.
    async fn occupied(&mut self) -> StoreResult<Vec<dump::DumpTable>>;
    /// Inserts the rows as given (ids, timestamps, JSON) in one statement.
    async fn insert(&mut self, batch: &dump::DumpBatch) -> StoreResult<()>;
    /// Moves each id counter up to the given value; a counter already at or past it stays.
    async fn advance(&mut self, counters: &dump::IdCounters) -> StoreResult<()>;
    /// Moves the id counters past the imported ids (forward only), then commits.
    async fn commit(self: Box<Self>) -> StoreResult<()>;
    /// Ends the import keeping nothing.
    async fn rollback(self: Box<Self>) -> StoreResult<()>;
}

/// The messages a search reads: one session, what the reader may read, narrowed by scope.
#[derive(Debug, Clone)]
pub struct SearchFilter<'a> {
    pub session_id: &'a SessionId,
    pub reader: &'a Reader,
    /// Only this visibility (`search_scope` public or private).
    pub only: Option<Visibility>,
    /// Only messages from this sender (`search_scope` private: the reader's own).
    pub sender: Option<&'a str>,
    /// Whether top-level metadata values are searched too, not only the content.
    pub in_metadata: bool,
}

/// Closing session `id` at `at`, audited as `actor`.
#[derive(Debug, Clone, Copy)]
pub struct SessionClose<'a> {
    pub id: &'a SessionId,
    pub actor: &'a str,
    pub at: DateTime<Utc>,
}

/// Token `old_hash` revoked at `at`, and `new` issued in its place.
#[derive(Debug, Clone, Copy)]
pub struct TokenRotation<'a> {
    pub old_hash: &'a str,
    pub new: &'a TokenRecord,
    pub at: DateTime<Utc>,
}

/// A page of sessions, newest first: every session or only the open ones, below the cursor
/// `before_seq` (the last `seq` of the previous page).
#[derive(Debug, Clone, Copy)]
pub struct SessionList {
    pub active_only: bool,
    pub limit: u32,
    pub before_seq: Option<i64>,
}

/// A read of one session's messages as `reader` may read them, at most `limit`, narrowed by
/// `by`: a sender ([`SearchStore::messages_by_sender`]), a time range
/// ([`SearchStore::messages_in_range`]), or the id a page ends below
/// ([`DashboardStore::messages_before`]).
#[derive(Debug, Clone)]
pub struct SessionRead<'a, By> {
    pub session_id: &'a SessionId,
    pub reader: &'a Reader,
    pub by: By,
    pub limit: u32,
}

/// Search over a session's messages. Every query applies the visibility rule in SQL.
#[async_trait]
pub trait SearchStore: Send + Sync + 'static {
    /// For each tier, the newest `tier.limit` messages passing `filter` whose content (and, when
    /// `filter.in_metadata`, top-level metadata values) satisfy `tier.matches`
    /// case-insensitively; the union of the tiers, each message once.
    /// No tiers: nothing, and no statement runs.
    async fn search_candidates(
        &self,
        filter: &SearchFilter<'_>,
        tiers: &[crate::domain::search::CandidateTier],
    ) -> StoreResult<Vec<MessageRecord>> {
        if tiers.is_empty() {
            return Ok(Vec::new());
        }
        self.search_tiers(filter, tiers).await
    }
    /// [`SearchStore::search_candidates`] for one tier or more, in the backend's statements.
    async fn search_tiers(
        &self,
        filter: &SearchFilter<'_>,
        tiers: &[crate::domain::search::CandidateTier],
    ) -> StoreResult<Vec<MessageRecord>>;
    /// Newest first: the readable messages sender `read.by` posted in the session.
    async fn messages_by_sender(
        &self,
        read: &SessionRead<'_, &str>,
    ) -> StoreResult<Vec<MessageRecord>>;
    /// Oldest first: the readable messages created within `read.by` (both ends included).
    async fn messages_in_range(
        &self,
        read: &SessionRead<'_, TimeSpan>,
    ) -> StoreResult<Vec<MessageRecord>>;
}

/// The connection itself: identity, health figures, shutdown.
#[async_trait]
pub trait CoreStore: Send + Sync + 'static {
    /// `sqlite` or `postgresql`.
    fn backend(&self) -> &'static str;
    fn pool_stats(&self) -> PoolStats;
    async fn ping(&self) -> StoreResult<()>;
    async fn server_version(&self) -> StoreResult<String>;
    async fn close(&self);
    /// Connection-acquisition latency, for backends that pool over the network.
    fn acquire_histogram(&self) -> Option<crate::metrics::Histogram> {
        None
    }
    /// Starts feeding `notifier` with what other processes write (messages, revocations) until
    /// `stop`. PostgreSQL: LISTEN/NOTIFY; SQLite: a cheap `data_version` check.
    fn watch_changes(
        &self,
        notifier: crate::realtime::Notifier,
        stop: tokio_util::sync::CancellationToken,
    );
    /// Tells other processes that a token was revoked (PostgreSQL NOTIFY; SQLite: nothing, the
    /// token cache TTL bounds it there).
    async fn announce_revocation(&self, token_hash: &str) -> StoreResult<()>;
    /// Backend-specific database figures for `health` (size, connections, largest tables).
    async fn db_stats(&self) -> StoreResult<Value>;
}

/// Sessions: implemented once for both backends (`flow_store.rs`).
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    async fn create_session(&self, new: &NewSession) -> StoreResult<SessionRecord>;
    async fn get_session(&self, id: &SessionId) -> StoreResult<Option<SessionRecord>>;
    async fn list_sessions(&self, page: &SessionList) -> StoreResult<Vec<SessionRecord>>;
    /// Marks a session inactive (audited); `None` when it does not exist.
    async fn close_session(&self, close: &SessionClose<'_>) -> StoreResult<Option<SessionRecord>>;
}

/// Messages.
#[async_trait]
pub trait MessageStore: Send + Sync + 'static {
    /// Inserts a message and its audit row atomically, bumping the session's `updated_at`.
    /// Ids increase in commit order within a session, so they are safe cursors.
    async fn add_message(&self, new: &NewMessage) -> StoreResult<InsertOutcome>;
    async fn list_messages(&self, query: &MessageQuery<'_>) -> StoreResult<Vec<MessageRecord>>;
    /// How many messages `query` would match with no paging.
    async fn count_messages(&self, query: &MessageQuery<'_>) -> StoreResult<i64>;
}

/// Agent tokens and the audit log.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    async fn insert_token(&self, token: &TokenRecord) -> StoreResult<()>;
    async fn find_token(&self, token_hash: &str) -> StoreResult<Option<TokenRecord>>;
    /// Revokes a live token; false when it was unknown or already revoked.
    async fn revoke_token(&self, token_hash: &str, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Revokes `old_hash` and inserts `new` in one transaction, only if the old token is still
    /// live at `at`. False when it was not (so a token can be refreshed once).
    async fn rotate_token(&self, rotation: &TokenRotation<'_>) -> StoreResult<bool>;

    async fn audit(&self, event: &AuditEvent) -> StoreResult<()>;
    async fn recent_audit(&self, limit: u32) -> StoreResult<Vec<AuditRecord>>;
}

/// Connects to the database named by `url` (`sqlite:` or `postgres://`) and applies migrations.
pub async fn connect(
    url: &str,
    options: &ConnectOptions,
) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    use crate::util::url::{DatabaseKind, SUPPORTED_FORMS, mask_url};
    match DatabaseKind::of(url) {
        Some(DatabaseKind::Postgres) => Ok(std::sync::Arc::new(
            postgres::PgStore::connect(url, options).await?,
        )),
        Some(DatabaseKind::Sqlite) => Ok(std::sync::Arc::new(
            sqlite::SqliteStore::connect(url, options).await?,
        )),
        None => anyhow::bail!(
            "database URL '{}' is not supported; use {SUPPORTED_FORMS}",
            mask_url(url)
        ),
    }
}

/// Applies migrations, refusing a database that another version of the server migrated
/// differently: sharing one store between incompatible versions would corrupt it.
pub(crate) async fn migrate<'a, A>(
    migrator: &sqlx::migrate::Migrator,
    conn: A,
) -> anyhow::Result<()>
where
    A: sqlx::Acquire<'a>,
    <A::Connection as std::ops::Deref>::Target: sqlx::migrate::Migrate,
{
    use sqlx::migrate::MigrateError as M;
    let latest = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    migrator.run(conn).await.map_err(|err| match err {
        M::VersionMissing(v) => anyhow::anyhow!(
            "this database was migrated by a newer shared-context-server (migration {v}; this binary knows up to {latest}). \
             Upgrade this binary, or point it at another database; it will not start on this one"
        ),
        M::VersionMismatch(v) => anyhow::anyhow!(
            "migration {v} in this database differs from this binary's copy: the database was created by an \
             incompatible build of shared-context-server; it will not start on this one"
        ),
        M::Dirty(v) => anyhow::anyhow!(
            "migration {v} was interrupted part-way; restore the database from a backup taken before the upgrade"
        ),
        other => anyhow::anyhow!("database migration failed: {other}"),
    })
}

/// Pool settings shared by both backends.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout: std::time::Duration,
    pub max_lifetime: Option<std::time::Duration>,
    pub idle_timeout: Option<std::time::Duration>,
    pub statement_timeout: std::time::Duration,
    pub idle_in_transaction_timeout: std::time::Duration,
    pub application_name: String,
    /// How often PostgreSQL availability is probed.
    pub health_check_interval: std::time::Duration,
    /// SQLite only: fsync the WAL at every COMMIT (`synchronous=FULL`), so a power loss loses
    /// nothing acknowledged; the default (`NORMAL`) is durable against a process kill only
    /// (docs/RELIABILITY.md).
    pub sqlite_full_sync: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 20,
            min_connections: 1,
            acquire_timeout: std::time::Duration::from_secs(30),
            max_lifetime: Some(std::time::Duration::from_secs(3600)),
            idle_timeout: Some(std::time::Duration::from_secs(600)),
            statement_timeout: std::time::Duration::from_secs(30),
            idle_in_transaction_timeout: std::time::Duration::from_secs(60),
            application_name: "shared_context_server".into(),
            health_check_interval: std::time::Duration::from_secs(1),
            sqlite_full_sync: false,
        }
    }
}

pub(crate) fn parse_permissions(raw: &str) -> Vec<String> {
    raw.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
