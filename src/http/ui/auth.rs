//! Dashboard sign-in and the cookie gate: the secret typed into the form (admin key, API key or
//! agent token) becomes the same `Identity` the MCP tools use; every `/ui/api` request resolves
//! its cookie to that identity here, and every write must come from our own origin with the
//! session's CSRF token.

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::cookie::{Credential, UiSession, clear_cookie, read_cookie, set_cookie};
use crate::auth::{KeyKind, is_token_shaped};
use crate::domain::{AgentId, AgentType, Identity, Permission, Permissions};
use crate::error::ErrorCode;
use crate::http::HttpState;
use crate::storage::AuditEvent;

/// Who is signed in, for the handlers behind the gate.
#[derive(Clone)]
pub(super) struct UiCaller {
    pub identity: Identity,
    pub kind: &'static str,
    pub csrf: String,
    /// Fires on sign-out: event streams end with the session.
    pub ended: CancellationToken,
}

pub(super) fn reject(code: ErrorCode, message: &str) -> Response {
    crate::http::error::refuse(code, message)
}

/// Whether the browser reached us over TLS (directly or through a proxy that says so).
fn over_tls(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    text("x-forwarded-proto").is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
        || text("forwarded").is_some_and(|f| f.to_ascii_lowercase().contains("proto=https"))
}

fn client_ip(request: &Request) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Writes must carry an `Origin` naming this very host: a page elsewhere cannot post for us.
fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    match (host, origin) {
        (Some(host), Some(origin)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host.trim())),
        _ => false,
    }
}

/// The identity the admin key stands for in the dashboard.
fn admin_identity() -> Identity {
    Identity::Agent {
        agent_id: AgentId::from_trusted("dashboard-admin".into()),
        agent_type: AgentType::human(),
        permissions: Permissions::of(&Permission::ALL),
        expires_at: crate::util::now() + chrono::Duration::hours(1),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SignIn {
    secret: String,
}

pub(super) async fn sign_in(State(state): State<HttpState>, request: Request) -> Response {
    let client = client_ip(&request);
    let headers = request.headers().clone();
    if !same_origin(&headers) {
        return reject(
            ErrorCode::OriginRequired,
            "sign in from the dashboard page itself (the request had no Origin of this host)",
        );
    }
    let ui = &state.ui;
    if let Some(wait) = ui.locked_out(client) {
        let mut response = reject(
            ErrorCode::RateLimited,
            "too many failed sign-ins from this address; wait a minute and try again",
        );
        if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    let body = axum::body::to_bytes(request.into_body(), 64 * 1024).await;
    let Some(secret) = body
        .ok()
        .and_then(|b| serde_json::from_slice::<SignIn>(&b).ok())
        .map(|s| s.secret.trim().to_owned())
        .filter(|s| !s.is_empty())
    else {
        return reject(
            ErrorCode::InvalidInput,
            "send JSON {\"secret\": \"…\"} with the admin key, the API key or an agent token",
        );
    };
    let service = &state.service;
    let credential = match service.keys().check(&secret) {
        Some(KeyKind::Admin) => Some(Credential::Admin),
        Some(KeyKind::Agent) => Some(Credential::Viewer),
        None if is_token_shaped(&secret) => match service.identity_for_token(&secret).await {
            Ok(_) => Some(Credential::Agent(secret)),
            Err(err) if err.code == ErrorCode::DatabaseUnavailable => {
                return crate::http::error::error_response(&err);
            }
            Err(_) => None,
        },
        None => None,
    };
    let Some(credential) = credential else {
        ui.record_failure(client);
        service
            .audit_quietly(AuditEvent::new(
                "dashboard_sign_in_failed",
                "dashboard",
                json!({"client": client.map(|c| c.to_string())}),
            ))
            .await;
        return reject(
            ErrorCode::AuthFailed,
            "that is not the admin key, the API key or a live agent token",
        );
    };
    let kind = credential.kind();
    let Some((cookie, session)) = ui.start(credential) else {
        return reject(
            ErrorCode::TooManySessions,
            "too many dashboard sessions are open; try again later",
        );
    };
    service
        .audit_quietly(AuditEvent::new(
            "dashboard_sign_in",
            "dashboard",
            json!({"kind": kind}),
        ))
        .await;
    let mut response =
        Json(json!({"success": true, "kind": kind, "csrf": session.csrf})).into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie(&cookie, over_tls(&headers))) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

pub(super) async fn sign_out(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    if let Some(cookie) = cookie_of(&headers) {
        state.ui.end(cookie);
    }
    let mut response = Json(json!({"success": true})).into_response();
    if let Ok(v) = HeaderValue::from_str(&clear_cookie(over_tls(&headers))) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

fn cookie_of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(read_cookie)
}

async fn identity_of(state: &HttpState, session: &UiSession) -> Result<Identity, Response> {
    match &session.credential {
        Credential::Admin => Ok(admin_identity()),
        Credential::Viewer => Ok(Identity::Anonymous),
        Credential::Agent(token) => match state.service.identity_for_token(token).await {
            Ok(who) => Ok(who),
            Err(err) if err.code == ErrorCode::DatabaseUnavailable => {
                Err(crate::http::error::error_response(&err))
            }
            Err(_) => Err(reject(
                ErrorCode::AuthRequired,
                "the agent token behind this sign-in expired or was revoked; sign in again",
            )),
        },
    }
}

/// The gate on `/ui/api/*`: a live cookie, else 401; for writes also our Origin and the CSRF token.
pub(super) async fn require_session(
    State(state): State<HttpState>,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let Some(session) = cookie_of(headers).and_then(|c| state.ui.find(c)) else {
        return reject(ErrorCode::AuthRequired, "sign in to the dashboard first");
    };
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let token = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
        if !same_origin(headers)
            || !token.is_some_and(|t| crate::auth::constant_time_eq(t, &session.csrf))
        {
            return reject(
                ErrorCode::CsrfCheckFailed,
                "writes need this dashboard's Origin and its X-CSRF-Token; reload the page",
            );
        }
    }
    let identity = match identity_of(&state, &session).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    request.extensions_mut().insert(UiCaller {
        identity,
        kind: session.credential.kind(),
        csrf: session.csrf.clone(),
        ended: session.ended.clone(),
    });
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_must_name_this_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(!same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&h));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(over_tls(&h));
    }
}
