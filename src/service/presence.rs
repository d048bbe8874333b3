//! Presence and receipts, written in coalesced batches. Every authenticated call marks its agent
//! as seen, and every inbox read that hands over a message for the first time marks it delivered;
//! neither writes on the call's path. Both go into in-memory maps that one background task
//! flushes every `FLUSH_INTERVAL` (one statement per kind per flush, however many calls), and
//! that `list_agents` and `get_receipts` flush first so this process's own readers are exact.
//! What another process has not flushed yet shows up within one interval; a crash loses at most
//! one interval of `last_seen` and first-delivery times (acknowledgements are written at once).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Service;
use crate::domain::{DomainError, Identity, Limit, Permission};
use crate::storage::{AgentFilter, AgentRecord, SeenAgent, StoreError};

/// How often pending presence and delivery updates are written.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(2);

#[derive(Default)]
pub(super) struct Coalescer {
    seen: Mutex<HashMap<String, SeenAgent>>,
    delivered: Mutex<Vec<(i64, String)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Coalescer {
    /// A map update under a short lock: the whole cost of presence on the call path.
    pub(super) fn seen(&self, agent_id: &str, agent_type: &str, at: chrono::DateTime<chrono::Utc>) {
        let mut seen = lock(&self.seen);
        match seen.get_mut(agent_id) {
            Some(s) => s.at = at,
            None => {
                seen.insert(
                    agent_id.to_owned(),
                    SeenAgent {
                        agent_id: agent_id.to_owned(),
                        agent_type: agent_type.to_owned(),
                        at,
                    },
                );
            }
        }
    }

    pub(super) fn delivered(&self, deliveries: impl IntoIterator<Item = (i64, String)>) {
        lock(&self.delivered).extend(deliveries);
    }
}

/// An agent as `list_agents` reports it.
#[derive(Debug, Clone)]
pub struct AgentView {
    pub agent: AgentRecord,
    /// Seen within `active_within_seconds`.
    pub active: bool,
}

pub struct ListAgents {
    pub active_within_seconds: Option<i64>,
    pub agent_type: Option<String>,
    pub limit: Option<i64>,
}

impl Service {
    /// Notes that `who` made a call (no I/O).
    pub(super) fn note_seen(&self, who: &Identity) {
        if let Identity::Agent {
            agent_id,
            agent_type,
            ..
        } = who
        {
            self.inner
                .coalescer
                .seen(agent_id.as_str(), agent_type.as_str(), self.now());
        }
    }

    /// Writes pending presence and delivery updates now.
    pub async fn flush_coalesced(&self) -> Result<(), StoreError> {
        let seen: Vec<SeenAgent> = std::mem::take(&mut *lock(&self.inner.coalescer.seen))
            .into_values()
            .collect();
        let delivered = std::mem::take(&mut *lock(&self.inner.coalescer.delivered));
        if let Err(err) = self.store().record_agents_seen(&seen).await {
            // Keep them for the next flush, unless newer sightings replaced them meanwhile.
            let mut pending = lock(&self.inner.coalescer.seen);
            for s in seen {
                pending.entry(s.agent_id.clone()).or_insert(s);
            }
            return Err(err);
        }
        if let Err(err) = self.store().record_deliveries(&delivered, self.now()).await {
            lock(&self.inner.coalescer.delivered).extend(delivered);
            return Err(err);
        }
        Ok(())
    }

    /// Flushes every `FLUSH_INTERVAL` until `stop`, then once more.
    pub fn spawn_coalesced_writer(&self, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            loop {
                let stopped = tokio::select! {
                    () = stop.cancelled() => true,
                    () = tokio::time::sleep(FLUSH_INTERVAL) => false,
                };
                if let Err(err) = service.flush_coalesced().await {
                    tracing::debug!(%err, "presence/receipt flush failed; retrying next interval");
                }
                if stopped {
                    return;
                }
            }
        })
    }

    /// `list_agents`: most recently seen first, each with `active` (seen within the window).
    pub async fn list_agents(
        &self,
        who: &Identity,
        input: ListAgents,
    ) -> Result<Vec<AgentView>, DomainError> {
        who.require(Permission::Read)?;
        let within = input.active_within_seconds.unwrap_or(900);
        if !(0..=31_536_000).contains(&within) {
            return Err(DomainError::invalid(format!(
                "active_within_seconds must be 0 to 31536000; got {within}"
            )));
        }
        let limit = Limit::parse(input.limit, 100, 1000, "limit")?;
        let agent_type = input
            .agent_type
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        // This process's own sightings first, so the caller at least sees itself.
        if let Err(err) = self.flush_coalesced().await {
            tracing::debug!(%err, "presence flush before list_agents failed");
        }
        let agents = self
            .store()
            .list_agents(&AgentFilter {
                seen_since: None,
                agent_type,
                limit: limit.get(),
            })
            .await?;
        let active_since = self.now() - chrono::Duration::seconds(within);
        Ok(agents
            .into_iter()
            .map(|agent| AgentView {
                active: agent.last_seen >= active_since,
                agent,
            })
            .collect())
    }
}
