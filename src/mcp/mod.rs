//! The MCP front end: tools are thin (parse → service → render); identity comes from the token
//! argument, the HTTP headers the middleware checked, or the stdio trust rule.

mod identity_tools;
mod params;
pub mod render;
mod session_tools;

use std::future::Future;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServerHandler, tool_handler};
use serde_json::Value;

use crate::domain::Identity;
use crate::error::AppError;
use crate::service::{Caller, Origin, Service};

/// Credentials the HTTP middleware already validated, passed to tools in the request extensions.
#[derive(Debug, Clone, Default)]
pub struct HttpCredentials {
    pub bearer: Option<String>,
    pub api_key: Option<String>,
}

#[derive(Clone)]
pub struct McpServer {
    service: Service,
    tool_router: ToolRouter<Self>,
}

const INSTRUCTIONS: &str = "Shared context for multi-agent work. Start with authenticate_agent (agent_id, agent_type) and pass \
the returned token as auth_token on every call. Then create_session or list_sessions, add_message to share findings \
(visibility: public, private, agent_only, admin_only), and get_messages with after_id to read what is new.";

impl McpServer {
    pub fn new(service: Service) -> Self {
        Self {
            service,
            tool_router: Self::identity_router() + Self::session_router(),
        }
    }

    /// The credentials of this call: arguments first, then the HTTP headers.
    fn caller(
        ctx: &RequestContext<RoleServer>,
        auth_token: Option<String>,
        api_key: Option<String>,
    ) -> Caller {
        let http = ctx
            .extensions
            .get::<axum::http::request::Parts>()
            .map(|parts| {
                parts
                    .extensions
                    .get::<HttpCredentials>()
                    .cloned()
                    .unwrap_or_default()
            });
        let base = match http {
            None => Caller::stdio(),
            Some(creds) => Caller {
                origin: Origin::Http,
                token: creds.bearer,
                api_key: creds.api_key,
            },
        };
        base.with_token(auth_token).with_api_key(api_key)
    }

    /// Runs one tool body with the caller's identity and renders success or failure.
    async fn with_identity<F, Fut>(&self, caller: Caller, body: F) -> CallToolResult
    where
        F: FnOnce(Service, Identity) -> Fut,
        Fut: Future<Output = Result<Value, AppError>>,
    {
        let result = match self.service.resolve(&caller).await {
            Ok(identity) => body(self.service.clone(), identity).await,
            Err(err) => Err(err),
        };
        Self::render(result)
    }

    fn render(result: Result<Value, AppError>) -> CallToolResult {
        match result {
            Ok(body) => render::success(body),
            Err(err) => {
                tracing::debug!(code = err.code.as_str(), error = %err.message, "tool error");
                render::failure(&err)
            }
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "shared-context-server",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(INSTRUCTIONS)
    }
}
