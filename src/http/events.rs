//! `GET /sessions/{session_id}/events`: a Server-Sent Events stream of new messages for humans and
//! dashboards, filtered by the reader's identity (bearer token; the API key alone reads public
//! messages), resumable with `Last-Event-ID` (the last message id received); ends when shutdown begins.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::HttpState;
use crate::domain::{Identity, Reader};
use crate::mcp::HttpCredentials;
use crate::mcp::render;
use crate::realtime::Subscription;
use crate::service::{GetMessages, Service};
use crate::storage::MessageRecord;

#[derive(Debug, Deserialize)]
pub(super) struct EventsQuery {
    after_id: Option<i64>,
}

struct Feed {
    service: Service,
    who: Identity,
    reader: Reader,
    session_id: String,
    last_id: i64,
    events: Subscription,
    pending: VecDeque<MessageRecord>,
    /// Shutdown ends the stream, so a graceful stop need not wait out the grace period.
    shutdown: tokio_util::sync::CancellationToken,
    /// Counts this stream in `scs_event_streams` while it is open.
    _open: crate::metrics::LiveGuard,
}

const PAGE: i64 = 100;

impl Feed {
    async fn refill(&mut self) -> bool {
        let page = self
            .service
            .get_messages(
                &self.who,
                GetMessages {
                    session_id: self.session_id.clone(),
                    limit: Some(PAGE),
                    offset: None,
                    visibility_filter: None,
                    after_id: Some(self.last_id),
                },
            )
            .await;
        match page {
            Ok(page) => {
                self.pending.extend(page.messages);
                true
            }
            Err(err) => {
                tracing::debug!(code = err.code.as_str(), "event stream read failed");
                // A transient database error: try again on the next wake-up.
                err.code == crate::error::ErrorCode::DatabaseUnavailable
            }
        }
    }

    async fn next_event(mut self) -> Option<(Result<SseEvent, Infallible>, Self)> {
        loop {
            if let Some(m) = self.pending.pop_front() {
                self.last_id = m.id;
                let event = SseEvent::default()
                    .id(m.id.to_string())
                    .event("message")
                    .data(render::message(m).to_string());
                return Some((Ok(event), self));
            }
            // Wait for something this reader may read, then fetch it from the database.
            loop {
                let event = tokio::select! {
                    event = self.events.next() => event?,
                    () = self.shutdown.cancelled() => return None,
                };
                if event.wakes(&self.session_id, &self.reader) {
                    break;
                }
            }
            if !self.refill().await {
                return None;
            }
        }
    }
}

pub(super) async fn session_events(
    State(state): State<HttpState>,
    Path(session_id): Path<String>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
    axum::Extension(creds): axum::Extension<HttpCredentials>,
) -> Response {
    let service = state.service.clone();
    let who = match &creds.bearer {
        Some(token) => match service.identity_for_token(token).await {
            Ok(who) => who,
            Err(err) => return super::error::error_response(&err),
        },
        None => Identity::Anonymous,
    };
    stream(
        &state,
        who,
        session_id,
        resume_point(&headers, query.after_id),
        None,
    )
    .await
}

/// Where a stream starts: `Last-Event-ID` (set by browsers on reconnect) wins over `?after_id=`.
pub(super) fn resume_point(headers: &HeaderMap, after_id: Option<i64>) -> i64 {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .or(after_id)
        .unwrap_or(0)
}

/// The event stream of the messages `who` may read in a session after `resume`, for every front
/// end (header credentials here, the dashboard's cookie in `ui`). It ends when `stop` fires.
pub(super) async fn stream(
    state: &HttpState,
    who: Identity,
    session_id: String,
    resume: i64,
    stop: Option<CancellationToken>,
) -> Response {
    let service = state.service.clone();
    let mut feed = Feed {
        reader: Reader::of(&who),
        events: service.notifier().subscribe(),
        service,
        who,
        session_id,
        last_id: resume.max(0),
        pending: VecDeque::new(),
        shutdown: state.shutdown.clone(),
        _open: state.service.metrics().event_streams.enter(),
    };
    // The first read validates the session and the reader, and sends the backlog after the cursor.
    let first = feed
        .service
        .get_messages(
            &feed.who,
            GetMessages {
                session_id: feed.session_id.clone(),
                limit: Some(PAGE),
                offset: None,
                visibility_filter: None,
                after_id: Some(feed.last_id),
            },
        )
        .await;
    match first {
        Ok(page) => feed.pending.extend(page.messages),
        Err(err) => return super::error::error_response(&err),
    }
    let events = stream::unfold(feed, Feed::next_event);
    let stream: std::pin::Pin<Box<dyn Stream<Item = Result<SseEvent, Infallible>> + Send>> =
        match stop {
            None => Box::pin(events),
            Some(stop) => Box::pin(events.take_until(stop.cancelled_owned())),
        };
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
