//! Message use-cases: post with a visibility, read with the visibility rule applied in SQL.

use serde_json::{Value, json};

use super::Service;
use super::idempotency::{Keyed, replayed, stored, unexpected};
use crate::domain::input::non_negative;
use crate::domain::{
    Content, DomainError, ErrorCode, Identity, Limit, Metadata, Permission, Reader, SessionId,
    Visibility, VisibilityFilter, visibility,
};
use crate::storage::{
    IdempotentWrite, InsertOutcome, MessageQuery, MessageRecord, NewMessage, WriteResult,
};

pub struct AddMessage {
    pub session_id: String,
    pub content: String,
    pub visibility: Option<String>,
    pub metadata: Option<Value>,
    pub parent_message_id: Option<i64>,
    /// Recipients of a direct message (see `inbox.rs`).
    pub to: Option<Vec<String>>,
    /// Makes the call safe to retry (see `idempotency.rs`).
    pub idempotency_key: Option<String>,
}

pub struct GetMessages {
    pub session_id: String,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub visibility_filter: Option<String>,
    pub after_id: Option<i64>,
}

pub struct MessagePage {
    pub messages: Vec<MessageRecord>,
    /// Matching messages in the whole session (offset paging only).
    pub total_count: Option<i64>,
    pub has_more: bool,
    /// The cursor for the next `after_id` read: the last id returned, or the one given.
    pub next_after_id: i64,
}

pub const GET_MESSAGES_MAX_LIMIT: u32 = 1000;

impl Service {
    /// Posts a message; returns `render` of it. With an idempotency key a retry returns the
    /// first call's body and posts nothing.
    pub async fn add_message(
        &self,
        who: &Identity,
        input: AddMessage,
    ) -> Result<MessageRecord, DomainError> {
        who.require(Permission::Write)?;
        // `direct` (what reads report for a direct message) is accepted when the message gets
        // recipients: through `to`, or as a reply to a direct message (checked below).
        let wants_direct = input.visibility.as_deref().map(str::trim) == Some(visibility::DIRECT);
        let visibility = match input.visibility.as_deref().map(str::trim) {
            None | Some("") => Visibility::Public,
            Some(_) if wants_direct => Visibility::Private,
            Some(v) => Visibility::parse(v)?,
        };
        who.require(visibility.write_permission())?;
        let session_id = SessionId::parse(&input.session_id)?;
        let content = Content::parse(&input.content, self.limits())?;
        let metadata = Metadata::parse(input.metadata, self.limits())?;
        if let Some(parent) = input.parent_message_id
            && parent < 1
        {
            return Err(DomainError::invalid(format!(
                "parent_message_id must be a positive message id; got {parent}"
            )));
        }
        let Identity::Agent {
            agent_id,
            agent_type,
            ..
        } = who
        else {
            unreachable!("write permission implies an agent identity")
        };
        // The fingerprint holds the raw `to`: a retry must name the same recipients.
        let retry = self.retry_key(who, input.idempotency_key.as_deref(), "add_message", || {
            json!({
                "session_id": session_id.as_str(),
                "content": content.as_str(),
                "visibility": visibility.as_str(),
                "metadata": metadata.as_map(),
                "parent_message_id": input.parent_message_id,
                "to": input.to,
            })
        })?;
        let addressing = self
            .address(
                agent_id.as_str(),
                &session_id,
                input.to.as_deref(),
                input.parent_message_id,
            )
            .await?;
        if wants_direct && addressing.to.is_empty() {
            return Err(DomainError::new(
                ErrorCode::InvalidVisibility,
                "visibility 'direct' needs recipients; nothing was posted",
            )
            .suggest(
                "pass to=[agent ids] (list_agents shows them), or reply to a direct message",
            ));
        }
        // A direct message is private to its sender and recipients, whatever `visibility` said.
        let visibility = if addressing.to.is_empty() {
            visibility
        } else {
            Visibility::Private
        };
        let new = NewMessage {
            session_id: session_id.clone(),
            sender: agent_id.as_str().to_owned(),
            sender_type: agent_type.as_str().to_owned(),
            content: content.into_string(),
            visibility,
            metadata: metadata.as_map().clone(),
            parent_message_id: input.parent_message_id,
            at: self.now(),
            to: addressing.to,
        };
        let outcome = match &retry {
            None => self.store().add_message(&new).await?,
            Some(retry) => match self
                .write_once(retry, IdempotentWrite::AddMessage(&new), &|r| match r {
                    WriteResult::Message(InsertOutcome::Inserted(m)) => stored(m),
                    _ => None,
                })
                .await?
            {
                Keyed::Replayed(body) => return replayed(body),
                Keyed::Fresh(WriteResult::Message(outcome)) => outcome,
                Keyed::Fresh(other) => return Err(unexpected(&other)),
            },
        };
        let record = match outcome {
            InsertOutcome::Inserted(record) => {
                self.notifier()
                    .publish(message_event(&record));
                Ok(record)
            }
            InsertOutcome::SessionMissing => Err(DomainError::session_not_found(session_id.as_str())),
            InsertOutcome::SessionClosed => Err(DomainError::new(
                ErrorCode::SessionClosed,
                format!("session '{session_id}' is closed and accepts no new messages"),
            )
            .suggest("create_session to start a new session; reading the closed one still works")),
            InsertOutcome::ParentNotInSession => Err(DomainError::new(
                ErrorCode::ParentMessageNotFound,
                format!(
                    "parent_message_id {} is not a message in session '{session_id}'",
                    new.parent_message_id.unwrap_or_default()
                ),
            )
            .suggest("use an id returned by get_messages for this same session, or leave parent_message_id out")),
        }?;
        Ok(record)
    }

