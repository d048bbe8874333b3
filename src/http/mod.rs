//! HTTP front end: axum routes for `/mcp` (rmcp streamable HTTP), `/health*` and `/metrics`;
//! TCP_NODELAY, host and origin checks against DNS rebinding, body limits, the API-key/bearer gate,
//! 404 for unknown paths, and readiness and event streams that end when shutdown begins; the
//! dashboard at `/ui/` (see `ui`).

mod access;
mod error;
mod events;
mod guard;
mod health;
mod metrics;
mod ui;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::serve::ListenerExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::mcp::McpServer;
use crate::service::Service;

/// What the HTTP layer needs besides the service.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub max_request_body_bytes: usize,
    /// No MCP session affinity: every POST is served on its own, answered as plain JSON.
    pub stateless: bool,
    /// The MCP tools listed unless a client sends `X-SCS-Tools`.
    pub tools: crate::mcp::ToolProfile,
}

#[derive(Clone)]
pub(crate) struct HttpState {
    service: Service,
    settings: Arc<HttpSettings>,
    /// Cancelled when shutdown begins: readiness turns 503 and event streams end.
    shutdown: CancellationToken,
    /// rmcp's MCP sessions, counted by `/metrics`.
    sessions: Arc<LocalSessionManager>,
    /// Dashboard sign-ins (process-local: a restart signs everyone out).
    ui: Arc<ui::UiSessions>,
}

pub fn router(service: Service, settings: HttpSettings, shutdown: CancellationToken) -> Router {
    let mut mcp_config = StreamableHttpServerConfig::default()
        .with_sse_keep_alive(Some(Duration::from_secs(15)))
        .with_max_request_body_bytes(settings.max_request_body_bytes)
        .with_cancellation_token(shutdown.child_token())
        .with_legacy_session_mode(!settings.stateless)
        .with_json_response(settings.stateless);
    // Our guard checks Host and Origin for every route; rmcp's own check would only repeat it.
    mcp_config = mcp_config.disable_allowed_hosts().disable_allowed_origins();
    let factory_service = service.clone();
    let tools = settings.tools;
    let sessions = Arc::new(LocalSessionManager::default());
    let mcp = StreamableHttpService::new(
        move || Ok(McpServer::new(factory_service.clone(), tools)),
        sessions.clone(),
        mcp_config,
    );
    let state = HttpState {
        service,
        settings: Arc::new(settings.clone()),
        shutdown,
        sessions,
        ui: Arc::default(),
    };
    // Credentials, then Host/Origin: only these routes carry data or act.
    let guarded = Router::new()
        .nest_service("/mcp", mcp)
        .route("/sessions/{session_id}/events", get(events::session_events))
        .layer(axum::middleware::from_fn(session_end_status))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::require_credentials,
        ))
        .layer(DefaultBodyLimit::max(settings.max_request_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::check_host_and_origin,
        ));
    // The dashboard checks its own cookie (`ui::auth`); Host/Origin and body limits as above.
    let dashboard = ui::routes(state.clone())
        .layer(DefaultBodyLimit::max(settings.max_request_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::check_host_and_origin,
        ));
    // Probes and scrapes hold no secrets and come with whatever Host the orchestrator uses (a pod
    // IP, a service name), so they skip the Host check. Unknown paths (including
    // `/.well-known/oauth-*`, which OAuth-aware clients probe) are 404, never 401: this server is
    // no OAuth authorization server.
    Router::new()
        .route("/health", get(health::health))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(metrics::metrics))
        .merge(guarded)
        .merge(dashboard)
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::observe,
        ))
        .with_state(state)
}

async fn not_found() -> Response {
    error::refuse(
        crate::domain::ErrorCode::NotFound,
        "no such path; MCP is served at /mcp, probes at /health/live and /health/ready, metrics at /metrics",
    )
}

/// rmcp answers a successful session termination (`DELETE /mcp`) with 202; MCP clients (the
/// Python SDK warns "Session termination failed: 202", the TypeScript SDK server answers 200)
/// expect 200 or 204.
async fn session_end_status(request: Request, next: Next) -> Response {
    let is_delete = request.method() == Method::DELETE;
    let mut response = next.run(request).await;
    if is_delete && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::OK;
    }
    response
}

/// Serves until `shutdown` is cancelled, then drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    // Without TCP_NODELAY, Nagle plus delayed ACKs add ~40 ms to every MCP call.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    // The peer address keys the dashboard's limit on failed sign-ins.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}
