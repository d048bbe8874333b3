//! Lease use-cases: `acquire_lease` (grant or renew), `release_lease`, `check_leases`, and the
//! sweeper of expired leases. Permissions and validation here; the conflict rule is
//! `domain::lease`, applied by storage inside the granting transaction.
//!
//! Visibility: a lease of a session is readable by whoever can read the session (any caller with
//! read permission, as for the session itself); a global lease by any caller with read
//! permission. Acquiring needs write permission and an agent identity (the holder).

use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::Service;
use super::idempotency::{Keyed, replayed, stored, unexpected};
use crate::domain::glob::Glob;
use crate::domain::lease::{
    self, Conflict, DEFAULT_MAX_TTL_SECONDS, LeaseMode, OnConflict, parse_lease_id, parse_reason,
    parse_resources, parse_ttl,
};
use crate::domain::{DomainError, ErrorCode, Identity, Permission, SessionId};
use crate::storage::{
    AcquireOutcome, IdempotentWrite, LeaseRecord, LeaseRelease, LeaseRenewal, NewLease,
    ReleaseOutcome, RenewOutcome, StoreError, WriteResult,
};
use crate::util::rfc3339;

/// How many expired leases one sweeper statement deletes.
pub const LEASE_SWEEP_BATCH: u32 = 500;
/// At most this many leases are listed by one `check_leases` (the rest are counted).
pub const CHECK_LEASES_MAX: usize = 200;

/// Lease settings from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseSettings {
    /// `MAX_LEASE_TTL_SECONDS`: the longest TTL a grant or renewal may ask for.
    pub max_ttl_seconds: u32,
    /// How often expired leases are deleted; `None` turns the sweeper off (they are still
    /// ignored from the moment they expire).
    pub sweep_interval: Option<Duration>,
}

impl Default for LeaseSettings {
    fn default() -> Self {
        Self {
            max_ttl_seconds: DEFAULT_MAX_TTL_SECONDS,
            sweep_interval: Some(Duration::from_secs(60)),
        }
    }
}

pub struct AcquireLease {
    pub resources: Option<Vec<String>>,
    pub mode: Option<String>,
    pub ttl_seconds: Option<i64>,
    pub reason: Option<String>,
    pub session_id: Option<String>,
    pub on_conflict: Option<String>,
    pub lease_id: Option<String>,
    pub idempotency_key: Option<String>,
}

fn holder(who: &Identity) -> Result<String, DomainError> {
    who.require(Permission::Write)?;
    who.agent_id()
        .map(|a| a.as_str().to_owned())
        .ok_or_else(|| {
            DomainError::new(
                ErrorCode::PermissionDenied,
                "a lease is held by an agent, and this call has no agent identity",
            )
            .suggest("call authenticate_agent first and pass its token as auth_token")
        })
}

pub fn render_conflict(c: &Conflict) -> Value {
    json!({"resource": c.resource, "held_by": c.held_by, "lease_id": c.lease_id,
           "expires_at": rfc3339(c.expires_at), "held_resource": c.held_resource})
}

/// What `acquire_lease` answers: the lease granted or renewed, and (with on_conflict=warn) the
/// overlaps it was granted despite. Serialized as the result an idempotent call stores and replays.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LeaseGrant {
    pub lease: LeaseRecord,
    pub conflicts: Vec<Conflict>,
    pub renewed: bool,
}

/// What `release_lease` answers; `released` is false when the lease was no longer held.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReleasedLease {
    pub lease_id: String,
    pub released: bool,
}

fn denied(conflicts: &[Conflict]) -> DomainError {
    let first = &conflicts[0];
    let others = conflicts.len() - 1;
    DomainError::new(
        ErrorCode::LeaseConflict,
        format!(
            "nothing was granted: '{}' overlaps '{}', held by {} until {}{}",
            first.resource,
            first.held_resource,
            first.held_by,
            rfc3339(first.expires_at),
            if others > 0 {
                format!(" (and {others} more overlaps, in conflicts)")
            } else {
                String::new()
            }
        ),
    )
    .suggest(ErrorCode::LeaseConflict.default_suggestion())
    .suggest(
        "on_conflict=\"warn\" grants anyway and lists the overlaps (only when sharing is safe)",
    )
    .detail(
        "conflicts",
        conflicts.iter().map(render_conflict).collect::<Vec<_>>(),
    )
}

fn not_found(lease_id: &str) -> DomainError {
    DomainError::new(
        ErrorCode::LeaseNotFound,
        format!("you hold no live lease '{lease_id}': it expired, was released, or is not yours"),
    )
    .suggest("acquire_lease with the resources and no lease_id to take a new lease")
}

