//! Leases on SQLite. Every grant runs in `BEGIN IMMEDIATE` on the single writer connection, which
//! serializes writers of every process on the file: the conflict check and the insert see the
//! same rows, so exactly one of many concurrent conflicting acquirers wins, and the fencing token
//! (the AUTOINCREMENT key) grows in grant order. Reads use the reader pool and take no lock.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::{SqliteStore, insert_audit, ts};
use crate::domain::lease::LeaseMode;
use crate::storage::lease::{decide, granted_details, lost_while_lapsed};
use crate::storage::reads::Reads;
use crate::storage::{
    AcquireOutcome, AuditEvent, LeaseRecord, LeaseRelease, LeaseRenewal, LeaseStore, NewLease,
    ReleaseOutcome, RenewOutcome, StoreError, StoreResult,
};
use crate::util::rfc3339;

const COLUMNS: &str =
    "lease_id, fencing_token, holder, session_id, mode, resources, reason, created_at, expires_at";

/// The live leases of a scope at $1 ($2 a session: its own and the global ones; NULL: all):
/// a range of the expiry index, whatever the number of expired rows. Public for the plan test.
pub const LIVE_LEASES: &str = "SELECT lease_id, fencing_token, holder, session_id, mode, resources, reason, created_at, expires_at \
     FROM leases INDEXED BY leases_expires_idx \
     WHERE expires_at > $1 AND ($2 IS NULL OR session_id IS NULL OR session_id = $2) ORDER BY expires_at";

type Row = (
    String,
    i64,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    String,
    String,
);

fn record(r: Row) -> StoreResult<LeaseRecord> {
    let resources: Vec<String> = serde_json::from_str(&r.5)
        .map_err(|e| StoreError::Internal(format!("bad lease resources in database: {e}")))?;
    Ok(LeaseRecord {
        lease_id: r.0,
        fencing_token: r.1,
        holder: r.2,
        session_id: r.3,
        mode: LeaseMode::from_stored(&r.4),
        resources,
        reason: r.6,
        created_at: ts(&r.7)?,
        expires_at: ts(&r.8)?,
    })
}

async fn live(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    session_id: Option<&str>,
) -> StoreResult<Vec<LeaseRecord>> {
    let rows: Vec<Row> = sqlx::query_as(LIVE_LEASES)
        .bind(rfc3339(now))
        .bind(session_id)
        .fetch_all(&mut *conn)
        .await?;
    rows.into_iter().map(record).collect()
}

async fn one(conn: &mut SqliteConnection, lease_id: &str) -> StoreResult<Option<LeaseRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM leases WHERE lease_id = $1");
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(lease_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(record).transpose()
}

/// Grants `new` on `conn`, inside the caller's `BEGIN IMMEDIATE` transaction.
pub(super) async fn acquire(
    conn: &mut SqliteConnection,
    new: &NewLease,
) -> StoreResult<AcquireOutcome> {
    if let Some(session) = &new.session_id {
        let state: Option<(bool,)> = sqlx::query_as("SELECT is_active FROM sessions WHERE id = $1")
            .bind(session)
            .fetch_optional(&mut *conn)
            .await?;
        match state {
            None => return Ok(AcquireOutcome::SessionMissing),
            Some((false,)) => return Ok(AcquireOutcome::SessionClosed),
            Some((true,)) => {}
        }
    }
    let current = live(conn, new.at, new.session_id.as_deref()).await?;
    let (conflicts, grant) = decide(new, &current);
    if !grant {
        return Ok(AcquireOutcome::Denied(conflicts));
    }
    let resources: Vec<&str> = new.resources.iter().map(|g| g.as_str()).collect();
    let (token,): (i64,) = sqlx::query_as(
        "INSERT INTO leases (lease_id, holder, session_id, mode, resources, reason, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING fencing_token",
    )
    .bind(&new.lease_id)
    .bind(&new.holder)
    .bind(&new.session_id)
    .bind(new.mode.as_str())
    .bind(serde_json::to_string(&resources).unwrap_or_else(|_| "[]".into()))
    .bind(&new.reason)
    .bind(rfc3339(new.at))
    .bind(rfc3339(new.expires_at))
    .fetch_one(&mut *conn)
    .await?;
    let lease = LeaseRecord {
        lease_id: new.lease_id.clone(),
        fencing_token: token,
        holder: new.holder.clone(),
        session_id: new.session_id.clone(),
        mode: new.mode,
        resources: resources.iter().map(|r| (*r).to_owned()).collect(),
        reason: new.reason.clone(),
        created_at: new.at,
        expires_at: new.expires_at,
    };
    let mut audit = AuditEvent::new(
        "lease_acquired",
        new.holder.clone(),
        granted_details(&lease, conflicts.len()),
    );
    audit.at = new.at;
    audit.session_id = new.session_id.clone();
    insert_audit(&mut *conn, &audit).await?;
    Ok(AcquireOutcome::Granted { lease, conflicts })
}

pub(super) async fn renew(
    conn: &mut SqliteConnection,
    r: &LeaseRenewal<'_>,
) -> StoreResult<RenewOutcome> {
    let Some(own) = one(conn, r.lease_id).await? else {
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
        .bind(rfc3339(r.expires_at))
        .execute(&mut *conn)
        .await?;
    let mut audit = AuditEvent::new(
        "lease_renewed",
        r.holder,
        serde_json::json!({"lease_id": r.lease_id, "expires_at": rfc3339(r.expires_at)}),
    );
    audit.at = r.at;
    audit.session_id = own.session_id.clone();
    insert_audit(&mut *conn, &audit).await?;
    Ok(RenewOutcome::Renewed(LeaseRecord {
        expires_at: r.expires_at,
        ..own
    }))
}

pub(super) async fn release(
    conn: &mut SqliteConnection,
    r: &LeaseRelease<'_>,
) -> StoreResult<ReleaseOutcome> {
    let Some(lease) = one(conn, r.lease_id).await? else {
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
    let mut audit = AuditEvent::new(
        "lease_released",
        r.actor,
        serde_json::json!({"lease_id": r.lease_id, "holder": lease.holder, "was_live": was_live}),
    );
    audit.at = r.at;
    audit.session_id = lease.session_id.clone();
    insert_audit(&mut *conn, &audit).await?;
    Ok(ReleaseOutcome::Released { lease, was_live })
}

#[async_trait]
impl LeaseStore for SqliteStore {
    async fn acquire_lease(&self, new: &NewLease) -> StoreResult<AcquireOutcome> {
        self.in_write_tx(async |conn| acquire(conn, new).await)
            .await
    }

    async fn renew_lease(&self, renewal: &LeaseRenewal<'_>) -> StoreResult<RenewOutcome> {
        self.in_write_tx(async |conn| renew(conn, renewal).await)
            .await
    }

    async fn release_lease(&self, release_: &LeaseRelease<'_>) -> StoreResult<ReleaseOutcome> {
        self.in_write_tx(async |conn| release(conn, release_).await)
            .await
    }

    async fn live_leases(
        &self,
        now: DateTime<Utc>,
        session_id: Option<&str>,
    ) -> StoreResult<Vec<LeaseRecord>> {
        let mut conn = self.reader.acquire().await?;
        live(&mut conn, now, session_id).await
    }

    async fn delete_expired_leases(&self, now: DateTime<Utc>, batch: u32) -> StoreResult<u64> {
        const SQL: &str = "DELETE FROM leases WHERE fencing_token IN (SELECT fencing_token FROM leases \
             INDEXED BY leases_expires_idx WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)";
        Reads::sweep(&self.writer, SQL, now, batch).await
    }
}
