//! The lease grant, renewal and release, written once for both backends over their statements
//! ([`LeaseSql`]): the row mapping, the session check, the conflict decision (`lease::decide`),
//! the holder rules and the audit rows. Each runs on a connection inside the caller's transaction
//! (the plain store methods and the idempotent path share them). What a backend supplies: how it
//! serialises grants (`LeaseSql::lock_grants`), how it locks one lease for a release, how it
//! reads the live leases of a scope (each pins its plan its own way), and how it stores the
//! resource list (`text[]` on PostgreSQL, a JSON array on SQLite: [`Resources`]).

use std::future::Future;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use sqlx::{Database, Decode, Encode, Executor, FromRow, IntoArguments, Type};

use super::lease::{decide, granted_details, lost_while_lapsed};
use super::reads::{Dialect, audit, session_state};
use super::*;
use crate::domain::lease::LeaseMode;

/// A lease's columns of `leases`, in [`LeaseRow`]'s order.
macro_rules! lease_columns {
    () => {
        "lease_id, fencing_token, holder, session_id, mode, resources, reason, created_at, expires_at"
    };
}
pub(crate) use lease_columns;

/// The statements and the locking that differ between the dialects.
pub(crate) trait LeaseSql: Dialect {
    /// The live leases of a scope at $1 ($2 a session: its own and the global ones; NULL: all),
    /// soonest to expire first.
    const LIVE: &'static str;
    /// Lease $1, locked until commit (for a release, which takes no grant lock).
    const LOCK_LEASE: &'static str;

    /// Serialises grants and renewals until commit, so the conflict check and the write see the
    /// same rows, also across processes.
    fn lock_grants(conn: &mut Self::Connection) -> impl Future<Output = StoreResult<()>> + Send;
}

const LEASE_BY_ID: &str = concat!(
    "SELECT ",
    lease_columns!(),
    " FROM leases WHERE lease_id = $1"
);
const INSERT_LEASE: &str = "INSERT INTO leases \
     (lease_id, holder, session_id, mode, resources, reason, created_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING fencing_token";
const EXTEND_LEASE: &str = "UPDATE leases SET expires_at = $2 WHERE lease_id = $1";
const DELETE_LEASE: &str = "DELETE FROM leases WHERE lease_id = $1";

/// A lease's resource globs as stored: a `text[]` on PostgreSQL, JSON array text on SQLite.
pub(crate) struct Resources(pub Vec<String>);

impl Type<sqlx::Postgres> for Resources {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <Vec<String> as Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <Vec<String> as Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl Encode<'_, sqlx::Postgres> for Resources {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <Vec<String> as Encode<sqlx::Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl Decode<'_, sqlx::Postgres> for Resources {
    fn decode(value: sqlx::postgres::PgValueRef<'_>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(Self(<Vec<String> as Decode<sqlx::Postgres>>::decode(
            value,
        )?))
    }
}

impl Type<sqlx::Sqlite> for Resources {
    fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
        <str as Type<sqlx::Sqlite>>::type_info()
    }

    fn compatible(ty: &sqlx::sqlite::SqliteTypeInfo) -> bool {
        <str as Type<sqlx::Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, sqlx::Sqlite> for Resources {
    fn encode_by_ref(
        &self,
        buf: &mut <sqlx::Sqlite as Database>::ArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        let json = serde_json::to_string(&self.0)?;
        <String as Encode<sqlx::Sqlite>>::encode(json, buf)
    }
}

impl Decode<'_, sqlx::Sqlite> for Resources {
    fn decode(value: sqlx::sqlite::SqliteValueRef<'_>) -> Result<Self, sqlx::error::BoxDynError> {
        let raw = <&str as Decode<sqlx::Sqlite>>::decode(value)?;
        Ok(Self(serde_json::from_str(raw).map_err(|e| {
            format!("bad lease resources in database: {e}")
        })?))
    }
}

/// A `leases` row ([`lease_columns!`]), decoded by column name.
#[derive(FromRow)]
pub(crate) struct LeaseRow {
    lease_id: String,
    fencing_token: i64,
    holder: String,
    session_id: Option<String>,
    mode: String,
    resources: Resources,
    reason: Option<String>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl From<LeaseRow> for LeaseRecord {
    fn from(r: LeaseRow) -> Self {
        Self {
            lease_id: r.lease_id,
            fencing_token: r.fencing_token,
            holder: r.holder,
            session_id: r.session_id,
            mode: LeaseMode::from_stored(&r.mode),
            resources: r.resources.0,
            reason: r.reason,
            created_at: r.created_at,
            expires_at: r.expires_at,
        }
    }
}

/// The writes and the live read; `LeaseFlow::<DB>::x(conn, …)`.
pub(crate) struct LeaseFlow<DB>(PhantomData<DB>);

impl<DB> LeaseFlow<DB>
where
    DB: LeaseSql,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    String: for<'q> Encode<'q, DB> + Type<DB>,
    Resources: for<'q> Encode<'q, DB> + Type<DB>,
    for<'r> LeaseRow: FromRow<'r, DB::Row>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> (bool,): FromRow<'r, DB::Row>,
{
    pub(crate) async fn live<'c>(
        exec: impl Executor<'c, Database = DB>,
        now: DateTime<Utc>,
        session_id: Option<&str>,
    ) -> StoreResult<Vec<LeaseRecord>> {
        let rows: Vec<LeaseRow> = sqlx::query_as(DB::LIVE)
            .bind(DB::stamp(now))
            .bind(session_id)
            .fetch_all(exec)
            .await?;
        Ok(rows.into_iter().map(LeaseRecord::from).collect())
    }