    pub async fn get_messages(
        &self,
        who: &Identity,
        input: GetMessages,
    ) -> Result<MessagePage, DomainError> {
        who.require(Permission::Read)?;
        let session_id = SessionId::parse(&input.session_id)?;
        let limit = Limit::parse(input.limit, 50, GET_MESSAGES_MAX_LIMIT, "limit")?;
        let offset = crate::domain::input::offset(input.offset)?;
        let filter = VisibilityFilter::parse(input.visibility_filter.as_deref())?;
        let after_id = input
            .after_id
            .map(|v| non_negative(Some(v), "after_id"))
            .transpose()?;
        if after_id.is_some() && offset > 0 {
            return Err(DomainError::invalid("use either offset or after_id, not both")
                .suggest("after_id is the cursor for new messages; offset pages through the whole session"));
        }
        let reader = Reader::of(who);
        let query = MessageQuery {
            session_id: &session_id,
            reader: &reader,
            only: filter.0,
            after_id: after_id.unwrap_or(0),
            offset,
            limit: limit.get() + 1,
            newest_first: false,
        };
        let mut messages = self.store().list_messages(&query).await?;
        if messages.is_empty() {
            // Only an empty page needs to tell "no session" from "nothing to read".
            self.existing_session(&session_id).await?;
        }
        let has_more = messages.len() > limit.get() as usize;
        messages.truncate(limit.get() as usize);
        let total_count = match after_id {
            Some(_) => None,
            None if !has_more && (offset == 0 || !messages.is_empty()) => {
                Some(offset + messages.len() as i64)
            }
            None => Some(self.store().count_messages(&query).await?),
        };
        self.with_recipients(who, &mut messages).await?;
        let next_after_id = messages.last().map_or(after_id.unwrap_or(0), |m| m.id);
        Ok(MessagePage {
            messages,
            total_count,
            has_more,
            next_after_id,
        })
    }
}

impl Service {
    /// Fills in `to` on the direct messages of a read (one query, only when the page holds
    /// private messages) and notes first deliveries to the reader.
    pub(crate) async fn with_recipients<'a>(
        &self,
        who: &Identity,
        messages: impl IntoIterator<Item = &'a mut MessageRecord>,
    ) -> Result<(), DomainError> {
        let mut messages: Vec<&mut MessageRecord> = messages.into_iter().collect();
        let private: Vec<i64> = messages
            .iter()
            .filter(|m| m.visibility == Visibility::Private && m.to.is_empty())
            .map(|m| m.id)
            .collect();
        if private.is_empty() {
            return Ok(());
        }
        for (id, agent) in self.store().recipients_of(&private).await? {
            if let Some(m) = messages.iter_mut().find(|m| m.id == id) {
                m.to.push(agent);
            }
        }
        if let Some(agent) = who.agent_id() {
            self.note_deliveries(agent.as_str(), messages.iter().map(|m| &**m));
        }
        Ok(())
    }
}

/// The event for a message just written (built here: `realtime` sits below storage's records).
pub(super) fn message_event(m: &MessageRecord) -> crate::realtime::Event {
    crate::realtime::Event::Message {
        session_id: m.session_id.clone(),
        id: m.id,
        visibility: m.visibility,
        sender: m.sender.clone(),
        sender_type: m.sender_type.clone(),
        to: m.to.clone(),
    }
}
