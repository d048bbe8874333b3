//! The read connections on SQLite, handed out without sqlx's pool. sqlx-sqlite runs each
//! connection on a thread of its own and every command is a round trip to that thread; its pool
//! adds two more to every statement run on `&pool`: a ping when the connection is taken
//! (`test_before_acquire`) and one when it is given back (always, in a spawned task). A ping
//! checks a socket on PostgreSQL; here it checks a thread that cannot have gone away, and on two
//! cores each round trip is two thread wake-ups. `Readers` keeps the idle connections in a list:
//! taking one is a semaphore permit and a pop, giving it back a push.
//!
//! `&Readers` is an `Executor`, so a read is written as on a pool (`fetch_all(&self.reader)`).
//! An in-memory database has one connection for everything; there `Readers` is the writer's pool.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream};
use futures_util::{StreamExt, TryStreamExt};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqlitePoolOptions, SqliteQueryResult, SqliteRow, SqliteStatement,
    SqliteTypeInfo,
};
use sqlx::{
    ConnectOptions, Connection, Describe, Either, Execute, Executor, SqlStr, Sqlite,
    SqliteConnection, SqlitePool, Transaction,
};
use tokio::sync::{Semaphore, SemaphorePermit};

pub(super) enum Readers {
    /// Read-only connections of a database file.
    Own(Box<Own>),
    /// The writer's pool (an in-memory database: one connection).
    Shared(SqlitePool),
}

pub(super) struct Own {
    options: SqliteConnectOptions,
    /// Connections not in use. Connections are opened when none is idle, up to `max`.
    idle: Mutex<Vec<SqliteConnection>>,
    /// One permit per connection that may be in use (`max` in all).
    permits: Semaphore,
    max: u32,
    acquire_timeout: Duration,
    /// For exports, which hold one read transaction for their whole run (a `Transaction` that
    /// owns its connection needs a pool); opened at the first export.
    snapshots: SqlitePool,
}

/// A read connection in use; back to the idle list when dropped.
pub(super) enum ReadConn<'a> {
    Own {
        conn: Option<SqliteConnection>,
        from: &'a Own,
        _permit: SemaphorePermit<'a>,
    },
    Shared(PoolConnection<Sqlite>),
}

impl Readers {
    /// Up to `max` read connections with `options`; one is opened now, so a bad file fails here.
    pub(super) async fn open(
        options: SqliteConnectOptions,
        max: u32,
        acquire_timeout: Duration,
    ) -> sqlx::Result<Self> {
        let first = options.connect().await?;
        let snapshots = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .acquire_timeout(acquire_timeout)
            .connect_lazy_with(options.clone());
        Ok(Self::Own(Box::new(Own {
            snapshots,
            options,
            idle: Mutex::new(vec![first]),
            permits: Semaphore::new(max as usize),
            max,
            acquire_timeout,
        })))
    }

    pub(super) async fn acquire(&self) -> sqlx::Result<ReadConn<'_>> {
        let own = match self {
            Self::Shared(pool) => return Ok(ReadConn::Shared(pool.acquire().await?)),
            Self::Own(own) => own,
        };
        let permit = tokio::time::timeout(own.acquire_timeout, own.permits.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = own.idle.lock().expect("reader list poisoned").pop();
        let conn = match idle {
            Some(conn) => conn,
            None => own.options.connect().await?,
        };
        Ok(ReadConn::Own {
            conn: Some(conn),
            from: own,
            _permit: permit,
        })
    }

    /// A read transaction that owns its connection (an export's snapshot).
    pub(super) async fn begin(&self) -> sqlx::Result<Transaction<'static, Sqlite>> {
        match self {
            Self::Shared(pool) => pool.begin().await,
            Self::Own(own) => own.snapshots.begin().await,
        }
    }

    /// Connections open, idle, and the most there may be.
    pub(super) fn stats(&self) -> (u32, usize, u32) {
        match self {
            Self::Shared(pool) => (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            ),
            Self::Own(own) => {
                let idle = own.idle.lock().expect("reader list poisoned").len();
                let in_use = own.max as usize - own.permits.available_permits();
                ((idle + in_use) as u32, idle, own.max)
            }
        }
    }

    /// Closes the idle connections and refuses new reads; one in use closes when given back.
    pub(super) async fn close(&self) {
        match self {
            Self::Shared(pool) => pool.close().await,
            Self::Own(own) => {
                own.permits.close();
                own.snapshots.close().await;
                let idle = std::mem::take(&mut *own.idle.lock().expect("reader list poisoned"));
                for conn in idle {
                    let _ = conn.close().await;
                }
            }
        }
    }
}

impl ReadConn<'_> {
    /// Drops the connection instead of giving it back (its worker thread is gone).
    fn discard_if_broken(&mut self, err: &sqlx::Error) {
        if let (Self::Own { conn, .. }, sqlx::Error::WorkerCrashed | sqlx::Error::Io(_)) =
            (self, err)
        {
            conn.take();
        }
    }
}

