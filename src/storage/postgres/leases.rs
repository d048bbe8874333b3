//! Leases on PostgreSQL, correct under READ COMMITTED across any number of server processes.
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
use sqlx::PgConnection;
use sqlx::types::Json;

use super::PgStore;
use crate::domain::lease::LeaseMode;
use crate::storage::lease::{decide, granted_details, lost_while_lapsed};
use crate::storage::reads::Reads;
use crate::storage::{
    AcquireOutcome, LeaseRecord, LeaseRelease, LeaseRenewal, LeaseStore, NewLease, ReleaseOutcome,
    RenewOutcome, StoreResult,
};

/// The advisory lock key of lease grants ("SCSLEASE" in ASCII).
pub const GRANT_LOCK: i64 = 0x5343_534C_4541_5345;

/// The live leases of a scope at $1 ($2 a session, or NULL), through the function whose plan is an
/// index range scan whatever the statistics (migration 0011). Public for the plan test.
pub const LIVE_LEASES: &str = "SELECT lease_id, fencing_token, holder, session_id, mode, resources, reason, created_at, expires_at \
     FROM live_leases($1, $2)";

type Row = (
    String,
    i64,
    String,
    Option<String>,
    String,
    Vec<String>,
    Option<String>,
    DateTime<Utc>,
    DateTime<Utc>,
);

fn record(r: Row) -> LeaseRecord {
    LeaseRecord {
        lease_id: r.0,
        fencing_token: r.1,
        holder: r.2,
        session_id: r.3,
        mode: LeaseMode::from_stored(&r.4),
        resources: r.5,
        reason: r.6,
        created_at: r.7,
        expires_at: r.8,
    }
}

async fn live(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    session_id: Option<&str>,
) -> StoreResult<Vec<LeaseRecord>> {
    let rows: Vec<Row> = sqlx::query_as(LIVE_LEASES)
        .bind(now)
        .bind(session_id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.into_iter().map(record).collect())
}

async fn lock_grants(conn: &mut PgConnection) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(GRANT_LOCK)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

