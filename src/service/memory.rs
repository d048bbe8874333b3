//! Agent memory use-cases: set, get, list and delete in the caller's own namespace, and the
//! background sweeper that deletes expired entries in small batches.

use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::Service;
use super::idempotency::{Keyed, replayed, stored, unexpected};
use crate::domain::memory::parse_prefix;
use crate::domain::{
    AgentId, DomainError, ErrorCode, Identity, Limit, MemoryKey, MemoryLimits, MemoryScope,
    MemoryValue, Metadata, Permission, ScopeFilter, SessionId, Ttl,
};
use crate::storage::{
    IdempotentWrite, MemoryAddress, MemoryEntry, MemoryListQuery, MemoryRecord, NewMemory,
    SetMemoryOutcome, StoreError, WriteResult,
};

/// How many expired entries one sweeper statement deletes, so it never holds the writer long.
pub const SWEEP_BATCH: u32 = 500;
pub const LIST_MEMORY_MAX_LIMIT: u32 = 200;

/// Memory settings from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemorySettings {
    pub limits: MemoryLimits,
    /// How often the sweeper deletes expired entries; `None` turns it off.
    pub sweep_interval: Option<Duration>,
}

impl Default for MemorySettings {
    fn default() -> Self {
        Self {
            limits: MemoryLimits::default(),
            sweep_interval: Some(Duration::from_secs(60)),
        }
    }
}

pub struct SetMemory {
    pub key: String,
    pub value: Value,
    pub session_id: Option<String>,
    pub expires_in: Option<Value>,
    pub metadata: Option<Value>,
    pub overwrite: Option<bool>,
    /// Makes the call safe to retry (see `idempotency.rs`).
    pub idempotency_key: Option<String>,
}

/// A page of memory keys to list (`list_memory`, private or shared).
pub struct ListMemory {
    pub session_id: Option<String>,
    pub prefix: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The entry `delete_memory` deleted: its key and scope (`None`: global).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DeletedKey {
    pub key: String,
    pub session_id: Option<String>,
}

pub struct MemoryPage {
    pub entries: Vec<MemoryEntry>,
    pub scope_filter: ScopeFilter,
    /// Pass back as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Memory belongs to an agent: anonymous callers have none.
fn owner(who: &Identity, needed: Permission) -> Result<&AgentId, DomainError> {
    who.require(needed)?;
    who.agent_id().ok_or_else(|| {
        DomainError::new(
            ErrorCode::PermissionDenied,
            "memory is kept per agent, and this call has no agent identity",
        )
        .suggest("call authenticate_agent first and pass its token as auth_token")
    })
}

fn not_found(key: &MemoryKey, scope: &MemoryScope) -> DomainError {
    let place = match scope.session_id() {
        None => "your global memory".to_owned(),
        Some(id) => format!("your memory for session '{id}'"),
    };
    DomainError::new(
        ErrorCode::MemoryNotFound,
        format!("no key '{key}' in {place} (it may have expired)"),
    )
    .suggest("call list_memory with session_id \"all\" to see your keys in every scope")
}

/// The `list_memory` cursor that continues after `entry` (a front end ending a page early, at a
/// read budget, gives it): "<session id or empty>:<key>", split at the first ':'.
pub fn memory_cursor(entry: &MemoryEntry) -> String {
    format!(
        "{}:{}",
        entry.session_id.as_deref().unwrap_or(""),
        entry.key
    )
}

fn decode_cursor(raw: &str) -> Result<(MemoryKey, String), DomainError> {
    let bad = || {
        DomainError::invalid(format!(
            "cursor '{}' is not valid",
            raw.chars().take(60).collect::<String>()
        ))
        .suggest("pass next_cursor from the previous list_memory result unchanged, or leave it out")
    };
    let (scope, key) = raw.split_once(':').ok_or_else(bad)?;
    if !scope.is_empty() {
        SessionId::parse(scope).map_err(|_| bad())?;
    }
    let key = MemoryKey::parse(key).map_err(|_| bad())?;
    Ok((key, scope.to_owned()))
}

impl Service {
    pub fn memory_settings(&self) -> &MemorySettings {
        &self.inner.memory
    }