impl Service {
    pub fn lease_settings(&self) -> &LeaseSettings {
        &self.inner.leases
    }

    /// `acquire_lease`: a new lease, or with `lease_id` the renewal of the caller's own.
    pub async fn acquire_lease(
        &self,
        who: &Identity,
        input: AcquireLease,
    ) -> Result<LeaseGrant, DomainError> {
        let holder = holder(who)?;
        let ttl = parse_ttl(input.ttl_seconds, self.lease_settings().max_ttl_seconds)?;
        if let Some(raw) = input.lease_id.clone() {
            return self.renew_lease(who, &holder, &raw, ttl, input).await;
        }
        let resources = parse_resources(input.resources.as_deref().unwrap_or_default())?;
        let mode = LeaseMode::parse(input.mode.as_deref())?;
        let on_conflict = OnConflict::parse(input.on_conflict.as_deref())?;
        let reason = parse_reason(input.reason.as_deref())?;
        let session_id = input
            .session_id
            .as_deref()
            .map(SessionId::parse)
            .transpose()?;
        let names: Vec<&str> = resources.iter().map(Glob::as_str).collect();
        let retry = self.retry_key(who, input.idempotency_key.as_deref(), "acquire_lease", || {
            json!({"resources": names, "mode": mode.as_str(), "ttl_seconds": ttl, "reason": reason,
                   "session_id": session_id.as_ref().map(SessionId::as_str),
                   "on_conflict": matches!(on_conflict, OnConflict::Warn)})
        })?;
        let at = self.now();
        let new = NewLease {
            lease_id: lease::generate_lease_id(),
            holder,
            session_id: session_id.as_ref().map(|s| s.as_str().to_owned()),
            mode,
            resources,
            reason,
            on_conflict,
            at,
            expires_at: at + chrono::Duration::seconds(i64::from(ttl)),
        };
        let keep = |r: &WriteResult| match r {
            WriteResult::Lease(AcquireOutcome::Granted { lease, conflicts }) => {
                stored(&LeaseGrant {
                    lease: lease.clone(),
                    conflicts: conflicts.clone(),
                    renewed: false,
                })
            }
            _ => None,
        };
        let outcome = match &retry {
            None => self.store().acquire_lease(&new).await?,
            Some(retry) => {
                match self
                    .write_once(retry, IdempotentWrite::AcquireLease(&new), &keep)
                    .await?
                {
                    Keyed::Replayed(body) => return replayed(body),
                    Keyed::Fresh(WriteResult::Lease(outcome)) => outcome,
                    Keyed::Fresh(other) => return Err(unexpected(&other)),
                }
            }
        };
        match outcome {
            AcquireOutcome::Granted { lease, conflicts } => Ok(LeaseGrant {
                lease,
                conflicts,
                renewed: false,
            }),
            AcquireOutcome::Denied(conflicts) => Err(denied(&conflicts)),
            AcquireOutcome::SessionMissing => Err(DomainError::session_not_found(
                new.session_id.as_deref().unwrap_or_default(),
            )),
            AcquireOutcome::SessionClosed => Err(DomainError::new(
                ErrorCode::SessionClosed,
                "the session is closed; no new leases are granted in it",
            )
            .suggest("leave session_id out for a global lease, or use an open session")),
        }
    }

    async fn renew_lease(
        &self,
        who: &Identity,
        holder: &str,
        raw_id: &str,
        ttl: u32,
        input: AcquireLease,
    ) -> Result<LeaseGrant, DomainError> {
        let lease_id = parse_lease_id(raw_id)?;
        let fixed = [
            ("mode", input.mode.is_some()),
            ("on_conflict", input.on_conflict.is_some()),
            ("session_id", input.session_id.is_some()),
            ("reason", input.reason.is_some()),
            ("resources", input.resources.is_some()),
        ];
        if let Some((name, _)) = fixed.iter().find(|(_, given)| *given) {
            return Err(DomainError::invalid(format!(
                "{name} cannot change on renewal: a lease keeps its resources, mode, scope and reason"
            ))
            .suggest("renew with just lease_id and ttl_seconds, or release it and acquire a new lease"));
        }
        let retry = self.retry_key(
            who,
            input.idempotency_key.as_deref(),
            "acquire_lease",
            || json!({"lease_id": lease_id, "ttl_seconds": ttl}),
        )?;
        let at = self.now();
        let renewal = LeaseRenewal {
            lease_id: &lease_id,
            holder,
            at,
            expires_at: at + chrono::Duration::seconds(i64::from(ttl)),
        };
        let renewed = |lease: LeaseRecord| LeaseGrant {
            lease,
            conflicts: Vec::new(),
            renewed: true,
        };
        let outcome = match &retry {
            None => self.store().renew_lease(&renewal).await?,
            Some(retry) => match self
                .write_once(retry, IdempotentWrite::RenewLease(&renewal), &|r| match r {
                    WriteResult::Renewed(RenewOutcome::Renewed(l)) => stored(&renewed(l.clone())),
                    _ => None,
                })
                .await?
            {
                Keyed::Replayed(body) => return replayed(body),
                Keyed::Fresh(WriteResult::Renewed(outcome)) => outcome,
                Keyed::Fresh(other) => return Err(unexpected(&other)),
            },
        };
        match outcome {
            RenewOutcome::Renewed(l) => Ok(renewed(l)),
            RenewOutcome::NotFound => Err(not_found(&lease_id)),
        }
    }

