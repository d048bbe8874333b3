//! `wait_for_messages` and the change feed: long-polling without polling the database, woken by
//! the notifier only for messages the caller may read.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{GetMessages, MessagePage, Service};
use crate::domain::input::non_negative;
use crate::domain::{DomainError, Identity, Permission, Reader, SessionId};
use crate::realtime::Event;

pub struct WaitForMessages {
    pub session_id: String,
    pub after_id: Option<i64>,
    pub timeout_seconds: Option<f64>,
    pub limit: Option<i64>,
}

impl Service {
    /// Starts the cross-process change feed and the task that drops tokens revoked elsewhere.
    pub fn start_change_feed(&self, stop: CancellationToken) {
        self.store()
            .watch_changes(self.notifier().clone(), stop.clone());
        let service = self.clone();
        let mut events = self.notifier().subscribe();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    event = events.next() => match event.as_deref() {
                        Some(Event::TokenRevoked { token_hash }) => service.token_cache().evict(token_hash),
                        Some(_) => {}
                        None => return,
                    },
                }
            }
        });
    }

    /// Returns as soon as messages visible to `who` exist after `after_id`, or empty at the
    /// timeout (capped by the server), or when `cancel` fires.
    pub async fn wait_for_messages(
        &self,
        who: &Identity,
        input: WaitForMessages,
        cancel: &CancellationToken,
    ) -> Result<MessagePage, DomainError> {
        who.require(Permission::Read)?;
        let session_id = SessionId::parse(&input.session_id)?;
        let after_id = non_negative(input.after_id, "after_id")?;
        let cap = self.wait_cap();
        let timeout = match input.timeout_seconds {
            None => Duration::from_secs(30).min(cap),
            Some(t) if t.is_finite() && t >= 0.0 => Duration::from_secs_f64(t).min(cap),
            Some(t) => {
                return Err(DomainError::invalid(format!(
                    "timeout_seconds must be 0 or more; got {t}"
                ))
                .suggest(format!("use a timeout from 0 to {} seconds", cap.as_secs())));
            }
        };
        let reader = Reader::of(who);
        // Subscribe before the first read, so nothing written in between is missed.
        let mut events = self.notifier().subscribe();
        let read = || {
            self.get_messages(
                who,
                GetMessages {
                    session_id: session_id.as_str().to_owned(),
                    limit: input.limit,
                    offset: None,
                    visibility_filter: None,
                    after_id: Some(after_id),
                },
            )
        };
        let first = read().await?;
        if !first.messages.is_empty() || timeout.is_zero() {
            return Ok(first);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let _waiting = self.metrics().waiters.enter();
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => return Ok(first),
                () = cancel.cancelled() => return Ok(first),
                event = events.next() => match event {
                    None => return Ok(first),
                    Some(e) if e.wakes(session_id.as_str(), &reader) => {
                        let page = read().await?;
                        if !page.messages.is_empty() {
                            return Ok(page);
                        }
                    }
                    Some(_) => {}
                },
            }
        }
    }
}