    /// Fails with `SESSION_NOT_FOUND` when the scope names a session that does not exist.
    async fn check_scope(&self, scope: &MemoryScope) -> Result<(), DomainError> {
        match scope.session_id() {
            Some(id) => self.existing_session(id).await.map(drop),
            None => Ok(()),
        }
    }

    /// Stores an entry; returns it without its value. With an idempotency key a retry returns
    /// the first call's entry and stores nothing.
    pub async fn set_memory(
        &self,
        who: &Identity,
        input: SetMemory,
    ) -> Result<MemoryEntry, DomainError> {
        let agent = owner(who, Permission::Write)?;
        let key = MemoryKey::parse(&input.key)?;
        let scope = MemoryScope::parse(input.session_id.as_deref())?;
        let ttl = Ttl::parse(input.expires_in.as_ref())?;
        let value = MemoryValue::parse(input.value, &self.memory_settings().limits)?;
        let metadata = Metadata::parse(input.metadata, self.limits())?;
        let retry = self.retry_key(who, input.idempotency_key.as_deref(), "set_memory", || {
            json!({
                "key": key.as_str(),
                "session_id": scope.session_id().map(SessionId::as_str),
                "value": value.value(),
                "expires_in": ttl.seconds(),
                "metadata": metadata.as_map(),
                "overwrite": input.overwrite.unwrap_or(true),
            })
        })?;
        let at = self.now();
        let new = NewMemory {
            agent_id: agent.as_str().to_owned(),
            session_id: scope.session_id().map(|s| s.as_str().to_owned()),
            key: key.as_str().to_owned(),
            value_json: value.json().to_owned(),
            value: value.into_value(),
            metadata: metadata.as_map().clone(),
            expires_at: ttl.expires_at(at),
            overwrite: input.overwrite.unwrap_or(true),
            at,
        };
        let outcome = match &retry {
            None => self.store().set_memory(&new).await?,
            Some(retry) => match self
                .write_once(retry, IdempotentWrite::SetMemory(&new), &|r| match r {
                    WriteResult::Memory(SetMemoryOutcome::Stored(record)) => {
                        stored(&record.entry())
                    }
                    _ => None,
                })
                .await?
            {
                Keyed::Replayed(body) => return replayed(body),
                Keyed::Fresh(WriteResult::Memory(outcome)) => outcome,
                Keyed::Fresh(other) => return Err(unexpected(&other)),
            },
        };
        match outcome {
            SetMemoryOutcome::Stored(record) => Ok(record.entry()),
            SetMemoryOutcome::SessionMissing => Err(DomainError::session_not_found(
                scope.session_id().map_or("", SessionId::as_str),
            )),
            SetMemoryOutcome::KeyExists => Err(DomainError::new(
                ErrorCode::KeyExists,
                format!("key '{key}' already exists in this scope and overwrite is false"),
            )
            .suggest(
                "pass overwrite: true to replace it, use another key, or delete_memory first",
            )),
        }
    }

    pub async fn get_memory(
        &self,
        who: &Identity,
        key: &str,
        session_id: Option<&str>,
    ) -> Result<MemoryRecord, DomainError> {
        let agent = owner(who, Permission::Read)?;
        let key = MemoryKey::parse(key)?;
        let scope = MemoryScope::parse(session_id)?;
        let address = MemoryAddress {
            agent_id: agent.as_str(),
            session_id: scope.session_id().map(SessionId::as_str),
            key: key.as_str(),
            now: self.now(),
        };
        if let Some(record) = self.store().get_memory(&address).await? {
            return Ok(record);
        }
        self.check_scope(&scope).await?;
        Err(not_found(&key, &scope))
    }

