//! Lease tools: acquire_lease (grant or renew), release_lease, check_leases.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::McpServer;
use super::output::{self, tool_output};
use crate::service::{AcquireLease, CHECK_LEASES_MAX, LeaseGrant};
use crate::util::rfc3339;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AcquireLeaseParams {
    /// 1-50 path globs (src/db/**, docs/*.md) or plain names (deploy-slot). Omit when renewing.
    pub resources: Option<Vec<String>>,
    /// exclusive (default) or shared (conflicts only with exclusive).
    pub mode: Option<String>,
    /// 1 to the server maximum (default 300).
    pub ttl_seconds: Option<i64>,
    pub reason: Option<String>,
    /// Scope the lease to a session; omit for a global lease (conflicts everywhere).
    pub session_id: Option<String>,
    /// deny (default) or warn (grant anyway, listing conflicts).
    pub on_conflict: Option<String>,
    /// Your lease to renew for ttl_seconds from now.
    pub lease_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReleaseLeaseParams {
    pub lease_id: String,
    pub idempotency_key: Option<String>,
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CheckLeasesParams {
    /// Paths or globs to check; omit to list every live lease.
    pub resources: Option<Vec<String>>,
    /// That session's leases and the global ones; omit for all.
    pub session_id: Option<String>,
    pub auth_token: Option<String>,
}

/// A grant or renewal (an idempotent retry replays the service's stored grant, rendered alike).
#[derive(serde::Serialize, JsonSchema)]
pub struct LeaseGranted {
    pub lease_id: String,
    /// Grows with every grant: pass it to what you write, so a lapsed holder is told apart.
    pub fencing_token: i64,
    pub expires_at: String,
    pub resources: Vec<String>,
    pub mode: String,
    /// Overlapping leases of others (only with on_conflict=warn).
    pub conflicts: Vec<LeaseConflict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renewed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

#[derive(serde::Serialize, JsonSchema)]
pub struct LeaseConflict {
    /// Your resource.
    pub resource: String,
    /// The held resource it overlaps.
    pub held_resource: String,
    pub held_by: String,
    pub lease_id: String,
    pub expires_at: String,
}

#[derive(serde::Serialize, JsonSchema)]
pub struct LeaseReleased {
    pub lease_id: String,
    /// False when it was no longer held (released or expired before).
    pub released: bool,
}

#[derive(serde::Serialize, JsonSchema)]
pub struct LeaseList {
    pub count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
    pub leases: Vec<LeaseView>,
}

#[derive(serde::Serialize, JsonSchema)]
pub struct LeaseView {
    pub lease_id: String,
    pub resources: Vec<String>,
    pub held_by: String,
    pub mode: String,
    pub expires_at: String,
    pub fencing_token: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

tool_output!(LeaseGranted, LeaseReleased, LeaseList);

#[tool_router(router = lease_router, vis = "pub(super)")]
impl McpServer {
    #[tool(
        description = "Claim files or names before editing them. Overlap with another agent's lease: \
LEASE_CONFLICT listing conflicts, nothing granted. fencing_token grows with every grant. Renew: lease_id.",
        output_schema = output::schema::<LeaseGranted>()
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
            let LeaseGrant {
                lease,
                conflicts,
                renewed,
            } = svc.acquire_lease(&who, input).await?;
            Ok(LeaseGranted {
                lease_id: lease.lease_id,
                fencing_token: lease.fencing_token,
                expires_at: rfc3339(lease.expires_at),
                resources: lease.resources,
                mode: lease.mode.as_str().to_owned(),
                conflicts: conflicts
                    .into_iter()
                    .map(|c| LeaseConflict {
                        resource: c.resource,
                        held_resource: c.held_resource,
                        held_by: c.held_by,
                        lease_id: c.lease_id,
                        expires_at: rfc3339(c.expires_at),
                    })
                    .collect(),
                renewed: renewed.then_some(true),
                session_id: lease.session_id,
            })
        })
        .await
    }

    #[tool(
        description = "Release your lease (an admin: any). Idempotent.",
        output_schema = output::schema::<LeaseReleased>()
    )]
    async fn release_lease(
        &self,
        Parameters(p): Parameters<ReleaseLeaseParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            let r = svc
                .release_lease(&who, &p.lease_id, p.idempotency_key.as_deref())
                .await?;
            Ok(LeaseReleased {
                lease_id: r.lease_id,
                released: r.released,
            })
        })
        .await
    }

    #[tool(
        description = "Live leases overlapping resources. Read-only; check before a refactor.",
        output_schema = output::schema::<LeaseList>()
    )]
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
            let leases = leases
                .into_iter()
                .take(CHECK_LEASES_MAX)
                .map(|l| LeaseView {
                    lease_id: l.lease_id,
                    resources: l.resources,
                    held_by: l.holder,
                    mode: l.mode.as_str().to_owned(),
                    expires_at: rfc3339(l.expires_at),
                    fencing_token: l.fencing_token,
                    session_id: l.session_id,
                    reason: l.reason,
                })
                .collect();
            Ok(LeaseList {
                count,
                truncated: (count > CHECK_LEASES_MAX).then_some(true),
                leases,
            })
        })
        .await
    }
}
