//! PostgreSQL backend: schema `shared_context`, JSONB metadata, a tuned pool, one round trip per
//! write (data-modifying CTEs), and per-connection settings applied at connect time.

use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions as _, Connection as _};

mod combine;
mod dashboard;
mod guard;
mod idempotency;
mod inbox;
pub use inbox::{DIRECT_SENDS_SINCE, INBOX, INBOX_IN_SESSION};
mod leases;
pub use leases::{GRANT_LOCK, LIVE_LEASES};
mod memory;
mod messages;
mod pool;
pub use crate::storage::reads::COUNT_MESSAGES;
/// The statements the plan tests check.
pub use dashboard::READ_MESSAGES_BEFORE;
pub use messages::{COUNT_SESSION_MESSAGES, LIST_ACTIVE_SESSIONS, READ_MESSAGES};
mod retention;
mod search;
mod tasks;
pub use search::{BY_SENDER, IN_RANGE, WINDOW as SEARCH_WINDOW};
pub use tasks::{LIST_TASKS, NEXT_CLAIMABLE_TASK};
mod tokens;
mod transfer;
mod watch;
mod writes;

use super::flow_store::{Backend, FlowCall};
use super::reads::{Dialect, Reads};
use super::writes::commit_if;
use super::*;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Everything we create lives here, so we share a database with others politely.
pub const SCHEMA: &str = "shared_context";

/// Connections outside the request pool: one held by LISTEN, one for NOTIFY, one for an export
/// or import.
pub const AUX_CONNECTIONS: u32 = 3;

pub struct PgStore {
    /// The request path's connections.
    pool: pool::ConnPool,
    /// sqlx's pool for what is not on the request path: migrations, LISTEN, NOTIFY, export and
    /// import (at most `AUX_CONNECTIONS`).
    aux: PgPool,
    guard: std::sync::Arc<guard::Guard>,
    publisher: watch::Publisher,
    combiner: combine::Combiner,
}

impl PgStore {
    pub async fn connect(url: &str, options: &ConnectOptions) -> anyhow::Result<Self> {
        let statement_timeout = options.statement_timeout.as_millis().to_string();
        let idle_tx_timeout = options.idle_in_transaction_timeout.as_millis().to_string();
        let opts = PgConnectOptions::from_str(url)?
            .application_name(&options.application_name)
            .options([
                ("search_path", SCHEMA),
                ("statement_timeout", statement_timeout.as_str()),
                (
                    "idle_in_transaction_session_timeout",
                    idle_tx_timeout.as_str(),
                ),
                // Server-side TCP keepalives: the server drops connections of a vanished client.
                ("tcp_keepalives_idle", "60"),
                ("tcp_keepalives_interval", "10"),
                ("tcp_keepalives_count", "6"),
            ])
            .log_statements(tracing::log::LevelFilter::Trace);
        // The schema must exist before the pool's search_path points at it and migrations run.
        let mut bootstrap = opts.connect().await.map_err(explain_connect_error)?;
        sqlx::query("CREATE SCHEMA IF NOT EXISTS shared_context")
            .execute(&mut bootstrap)
            .await?;
        bootstrap.close().await?;

        let guard = std::sync::Arc::new(guard::Guard::new());
        let aux = PgPoolOptions::new()
            .max_connections(AUX_CONNECTIONS)
            .min_connections(0)
            .acquire_timeout(options.acquire_timeout)
            .max_lifetime(options.max_lifetime)
            .idle_timeout(options.idle_timeout)
            .connect_with(opts.clone())
            .await
            .map_err(explain_connect_error)?;
        super::migrate(&MIGRATOR, &aux).await?;
        let settings = pool::Settings {
            max: options.max_connections,
            min: options.min_connections,
            acquire_timeout: options.acquire_timeout,
            max_lifetime: options.max_lifetime,
            idle_timeout: options.idle_timeout,
        };
        let pool = pool::ConnPool::connect(opts.clone(), settings)
            .await
            .map_err(explain_connect_error)?;
        let monitor = guard.clone();
        let interval = options.health_check_interval;
        tokio::spawn(async move { monitor.monitor(opts, interval).await });
        let publisher = watch::Publisher::start(aux.clone(), guard.stop.clone());
        Ok(Self {
            pool,
            aux,
            guard,
            publisher,
            combiner: combine::Combiner::default(),
        })
    }

    /// sqlx's pool for work off the request path (export, import).
    fn aux_pool(&self) -> &PgPool {
        &self.aux
    }
}

/// The store methods written once (`flow_store.rs`): each write in its own transaction on a
/// guarded connection, its committed system message announced to other processes; reads on a
/// guarded connection.
impl Backend for PgStore {
    type Db = sqlx::Postgres;