    /// Deletes one unexpired entry; returns its address. With an idempotency key a retry
    /// returns the first call's answer (even though the entry is gone by then).
    pub async fn delete_memory(
        &self,
        who: &Identity,
        key: &str,
        session_id: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> Result<DeletedKey, DomainError> {
        let agent = owner(who, Permission::Write)?;
        let key = MemoryKey::parse(key)?;
        let scope = MemoryScope::parse(session_id)?;
        let retry = self.retry_key(who, idempotency_key, "delete_memory", || {
            json!({"key": key.as_str(), "session_id": scope.session_id().map(SessionId::as_str)})
        })?;
        let address = MemoryAddress {
            agent_id: agent.as_str(),
            session_id: scope.session_id().map(SessionId::as_str),
            key: key.as_str(),
            now: self.now(),
        };
        let answer = DeletedKey {
            key: key.as_str().to_owned(),
            session_id: scope.session_id().map(|s| s.as_str().to_owned()),
        };
        let deleted = match &retry {
            None => self.store().delete_memory(&address).await?,
            Some(retry) => match self
                .write_once(
                    retry,
                    IdempotentWrite::DeleteMemory(&address),
                    &|r| match r {
                        WriteResult::Deleted(true) => stored(&answer),
                        _ => None,
                    },
                )
                .await?
            {
                Keyed::Fresh(WriteResult::Deleted(deleted)) => deleted,
                Keyed::Replayed(body) => return replayed(body),
                Keyed::Fresh(other) => return Err(unexpected(&other)),
            },
        };
        if deleted {
            return Ok(answer);
        }
        self.check_scope(&scope).await?;
        Err(not_found(&key, &scope))
    }

    pub async fn list_memory(
        &self,
        who: &Identity,
        input: ListMemory,
    ) -> Result<MemoryPage, DomainError> {
        let agent = owner(who, Permission::Read)?;
        let filter = ScopeFilter::parse(input.session_id.as_deref())?;
        let limit = Limit::parse(input.limit, 50, LIST_MEMORY_MAX_LIMIT, "limit")?;
        let prefix = parse_prefix(input.prefix.as_deref())?;
        let after = match input
            .cursor
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            Some(raw) => Some(decode_cursor(raw)?),
            None => None,
        };
        let query = MemoryListQuery {
            agent_id: agent.as_str(),
            scope: match &filter {
                ScopeFilter::All => None,
                ScopeFilter::Only(scope) => Some(scope.session_id().map(SessionId::as_str)),
            },
            prefix: &prefix,
            after: after.as_ref().map(|(k, s)| (k.as_str(), s.as_str())),
            limit: limit.get() + 1,
            now: self.now(),
        };
        let mut entries = self.store().list_memory(&query).await?;
        if entries.is_empty()
            && let ScopeFilter::Only(scope) = &filter
        {
            self.check_scope(scope).await?;
        }
        let has_more = entries.len() > limit.get() as usize;
        entries.truncate(limit.get() as usize);
        let next_cursor = has_more
            .then(|| entries.last().map(memory_cursor))
            .flatten();
        Ok(MemoryPage {
            entries,
            scope_filter: filter,
            next_cursor,
        })
    }

    /// Deletes every entry that expired by now, `SWEEP_BATCH` at a time, yielding between
    /// batches and stopping early on shutdown. Returns how many were deleted.
    pub async fn sweep_expired_memory(&self, stop: &CancellationToken) -> Result<u64, StoreError> {
        super::sweep::in_batches(
            self.inner.clock.as_ref(),
            SWEEP_BATCH,
            stop,
            |now, batch| self.store().delete_expired_memory(now, batch),
        )
        .await
    }

    /// Starts the background sweeper (unless the interval is off); it ends when `stop` is cancelled.
    pub fn spawn_memory_sweeper(
        &self,
        stop: CancellationToken,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let interval = self.memory_settings().sweep_interval?;
        let service = self.clone();
        Some(super::sweep::spawn_every(
            interval,
            stop,
            ("memory", "entries"),
            move |stop| {
                let service = service.clone();
                async move { service.sweep_expired_memory(&stop).await }
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip() {
        let entry = |session: Option<&str>, key: &str| MemoryEntry {
            session_id: session.map(str::to_owned),
            key: key.into(),
            value_size: 1,
            created_at: crate::util::now(),
            updated_at: crate::util::now(),
            expires_at: None,
        };
        for (session, key) in [(None, "a:b"), (Some("session_0123456789abcdef"), "x:y/z")] {
            let (k, s) = decode_cursor(&memory_cursor(&entry(session, key))).unwrap();
            assert_eq!((k.as_str(), s.as_str()), (key, session.unwrap_or("")));
        }
        for bad in ["nocolon", "session_zz:k", ":", ":a b"] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }
}