    /// `release_lease`: by its holder or an admin; releasing a lease that is no longer held
    /// succeeds with `released: false`.
    pub async fn release_lease(
        &self,
        who: &Identity,
        raw_id: &str,
        idempotency_key: Option<&str>,
    ) -> Result<ReleasedLease, DomainError> {
        let actor = holder(who)?;
        let lease_id = parse_lease_id(raw_id)?;
        let retry = self.retry_key(
            who,
            idempotency_key,
            "release_lease",
            || json!({"lease_id": lease_id}),
        )?;
        let release = LeaseRelease {
            lease_id: &lease_id,
            actor: &actor,
            admin: who.is_admin(),
            at: self.now(),
        };
        let render = |released: bool| ReleasedLease {
            lease_id: lease_id.clone(),
            released,
        };
        let outcome = match &retry {
            None => self.store().release_lease(&release).await?,
            Some(retry) => match self
                .write_once(
                    retry,
                    IdempotentWrite::ReleaseLease(&release),
                    &|r| match r {
                        WriteResult::Released(ReleaseOutcome::Released { was_live, .. }) => {
                            stored(&render(*was_live))
                        }
                        WriteResult::Released(ReleaseOutcome::Absent) => stored(&render(false)),
                        _ => None,
                    },
                )
                .await?
            {
                Keyed::Replayed(body) => return replayed(body),
                Keyed::Fresh(WriteResult::Released(outcome)) => outcome,
                Keyed::Fresh(other) => return Err(unexpected(&other)),
            },
        };
        match outcome {
            ReleaseOutcome::Released { was_live, .. } => Ok(render(was_live)),
            ReleaseOutcome::Absent => Ok(render(false)),
            ReleaseOutcome::HeldByOther(other) => Err(DomainError::new(
                ErrorCode::PermissionDenied,
                format!("lease '{lease_id}' is held by {other}; only its holder or an admin may release it"),
            )
            .suggest("ask its holder to release it, or wait for it to expire (check_leases shows when)")),
        }
    }

    /// `check_leases`: the live leases overlapping `resources` (all live leases when `None`) in
    /// the scope of `session_id` (its leases and the global ones; without it, every lease).
    /// Read-only: one read on the reader pool, no lock.
    pub async fn check_leases(
        &self,
        who: &Identity,
        resources: Option<&[String]>,
        session_id: Option<&str>,
    ) -> Result<Vec<LeaseRecord>, DomainError> {
        who.require(Permission::Read)?;
        let wanted = resources.map(parse_resources).transpose()?;
        let session_id = session_id.map(SessionId::parse).transpose()?;
        if let Some(id) = &session_id {
            self.existing_session(id).await?;
        }
        let mut leases = self
            .store()
            .live_leases(self.now(), session_id.as_ref().map(SessionId::as_str))
            .await?;
        if let Some(wanted) = &wanted {
            leases.retain(|l| lease::overlaps_any(wanted, &l.resources));
        }
        Ok(leases)
    }

    /// Deletes every lease that expired by now, `LEASE_SWEEP_BATCH` at a time.
    pub async fn sweep_expired_leases(&self, stop: &CancellationToken) -> Result<u64, StoreError> {
        super::sweep::in_batches(
            self.inner.clock.as_ref(),
            LEASE_SWEEP_BATCH,
            stop,
            |now, batch| self.store().delete_expired_leases(now, batch),
        )
        .await
    }

    /// Starts the background sweeper of expired leases (unless its interval is off).
    pub fn spawn_lease_sweeper(
        &self,
        stop: CancellationToken,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let interval = self.lease_settings().sweep_interval?;
        let service = self.clone();
        Some(super::sweep::spawn_every(
            interval,
            stop,
            ("lease", "leases"),
            move |stop| {
                let service = service.clone();
                async move { service.sweep_expired_leases(&stop).await }
            },
        ))
    }
}