    async fn one(
        conn: &mut DB::Connection,
        sql: &'static str,
        lease_id: &str,
    ) -> StoreResult<Option<LeaseRecord>> {
        let row: Option<LeaseRow> = sqlx::query_as(sql)
            .bind(lease_id)
            .fetch_optional(&mut *conn)
            .await?;
        Ok(row.map(LeaseRecord::from))
    }

    /// Grants `new` unless it conflicts (deny), under the grant lock.
    pub(crate) async fn acquire(
        conn: &mut DB::Connection,
        new: &NewLease,
    ) -> StoreResult<AcquireOutcome> {
        DB::lock_grants(conn).await?;
        if let Some(session) = &new.session_id {
            match session_state::<DB>(&mut *conn, session).await? {
                None => return Ok(AcquireOutcome::SessionMissing),
                Some(false) => return Ok(AcquireOutcome::SessionClosed),
                Some(true) => {}
            }
        }
        let current = Self::live(&mut *conn, new.at, new.session_id.as_deref()).await?;
        let (conflicts, grant) = decide(new, &current);
        if !grant {
            return Ok(AcquireOutcome::Denied(conflicts));
        }
        let resources: Vec<String> = new
            .resources
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect();
        let resources = Resources(resources);
        let (token,): (i64,) = sqlx::query_as(INSERT_LEASE)
            .bind(new.lease_id.as_str())
            .bind(new.holder.as_str())
            .bind(new.session_id.as_deref())
            .bind(new.mode.as_str())
            .bind(&resources)
            .bind(new.reason.as_deref())
            .bind(DB::stamp(new.at))
            .bind(DB::stamp(new.expires_at))
            .fetch_one(&mut *conn)
            .await?;
        let lease = LeaseRecord {
            lease_id: new.lease_id.clone(),
            fencing_token: token,
            holder: new.holder.clone(),
            session_id: new.session_id.clone(),
            mode: new.mode,
            resources: resources.0,
            reason: new.reason.clone(),
            created_at: new.at,
            expires_at: new.expires_at,
        };
        let details = granted_details(&lease, conflicts.len());
        let session = new.session_id.as_deref();
        audit::<DB>(
            conn,
            new.at,
            "lease_acquired",
            &new.holder,
            session,
            details,
        )
        .await?;
        Ok(AcquireOutcome::Granted { lease, conflicts })
    }

    /// Extends the holder's live lease, unless it lapsed and lost its resources meanwhile.
    pub(crate) async fn renew(
        conn: &mut DB::Connection,
        r: &LeaseRenewal<'_>,
    ) -> StoreResult<RenewOutcome> {
        DB::lock_grants(conn).await?;
        let Some(own) = Self::one(conn, LEASE_BY_ID, r.lease_id).await? else {
            return Ok(RenewOutcome::NotFound);
        };
        if own.holder != r.holder || own.expires_at <= r.at {
            return Ok(RenewOutcome::NotFound);
        }
        let live = Self::live(&mut *conn, r.at, own.session_id.as_deref()).await?;
        if lost_while_lapsed(&own, &live) {
            return Ok(RenewOutcome::NotFound);
        }
        sqlx::query(EXTEND_LEASE)
            .bind(r.lease_id)
            .bind(DB::stamp(r.expires_at))
            .execute(&mut *conn)
            .await?;
        let details = serde_json::json!({"lease_id": r.lease_id,
            "expires_at": crate::util::rfc3339(r.expires_at)});
        let session = own.session_id.as_deref();
        audit::<DB>(conn, r.at, "lease_renewed", r.holder, session, details).await?;
        Ok(RenewOutcome::Renewed(LeaseRecord {
            expires_at: r.expires_at,
            ..own
        }))
    }

    /// Deletes the lease when the actor holds it (or is an admin). No grant lock: a release only
    /// ever removes a conflict.
    pub(crate) async fn release(
        conn: &mut DB::Connection,
        r: &LeaseRelease<'_>,
    ) -> StoreResult<ReleaseOutcome> {
        let Some(lease) = Self::one(conn, DB::LOCK_LEASE, r.lease_id).await? else {
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
        sqlx::query(DELETE_LEASE)
            .bind(r.lease_id)
            .execute(&mut *conn)
            .await?;
        let details = serde_json::json!({"lease_id": r.lease_id, "holder": lease.holder,
            "was_live": was_live});
        let session = lease.session_id.as_deref();
        audit::<DB>(conn, r.at, "lease_released", r.actor, session, details).await?;
        Ok(ReleaseOutcome::Released { lease, was_live })
    }
}
