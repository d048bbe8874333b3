//! The dashboard's JSON and event stream. Each handler takes the identity the cookie resolved
//! to and calls the same service use-case an MCP tool would: no data path of its own.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::UiCaller;
use crate::error::DomainError;
use crate::http::HttpState;
use crate::mcp::render;
use crate::service::{HumanPost, SearchContext};

type Caller = axum::Extension<UiCaller>;

/// A service error as JSON with the status a browser understands.
pub(super) fn failure(err: &DomainError) -> Response {
    crate::http::error::error_response(err)
}

fn answer(result: Result<Value, DomainError>) -> Response {
    match result {
        Ok(body) => Json(body).into_response(),
        Err(err) => failure(&err),
    }
}

pub(super) async fn me(caller: Caller) -> Response {
    Json(json!({
        "kind": caller.kind,
        "name": caller.identity.agent_id().map(|a| a.as_str()),
        "admin": caller.identity.is_admin(),
        "csrf": caller.csrf,
    }))
    .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    active_only: Option<bool>,
    cursor: Option<String>,
    limit: Option<i64>,
}

pub(super) async fn sessions(
    State(state): State<HttpState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Response {
    let result = state
        .service
        .session_summaries(
            &caller.identity,
            q.active_only.unwrap_or(false),
            q.limit,
            q.cursor.as_deref(),
        )
        .await
        .map(|(rows, next_cursor)| {
            let rows: Vec<Value> = rows
                .iter()
                .map(|r| {
                    render::object_with(
                        render::session(&r.session),
                        "message_count",
                        r.visible_messages.into(),
                    )
                })
                .collect();
            json!({"sessions": rows, "next_cursor": next_cursor})
        });
    answer(result)
}

pub(super) async fn session(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let result = state
        .service
        .get_session(&caller.identity, &id)
        .await
        .map(|view| {
            render::object_with(
                render::session(&view.session),
                "message_count",
                view.visible_message_count.into(),
            )
        });
    answer(result)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HistoryQuery {
    before_id: Option<i64>,
    limit: Option<i64>,
}

/// Newest first, `before_id` the cursor for the next (older) page.
pub(super) async fn messages(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Response {
    let result = state
        .service
        .message_history(&caller.identity, &id, q.before_id, q.limit)
        .await
        .map(|page| {
            let oldest = page.last().map(|m| m.id);
            json!({"messages": render::messages(page), "before_id": oldest})
        });
    answer(result)
}

/// The session's live leases and tasks (the session page's coordination panel).
pub(super) async fn coordination(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let result = state
        .service
        .session_coordination(&caller.identity, &id)
        .await
        .map(|c| {
            let leases: Vec<Value> = c
                .leases
                .iter()
                .map(|l| {
                    json!({
                        "lease_id": l.lease_id,
                        "resources": l.resources,
                        "held_by": l.holder,
                        "mode": l.mode.as_str(),
                        "expires_at": crate::util::rfc3339(l.expires_at),
                        "fencing_token": l.fencing_token,
                    })
                })
                .collect();
            let tasks: Vec<Value> = c
                .tasks
                .iter()
                .map(|t| {
                    json!({
                        "task_id": t.id,
                        "title": t.title,
                        "state": t.state,
                        "assignee": t.assignee,
                        "claimed_by": t.claimed_by,
                        "blocked_by": t.blocked_by,
                        "updated_at": crate::util::rfc3339(t.updated_at),
                    })
                })
                .collect();
            json!({"leases": leases, "tasks": tasks, "more_tasks": c.more_tasks})
        });
    answer(result)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EventsQuery {
    after_id: Option<i64>,
}

pub(super) async fn events(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<EventsQuery>,
    headers: HeaderMap,
) -> Response {
    let resume = crate::http::events::resume_point(&headers, q.after_id);
    let UiCaller {
        identity, ended, ..
    } = caller.0;
    crate::http::events::stream(&state, identity, id, resume, Some(ended)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SearchQuery {
    q: String,
}

pub(super) async fn search(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<SearchQuery>,
) -> Response {
    let input = SearchContext {
        session_id: id,
        query: q.q,
        fuzzy_threshold: None,
        limit: Some(50),
        search_metadata: Some(true),
        search_scope: None,
    };
    let result = state
        .service
        .search_context(&caller.identity, input)
        .await
        .map(|found| {
            let hits: Vec<Value> = found
                .hits
                .into_iter()
                .map(|h| {
                    let score = (h.score * 10.0).round() / 10.0;
                    render::object_with(render::message(h.message), "score", score.into())
                })
                .collect();
            json!({"hits": hits})
        });
    answer(result)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PostBody {
    name: String,
    content: String,
    visibility: Option<String>,
    parent_message_id: Option<i64>,
}

/// The human overseer posts into a session (admin only, audited).
pub(super) async fn post(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<PostBody>,
) -> Response {
    let post = HumanPost {
        name: body.name,
        session_id: id,
        content: body.content,
        visibility: body.visibility,
        parent_message_id: body.parent_message_id,
    };
    let result = state
        .service
        .post_as_human(&caller.identity, post)
        .await
        .map(render::message);
    answer(result)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CloseBody {
    name: String,
}

pub(super) async fn close(
    State(state): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<CloseBody>,
) -> Response {
    let result = state
        .service
        .close_as_human(&caller.identity, &body.name, &id)
        .await
        .map(|s| render::session(&s));
    answer(result)
}

pub(super) async fn operations(State(state): State<HttpState>, caller: Caller) -> Response {
    let service = &state.service;
    if let Err(err) = caller.identity.require(crate::domain::Permission::Read) {
        return failure(&err);
    }
    let health = service.health().await;
    let history = service.metrics().last_hour();
    Json(json!({"health": health, "last_hour": history})).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditQuery {
    limit: Option<i64>,
}

pub(super) async fn audit(
    State(state): State<HttpState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> Response {
    let result = state
        .service
        .audit_log(&caller.identity, q.limit)
        .await
        .map(|rows| {
            let rows: Vec<Value> = rows
                .into_iter()
                .map(|r| {
                    json!({
                        "event": r.event,
                        "actor": r.actor,
                        "session_id": r.session_id,
                        "details": r.details,
                        "at": crate::util::rfc3339(r.created_at),
                    })
                })
                .collect();
            json!({"entries": rows})
        });
    answer(result)
}
