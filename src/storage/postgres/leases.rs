//! Leases on PostgreSQL, correct under READ COMMITTED across any number of server processes: the
//! dialect's statements and grant lock ([`LeaseSql`]; the flow is `storage/lease_flow.rs`, the
//! store methods `storage/flow_store.rs`, the sweep `retention.rs`).
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

use sqlx::{PgConnection, Postgres};

use crate::storage::StoreResult;
use crate::storage::lease_flow::{LeaseSql, lease_columns};

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
