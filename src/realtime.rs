//! Change events inside one process: "a message arrived", "a token was revoked", "resynchronise".
//! Storage feeds in what other processes wrote (PostgreSQL LISTEN/NOTIFY, SQLite's data_version);
//! the service feeds in its own writes. Waiters treat an event as a hint and re-read the database,
//! so a duplicate event costs one query and a lost one is covered by `Resync`.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::domain::{Reader, Visibility};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Message {
        session_id: String,
        id: i64,
        visibility: Visibility,
        sender: String,
        sender_type: String,
        /// A direct message's recipients (empty otherwise).
        to: Vec<String>,
    },
    TokenRevoked {
        token_hash: String,
    },
    /// Events may have been missed (a listener reconnected, a receiver lagged): re-read everything.
    Resync,
}

impl Event {
    /// Whether this event may concern `reader` waiting on `session_id`.
    pub fn wakes(&self, session_id: &str, reader: &Reader) -> bool {
        match self {
            Self::Message {
                session_id: s,
                visibility,
                sender,
                sender_type,
                to,
                ..
            } => s == session_id && reader.may_read(*visibility, sender, sender_type, to),
            Self::Resync => true,
            Self::TokenRevoked { .. } => false,
        }
    }

    /// Whether this event may bring something to `agent_id`'s inbox (any session).
    pub fn wakes_inbox_of(&self, agent_id: &str) -> bool {
        match self {
            Self::Message { to, .. } => to.iter().any(|r| r == agent_id),
            Self::Resync => true,
            Self::TokenRevoked { .. } => false,
        }
    }
}

/// A broadcast of events with a bounded buffer; slow receivers see `Resync` instead of blocking
/// writers.
#[derive(Clone)]
pub struct Notifier {
    tx: broadcast::Sender<Arc<Event>>,
}

impl Default for Notifier {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl Notifier {
    pub fn new(capacity: usize) -> Self {
        Self {
            tx: broadcast::channel(capacity).0,
        }
    }

    pub fn publish(&self, event: Event) {
        // No receivers is fine: nobody is waiting.
        let _ = self.tx.send(Arc::new(event));
    }

    pub fn subscribe(&self) -> Subscription {
        Subscription {
            rx: self.tx.subscribe(),
        }
    }

    pub fn receivers(&self) -> usize {
        self.tx.receiver_count()
    }
}

pub struct Subscription {
    rx: broadcast::Receiver<Arc<Event>>,
}

impl Subscription {
    /// The next event; a lagged receiver gets `Resync`. `None` once the notifier is gone.
    pub async fn next(&mut self) -> Option<Arc<Event>> {
        match self.rx.recv().await {
            Ok(event) => Some(event),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(Arc::new(Event::Resync)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lagging_receivers_resync() {
        let n = Notifier::new(2);
        let mut sub = n.subscribe();
        for id in 0..5 {
            n.publish(Event::Message {
                session_id: "s".into(),
                id,
                visibility: Visibility::Public,
                sender: "a".into(),
                sender_type: "claude".into(),
                to: Vec::new(),
            });
        }
        assert_eq!(*sub.next().await.unwrap(), Event::Resync);
    }

    #[test]
    fn wakes_only_readers_who_may_read() {
        let e = Event::Message {
            session_id: "s".into(),
            id: 1,
            visibility: Visibility::Private,
            sender: "alice".into(),
            sender_type: "claude".into(),
            to: vec!["carol".into()],
        };
        let bob = Reader::Agent {
            agent_id: "bob".into(),
            agent_type: "claude".into(),
        };
        let alice = Reader::Agent {
            agent_id: "alice".into(),
            agent_type: "claude".into(),
        };
        assert!(!e.wakes("s", &bob));
        assert!(e.wakes("s", &alice));
        assert!(!e.wakes("other", &alice));
        assert!(e.wakes("s", &Reader::Admin));
        let carol = Reader::Agent {
            agent_id: "carol".into(),
            agent_type: "gemini".into(),
        };
        assert!(e.wakes("s", &carol));
        assert!(e.wakes_inbox_of("carol") && !e.wakes_inbox_of("bob"));
    }
}
