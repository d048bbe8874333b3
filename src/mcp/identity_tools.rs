//! Tools for identity: authenticate_agent, refresh_token, revoke_token.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Serialize;

use super::McpServer;
use super::output::{self, tool_output};
use super::params::{AuthenticateAgentParams, RefreshTokenParams, RevokeTokenParams};
use super::render::Token;

#[derive(Serialize, JsonSchema)]
pub struct Revoked {
    pub revoked: bool,
}

tool_output!(Revoked);

#[tool_router(router = identity_router, vis = "pub(super)")]
impl McpServer {
    #[tool(
        description = "Call first: returns a token to pass as auth_token on every other call (or as \
Authorization: Bearer over HTTP). Without one you read public messages only.",
        output_schema = output::schema::<Token>()
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
            .map(|issued| Token::from(&issued));
        Self::render(result)
    }

    #[tool(
        description = "Swap a valid token for a fresh one; the old one stops working. An expired token needs \
authenticate_agent.",
        output_schema = output::schema::<Token>()
    )]
    async fn refresh_token(&self, Parameters(p): Parameters<RefreshTokenParams>) -> CallToolResult {
        let result = self
            .service
            .refresh(p.current_token.trim())
            .await
            .map(|issued| Token::from(&issued));
        Self::render(result)
    }

    #[tool(
        description = "Revoke a token (log out); another agent's needs admin.",
        output_schema = output::schema::<Revoked>()
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
            .map(|()| Revoked { revoked: true });
        Self::render(result)
    }
}
