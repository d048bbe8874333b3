//! The connection pool of the request path: a connection that finished its work cleanly goes
//! back without a round trip to the database.
//!
//! sqlx's pool pings every connection on its way back (a Sync and its ReadyForQuery), whatever
//! the connection just did. Under the mixed benchmark that ping was about 12 % of all the CPU
//! spent per call, server and database together. Here every use of a connection goes through
//! [`PooledConn::run`], which gives it back without a ping once its work succeeded. A connection
//! whose work failed or was dropped mid-call, or with a rollback still queued, is pinged first, in
//! the background (which also sends what sqlx queued and drains any answer still on the way), and
//! closed if the ping fails.
//!
//! The one sqlx internal this relies on is `Connection::should_flush` (`#[doc(hidden)]`): whether
//! sqlx queued something it has not sent (a dropped transaction's ROLLBACK); such a connection is
//! pinged even when released. `postgres_sqlx_should_flush_reports_a_queued_rollback` in
//! `pool_tests.rs` fails if sqlx changes what it reports.
//!
//! When to delete this file: sqlx 0.9's `PoolConnection` pings on every return
//! (`return_to_pool` in sqlx-core's `pool/connection.rs`), and `after_release` runs before that
//! ping, not instead of it. Once sqlx stops pinging a connection with nothing pending on release,
//! or offers an option to skip that ping, go back to `PgPool` (the idle pre-ping of `guard.rs`
//! becomes `before_acquire`), and `PgStore::with_conn` becomes a plain acquire.
//!
//! Limits: at most `max` connections are open (idle, in use or being opened); a caller waits for
//! one at most `acquire_timeout` (FIFO), then gets `PoolTimedOut`. A background task closes
//! connections past `max_lifetime`, and idle ones past `idle_timeout` beyond `min`, and opens
//! connections up to `min`.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions as _, Connection as _};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A doubtful connection gets this long to answer its ping before it is closed.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(5);
/// How often lifetimes, idle times and the minimum are enforced.
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub max: u32,
    pub min: u32,
    pub acquire_timeout: Duration,
    pub max_lifetime: Option<Duration>,
    pub idle_timeout: Option<Duration>,
}

/// An open connection; dropping it closes it and frees its place in the pool.
///
/// It points back at its pool weakly: idle connections live inside the pool, and a strong
/// reference would keep a pool nobody holds (and its maintenance task) alive forever.
struct Live {
    conn: Option<PgConnection>,
    created: Instant,
    shared: Weak<Shared>,
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            shared.size.fetch_sub(1, Ordering::AcqRel);
        }
        if let (Some(conn), Ok(rt)) = (self.conn.take(), tokio::runtime::Handle::try_current()) {
            // Say goodbye (Terminate), so the server does not log an unexpected EOF.
            rt.spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(2), conn.close()).await;
            });
        }
    }
}

struct Idle {
    live: Live,
    since: Instant,
}

struct Shared {
    options: PgConnectOptions,
    settings: Settings,
    /// One permit per connection handed out or being opened for a caller.
    permits: Arc<Semaphore>,
    /// Most recently returned last: the busiest connections stay warm.
    idle: Mutex<Vec<Idle>>,
    /// Open connections: idle, in use, being opened or being checked.
    size: AtomicU32,
    closed: AtomicBool,
}

impl Shared {
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn expired(&self, created: Instant) -> bool {
        self.settings
            .max_lifetime
            .is_some_and(|max| created.elapsed() >= max)
    }

    /// Counts a connection about to be opened; its `Live` gives the place back when dropped.
    async fn open(self: &Arc<Self>) -> Result<Live, sqlx::Error> {
        self.size.fetch_add(1, Ordering::AcqRel);
        let mut live = Live {
            conn: None,
            created: Instant::now(),
            shared: Arc::downgrade(self),
        };
        live.conn = Some(self.options.connect().await?);
        Ok(live)
    }

    fn put_back(&self, live: Live) {
        if self.closed.load(Ordering::Acquire) || self.expired(live.created) {
            return;
        }
        self.idle().push(Idle {
            live,
            since: Instant::now(),
        });
    }
}

/// Cheap to clone: every clone is the same pool.
#[derive(Clone)]
pub(super) struct ConnPool(Arc<Shared>);

impl ConnPool {
    /// Opens one connection to prove the settings work, then keeps `min` open in the background.
    pub(super) async fn connect(
        options: PgConnectOptions,
        settings: Settings,
    ) -> Result<Self, sqlx::Error> {
        let shared = Arc::new(Shared {
            options,
            permits: Arc::new(Semaphore::new(settings.max.max(1) as usize)),
            settings,
            idle: Mutex::new(Vec::new()),
            size: AtomicU32::new(0),
            closed: AtomicBool::new(false),
        });
        let first = shared.open().await?;
        shared.put_back(first);
        tokio::spawn(maintain(Arc::downgrade(&shared)));
        Ok(Self(shared))
    }

