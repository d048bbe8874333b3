//! Tools for identity: authenticate_agent, refresh_token, revoke_token.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use serde_json::json;

use super::params::{AuthenticateAgentParams, RefreshTokenParams, RevokeTokenParams};
use super::{McpServer, render};

#[tool_router(router = identity_router, vis = "pub(super)")]
impl McpServer {
    #[tool(
        description = "Get a token for this agent. Call this FIRST, once per agent, then pass the returned `token` as \
`auth_token` on every other call. Permissions follow agent_type (claude/gemini/codex/cursor: read+write; generic: read). \
Over HTTP the server API key is needed (X-API-Key header or api_key); \"admin\" needs the admin key. Tokens expire \
(see expires_at); use refresh_token before then. Example: {\"agent_id\": \"reviewer-1\", \"agent_type\": \"claude\"}"
    )]
    async fn authenticate_agent(
        &self,
        Parameters(p): Parameters<AuthenticateAgentParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, None, p.api_key);
        let result = self
            .service
            .authenticate(
                &caller,
                &p.agent_id,
                &p.agent_type,
                p.requested_permissions.as_deref(),
            )
            .await
            .map(|issued| render::token(&issued));
        Self::render(result)
    }

    #[tool(
        description = "Swap a still-valid token for a fresh one with a new expiry; the old token stops working at once. \
An expired or revoked token cannot be refreshed: call authenticate_agent again. Example: {\"current_token\": \"sct_…\"}"
    )]
    async fn refresh_token(&self, Parameters(p): Parameters<RefreshTokenParams>) -> CallToolResult {
        let result = self
            .service
            .refresh(p.current_token.trim())
            .await
            .map(|issued| render::token(&issued));
        Self::render(result)
    }

    #[tool(
        description = "Revoke a token (log out). With no `token`, revokes the token this call is made with. \
Revoking another agent's token needs admin. Example: {\"auth_token\": \"sct_…\"}"
    )]
    async fn revoke_token(
        &self,
        Parameters(p): Parameters<RevokeTokenParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        let result = self
            .service
            .revoke(&caller, p.token.as_deref().map(str::trim))
            .await
            .map(|()| json!({"revoked": true}));
        Self::render(result)
    }
}