    async fn write<C: FlowCall<sqlx::Postgres>>(&self, call: &C) -> StoreResult<C::Out> {
        let out = self
            .with_conn(async |conn| {
                if C::ONE_STATEMENT {
                    return call.run(conn).await;
                }
                let tx = sqlx::Connection::begin(conn).await?;
                commit_if(tx, async |c| call.run(c).await, C::keep).await
            })
            .await?;
        if let Some(message) = C::message(&out) {
            self.publisher.announce(message);
        }
        Ok(out)
    }

    async fn read<C: FlowCall<sqlx::Postgres>>(&self, call: &C) -> StoreResult<C::Out> {
        self.with_conn(async |conn| call.run(conn).await).await
    }
}

impl Dialect for sqlx::Postgres {
    type Stamp = DateTime<Utc>;

    const AUDIT: &'static str = "INSERT INTO audit_log (created_at, event, actor, session_id, details) \
         VALUES ($1, $2, $3, $4, $5::jsonb)";

    fn stamp(at: DateTime<Utc>) -> DateTime<Utc> {
        at
    }
}

#[async_trait]
impl CoreStore for PgStore {
    fn backend(&self) -> &'static str {
        "postgresql"
    }

    fn pool_stats(&self) -> PoolStats {
        let size = self.pool.size();
        let idle = self.pool.num_idle();
        let acquire = self.guard.acquire_histogram();
        PoolStats {
            size,
            idle,
            in_use: size.saturating_sub(idle),
            max: self.pool.max(),
            waiting: self.guard.waiting(),
            acquire_mean_ms: (acquire.mean() * 1000.0).round() / 1000.0,
            acquire_p99_ms: acquire.quantile(0.99),
            acquisitions: acquire.total(),
        }
    }

    fn acquire_histogram(&self) -> Option<crate::metrics::Histogram> {
        Some(self.guard.acquire_histogram())
    }

    async fn ping(&self) -> StoreResult<()> {
        self.with_conn(async |conn| {
            sqlx::query("SELECT 1").execute(conn).await?;
            Ok(())
        })
        .await
    }

    async fn server_version(&self) -> StoreResult<String> {
        let (v,): (String,) = self
            .with_conn(async |conn| {
                Ok(sqlx::query_as("SHOW server_version")
                    .fetch_one(conn)
                    .await?)
            })
            .await?;
        Ok(format!("PostgreSQL {v}"))
    }

    async fn close(&self) {
        self.guard.stop.cancel();
        self.pool.close().await;
        self.aux.close().await;
    }

    fn watch_changes(
        &self,
        notifier: crate::realtime::Notifier,
        stop: tokio_util::sync::CancellationToken,
    ) {
        tokio::spawn(watch::listen(self.aux.clone(), notifier, stop));
    }

    async fn announce_revocation(&self, token_hash: &str) -> StoreResult<()> {
        self.with_conn(async |conn| {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(watch::REVOCATIONS_CHANNEL)
                .bind(token_hash)
                .execute(conn)
                .await?;
            Ok(())
        })
        .await
    }

    async fn db_stats(&self) -> StoreResult<Value> {
        let ((connections, size, database), tables) = self
            .with_conn(async |conn| {
                let totals: (i64, i64, String) = sqlx::query_as(
                    "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()), \
                     pg_database_size(current_database()), current_database()",
                )
                .fetch_one(&mut *conn)
                .await?;
                let tables: Vec<(String, i64, i64)> = sqlx::query_as(
                    "SELECT c.relname::text, pg_total_relation_size(c.oid), GREATEST(c.reltuples, 0)::bigint \
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = 'shared_context' AND c.relkind = 'r' \
                     ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 5",
                )
                .fetch_all(&mut *conn)
                .await?;
                Ok((totals, tables))
            })
            .await?;
        Ok(serde_json::json!({
            "database": database,
            "connections": connections,
            "size_bytes": size,
            "largest_tables": tables.into_iter().map(|(name, bytes, rows)| serde_json::json!({
                "table": name, "total_bytes": bytes, "estimated_rows": rows,
            })).collect::<Vec<_>>(),
        }))
    }
}

/// Adds the likely fix to TLS and authentication failures, which sqlx reports tersely.
fn explain_connect_error(err: sqlx::Error) -> anyhow::Error {
    let text = err.to_string();
    let hint = if text.contains("certificate")
        || text.contains("UnknownIssuer")
        || text.contains("NotValidForName")
    {
        "; check sslrootcert (the CA that signed the server certificate) and, for sslmode=verify-full, \
         that the host name in the URL is one the certificate names"
    } else if text.contains("password authentication failed") || text.contains("no password") {
        "; check the user and password in DATABASE_URL (or POSTGRES_USER/POSTGRES_PASSWORD)"
    } else if text.contains("Connection refused") {
        "; is PostgreSQL running and listening on that host and port?"
    } else {
        ""
    };
    anyhow::anyhow!("{text}{hint}")
}
