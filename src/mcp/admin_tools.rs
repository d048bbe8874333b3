//! Guidance and operator tools: get_usage_guidance, get_performance_metrics.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::{McpServer, guidance};
use crate::domain::Permission;
use crate::metrics::LatencySummary;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GuidanceParams {
    /// One of "operations" (default: which tools in which order), "coordination" (working with other agents), "security" (visibility and tokens), "troubleshooting" (error codes and fixes).
    #[serde(default)]
    pub guidance_type: Option<String>,
    /// Your token; the guidance is written for your access level.
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AdminParams {
    /// An admin token.
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[tool_router(router = admin_router, vis = "pub(super)")]
impl McpServer {
    #[tool(
        description = "How to use this server, written for your access level: which tools you can call, in which order, \
the visibility rules, and worked examples. Call it first if you are new here. guidance_type: operations (default), \
coordination, security, troubleshooting. Example: {\"guidance_type\": \"coordination\", \"auth_token\": \"sct_…\"}",
        annotations(read_only_hint = true)
    )]
    async fn get_usage_guidance(
        &self,
        Parameters(p): Parameters<GuidanceParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        let tools = self.tool_router.list_all();
        let ttl_hours = self.service.token_ttl().num_hours();
        self.with_identity(caller, |_svc, who| async move {
            guidance::build(&who, p.guidance_type.as_deref(), &tools, ttl_hours)
        })
        .await
    }

    #[tool(
        description = "Real figures since the server started: calls, errors by code and latency p50/p95/p99 per \
tool, pool figures and token-cache hit rate. Needs admin.",
        annotations(read_only_hint = true)
    )]
    async fn get_performance_metrics(
        &self,
        Parameters(p): Parameters<AdminParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        self.with_identity(caller, |svc, who| async move {
            who.require(Permission::Admin)?;
            let tools = svc.metrics().summaries();
            let calls: u64 = tools.iter().map(|t| t.calls).sum();
            let errors: u64 = tools.iter().map(|t| t.errors).sum();
            let (hits, misses) = svc.token_cache().counts();
            let all = svc.metrics().snapshot().into_values().fold(crate::metrics::Histogram::default(), |mut acc, s| {
                acc.merge(&s.latency);
                acc
            });
            Ok(json!({
                "uptime_seconds": svc.uptime().as_secs(),
                "backend": svc.store().backend(),
                "totals": {"calls": calls, "errors": errors, "latency_ms": LatencySummary::of(&all)},
                "tools": tools,
                "pool": svc.store().pool_stats(),
                "token_cache": {
                    "hits": hits,
                    "misses": misses,
                    "hit_rate": if hits + misses == 0 { 0.0 } else { hits as f64 / (hits + misses) as f64 },
                },
            }))
        })
        .await
    }
}
