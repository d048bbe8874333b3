//! The pool against a real PostgreSQL (`SCS_TEST_POSTGRES_URL`, as for the integration tests):
//! reuse without a round trip, the size limit and the acquire timeout, every doubtful return
//! checked, lifetimes, idle limits and the minimum, and what the server really has open.

use std::str::FromStr;

use super::*;
use crate::storage::StoreError;

fn admin_url() -> String {
    std::env::var("SCS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Connection options with an application_name of its own, so the test can count its
/// connections in pg_stat_activity.
fn options(tag: &str) -> PgConnectOptions {
    let name = format!("scs_pool_test_{tag}_{}", std::process::id());
    PgConnectOptions::from_str(&admin_url())
        .expect("SCS_TEST_POSTGRES_URL is a PostgreSQL URL")
        .application_name(&name)
}

fn settings(max: u32) -> Settings {
    Settings {
        max,
        min: 0,
        acquire_timeout: Duration::from_millis(300),
        max_lifetime: None,
        idle_timeout: None,
    }
}

async fn pid(conn: &mut PgConnection) -> i32 {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(conn)
        .await
        .expect("pg_backend_pid")
}

/// Connections the server has open under this test's application_name.
async fn open_on_server(admin: &mut PgConnection, options: &PgConnectOptions) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
        .bind(options.get_application_name().unwrap_or_default())
        .fetch_one(admin)
        .await
        .expect("pg_stat_activity")
}

async fn admin() -> PgConnection {
    PgConnection::connect(&admin_url())
        .await
        .expect("PostgreSQL is required: run scripts/test.sh, which starts it")
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn postgres_pool_reuses_released_connections_and_times_out_when_full() {
    let opts = options("reuse");
    let pool = ConnPool::connect(opts.clone(), settings(1)).await.unwrap();
    let mut held = pool.acquire(|_, _| false).await.unwrap();
    let first = pid(&mut held).await;

    // Full: a caller waits acquire_timeout, then gets PoolTimedOut, which callers see as
    // DATABASE_UNAVAILABLE (retryable).
    let started = Instant::now();
    let err = pool
        .acquire(|_, _| false)
        .await
        .err()
        .expect("the pool is full");
    let waited = started.elapsed();
    assert!(matches!(err, sqlx::Error::PoolTimedOut), "{err}");
    assert!(
        waited >= Duration::from_millis(290) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    assert!(matches!(StoreError::from(err), StoreError::Unavailable(_)));

    // A waiter gets the connection as soon as it is released.
    let waiter = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.acquire(|_, _| false).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    held.release();
    let mut next = waiter
        .await
        .unwrap()
        .expect("the waiter gets the released connection");
    assert_eq!(pid(&mut next).await, first, "the same connection, reused");
    next.release();
    assert_eq!((pool.size(), pool.num_idle(), pool.max()), (1, 1, 1));

    let mut admin = admin().await;
    assert_eq!(open_on_server(&mut admin, &opts).await, 1);
    pool.close().await;
    assert!(matches!(
        pool.acquire(|_, _| false).await,
        Err(sqlx::Error::PoolClosed)
    ));
    eventually(
        "the server shows no connection of the closed pool",
        async || open_on_server(&mut admin, &opts).await == 0,
    )
    .await;
}

#[tokio::test]
async fn postgres_pool_rolls_back_what_a_dropped_caller_left_open() {
    let opts = options("rollback");
    let pool = ConnPool::connect(opts.clone(), settings(1)).await.unwrap();
    let mut admin = admin().await;
    let key: i64 = 7_000_000 + i64::from(std::process::id());
    for release in [false, true] {
        let mut conn = pool.acquire(|_, _| false).await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(key)
            .execute(&mut *tx)
            .await
            .unwrap();
        // sqlx only queues the ROLLBACK of a dropped transaction; the pool must send it now,
        // not when the next caller happens to use this connection.
        drop(tx);
        if release {
            conn.release();
        } else {
            drop(conn);
        }
        eventually("the abandoned transaction's lock is free", async || {
            let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
                .bind(key)
                .fetch_one(&mut admin)
                .await
                .unwrap();
            got
        })
        .await;
        eventually("the checked connection is back", async || {
            pool.num_idle() == 1
        })
        .await;
        assert_eq!(pool.size(), 1, "release={release}");
    }
    pool.close().await;
}

#[tokio::test]
async fn postgres_pool_replaces_connections_the_server_closed() {
    let opts = options("terminated");
    let pool = ConnPool::connect(opts.clone(), settings(1)).await.unwrap();
    let mut admin = admin().await;
    let terminate = async |admin: &mut PgConnection, victim: i32| {
        sqlx::query("SELECT pg_terminate_backend($1)")
            .bind(victim)
            .execute(&mut *admin)
            .await
            .unwrap();
        eventually("the backend is gone", async || {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = $1")
                .bind(victim)
                .fetch_one(&mut *admin)
                .await
                .unwrap();
            n == 0
        })
        .await;
    };

    // An idle connection that must be pre-pinged is replaced without the caller noticing.
    let mut conn = pool.acquire(|_, _| false).await.unwrap();
    let victim = pid(&mut conn).await;
    conn.release();
    terminate(&mut admin, victim).await;
    let mut conn = pool.acquire(|_, _| true).await.unwrap();
    let replacement = pid(&mut conn).await;
    assert_ne!(replacement, victim);
    conn.release();

    // Without a pre-ping the caller's statement fails; dropped without release, the dead
    // connection is found dead and closed, and the next caller gets a new one.
    terminate(&mut admin, replacement).await;
    let mut conn = pool.acquire(|_, _| false).await.unwrap();
    assert!(
        sqlx::query("SELECT 1").execute(&mut *conn).await.is_err(),
        "the terminated connection fails"
    );
    drop(conn);
    eventually("the dead connection is closed", async || pool.size() == 0).await;
    let mut conn = pool.acquire(|_, _| false).await.unwrap();
    assert_ne!(pid(&mut conn).await, replacement);
    conn.release();
    assert_eq!(open_on_server(&mut admin, &opts).await, 1);
    pool.close().await;
}

#[tokio::test]
async fn postgres_pool_keeps_its_minimum_and_retires_old_and_idle_connections() {
    let opts = options("maintain");
    let settings = Settings {
        max: 4,
        min: 2,
        acquire_timeout: Duration::from_secs(5),
        max_lifetime: Some(Duration::from_millis(2500)),
        idle_timeout: Some(Duration::from_millis(500)),
    };
    let pool = ConnPool::connect(opts.clone(), settings).await.unwrap();
    let mut admin = admin().await;
    eventually("the minimum is open", async || {
        pool.size() == 2 && pool.num_idle() == 2
    })
    .await;

    // A burst opens up to max; afterwards the idle ones beyond the minimum are closed.
    let mut held = Vec::new();
    let mut first_pids = Vec::new();
    for _ in 0..4 {
        let mut conn = pool.acquire(|_, _| false).await.unwrap();
        first_pids.push(pid(&mut conn).await);
        held.push(conn);
    }
    assert_eq!(pool.size(), 4);
    assert_eq!(open_on_server(&mut admin, &opts).await, 4);
    held.into_iter().for_each(PooledConn::release);
    eventually(
        "idle connections beyond the minimum are closed",
        async || pool.size() == 2 && open_on_server(&mut admin, &opts).await == 2,
    )
    .await;

    // Past max_lifetime every connection is replaced, and the minimum is kept.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    eventually("old connections are replaced", async || {
        let mut a = pool.acquire(|_, _| false).await.unwrap();
        let mut b = pool.acquire(|_, _| false).await.unwrap();
        let fresh =
            !first_pids.contains(&pid(&mut a).await) && !first_pids.contains(&pid(&mut b).await);
        a.release();
        b.release();
        fresh
    })
    .await;
    assert!(pool.size() >= 2);
    pool.close().await;
}

#[tokio::test]
async fn postgres_pool_dropped_without_close_lets_its_connections_go() {
    let opts = options("dropped");
    let settings = Settings {
        min: 2,
        ..settings(3)
    };
    let pool = ConnPool::connect(opts.clone(), settings).await.unwrap();
    let mut admin = admin().await;
    eventually("the minimum is open", async || {
        open_on_server(&mut admin, &opts).await == 2
    })
    .await;
    let conn = pool.acquire(|_, _| false).await.unwrap();
    drop(pool);
    // A connection still in use when the pool goes is closed when it comes back.
    conn.release();
    eventually("no connection of the dropped pool is left", async || {
        open_on_server(&mut admin, &opts).await == 0
    })
    .await;
}

/// The one sqlx internal this pool relies on: `Connection::should_flush` (`#[doc(hidden)]`)
/// reports what sqlx queued but has not sent, such as the ROLLBACK of a dropped transaction.
/// `release` trusts it to hand back only connections with nothing pending; if sqlx changes what
/// it reports, this fails, and `release` must ping every connection again.
#[tokio::test]
async fn postgres_sqlx_should_flush_reports_a_queued_rollback() {
    let mut conn = options("flush").connect().await.expect("connect");
    let mut admin = admin().await;
    let key: i64 = 8_000_000 + i64::from(std::process::id());
    sqlx::query("SELECT 1").execute(&mut conn).await.unwrap();
    assert!(
        !conn.should_flush(),
        "nothing is pending after a completed statement"
    );

    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(key)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert!(
        !tx.should_flush(),
        "nothing is pending inside a transaction whose statements completed"
    );
    drop(tx);
    assert!(
        conn.should_flush(),
        "a dropped transaction's ROLLBACK is queued, not sent"
    );
    let free: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(key)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(!free, "the queued ROLLBACK has not reached the server yet");

    conn.ping().await.unwrap();
    assert!(!conn.should_flush(), "a ping sends what was queued");
    let free: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(key)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert!(free, "after the ping the transaction is rolled back");
    conn.close().await.unwrap();
}

#[tokio::test]
async fn postgres_pool_run_releases_only_when_the_work_succeeded() {
    let pool = ConnPool::connect(options("run"), settings(1))
        .await
        .unwrap();
    let conn = pool.acquire(|_, _| false).await.unwrap();
    let first = conn
        .run(async |c| Ok::<_, sqlx::Error>(pid(c).await))
        .await
        .unwrap();
    assert_eq!(pool.num_idle(), 1, "back at once, without a ping");

    let conn = pool.acquire(|_, _| false).await.unwrap();
    let failed = conn
        .run(async |c| sqlx::query("SELECT no_such_column").execute(c).await)
        .await;
    assert!(failed.is_err());
    // The test runtime is single-threaded: the background ping has not run yet.
    assert_eq!(
        pool.num_idle(),
        0,
        "a failed call's connection is checked first"
    );
    eventually("the checked connection is back", async || {
        pool.num_idle() == 1
    })
    .await;
    let mut conn = pool.acquire(|_, _| false).await.unwrap();
    assert_eq!(
        pid(&mut conn).await,
        first,
        "the same connection, checked and kept"
    );
    conn.release();
    pool.close().await;
}
