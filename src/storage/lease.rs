//! Leases: granting (with the conflict check in the same transaction), renewing, releasing and
//! the live leases of a scope (the sweep of expired ones is [`RetentionStore`]'s). The storage
//! side of `service::lease`, implemented once for both backends (`flow_store.rs` over
//! `lease_flow.rs`); the overlap rule itself is `domain::lease`.
//!
//! [`RetentionStore`]: super::RetentionStore

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::glob::Glob;
use crate::domain::lease::{Conflict, HeldLease, LeaseMode, OnConflict};

/// A lease to grant, validated.
#[derive(Debug, Clone)]
pub struct NewLease {
    pub lease_id: String,
    pub holder: String,
    /// `None`: a global lease (see `domain::lease` for what scope means).
    pub session_id: Option<String>,
    pub mode: LeaseMode,
    pub resources: Vec<Glob>,
    pub reason: Option<String>,
    pub on_conflict: OnConflict,
    pub at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Serialized as the result an idempotent grant stores and replays.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LeaseRecord {
    pub lease_id: String,
    pub fencing_token: i64,
    pub holder: String,
    pub session_id: Option<String>,
    pub mode: LeaseMode,
    pub resources: Vec<String>,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl LeaseRecord {
    pub fn held(&self) -> HeldLease {
        HeldLease {
            lease_id: self.lease_id.clone(),
            holder: self.holder.clone(),
            mode: self.mode,
            resources: self.resources.clone(),
            expires_at: self.expires_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum AcquireOutcome {
    /// Granted; `conflicts` is empty unless `on_conflict` was warn.
    Granted {
        lease: LeaseRecord,
        conflicts: Vec<Conflict>,
    },
    /// `on_conflict` deny and conflicts: nothing was written.
    Denied(Vec<Conflict>),
    SessionMissing,
    SessionClosed,
}

/// Extends `holder`'s live lease to `expires_at`.
#[derive(Debug, Clone)]
pub struct LeaseRenewal<'a> {
    pub lease_id: &'a str,
    pub holder: &'a str,
    pub at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RenewOutcome {
    Renewed(LeaseRecord),
    /// Not a live lease of the holder: expired, released, never granted, or another's. Also when
    /// it lapsed and another holder was granted an overlapping lease after it expired (the
    /// later grant wins; the renewal cannot take it back).
    NotFound,
}

/// Releases a lease as `actor` (its holder, or anyone when `admin`).
#[derive(Debug, Clone)]
pub struct LeaseRelease<'a> {
    pub lease_id: &'a str,
    pub actor: &'a str,
    pub admin: bool,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ReleaseOutcome {
    /// Deleted; `was_live` is false when it had already expired.
    Released { lease: LeaseRecord, was_live: bool },
    /// No such lease (released before, swept, or never granted).
    Absent,
    /// A live lease of this other holder; nothing was changed.
    HeldByOther(String),
}

#[async_trait]
pub trait LeaseStore: Send + Sync + 'static {
    /// Grants `new` unless it conflicts (deny), in one transaction that serializes conflicting
    /// grants across processes; audited.
    async fn acquire_lease(&self, new: &NewLease) -> StoreResult<AcquireOutcome>;
    async fn renew_lease(&self, renewal: &LeaseRenewal<'_>) -> StoreResult<RenewOutcome>;
    async fn release_lease(&self, release: &LeaseRelease<'_>) -> StoreResult<ReleaseOutcome>;
    /// Read-only, never a write lock: the leases live at `now` in the scope of `session_id`
    /// (its own and the global ones; `None`: every lease), soonest to expire first.
    async fn live_leases(
        &self,
        now: DateTime<Utc>,
        session_id: Option<&str>,
    ) -> StoreResult<Vec<LeaseRecord>>;
}

/// The decision both backends make once they hold the grant lock and have read the live leases
/// of the request's scope: the conflicts, and whether to write.
pub(crate) fn decide(new: &NewLease, live: &[LeaseRecord]) -> (Vec<Conflict>, bool) {
    let held: Vec<HeldLease> = live.iter().map(LeaseRecord::held).collect();
    let conflicts =
        crate::domain::lease::conflicts(&new.holder, &new.resources, new.mode, &held, None);
    let grant = conflicts.is_empty() || new.on_conflict == OnConflict::Warn;
    (conflicts, grant)
}

/// Whether a renewal must fail because its lease lapsed and another holder was granted an
/// overlapping lease after it expired (warn grants made while it was live do not count).
pub(crate) fn lost_while_lapsed(own: &LeaseRecord, live: &[LeaseRecord]) -> bool {
    let later: Vec<HeldLease> = live
        .iter()
        .filter(|l| l.lease_id != own.lease_id && l.created_at >= own.expires_at)
        .map(LeaseRecord::held)
        .collect();
    let mine: Vec<Glob> = own
        .resources
        .iter()
        .filter_map(|r| Glob::parse(r).ok())
        .collect();
    !crate::domain::lease::conflicts(&own.holder, &mine, own.mode, &later, None).is_empty()
}

/// The audit details of a grant.
pub(crate) fn granted_details(lease: &LeaseRecord, warned: usize) -> serde_json::Value {
    serde_json::json!({
        "lease_id": lease.lease_id,
        "fencing_token": lease.fencing_token,
        "mode": lease.mode.as_str(),
        "resources": lease.resources,
        "expires_at": crate::util::rfc3339(lease.expires_at),
        "conflicts_warned": warned,
    })
}
