//! Leases on PostgreSQL, correct under READ COMMITTED across any number of server processes: the
//! dialect's statements and grant lock ([`LeaseSql`]; the flow is `storage/lease_flow.rs`) and
//! the store methods.
//!
//! A grant takes a transaction-level advisory lock ([`GRANT_LOCK`]) before it reads the live
//! leases, then checks for conflicts (`domain::lease`) and inserts, and the lock is released by the
//! commit. The lock is its own statement: under READ COMMITTED each statement reads a snapshot
//! taken when it starts, so a read in the statement that waited for the lock could miss the grant
//! committed while it waited. Why one lock rather than row locks: the rows that could conflict
//! with a glob are not known before reading them all (two globs overlap by their shape, not by a
//! key), so there is no row to lock, and SERIALIZABLE would abort and retry instead of queueing.
//! The lock serializes grants only (renewals too, which re-check); reads (`live_leases`) and
//! releases never wait for it. Its cost is measured in docs/BENCHMARKS.md (leases section).
//! The fencing token is the identity sequence, drawn under the lock, so it also increases in
//! commit order.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres};

use super::PgStore;
use crate::storage::lease_flow::{LeaseFlow, LeaseSql, lease_columns};
use crate::storage::reads::Reads;
use crate::storage::writes::commit_if;
use crate::storage::{
    AcquireOutcome, LeaseRecord, LeaseRelease, LeaseRenewal, LeaseStore, NewLease, ReleaseOutcome,
    RenewOutcome, StoreResult,
};

/// The advisory lock key of lease grants ("SCSLEASE" in ASCII).
pub const GRANT_LOCK: i64 = 0x5343_534C_4541_5345;

/// The live leases of a scope at $1 ($2 a session, or NULL), through the function whose plan is an
/// index range scan whatever the statistics (migration 0011). Public for the plan test.
pub const LIVE_LEASES: &str = concat!("SELECT ", lease_columns!(), " FROM live_leases($1, $2)");

impl LeaseSql for Postgres {
    const LIVE: &'static str = LIVE_LEASES;
    const LOCK_LEASE: &'static str = concat!(
        "SELECT ",
        lease_columns!(),
        " FROM leases WHERE lease_id = $1 FOR UPDATE"
    );

    async fn lock_grants(conn: &mut PgConnection) -> StoreResult<()> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(GRANT_LOCK)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

impl PgStore {
    /// Runs one lease write in its own transaction.
    async fn in_tx<T: Send>(
        &self,
        work: impl AsyncFnOnce(&mut PgConnection) -> StoreResult<T> + Send,
    ) -> StoreResult<T> {
        self.with_conn(async |conn| {
            commit_if(sqlx::Connection::begin(conn).await?, work, |_| true).await
        })
        .await
    }
}

#[async_trait]
impl LeaseStore for PgStore {
    async fn acquire_lease(&self, new: &NewLease) -> StoreResult<AcquireOutcome> {
        self.in_tx(async |conn| LeaseFlow::<Postgres>::acquire(conn, new).await)
            .await
    }

    async fn renew_lease(&self, renewal: &LeaseRenewal<'_>) -> StoreResult<RenewOutcome> {
        self.in_tx(async |conn| LeaseFlow::<Postgres>::renew(conn, renewal).await)
            .await
    }

    async fn release_lease(&self, release: &LeaseRelease<'_>) -> StoreResult<ReleaseOutcome> {
        self.in_tx(async |conn| LeaseFlow::<Postgres>::release(conn, release).await)
            .await
    }

    async fn live_leases(
        &self,
        now: DateTime<Utc>,
        session_id: Option<&str>,
    ) -> StoreResult<Vec<LeaseRecord>> {
        self.with_conn(async |conn| LeaseFlow::<Postgres>::live(conn, now, session_id).await)
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
