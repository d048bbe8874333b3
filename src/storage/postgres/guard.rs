//! Availability and connection acquisition for PostgreSQL: a monitor pings on its own connection
//! every second, calls fail fast with `Unavailable` while the database is down (instead of
//! waiting out the pool timeout), and every acquisition is timed for health and metrics.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions as _, Connection as _};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::PgStore;
use super::pool::{ConnPool, PooledConn};
use crate::metrics::Histogram;
use crate::storage::{StoreError, StoreResult};

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub(super) struct Guard {
    up: watch::Sender<bool>,
    check_now: Notify,
    acquire: Mutex<Histogram>,
    waiting: AtomicU32,
    /// When the database last came back after an outage: connections older than that are suspect.
    recovered_at: Mutex<Option<Instant>>,
    pub(super) stop: CancellationToken,
}

/// Connections idle longer than this are pinged before use (pre-ping); busy ones are not, which
/// saves a round trip per call under load. After an outage every older connection is pinged.
const PRE_PING_AFTER_IDLE: Duration = Duration::from_secs(1);

impl Guard {
    pub(super) fn new() -> Self {
        Self {
            up: watch::Sender::new(true),
            check_now: Notify::new(),
            acquire: Mutex::new(Histogram::default()),
            waiting: AtomicU32::new(0),
            recovered_at: Mutex::new(None),
            stop: CancellationToken::new(),
        }
    }

    /// Whether an idle connection must be pinged before it is handed out.
    pub(super) fn needs_ping(&self, idle_for: Duration, age: Duration) -> bool {
        if idle_for > PRE_PING_AFTER_IDLE {
            return true;
        }
        let recovered = *self.recovered_at.lock().unwrap_or_else(|p| p.into_inner());
        recovered.is_some_and(|at| at.elapsed() < age)
    }

    pub(super) fn waiting(&self) -> u32 {
        self.waiting.load(Ordering::Relaxed)
    }

    pub(super) fn acquire_histogram(&self) -> Histogram {
        self.acquire
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Pings on a dedicated connection until stopped; flips availability both ways.
    pub(super) async fn monitor(&self, options: PgConnectOptions, interval: Duration) {
        let mut conn: Option<PgConnection> = None;
        loop {
            let healthy = tokio::time::timeout(PROBE_TIMEOUT, probe(&mut conn, &options))
                .await
                .unwrap_or(false);
            if !healthy {
                conn = None;
            }
            let was_up = self.up.send_replace(healthy);
            if was_up != healthy {
                if healthy {
                    *self.recovered_at.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(Instant::now());
                    tracing::info!("database is reachable again");
                } else {
                    tracing::warn!("database is unreachable; failing calls fast until it is back");
                }
            }
            tokio::select! {
                () = self.stop.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
                () = self.check_now.notified() => {}
            }
        }
    }
}

async fn probe(conn: &mut Option<PgConnection>, options: &PgConnectOptions) -> bool {
    if conn.is_none() {
        *conn = options.connect().await.ok();
    }
    match conn {
        Some(c) => c.ping().await.is_ok(),
        None => false,
    }
}

fn down() -> StoreError {
    StoreError::Unavailable("the database is unreachable".into())
}

impl PgStore {
    /// Runs `work` on a pooled connection (`Unavailable` at once while the database is down). The
    /// connection goes back without a round trip when `work` succeeds (see `pool.rs`).
    pub(super) async fn with_conn<T>(
        &self,
        work: impl AsyncFnOnce(&mut PgConnection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.guard.acquire(&self.pool).await?.run(work).await
    }
}

impl Guard {
    /// A connection from `pool`, timed; `Unavailable` at once while the database is down.
    pub(super) async fn acquire(&self, pool: &ConnPool) -> StoreResult<PooledConn> {
        let mut up = self.up.subscribe();
        if !*up.borrow_and_update() {
            return Err(down());
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let result = tokio::select! {
            r = pool.acquire(|idle, age| self.needs_ping(idle, age)) => r.map_err(StoreError::from),
            _ = up.wait_for(|is_up| !*is_up) => Err(down()),
        };
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        self.acquire
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(started.elapsed());
        if matches!(result, Err(StoreError::Unavailable(_))) {
            self.check_now.notify_one();
        }
        result
    }
}
