//! Direct messages and the inbox: who a post goes to (and the loop guards on it), `get_inbox`
//! (a read of the recipients table by recipient, so its cursor is a message id), `ack_messages`
//! and `get_receipts`. Reads never change what later reads return; first deliveries are noted in
//! memory and written in batches (`presence.rs`).

use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::Service;
use super::idempotency::{Keyed, replayed, stored, unexpected};
use crate::domain::inbox::{
    LoopGuards, PAIR_WINDOW_SECONDS, check_depth, pair_wait, parse_cursor, parse_recipients,
    recipients_not_found,
};
use crate::domain::{DomainError, ErrorCode, Identity, Limit, Permission, SessionId};
use crate::storage::{IdempotentWrite, InboxItem, InboxQuery, MessageRecord, Receipt, WriteResult};

/// How many known agent ids are ranked for `RECIPIENT_NOT_FOUND` suggestions.
const SUGGESTION_POOL: u32 = 1000;
pub const INBOX_MAX_LIMIT: u32 = 200;
pub const ACK_MAX_IDS: usize = 500;

pub struct GetInbox {
    pub after_cursor: Option<String>,
    pub limit: Option<i64>,
    pub session_id: Option<String>,
    pub wait_seconds: Option<f64>,
}

pub struct InboxPage {
    pub items: Vec<InboxItem>,
    pub next_cursor: i64,
    pub has_more: bool,
}

/// Who a new message goes to, decided before it is written.
pub(super) struct Addressing {
    /// Empty: the whole session.
    pub to: Vec<String>,
}

impl Service {
    pub(super) fn loop_guards(&self) -> &LoopGuards {
        &self.inner.loop_guards
    }

    /// Recipients and loop guards for a post by `sender`: explicit `to`, or a reply to a direct
    /// message (which goes to the parent's sender and other recipients). Checks the reply depth,
    /// that every recipient exists, and the per-pair rate. Writes nothing.
    pub(super) async fn address(
        &self,
        sender: &str,
        session_id: &SessionId,
        to: Option<&[String]>,
        parent_message_id: Option<i64>,
    ) -> Result<Addressing, DomainError> {
        let guards = *self.loop_guards();
        let parent = match parent_message_id {
            Some(parent) => {
                self.store()
                    .parent_thread(session_id.as_str(), parent, guards.max_thread_depth)
                    .await?
            }
            None => None,
        };
        if let Some(p) = &parent {
            check_depth(p.depth.saturating_add(1), &guards)?;
        }
        let to = match (to, &parent) {
            (Some(raw), _) => parse_recipients(raw, sender)?,
            (None, Some(p)) if !p.to.is_empty() => std::iter::once(&p.sender)
                .chain(&p.to)
                .filter(|a| a.as_str() != sender)
                .fold(Vec::new(), |mut acc: Vec<String>, a| {
                    if !acc.contains(a) {
                        acc.push(a.clone());
                    }
                    acc
                }),
            _ => Vec::new(),
        };
        if to.is_empty() {
            return Ok(Addressing { to });
        }
        let known = self.store().known_agents(&to).await?;
        let unknown: Vec<String> = to.iter().filter(|a| !known.contains(a)).cloned().collect();
        if !unknown.is_empty() {
            let pool = self.store().agent_ids(SUGGESTION_POOL).await?;
            return Err(recipients_not_found(&unknown, &pool));
        }
        self.check_pair_rates(sender, &to, guards.direct_per_pair_per_minute)
            .await?;
        Ok(Addressing { to })
    }

