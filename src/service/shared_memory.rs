//! Shared session memory (the blackboard): `set_memory`, `get_memory` and `list_memory` with
//! `shared: true`. An entry belongs to a session: whoever can read the session reads it, whoever
//! has write permission writes it. Every write bumps its version; `expected_version` makes the
//! write compare-and-set (0: only if absent), and a mismatch is `VERSION_CONFLICT` carrying the
//! current version and value, so a caller merges and retries without another read.

use serde_json::{Value, json};

use super::idempotency::{Keyed, replayed, stored, unexpected};
use super::{ListMemory, Service};
use crate::domain::shared_memory::{expected_version, version_conflict};
use crate::domain::{
    DomainError, ErrorCode, Identity, Limit, MemoryKey, MemoryValue, Permission, SessionId,
};
use crate::storage::{
    IdempotentWrite, NewSharedMemory, SharedEntry, SharedListQuery, SharedMemoryRecord,
    SharedSetOutcome, WriteResult,
};

pub struct SetSharedMemory {
    pub session_id: Option<String>,
    pub key: String,
    pub value: Value,
    pub expected_version: Option<i64>,
    pub idempotency_key: Option<String>,
}

/// Shared memory lives in a session: `session_id` is required.
fn session_of(raw: Option<&str>) -> Result<SessionId, DomainError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        Some(id) => SessionId::parse(id),
        None => Err(DomainError::invalid("shared memory needs a session_id")
            .suggest("pass the session_id whose shared memory you mean, or leave shared out for your private memory")),
    }
}

fn not_found(key: &MemoryKey, session_id: &SessionId) -> DomainError {
    DomainError::new(
        ErrorCode::MemoryNotFound,
        format!("no shared key '{key}' in session '{session_id}'"),
    )
    .suggest("call list_memory with shared: true and the session_id to see its keys")
}

impl Service {
    /// Writes a shared entry; returns it without its value. With an idempotency key a retry
    /// returns the first call's entry and writes nothing.
    pub async fn set_shared_memory(
        &self,
        who: &Identity,
        input: SetSharedMemory,
    ) -> Result<SharedEntry, DomainError> {
        who.require(Permission::Write)?;
        let agent = who
            .agent_id()
            .map(|a| a.as_str().to_owned())
            .ok_or_else(|| DomainError::new(ErrorCode::PermissionDenied, "no agent identity"))?;
        let session_id = session_of(input.session_id.as_deref())?;
        let key = MemoryKey::parse(&input.key)?;
        let value = MemoryValue::parse(input.value, &self.memory_settings().limits)?;
        let expected = expected_version(input.expected_version)?;
        let retry = self.retry_key(who, input.idempotency_key.as_deref(), "set_memory", || {
            json!({"session_id": session_id.as_str(), "key": key.as_str(), "shared": true,
                "value": value.value(), "expected_version": expected})
        })?;
        let new = NewSharedMemory {
            session_id: session_id.as_str().to_owned(),
            key: key.as_str().to_owned(),
            value_json: value.json().to_owned(),
            value: value.into_value(),
            expected_version: expected,
            agent_id: agent,
            at: self.now(),
        };
        let outcome = match &retry {
            None => self.store().set_shared_memory(&new).await?,
            Some(retry) => match self
                .write_once(
                    retry,
                    IdempotentWrite::SetSharedMemory(&new),
                    &|r| match r {
                        WriteResult::Shared(SharedSetOutcome::Stored(record)) => {
                            stored(&record.entry())
                        }
                        _ => None,
                    },
                )
                .await?
            {
                Keyed::Replayed(body) => return replayed(body),
                Keyed::Fresh(WriteResult::Shared(outcome)) => outcome,
                Keyed::Fresh(other) => return Err(unexpected(&other)),
            },
        };
        match outcome {
            SharedSetOutcome::Stored(record) => Ok(record.entry()),
            SharedSetOutcome::SessionMissing => {
                Err(DomainError::session_not_found(session_id.as_str()))
            }
            SharedSetOutcome::Conflict(current) => {
                let (version, value) = current.map_or((0, Value::Null), |c| (c.version, c.value));
                Err(version_conflict(
                    key.as_str(),
                    expected.unwrap_or_default(),
                    version,
                    value,
                ))
            }
        }
    }

    pub async fn get_shared_memory(
        &self,
        who: &Identity,
        key: &str,
        session_id: Option<&str>,
    ) -> Result<SharedMemoryRecord, DomainError> {
        who.require(Permission::Read)?;
        let session_id = session_of(session_id)?;
        let key = MemoryKey::parse(key)?;
        if let Some(record) = self
            .store()
            .get_shared_memory(session_id.as_str(), key.as_str())
            .await?
        {
            return Ok(record);
        }
        self.existing_session(&session_id).await?;
        Err(not_found(&key, &session_id))
    }

    /// Entries by key (values left out), after `cursor` (the last key of the previous page);
    /// the next cursor when there is more.
    pub async fn list_shared_memory(
        &self,
        who: &Identity,
        input: ListMemory,
    ) -> Result<(Vec<SharedMemoryRecord>, Option<String>), DomainError> {
        who.require(Permission::Read)?;
        let session_id = session_of(input.session_id.as_deref())?;
        let limit = Limit::parse(
            input.limit,
            50,
            super::memory::LIST_MEMORY_MAX_LIMIT,
            "limit",
        )?;
        let prefix = crate::domain::memory::parse_prefix(input.prefix.as_deref())?;
        let after = match input
            .cursor
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            Some(raw) => Some(MemoryKey::parse(raw).map_err(|_| {
                DomainError::invalid("cursor is not valid")
                    .suggest("pass next_cursor from the previous list_memory result unchanged")
            })?),
            None => None,
        };
        let query = SharedListQuery {
            session_id: session_id.as_str(),
            prefix: &prefix,
            after: after.as_ref().map(MemoryKey::as_str),
            limit: limit.get() + 1,
        };
        let mut entries = self.store().list_shared_memory(&query).await?;
        if entries.is_empty() {
            self.existing_session(&session_id).await?;
        }
        let has_more = entries.len() > limit.get() as usize;
        entries.truncate(limit.get() as usize);
        let next = has_more
            .then(|| entries.last().map(|e| e.key.clone()))
            .flatten();
        Ok((entries, next))
    }
}