impl Drop for ReadConn<'_> {
    fn drop(&mut self) {
        if let Self::Own { conn, from, .. } = self
            && let Some(conn) = conn.take()
            && !from.permits.is_closed()
        {
            from.idle.lock().expect("reader list poisoned").push(conn);
        }
    }
}

impl Deref for ReadConn<'_> {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        match self {
            Self::Own { conn, .. } => conn.as_ref().expect("present until dropped"),
            Self::Shared(conn) => conn,
        }
    }
}

impl DerefMut for ReadConn<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        match self {
            Self::Own { conn, .. } => conn.as_mut().expect("present until dropped"),
            Self::Shared(conn) => conn,
        }
    }
}

impl fmt::Debug for Readers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (size, idle, max) = self.stats();
        write!(f, "Readers {{ size: {size}, idle: {idle}, max: {max} }}")
    }
}

type Step = Either<SqliteQueryResult, SqliteRow>;

impl<'p> Executor<'p> for &'p Readers {
    type Database = Sqlite;

    /// The rows are collected on the connection, then streamed: the connection is given back
    /// before the caller reads them (every read here collects them anyway).
    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, sqlx::Result<Step>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Sqlite>,
    {
        stream::once(async move {
            let mut conn = self.acquire().await?;
            let steps: sqlx::Result<Vec<Step>> = conn.fetch_many(query).try_collect().await;
            if let Err(e) = &steps {
                conn.discard_if_broken(e);
            }
            Ok::<_, sqlx::Error>(stream::iter(steps?.into_iter().map(Ok)))
        })
        .try_flatten()
        .boxed()
    }

    fn fetch_all<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, sqlx::Result<Vec<SqliteRow>>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Sqlite>,
    {
        Box::pin(async move {
            let mut conn = self.acquire().await?;
            let rows = conn.fetch_all(query).await;
            if let Err(e) = &rows {
                conn.discard_if_broken(e);
            }
            rows
        })
    }

    fn execute<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, sqlx::Result<SqliteQueryResult>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Sqlite>,
    {
        Box::pin(async move {
            let mut conn = self.acquire().await?;
            let done = conn.execute(query).await;
            if let Err(e) = &done {
                conn.discard_if_broken(e);
            }
            done
        })
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, sqlx::Result<Option<SqliteRow>>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Sqlite>,
    {
        Box::pin(async move {
            let mut conn = self.acquire().await?;
            let row = conn.fetch_optional(query).await;
            if let Err(e) = &row {
                conn.discard_if_broken(e);
            }
            row
        })
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [SqliteTypeInfo],
    ) -> BoxFuture<'e, sqlx::Result<SqliteStatement>>
    where
        'p: 'e,
    {
        Box::pin(async move { self.acquire().await?.prepare_with(sql, parameters).await })
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, sqlx::Result<Describe<Sqlite>>>
    where
        'p: 'e,
    {
        Box::pin(async move { self.acquire().await?.describe(sql).await })
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    async fn readers(max: u32) -> (Readers, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("scs-readers-{}-{max}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite:{}", dir.join("db.sqlite").display());
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true);
        let readers = Readers::open(options, max, Duration::from_secs(5))
            .await
            .unwrap();
        (readers, dir)
    }

    /// A read takes an idle connection and gives it back; a second connection opens only while
    /// the first is in use, and never more than `max`.
    #[tokio::test]
    async fn connections_are_reused_and_bounded() {
        let (readers, dir) = readers(2).await;
        for _ in 0..3 {
            let (n,): (i64,) = sqlx::query_as("SELECT 7")
                .fetch_one(&readers)
                .await
                .unwrap();
            assert_eq!(n, 7);
        }
        assert_eq!(readers.stats(), (1, 1, 2));
        let a = readers.acquire().await.unwrap();
        let b = readers.acquire().await.unwrap();
        assert_eq!(readers.stats(), (2, 0, 2));
        let third = tokio::time::timeout(Duration::from_millis(50), readers.acquire()).await;
        assert!(third.is_err(), "a third connection while max is 2");
        drop((a, b));
        assert_eq!(readers.stats(), (2, 2, 2));
        readers.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A read dropped while its statement runs leaves its connection usable by the next read.
    #[tokio::test]
    async fn a_cancelled_read_leaves_the_connection_usable() {
        let (readers, dir) = readers(1).await;
        let slow = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) \
                    SELECT count(*) FROM n";
        for _ in 0..3 {
            let read = sqlx::query_as::<_, (i64,)>(slow).fetch_one(&readers);
            let _ = tokio::time::timeout(Duration::from_micros(200), read).await;
        }
        let rows: Vec<(i64,)> = sqlx::query_as("SELECT 1 UNION ALL SELECT 2")
            .fetch_all(&readers)
            .await
            .unwrap();
        assert_eq!(rows, vec![(1,), (2,)]);
        assert_eq!(readers.stats(), (1, 1, 1));
        readers.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
