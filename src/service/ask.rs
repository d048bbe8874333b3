//! `ask`: a direct message to one agent, then a wait for that agent's first reply to it, on the
//! same wake-up path as `wait_for_messages` (and the same cap). The question is an ordinary
//! direct message, so a reply that comes after the timeout still reaches the asker's inbox.

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{AddMessage, Service};
use crate::domain::{Identity, Permission, Reader};
use crate::error::DomainError;
use crate::realtime::Event;
use crate::storage::MessageRecord;

pub struct Ask {
    pub session_id: String,
    pub to: String,
    pub content: String,
    pub timeout_seconds: Option<f64>,
    pub metadata: Option<Value>,
    pub idempotency_key: Option<String>,
}

#[derive(Debug)]
pub struct AskOutcome {
    pub message_id: i64,
    pub reply: Option<MessageRecord>,
    pub timed_out: bool,
}

impl Service {
    pub async fn ask(
        &self,
        who: &Identity,
        input: Ask,
        cancel: &CancellationToken,
    ) -> Result<AskOutcome, DomainError> {
        who.require(Permission::Write)?;
        let timeout = self.wait_timeout(input.timeout_seconds, "timeout_seconds", 25.0)?;
        let target = input.to.trim().to_owned();
        // Subscribe before posting, so a reply written at once is not missed.
        let mut events = self.notifier().subscribe();
        let posted = self
            .add_message(
                who,
                AddMessage {
                    session_id: input.session_id,
                    content: input.content,
                    visibility: None,
                    metadata: input.metadata,
                    parent_message_id: None,
                    to: Some(vec![target.clone()]),
                    idempotency_key: input.idempotency_key,
                },
            )
            .await?;
        let (message_id, session_id) = (posted.id, posted.session_id);
        let reader = Reader::of(who);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(reply) = self
                .readable_reply(who, &reader, message_id, &target)
                .await?
            {
                return Ok(AskOutcome {
                    message_id,
                    reply: Some(reply),
                    timed_out: false,
                });
            }
            let woken = loop {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => break false,
                    () = cancel.cancelled() => break false,
                    event = events.next() => match event.as_deref() {
                        None => break false,
                        Some(Event::Message { session_id: s, sender, .. }) if *s == session_id && *sender == target => break true,
                        Some(Event::Resync) => break true,
                        Some(_) => {}
                    },
                }
            };
            if !woken {
                let reply = self
                    .readable_reply(who, &reader, message_id, &target)
                    .await?;
                return Ok(AskOutcome {
                    message_id,
                    timed_out: reply.is_none(),
                    reply,
                });
            }
        }
    }

    /// `target`'s first reply to `question`, if the asker may read it.
    async fn readable_reply(
        &self,
        who: &Identity,
        reader: &Reader,
        question: i64,
        target: &str,
    ) -> Result<Option<MessageRecord>, DomainError> {
        let Some(reply) = self.store().first_reply(question, target).await? else {
            return Ok(None);
        };
        if !reader.may_read(
            reply.visibility,
            &reply.sender,
            &reply.sender_type,
            &reply.to,
        ) {
            return Ok(None);
        }
        if let Some(agent) = who.agent_id() {
            self.note_deliveries(agent.as_str(), std::iter::once(&reply));
        }
        Ok(Some(reply))
    }
}