    /// A connection within `acquire_timeout`, or `PoolTimedOut` (`PoolClosed` once closed).
    /// An idle connection for which `needs_ping(idle_for, age)` holds is pinged first, and
    /// replaced if it does not answer.
    pub(super) async fn acquire(
        &self,
        needs_ping: impl Fn(Duration, Duration) -> bool,
    ) -> Result<PooledConn, sqlx::Error> {
        let shared = &self.0;
        let deadline = tokio::time::Instant::now() + shared.settings.acquire_timeout;
        let permit =
            match tokio::time::timeout_at(deadline, shared.permits.clone().acquire_owned()).await {
                Err(_) => return Err(sqlx::Error::PoolTimedOut),
                Ok(Err(_)) => return Err(sqlx::Error::PoolClosed),
                Ok(Ok(permit)) => permit,
            };
        let live = tokio::time::timeout_at(deadline, self.checkout(&needs_ping))
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)??;
        Ok(PooledConn {
            live: Some(live),
            permit: Some(permit),
            clean: false,
        })
    }

    async fn checkout(
        &self,
        needs_ping: &impl Fn(Duration, Duration) -> bool,
    ) -> Result<Live, sqlx::Error> {
        let shared = &self.0;
        loop {
            if shared.closed.load(Ordering::Acquire) {
                return Err(sqlx::Error::PoolClosed);
            }
            let popped = shared.idle().pop();
            let Some(Idle { mut live, since }) = popped else {
                return shared.open().await;
            };
            if shared.expired(live.created) {
                continue;
            }
            if needs_ping(since.elapsed(), live.created.elapsed()) {
                let conn = live.conn.as_mut().expect("an idle connection is open");
                if conn.ping().await.is_err() {
                    continue;
                }
            }
            return Ok(live);
        }
    }

    pub(super) fn size(&self) -> u32 {
        self.0.size.load(Ordering::Acquire)
    }

    pub(super) fn num_idle(&self) -> u32 {
        self.0.idle().len() as u32
    }

    pub(super) fn max(&self) -> u32 {
        self.0.settings.max
    }

    /// Refuses new callers, wakes the waiting ones with `PoolClosed`, closes idle connections;
    /// connections in use close when they come back.
    pub(super) async fn close(&self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.permits.close();
        let idle: Vec<Idle> = std::mem::take(&mut *self.0.idle());
        for Idle { mut live, .. } in idle {
            if let Some(conn) = live.conn.take() {
                let _ = tokio::time::timeout(Duration::from_secs(2), conn.close()).await;
            }
        }
    }
}

/// Closes connections past their lifetime or idle too long (beyond `min`), and opens up to
/// `min`; ends when the pool is dropped or closed.
async fn maintain(shared: Weak<Shared>) {
    loop {
        tokio::time::sleep(MAINTENANCE_INTERVAL).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if shared.closed.load(Ordering::Acquire) {
            return;
        }
        let settings = &shared.settings;
        let retired: Vec<Idle> = {
            let mut idle = shared.idle();
            let mut open = shared.size.load(Ordering::Acquire);
            let (keep, retire): (Vec<Idle>, Vec<Idle>) =
                std::mem::take(&mut *idle).into_iter().partition(|entry| {
                    let too_old = shared.expired(entry.live.created);
                    let too_idle = open > settings.min
                        && settings
                            .idle_timeout
                            .is_some_and(|limit| entry.since.elapsed() >= limit);
                    if too_old || too_idle {
                        open = open.saturating_sub(1);
                        false
                    } else {
                        true
                    }
                });
            *idle = keep;
            retire
        };
        drop(retired);
        while shared.size.load(Ordering::Acquire) < settings.min {
            // A permit keeps the total within `max` while the connection is opened.
            let Ok(_permit) = shared.permits.clone().try_acquire_owned() else {
                break;
            };
            match shared.open().await {
                Ok(live) => shared.put_back(live),
                Err(err) => {
                    tracing::debug!(%err, "could not open a connection to keep the pool's minimum");
                    break;
                }
            }
        }
    }
}

/// A connection out of the pool, used through [`PooledConn::run`]: back to the pool without a
/// round trip when the work succeeded, pinged before anyone else gets it otherwise.
pub(super) struct PooledConn {
    live: Option<Live>,
    permit: Option<OwnedSemaphorePermit>,
    clean: bool,
}

impl PooledConn {
    /// Runs `work` on the connection, then gives the connection back: without a round trip when
    /// `work` succeeded (its statements completed), through the background ping when it failed,
    /// or when its future is dropped part-way.
    pub(super) async fn run<T, E>(
        mut self,
        work: impl AsyncFnOnce(&mut PgConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        let out = work(&mut self).await?;
        self.release();
        Ok(out)
    }

    /// Back to the pool without a round trip: the caller's statements completed, so nothing is
    /// pending on this connection (a rollback sqlx queued would still be flushed by a ping).
    fn release(mut self) {
        self.clean = !self.should_flush();
    }
}

impl std::ops::Deref for PooledConn {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        self.live
            .as_ref()
            .and_then(|l| l.conn.as_ref())
            .expect("a pooled connection is open until dropped")
    }
}

impl std::ops::DerefMut for PooledConn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.live
            .as_mut()
            .and_then(|l| l.conn.as_mut())
            .expect("a pooled connection is open until dropped")
    }
}

impl Drop for PooledConn {
    fn drop(&mut self) {
        let (Some(mut live), Some(permit)) = (self.live.take(), self.permit.take()) else {
            return;
        };
        let Some(shared) = live.shared.upgrade() else {
            return;
        };
        if self.clean {
            shared.put_back(live);
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        // The permit stays taken until the check ends, so the pool never exceeds `max`.
        rt.spawn(async move {
            let conn = live.conn.as_mut().expect("a pooled connection is open");
            if let Ok(Ok(())) = tokio::time::timeout(CLEANUP_TIMEOUT, conn.ping()).await {
                shared.put_back(live);
            }
            drop(permit);
        });
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
