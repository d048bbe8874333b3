//! Session use-cases: create, read, list and close.

use serde_json::{Value, json};

use super::Service;
use super::idempotency::{Keyed, replayed, stored, unexpected};
use crate::domain::{
    DomainError, ErrorCode, Identity, Limit, Metadata, Permission, Purpose, Reader, SessionId,
};
use crate::storage::{
    IdempotentWrite, MessageQuery, MessageRecord, NewSession, SessionClose, SessionList,
    SessionRecord, WriteResult,
};

/// How many recent messages `get_session` includes.
pub const SESSION_PREVIEW_MESSAGES: u32 = 50;

pub struct SessionView {
    pub session: SessionRecord,
    /// The newest visible messages, oldest first.
    pub messages: Vec<MessageRecord>,
    /// All messages the caller may read in this session.
    pub visible_message_count: i64,
}

pub struct SessionPage {
    pub sessions: Vec<SessionRecord>,
    pub next_cursor: Option<String>,
}

impl Service {
    /// Opens a session and returns it. With an idempotency key a retry returns the first call's
    /// session and opens nothing (see `idempotency.rs`).
    pub async fn create_session(
        &self,
        who: &Identity,
        purpose: &str,
        metadata: Option<Value>,
        idempotency_key: Option<&str>,
    ) -> Result<SessionRecord, DomainError> {
        who.require(Permission::Write)?;
        let purpose = Purpose::parse(purpose, self.limits())?;
        let metadata = Metadata::parse(metadata, self.limits())?;
        crate::domain::retention::MessageRetention::check_metadata(metadata.as_map())?;
        let retry = self.retry_key(
            who,
            idempotency_key,
            "create_session",
            || json!({"purpose": purpose.as_str(), "metadata": metadata.as_map()}),
        )?;
        let new = NewSession {
            id: SessionId::generate(),
            purpose: purpose.as_str().to_owned(),
            created_by: who.audit_name().to_owned(),
            metadata: metadata.as_map().clone(),
            at: self.now(),
        };
        let Some(retry) = retry else {
            return Ok(self.store().create_session(&new).await?);
        };
        match self
            .write_once(&retry, IdempotentWrite::CreateSession(&new), &|r| match r {
                WriteResult::Session(s) => stored(s),
                _ => None,
            })
            .await?
        {
            Keyed::Replayed(body) => replayed(body),
            Keyed::Fresh(WriteResult::Session(s)) => Ok(s),
            Keyed::Fresh(other) => Err(unexpected(&other)),
        }
    }

    /// An existing session, or `SESSION_NOT_FOUND`.
    pub(crate) async fn existing_session(
        &self,
        id: &SessionId,
    ) -> Result<SessionRecord, DomainError> {
        self.store()
            .get_session(id)
            .await?
            .ok_or_else(|| DomainError::session_not_found(id.as_str()))
    }

    pub async fn get_session(
        &self,
        who: &Identity,
        session_id: &str,
    ) -> Result<SessionView, DomainError> {
        self.session_view(who, session_id, SESSION_PREVIEW_MESSAGES)
            .await
    }

    /// The session with its `newest` most recent visible messages (oldest first): one ordered
    /// read from the end, whatever the session's size (reading the tail with `offset` would walk
    /// the whole session).
    pub async fn session_view(
        &self,
        who: &Identity,
        session_id: &str,
        newest: u32,
    ) -> Result<SessionView, DomainError> {
        who.require(Permission::Read)?;
        let id = SessionId::parse(session_id)?;
        let session = self.existing_session(&id).await?;
        let reader = Reader::of(who);
        let query = MessageQuery {
            session_id: &id,
            reader: &reader,
            only: None,
            after_id: 0,
            offset: 0,
            limit: newest,
            newest_first: true,
        };
        let (mut messages, visible_message_count) = tokio::try_join!(
            self.store().list_messages(&query),
            self.store().count_messages(&query)
        )?;
        messages.reverse();
        self.with_recipients(who, &mut messages).await?;
        Ok(SessionView {
            session,
            messages,
            visible_message_count,
        })
    }

    pub async fn list_sessions(
        &self,
        who: &Identity,
        active_only: Option<bool>,
        limit: Option<i64>,
        cursor: Option<&str>,
    ) -> Result<SessionPage, DomainError> {
        who.require(Permission::Read)?;
        let limit = Limit::parse(limit, 50, 200, "limit")?;
        let before = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
            None => None,
            Some(raw) => Some(raw.parse::<i64>().ok().filter(|v| *v > 0).ok_or_else(|| {
                DomainError::invalid(format!("cursor '{raw}' is not valid; pass next_cursor from the previous list_sessions result"))
            })?),
        };
        let sessions = self
            .store()
            .list_sessions(&SessionList {
                active_only: active_only.unwrap_or(true),
                limit: limit.get(),
                before_seq: before,
            })
            .await?;
        let next_cursor = (sessions.len() == limit.get() as usize)
            .then(|| sessions.last().map(|s| s.seq.to_string()))
            .flatten();
        Ok(SessionPage {
            sessions,
            next_cursor,
        })
    }

    /// Marks a session inactive and returns it. Its creator or an admin may do so; closing twice
    /// is harmless. With an idempotency key a retry returns the first call's session.
    pub async fn close_session(
        &self,
        who: &Identity,
        session_id: &str,
        idempotency_key: Option<&str>,
    ) -> Result<SessionRecord, DomainError> {
        who.require(Permission::Write)?;
        let id = SessionId::parse(session_id)?;
        let retry = self.retry_key(
            who,
            idempotency_key,
            "close_session",
            || json!({"session_id": id.as_str()}),
        )?;
        let session = self.existing_session(&id).await?;
        let is_creator = who
            .agent_id()
            .is_some_and(|a| a.as_str() == session.created_by);
        if !is_creator && !who.is_admin() {
            return Err(DomainError::new(
                ErrorCode::PermissionDenied,
                format!(
                    "only the session's creator ({}) or an admin may close it",
                    session.created_by
                ),
            )
            .suggest("ask the creator to call close_session, or authenticate as admin"));
        }
        let close = SessionClose {
            id: &id,
            actor: who.audit_name(),
            at: self.now(),
        };
        if let Some(retry) = retry {
            let write = IdempotentWrite::CloseSession(close);
            return match self
                .write_once(&retry, write, &|r| match r {
                    WriteResult::Closed(Some(s)) => stored(s),
                    _ => None,
                })
                .await?
            {
                Keyed::Replayed(body) => replayed(body),
                Keyed::Fresh(WriteResult::Closed(Some(s))) => Ok(s),
                Keyed::Fresh(WriteResult::Closed(None)) => {
                    Err(DomainError::session_not_found(id.as_str()))
                }
                Keyed::Fresh(other) => Err(unexpected(&other)),
            };
        }
        if !session.is_active {
            return Ok(session);
        }
        let closed = self
            .store()
            .close_session(&close)
            .await?
            .ok_or_else(|| DomainError::session_not_found(id.as_str()))?;
        Ok(closed)
    }
}
