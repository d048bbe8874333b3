//! Safe retries. A write (`create_session`, `add_message`, `close_session`, `set_memory`,
//! `delete_memory`, `ack_messages`, the lease and task writes; `ask` through its `add_message`)
//! may carry an `idempotency_key`: the first call with a key writes and stores its typed result
//! (the service's record, serialized: `stored`) under (agent, key) in the same transaction; a
//! later call with the same key and the same validated arguments writes nothing and gets that
//! record back (`replayed`), which the front end renders as it rendered the first answer, so
//! the replay is the same answer byte for byte; the same key with
//! other arguments is `IDEMPOTENCY_CONFLICT`. Refused writes (errors) store nothing, so a failed
//! call can be retried with its key. Keys expire after `IdempotencySettings::ttl` and are then
//! free again; a background sweeper deletes them in batches.

use std::time::Duration;

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::Service;
use crate::domain::idempotency::{self, IdempotencyKey};
use crate::domain::{DomainError, ErrorCode, Identity};
use crate::storage::{
    IdempotencyClaim, IdempotentWrite, OnceOutcome, OnceWrite, StoreError, WriteResult,
};

/// How many expired keys one sweeper statement deletes.
pub const IDEMPOTENCY_SWEEP_BATCH: u32 = 500;

/// Idempotency settings from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdempotencySettings {
    /// How long a key (and the response it replays) is kept.
    pub ttl: Duration,
    /// How often expired keys are deleted; `None` turns the sweeper off (expired keys are still
    /// never replayed: a new request reclaims them).
    pub sweep_interval: Option<Duration>,
}

impl Default for IdempotencySettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(86_400),
            sweep_interval: Some(Duration::from_secs(60)),
        }
    }
}

/// An accepted key for one call: whose it is, and what the call asks for.
pub(crate) struct RetryKey {
    agent_id: String,
    key: IdempotencyKey,
    tool: &'static str,
    fingerprint: String,
}

/// What a keyed write did. Returned once per call and matched at once, so the size of the
/// write result (a message record) inline costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Keyed {
    /// It ran now (what it stored under the key, if anything, is `stored` of this result).
    Fresh(WriteResult),
    /// An identical earlier call holds the key: the result it stored (read it with
    /// [`replayed`]), and nothing was written.
    Replayed(Value),
}

/// A write's typed result as stored under its key (the service's result, not a wire format:
/// every front end renders the replay as it renders the first answer).
pub(crate) fn stored<T: serde::Serialize>(result: &T) -> Option<Value> {
    serde_json::to_value(result).ok()
}

/// The typed result an earlier call stored under the key.
pub(crate) fn replayed<T: serde::de::DeserializeOwned>(body: Value) -> Result<T, DomainError> {
    serde_json::from_value(body).map_err(|e| {
        DomainError::new(
            ErrorCode::IdempotencyConflict,
            format!(
                "this idempotency_key's first call was answered by an older server version, whose \
stored answer this one cannot read ({e}); that call's write happened"
            ),
        )
        .suggest(
            "read the result back (get_session, get_messages, get_memory), or retry with a new key",
        )
    })
}

/// The store answered a keyed write with the result of another kind of write: a bug.
pub(crate) fn unexpected(result: &WriteResult) -> DomainError {
    StoreError::Internal(format!(
        "idempotent write returned an unexpected result: {result:?}"
    ))
    .into()
}

impl Service {
    pub fn idempotency_settings(&self) -> &IdempotencySettings {
        &self.inner.idempotency
    }

    /// Checks the optional key and, with one, fingerprints the call: `tool` and `args`, the
    /// validated arguments (so neither key order, spelling of defaults, `auth_token` nor the key
    /// itself counts). Call it after validating the arguments, before writing.
    pub(crate) fn retry_key(
        &self,
        who: &Identity,
        raw: Option<&str>,
        tool: &'static str,
        args: impl FnOnce() -> Value,
    ) -> Result<Option<RetryKey>, DomainError> {
        let Some(key) = IdempotencyKey::parse_optional(raw)? else {
            return Ok(None);
        };
        let agent_id = who.agent_id().ok_or_else(|| {
            DomainError::new(
                ErrorCode::PermissionDenied,
                "idempotency keys are kept per agent, and this call has no agent identity",
            )
            .suggest("call authenticate_agent first and pass its token as auth_token")
        })?;
        Ok(Some(RetryKey {
            agent_id: agent_id.as_str().to_owned(),
            fingerprint: idempotency::fingerprint(tool, &args()),
            key,
            tool,
        }))
    }

    /// Runs `write` at most once under `retry` (see the module docs). `render` makes the stored
    /// result (`stored`) from a successful write, or returns `None` for a refused one.
    pub(crate) async fn write_once(
        &self,
        retry: &RetryKey,
        write: IdempotentWrite<'_>,
        render: &(dyn Fn(&WriteResult) -> Option<Value> + Send + Sync),
    ) -> Result<Keyed, DomainError> {
        let now = self.now();
        let ttl = chrono::Duration::from_std(self.idempotency_settings().ttl)
            .unwrap_or(chrono::Duration::days(1));
        let claim = IdempotencyClaim {
            agent_id: &retry.agent_id,
            key: retry.key.as_str(),
            tool: retry.tool,
            fingerprint: &retry.fingerprint,
            now,
            expires_at: now + ttl,
        };
        let respond = |result: &WriteResult| render(result).map(|body| body.to_string());
        let once = OnceWrite {
            claim: &claim,
            write,
            respond: &respond,
        };
        match self.store().write_once(once).await? {
            OnceOutcome::Fresh { result, .. } => Ok(Keyed::Fresh(result)),
            OnceOutcome::Replay { response } => {
                tracing::debug!(tool = retry.tool, agent = %retry.agent_id, "idempotent replay");
                Ok(Keyed::Replayed(parse_response(&response)?))
            }
            OnceOutcome::Conflict { tool } => {
                Err(idempotency::conflict(&retry.key, &tool, retry.tool))
            }
        }
    }

    /// Deletes every key that expired by now, `IDEMPOTENCY_SWEEP_BATCH` at a time, yielding
    /// between batches and stopping early on shutdown. Returns how many were deleted.
    pub async fn sweep_expired_idempotency_keys(
        &self,
        stop: &CancellationToken,
    ) -> Result<u64, StoreError> {
        super::sweep::in_batches(
            self.inner.clock.as_ref(),
            IDEMPOTENCY_SWEEP_BATCH,
            stop,
            |now, batch| self.store().delete_expired_idempotency_keys(now, batch),
        )
        .await
    }

    /// Starts the background sweeper of expired keys (unless its interval is off); it ends when
    /// `stop` is cancelled.
    pub fn spawn_idempotency_sweeper(
        &self,
        stop: CancellationToken,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let interval = self.idempotency_settings().sweep_interval?;
        let service = self.clone();
        Some(super::sweep::spawn_every(
            interval,
            stop,
            ("idempotency", "keys"),
            move |stop| {
                let service = service.clone();
                async move { service.sweep_expired_idempotency_keys(&stop).await }
            },
        ))
    }
}

fn parse_response(raw: &str) -> Result<Value, DomainError> {
    serde_json::from_str(raw).map_err(|e| {
        StoreError::Internal(format!("stored idempotent response is not JSON: {e}")).into()
    })
}
