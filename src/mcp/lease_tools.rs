//! Lease tools: acquire_lease (grant or renew), release_lease, check_leases.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{McpServer, render};
use crate::service::{AcquireLease, CHECK_LEASES_MAX};

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AcquireLeaseParams {
    /// 1-50 path globs (src/db/**, docs/*.md) or plain names (deploy-slot). Omit when renewing.
    #[serde(default)]
    pub resources: Option<Vec<String>>,
    /// exclusive (default) or shared (conflicts only with exclusive).
    #[serde(default)]
    pub mode: Option<String>,
    /// 1 to the server maximum (default 300).
    #[serde(default)]
    pub ttl_seconds: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
    /// Scope the lease to a session; omit for a global lease (conflicts everywhere).
    #[serde(default)]
    pub session_id: Option<String>,
    /// deny (default) or warn (grant anyway, listing conflicts).
    #[serde(default)]
    pub on_conflict: Option<String>,
    /// Your lease to renew for ttl_seconds from now.
    #[serde(default)]
    pub lease_id: Option<String>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReleaseLeaseParams {
    pub lease_id: String,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CheckLeasesParams {
    /// Paths or globs to check; omit to list every live lease.
    #[serde(default)]
    pub resources: Option<Vec<String>>,
    /// That session's leases and the global ones; omit for all.
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[tool_router(router = lease_router, vis = "pub(super)")]
impl McpServer {
    #[tool(
        description = "Claim files or names before editing them. Overlap with another agent's lease: \
LEASE_CONFLICT listing conflicts, nothing granted. fencing_token grows with every grant. Renew: lease_id."
    )]
    async fn acquire_lease(
        &self,
        Parameters(p): Parameters<AcquireLeaseParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let input = AcquireLease {
                resources: p.resources,
                mode: p.mode,
                ttl_seconds: p.ttl_seconds,
                reason: p.reason,
                session_id: p.session_id,
                on_conflict: p.on_conflict,
                lease_id: p.lease_id,
                idempotency_key: p.idempotency_key,
            };
            svc.acquire_lease(&who, input).await
        })
        .await
    }

    #[tool(description = "Release your lease (an admin: any). Idempotent.")]
    async fn release_lease(
        &self,
        Parameters(p): Parameters<ReleaseLeaseParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            svc.release_lease(&who, &p.lease_id, p.idempotency_key.as_deref())
                .await
        })
        .await
    }

    #[tool(description = "Live leases overlapping resources. Read-only; check before a refactor.")]
    async fn check_leases(
        &self,
        Parameters(p): Parameters<CheckLeasesParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let leases = svc
                .check_leases(&who, p.resources.as_deref(), p.session_id.as_deref())
                .await?;
            let count = leases.len();
            let shown: Vec<Value> = leases
                .iter()
                .take(CHECK_LEASES_MAX)
                .map(crate::service::render_lease)
                .collect();
            let mut body = json!({"count": count});
            if count > CHECK_LEASES_MAX {
                body["truncated"] = true.into();
            }
            Ok::<_, crate::error::AppError>(render::object_with(
                body,
                "leases",
                Value::Array(shown),
            ))
        })
        .await
    }
}
