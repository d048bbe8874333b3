//! The safe-retry area of the store: claiming idempotency keys and the writes they guard.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::*;

/// Safe retries: a write made under an idempotency key happens at most once per (agent, key)
/// until the key expires, and later requests with that key get the first response back.
#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    /// In one transaction: claims `claim.key` for `claim.agent_id` (a row that expired by
    /// `claim.now` is reclaimed), runs `write`, and stores `respond(result)` with the key before
    /// committing. When `respond` returns `None` (the write was refused) everything is rolled
    /// back, key included, so errors are never remembered. When the key is already held, nothing
    /// is written: the stored response comes back if the fingerprint matches, else a conflict. A
    /// concurrent request with the same key waits for the first to finish (PostgreSQL: on the
    /// unique index; SQLite: on the single writer) and then replays it.
    async fn write_once(&self, once: OnceWrite<'_>) -> StoreResult<OnceOutcome>;
    /// Deletes at most `batch` keys that expired by `now`; returns how many.
    async fn delete_expired_idempotency_keys(
        &self,
        now: DateTime<Utc>,
        batch: u32,
    ) -> StoreResult<u64>;
}

/// A write to make at most once under a key (see [`IdempotencyStore::write_once`]).
pub struct OnceWrite<'a> {
    pub claim: &'a IdempotencyClaim<'a>,
    pub write: IdempotentWrite<'a>,
    /// Makes the response stored with the key from the write's result.
    pub respond: &'a Respond<'a>,
}

/// Makes the response body stored under a key from a write's result; `None` for a refused write.
pub type Respond<'a> = dyn for<'r> Fn(&'r WriteResult) -> Option<String> + Send + Sync + 'a;

/// Who claims which key, for which request, until when.
#[derive(Debug, Clone)]
pub struct IdempotencyClaim<'a> {
    pub agent_id: &'a str,
    pub key: &'a str,
    pub tool: &'a str,
    /// [`crate::domain::idempotency::fingerprint`] of the tool and its validated arguments.
    pub fingerprint: &'a str,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl IdempotencyClaim<'_> {
    /// The answer when the key is already held by a committed request (tool, fingerprint,
    /// response): the same request replays its response, any other conflicts.
    pub(crate) fn outcome_of_held(
        &self,
        held: Option<(String, String, Option<String>)>,
    ) -> StoreResult<OnceOutcome> {
        match held {
            Some((_, fingerprint, Some(response))) if fingerprint == self.fingerprint => {
                Ok(OnceOutcome::Replay { response })
            }
            Some((tool, fingerprint, _)) if fingerprint != self.fingerprint => {
                Ok(OnceOutcome::Conflict { tool })
            }
            // A committed key always has its response, and a key cannot vanish while we hold
            // the transaction that found it.
            _ => Err(StoreError::Internal(format!(
                "idempotency key of agent '{}' is held but has no stored response",
                self.agent_id
            ))),
        }
    }
}

/// The writes that take an idempotency key; each does exactly what the plain store method does.
#[derive(Debug, Clone)]
pub enum IdempotentWrite<'a> {
    CreateSession(&'a NewSession),
    AddMessage(&'a NewMessage),
    /// Marks the session inactive (audited) unless it already is.
    CloseSession(SessionClose<'a>),
    SetMemory(&'a NewMemory),
    DeleteMemory(&'a MemoryAddress<'a>),
    /// Acknowledges `ids` for `agent_id` (audited) when all are addressed to it; else nothing.
    Ack {
        agent_id: &'a str,
        ids: &'a [i64],
        at: DateTime<Utc>,
    },
    AcquireLease(&'a NewLease),
    RenewLease(&'a LeaseRenewal<'a>),
    ReleaseLease(&'a LeaseRelease<'a>),
    CreateTask(&'a NewTask),
    ClaimTask(&'a ClaimTask),
    UpdateTask(&'a UpdateTask),
    SetSharedMemory(&'a NewSharedMemory),
}

/// What an [`IdempotentWrite`] returned, as the plain store method would have.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // matched at once; see `InsertOutcome`
pub enum WriteResult {
    Session(SessionRecord),
    Message(InsertOutcome),
    /// The session, closed now or before; `None` when it does not exist.
    Closed(Option<SessionRecord>),
    Memory(SetMemoryOutcome),
    /// Whether a live entry was deleted.
    Deleted(bool),
    Acked(AckOutcome),
    Lease(AcquireOutcome),
    Renewed(RenewOutcome),
    Released(ReleaseOutcome),
    Task(TaskOutcome),
    Shared(SharedSetOutcome),
}

#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // matched at once; see `InsertOutcome`
pub enum OnceOutcome {
    /// The write ran now: committed with `response` stored under the key, or rolled back when
    /// `response` is `None`.
    Fresh {
        result: WriteResult,
        response: Option<String>,
    },
    /// The key holds the response of an identical earlier request; nothing was written.
    Replay { response: String },
    /// The key was used for a different request (this tool or `tool`); nothing was written.
    Conflict { tool: String },
}