    /// `RATE_LIMITED` when any (sender, recipient) pair is at its cap. Counted from the database
    /// (the sender's direct messages of the last minute, `messages_direct_sender_idx`), so every
    /// process on one database shares the limit. Two posts of one pair racing in two processes
    /// can both pass at cap - 1 (one over): the guard stops loops, it is not a quota.
    async fn check_pair_rates(
        &self,
        sender: &str,
        to: &[String],
        cap: u32,
    ) -> Result<(), DomainError> {
        if cap == 0 {
            return Ok(());
        }
        let now = self.now();
        let since = now - chrono::Duration::seconds(PAIR_WINDOW_SECONDS);
        let sends = self.store().direct_sends_since(sender, to, since).await?;
        for pair in sends {
            if let Some(wait) = pair_wait(cap, pair.count, pair.oldest, now) {
                return Err(DomainError::new(
                    ErrorCode::RateLimited,
                    format!(
                        "'{sender}' sent '{}' {} direct messages in the last minute; the limit is {cap} \
                         (DIRECT_MESSAGES_PER_PAIR_PER_MINUTE); agents replying to each other in a loop look like this",
                        pair.recipient, pair.count
                    ),
                )
                .suggest("wait retry_after seconds, or stop the exchange if it is going in circles")
                .retry_after(wait));
            }
        }
        Ok(())
    }

    /// `get_inbox`: direct messages addressed to the caller after the cursor, oldest first,
    /// across sessions (or in `session_id`). With `wait_seconds`, blocks like
    /// `wait_for_messages` until something arrives.
    pub async fn get_inbox(
        &self,
        who: &Identity,
        input: GetInbox,
        cancel: &CancellationToken,
    ) -> Result<InboxPage, DomainError> {
        who.require(Permission::Read)?;
        let agent_id = who
            .agent_id()
            .ok_or_else(|| {
                DomainError::new(
                    ErrorCode::PermissionDenied,
                    "an inbox belongs to an agent; this call has no agent identity",
                )
                .suggest("call authenticate_agent and pass its token as auth_token")
            })?
            .as_str()
            .to_owned();
        let after_id = parse_cursor(input.after_cursor.as_deref())?;
        let limit = Limit::parse(input.limit, 50, INBOX_MAX_LIMIT, "limit")?.get();
        let session_id = input
            .session_id
            .as_deref()
            .map(SessionId::parse)
            .transpose()?;
        let timeout = self.wait_timeout(input.wait_seconds, "wait_seconds", 0.0)?;
        let query = InboxQuery {
            agent_id: &agent_id,
            after_id,
            session_id: session_id.as_ref().map(SessionId::as_str),
            limit: limit + 1,
        };
        // Subscribe before the first read, so nothing written in between is missed.
        let mut events = self.notifier().subscribe();
        let mut items = self.store().inbox(&query).await?;
        if items.is_empty() && !timeout.is_zero() {
            let deadline = tokio::time::Instant::now() + timeout;
            while items.is_empty() {
                tokio::select! {
                    () = tokio::time::sleep_until(deadline) => break,
                    () = cancel.cancelled() => break,
                    event = events.next() => match event {
                        None => break,
                        Some(e) if e.wakes_inbox_of(&agent_id) => items = self.store().inbox(&query).await?,
                        Some(_) => {}
                    },
                }
            }
        }
        let has_more = items.len() > limit as usize;
        items.truncate(limit as usize);
        self.note_deliveries(&agent_id, items.iter().map(|i| &i.message));
        Ok(InboxPage {
            next_cursor: items.last().map_or(after_id, |i| i.message.id),
            has_more,
            items,
        })
    }