async fn audit(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
    event: &str,
    actor: &str,
    session_id: Option<&str>,
    details: serde_json::Value,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (created_at, event, actor, session_id, details) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(at)
    .bind(event)
    .bind(actor)
    .bind(session_id)
    .bind(Json(details))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Grants `new` inside the caller's transaction on `conn`.
pub(super) async fn acquire(
    conn: &mut PgConnection,
    new: &NewLease,
) -> StoreResult<AcquireOutcome> {
    lock_grants(conn).await?;
    if let Some(session) = &new.session_id {
        let state: Option<bool> =
            sqlx::query_scalar("SELECT is_active FROM sessions WHERE id = $1")
                .bind(session)
                .fetch_optional(&mut *conn)
                .await?;
        match state {
            None => return Ok(AcquireOutcome::SessionMissing),
            Some(false) => return Ok(AcquireOutcome::SessionClosed),
            Some(true) => {}
        }
    }
    let current = live(conn, new.at, new.session_id.as_deref()).await?;
    let (conflicts, grant) = decide(new, &current);
    if !grant {
        return Ok(AcquireOutcome::Denied(conflicts));
    }
    let resources: Vec<String> = new
        .resources
        .iter()
        .map(|g| g.as_str().to_owned())
        .collect();
    let token: i64 = sqlx::query_scalar(
        "INSERT INTO leases (lease_id, holder, session_id, mode, resources, reason, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING fencing_token",
    )
    .bind(&new.lease_id)
    .bind(&new.holder)
    .bind(&new.session_id)
    .bind(new.mode.as_str())
    .bind(&resources)
    .bind(&new.reason)
    .bind(new.at)
    .bind(new.expires_at)
    .fetch_one(&mut *conn)
    .await?;
    let lease = LeaseRecord {
        lease_id: new.lease_id.clone(),
        fencing_token: token,
        holder: new.holder.clone(),
        session_id: new.session_id.clone(),
        mode: new.mode,
        resources,
        reason: new.reason.clone(),
        created_at: new.at,
        expires_at: new.expires_at,
    };
    let details = granted_details(&lease, conflicts.len());
    audit(
        conn,
        new.at,
        "lease_acquired",
        &new.holder,
        new.session_id.as_deref(),
        details,
    )
    .await?;
    Ok(AcquireOutcome::Granted { lease, conflicts })
}

pub(super) async fn renew(
    conn: &mut PgConnection,
    r: &LeaseRenewal<'_>,
) -> StoreResult<RenewOutcome> {
    lock_grants(conn).await?;
    let row: Option<Row> = sqlx::query_as(
        "SELECT lease_id, fencing_token, holder, session_id, mode, resources, reason, created_at, expires_at \
         FROM leases WHERE lease_id = $1",
    )
    .bind(r.lease_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(own) = row.map(record) else {
        return Ok(RenewOutcome::NotFound);
    };
    if own.holder != r.holder || own.expires_at <= r.at {
        return Ok(RenewOutcome::NotFound);
    }
    if lost_while_lapsed(&own, &live(conn, r.at, own.session_id.as_deref()).await?) {
        return Ok(RenewOutcome::NotFound);
    }
    sqlx::query("UPDATE leases SET expires_at = $2 WHERE lease_id = $1")
        .bind(r.lease_id)
        .bind(r.expires_at)
        .execute(&mut *conn)
        .await?;
    let details = serde_json::json!({"lease_id": r.lease_id, "expires_at": crate::util::rfc3339(r.expires_at)});
    audit(
        conn,
        r.at,
        "lease_renewed",
        r.holder,
        own.session_id.as_deref(),
        details,
    )
    .await?;
    Ok(RenewOutcome::Renewed(LeaseRecord {
        expires_at: r.expires_at,
        ..own
    }))
}

pub(super) async fn release(
    conn: &mut PgConnection,
    r: &LeaseRelease<'_>,
) -> StoreResult<ReleaseOutcome> {
    // No grant lock: a release only ever removes a conflict.
    let row: Option<Row> = sqlx::query_as(
        "SELECT lease_id, fencing_token, holder, session_id, mode, resources, reason, created_at, expires_at \
         FROM leases WHERE lease_id = $1 FOR UPDATE",
    )
    .bind(r.lease_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(lease) = row.map(record) else {
        return Ok(ReleaseOutcome::Absent);
    };
    let was_live = lease.expires_at > r.at;
    if lease.holder != r.actor && !r.admin {
        return Ok(if was_live {
            ReleaseOutcome::HeldByOther(lease.holder)
        } else {
            ReleaseOutcome::Absent
        });
    }
    sqlx::query("DELETE FROM leases WHERE lease_id = $1")
        .bind(r.lease_id)
        .execute(&mut *conn)
        .await?;
    let details =
        serde_json::json!({"lease_id": r.lease_id, "holder": lease.holder, "was_live": was_live});
    audit(
        conn,
        r.at,
        "lease_released",
        r.actor,
        lease.session_id.as_deref(),
        details,
    )
    .await?;
    Ok(ReleaseOutcome::Released { lease, was_live })
}

impl PgStore {
    /// Runs one lease write in its own transaction.
    async fn in_tx<T: Send>(
        &self,
        work: impl AsyncFnOnce(&mut PgConnection) -> StoreResult<T> + Send,
    ) -> StoreResult<T> {
        self.with_conn(async |conn| {
            let mut tx = sqlx::Connection::begin(conn).await?;
            let out = work(&mut tx).await?;
            tx.commit().await?;
            Ok(out)
        })
        .await
    }
}

#[async_trait]
impl LeaseStore for PgStore {
    async fn acquire_lease(&self, new: &NewLease) -> StoreResult<AcquireOutcome> {
        self.in_tx(async |conn| acquire(conn, new).await).await
    }

    async fn renew_lease(&self, renewal: &LeaseRenewal<'_>) -> StoreResult<RenewOutcome> {
        self.in_tx(async |conn| renew(conn, renewal).await).await
    }

    async fn release_lease(&self, release_: &LeaseRelease<'_>) -> StoreResult<ReleaseOutcome> {
        self.in_tx(async |conn| release(conn, release_).await).await
    }

    async fn live_leases(
        &self,
        now: DateTime<Utc>,
        session_id: Option<&str>,
    ) -> StoreResult<Vec<LeaseRecord>> {
        self.with_conn(async |conn| live(conn, now, session_id).await)
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
