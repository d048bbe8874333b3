//! Cross-process change feed on PostgreSQL: one LISTEN connection per process, fanned out through
//! the in-process notifier. After a reconnect a `Resync` covers whatever was missed meanwhile.
//!
//! New messages are announced after their commit by a `Publisher` that coalesces them into one
//! NOTIFY per batch: a NOTIFY inside each insert would take PostgreSQL's global notification lock
//! at every commit and serialise all writers.

use std::time::Duration;

use serde::Deserialize;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use crate::domain::Visibility;
use crate::realtime::{Event, Notifier};

pub(super) const MESSAGES_CHANNEL: &str = "shared_context_messages";
pub(super) const REVOCATIONS_CHANNEL: &str = "shared_context_revocations";

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub(super) struct MessagePayload {
    s: String,
    i: i64,
    v: String,
    u: String,
    t: String,
    /// A direct message's recipients, so remote inbox waiters wake.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    r: Vec<String>,
}

impl MessagePayload {
    pub(super) fn of(m: &crate::storage::MessageRecord) -> Self {
        Self {
            s: m.session_id.clone(),
            i: m.id,
            v: m.visibility.as_str().to_owned(),
            u: m.sender.clone(),
            t: m.sender_type.clone(),
            r: m.to.clone(),
        }
    }
}

fn events_of(channel: &str, payload: &str) -> Vec<Event> {
    match channel {
        MESSAGES_CHANNEL => serde_json::from_str::<Vec<MessagePayload>>(payload)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| {
                Some(Event::Message {
                    session_id: p.s,
                    id: p.i,
                    visibility: Visibility::parse(&p.v).ok()?,
                    sender: p.u,
                    sender_type: p.t,
                    to: p.r,
                })
            })
            .collect(),
        REVOCATIONS_CHANNEL => vec![Event::TokenRevoked {
            token_hash: payload.to_owned(),
        }],
        _ => Vec::new(),
    }
}

/// NOTIFY payloads must stay under 8,000 bytes.
const PAYLOAD_BUDGET: usize = 7_000;
/// Announcements buffered at most; beyond it (the database is struggling) remote waiters fall back
/// on their timeouts.
const QUEUE: usize = 10_000;

#[derive(Clone)]
pub(super) struct Publisher {
    tx: tokio::sync::mpsc::Sender<MessagePayload>,
}

impl Publisher {
    pub(super) fn start(pool: PgPool, stop: CancellationToken) -> Self {
        let (tx, rx) = tokio::sync::mpsc::channel(QUEUE);
        tokio::spawn(publish(pool, rx, stop));
        Self { tx }
    }

    pub(super) fn announce(&self, m: &crate::storage::MessageRecord) {
        let _ = self.tx.try_send(MessagePayload::of(m));
    }
}

async fn publish(
    pool: PgPool,
    mut rx: tokio::sync::mpsc::Receiver<MessagePayload>,
    stop: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            () = stop.cancelled() => return,
            next = rx.recv() => match next { Some(p) => p, None => return },
        };
        // Whatever queued up meanwhile goes out with it.
        let mut batch = vec![first];
        while let Ok(p) = rx.try_recv() {
            batch.push(p);
            if batch.len() >= 512 {
                break;
            }
        }
        for chunk in chunks(&batch) {
            if let Err(err) = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(MESSAGES_CHANNEL)
                .bind(&chunk)
                .execute(&pool)
                .await
            {
                tracing::debug!(%err, "NOTIFY failed; remote waiters fall back on their timeouts");
            }
        }
    }
}

/// JSON arrays of payloads, each under the NOTIFY size budget.
fn chunks(batch: &[MessagePayload]) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut size = 2;
    for p in batch {
        let item = serde_json::to_string(p).unwrap_or_default();
        if size + item.len() + 1 > PAYLOAD_BUDGET && !current.is_empty() {
            out.push(format!("[{}]", current.join(",")));
            current.clear();
            size = 2;
        }
        size += item.len() + 1;
        current.push(item);
    }
    if !current.is_empty() {
        out.push(format!("[{}]", current.join(",")));
    }
    out
}

pub(super) async fn listen(pool: PgPool, notifier: Notifier, stop: CancellationToken) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(err) => {
                tracing::debug!(%err, "LISTEN connection failed; retrying");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        if listener
            .listen_all([MESSAGES_CHANNEL, REVOCATIONS_CHANNEL])
            .await
            .is_err()
        {
            continue;
        }
        // Anything written while we were not listening is found by re-reading.
        notifier.publish(Event::Resync);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                received = listener.try_recv() => match received {
                    Ok(Some(n)) => {
                        for event in events_of(n.channel(), n.payload()) {
                            notifier.publish(event);
                        }
                    }
                    // The connection dropped; the listener reconnects on the next call.
                    Ok(None) => {
                        notifier.publish(Event::Resync);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(err) => {
                        tracing::debug!(%err, "LISTEN connection lost; reconnecting");
                        break;
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_and_chunks() {
        let e = events_of(
            MESSAGES_CHANNEL,
            r#"[{"s":"session_1","i":7,"v":"private","u":"a:b","t":"claude"}]"#,
        );
        assert!(matches!(
            e[0],
            Event::Message {
                id: 7,
                visibility: Visibility::Private,
                ..
            }
        ));
        assert!(events_of(MESSAGES_CHANNEL, "garbage").is_empty());
        assert_eq!(
            events_of(REVOCATIONS_CHANNEL, "abc"),
            vec![Event::TokenRevoked {
                token_hash: "abc".into()
            }]
        );
        let p = MessagePayload {
            s: "session_0123456789abcdef".into(),
            i: 1,
            v: "public".into(),
            u: "x".repeat(100),
            t: "claude".into(),
            r: Vec::new(),
        };
        let many = vec![p; 300];
        let parts = chunks(&many);
        assert!(parts.len() > 1 && parts.iter().all(|c| c.len() < 8000));
        let back: usize = parts
            .iter()
            .map(|c| events_of(MESSAGES_CHANNEL, c).len())
            .sum();
        assert_eq!(back, 300);
    }
}
