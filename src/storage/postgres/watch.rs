//! Cross-process change feed on PostgreSQL: one LISTEN connection per process, fanned out through
//! the in-process notifier. After a reconnect a `Resync` covers whatever was missed meanwhile.

use std::time::Duration;

use serde::Deserialize;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use crate::domain::Visibility;
use crate::realtime::{Event, Notifier};

pub(super) const MESSAGES_CHANNEL: &str = "shared_context_messages";
pub(super) const REVOCATIONS_CHANNEL: &str = "shared_context_revocations";

#[derive(Deserialize)]
struct MessagePayload {
    s: String,
    i: i64,
    v: String,
    u: String,
    t: String,
}

fn event_of(channel: &str, payload: &str) -> Option<Event> {
    match channel {
        MESSAGES_CHANNEL => {
            let p: MessagePayload = serde_json::from_str(payload).ok()?;
            Some(Event::Message {
                session_id: p.s,
                id: p.i,
                visibility: Visibility::parse(&p.v).ok()?,
                sender: p.u,
                sender_type: p.t,
            })
        }
        REVOCATIONS_CHANNEL => Some(Event::TokenRevoked {
            token_hash: payload.to_owned(),
        }),
        _ => None,
    }
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
                        if let Some(event) = event_of(n.channel(), n.payload()) {
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
    fn payloads() {
        let e = event_of(
            MESSAGES_CHANNEL,
            r#"{"s":"session_1","i":7,"v":"private","u":"a:b","t":"claude"}"#,
        )
        .unwrap();
        assert!(matches!(
            e,
            Event::Message {
                id: 7,
                visibility: Visibility::Private,
                ..
            }
        ));
        assert!(event_of(MESSAGES_CHANNEL, "garbage").is_none());
        assert_eq!(
            event_of(REVOCATIONS_CHANNEL, "abc"),
            Some(Event::TokenRevoked {
                token_hash: "abc".into()
            })
        );
    }
}
