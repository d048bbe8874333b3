//! Leases on SQLite: the dialect's statements ([`LeaseSql`]; the flow is
//! `storage/lease_flow.rs`) and the store methods. Every grant runs in `BEGIN IMMEDIATE` on the
//! single writer connection, which serializes writers of every process on the file: the conflict
//! check and the insert see the same rows, so exactly one of many concurrent conflicting acquirers
//! wins, and the fencing token (the AUTOINCREMENT key) grows in grant order. No grant lock beyond
//! that. Reads use the reader pool and take no lock.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Sqlite, SqliteConnection};

use super::SqliteStore;
use crate::storage::lease_flow::{LeaseFlow, LeaseSql, lease_columns};
use crate::storage::reads::Reads;
use crate::storage::{
    AcquireOutcome, LeaseRecord, LeaseRelease, LeaseRenewal, LeaseStore, NewLease, ReleaseOutcome,
    RenewOutcome, StoreResult,
};

/// The live leases of a scope at $1 ($2 a session: its own and the global ones; NULL: all):
/// a range of the expiry index, whatever the number of expired rows. Public for the plan test.
pub const LIVE_LEASES: &str = concat!(
    "SELECT ",
    lease_columns!(),
    " FROM leases INDEXED BY leases_expires_idx \
     WHERE expires_at > $1 AND ($2 IS NULL OR session_id IS NULL OR session_id = $2) ORDER BY expires_at"
);

impl LeaseSql for Sqlite {
    const LIVE: &'static str = LIVE_LEASES;
    /// The writer's transaction already holds the database's write lock.
    const LOCK_LEASE: &'static str = concat!(
        "SELECT ",
        lease_columns!(),
        " FROM leases WHERE lease_id = $1"
    );

    /// Nothing to take: `BEGIN IMMEDIATE` on the single writer serialises every write.
    async fn lock_grants(_conn: &mut SqliteConnection) -> StoreResult<()> {
        Ok(())
    }
}

#[async_trait]
impl LeaseStore for SqliteStore {
    async fn acquire_lease(&self, new: &NewLease) -> StoreResult<AcquireOutcome> {
        self.in_write_tx(async |conn| LeaseFlow::<Sqlite>::acquire(conn, new).await)
            .await
    }

    async fn renew_lease(&self, renewal: &LeaseRenewal<'_>) -> StoreResult<RenewOutcome> {
        self.in_write_tx(async |conn| LeaseFlow::<Sqlite>::renew(conn, renewal).await)
            .await
    }

    async fn release_lease(&self, release: &LeaseRelease<'_>) -> StoreResult<ReleaseOutcome> {
        self.in_write_tx(async |conn| LeaseFlow::<Sqlite>::release(conn, release).await)
            .await
    }

    async fn live_leases(
        &self,
        now: DateTime<Utc>,
        session_id: Option<&str>,
    ) -> StoreResult<Vec<LeaseRecord>> {
        LeaseFlow::<Sqlite>::live(&self.reader, now, session_id).await
    }

    async fn delete_expired_leases(&self, now: DateTime<Utc>, batch: u32) -> StoreResult<u64> {
        const SQL: &str = "DELETE FROM leases WHERE fencing_token IN (SELECT fencing_token FROM leases \
             INDEXED BY leases_expires_idx WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)";
        Reads::sweep(&self.writer, SQL, now, batch).await
    }
}