    /// The first-delivery receipts of what a read just handed to `agent_id` (no I/O).
    pub(super) fn note_deliveries<'a>(
        &self,
        agent_id: &str,
        messages: impl Iterator<Item = &'a MessageRecord>,
    ) {
        self.inner.coalescer.delivered(
            messages
                .filter(|m| m.to.iter().any(|r| r == agent_id))
                .map(|m| (m.id, agent_id.to_owned())),
        );
    }

    /// A wait argument in seconds, capped by the server's wait cap; `default` when absent.
    pub(super) fn wait_timeout(
        &self,
        raw: Option<f64>,
        field: &str,
        default: f64,
    ) -> Result<Duration, DomainError> {
        let cap = self.wait_cap();
        match raw.unwrap_or(default) {
            t if t.is_finite() && t >= 0.0 => Ok(Duration::from_secs_f64(t).min(cap)),
            t => Err(
                DomainError::invalid(format!("{field} must be 0 or more; got {t}"))
                    .suggest(format!("use 0 to {} seconds", cap.as_secs())),
            ),
        }
    }

    /// `ack_messages`: acknowledges messages addressed to the caller; idempotent by nature, and
    /// with an `idempotency_key` through the one safe-retry protocol (a replay returns the first
    /// answer; the key with other ids is `IDEMPOTENCY_CONFLICT`). Returns the acknowledged ids.
    pub async fn ack_messages(
        &self,
        who: &Identity,
        ids: &[i64],
        idempotency_key: Option<&str>,
    ) -> Result<Vec<i64>, DomainError> {
        who.require(Permission::Read)?;
        let agent_id = who
            .agent_id()
            .map(|a| a.as_str().to_owned())
            .ok_or_else(|| {
                DomainError::new(
                    ErrorCode::PermissionDenied,
                    "only an agent can acknowledge messages",
                )
                .suggest("call authenticate_agent and pass its token as auth_token")
            })?;
        if ids.is_empty() || ids.len() > ACK_MAX_IDS || ids.iter().any(|id| *id < 1) {
            return Err(DomainError::invalid(format!(
                "message_ids must list 1 to {ACK_MAX_IDS} positive message ids"
            ))
            .suggest("pass ids from get_inbox"));
        }
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let retry = self.retry_key(
            who,
            idempotency_key,
            "ack_messages",
            || json!({"message_ids": ids}),
        )?;
        let at = self.now();
        let outcome = match &retry {
            None => self.store().ack(&agent_id, &ids, at).await?,
            Some(retry) => {
                let write = IdempotentWrite::Ack {
                    agent_id: &agent_id,
                    ids: &ids,
                    at,
                };
                match self
                    .write_once(retry, write, &|r| match r {
                        WriteResult::Acked(o) if o.not_addressed.is_empty() => stored(&o.acked),
                        _ => None,
                    })
                    .await?
                {
                    Keyed::Replayed(body) => return replayed(body),
                    Keyed::Fresh(WriteResult::Acked(outcome)) => outcome,
                    Keyed::Fresh(other) => return Err(unexpected(&other)),
                }
            }
        };
        if !outcome.not_addressed.is_empty() {
            return Err(DomainError::new(
                ErrorCode::PermissionDenied,
                format!(
                    "messages {:?} are not addressed to you; nothing was acknowledged",
                    outcome.not_addressed
                ),
            )
            .suggest("acknowledge only ids that get_inbox returned to you"));
        }
        Ok(outcome.acked)
    }

    /// `get_receipts`: for the sender or an admin, when each recipient first received the
    /// message and acknowledged it.
    pub async fn get_receipts(
        &self,
        who: &Identity,
        message_id: i64,
    ) -> Result<Vec<Receipt>, DomainError> {
        who.require(Permission::Read)?;
        if let Err(err) = self.flush_coalesced().await {
            tracing::debug!(%err, "receipt flush before get_receipts failed");
        }
        let not_found = || {
            DomainError::new(
                ErrorCode::PermissionDenied,
                format!("message {message_id} is not one you sent (or does not exist)"),
            )
            .suggest("ask for receipts of your own direct messages (the message_id add_message returned)")
        };
        let (sender, receipts) = self
            .store()
            .receipts(message_id)
            .await?
            .ok_or_else(not_found)?;
        let is_admin = who.permissions().contains(Permission::Admin);
        if !is_admin && who.agent_id().is_none_or(|a| a.as_str() != sender) {
            return Err(not_found());
        }
        Ok(receipts)
    }
}
