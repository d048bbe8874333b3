//! HTTP front end: axum routes for `/mcp` (rmcp streamable HTTP), `/health*`; TCP_NODELAY, host and
//! origin checks against DNS rebinding, body limits and the API-key/bearer gate.

mod events;
mod guard;
mod health;
mod metrics;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
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
}

#[derive(Clone)]
pub(crate) struct HttpState {
    service: Service,
    settings: Arc<HttpSettings>,
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
    let mcp = StreamableHttpService::new(
        move || Ok(McpServer::new(factory_service.clone())),
        LocalSessionManager::default().into(),
        mcp_config,
    );
    let state = HttpState {
        service,
        settings: Arc::new(settings.clone()),
    };
    let mcp_routes = Router::new()
        .nest_service("/mcp", mcp)
        .route("/sessions/{session_id}/events", get(events::session_events))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::require_credentials,
        ));
    Router::new()
        .route("/health", get(health::health))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(metrics::metrics))
        .merge(mcp_routes)
        .layer(DefaultBodyLimit::max(settings.max_request_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::check_host_and_origin,
        ))
        .with_state(state)
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
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}
