//! Leases on SQLite: the dialect's statements ([`LeaseSql`]; the flow is
//! `storage/lease_flow.rs`, the store methods `storage/flow_store.rs`, the sweep `retention.rs`).
//! Every grant runs in `BEGIN IMMEDIATE` on the
//! single writer connection, which serializes writers of every process on the file: the conflict
//! check and the insert see the same rows, so exactly one of many concurrent conflicting acquirers
//! wins, and the fencing token (the AUTOINCREMENT key) grows in grant order. No grant lock beyond
//! that. Reads use the reader pool and take no lock.

use sqlx::{Sqlite, SqliteConnection};

use crate::storage::StoreResult;
use crate::storage::lease_flow::{LeaseSql, lease_columns};

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
