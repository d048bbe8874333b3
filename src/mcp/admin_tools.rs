//! Guidance and operator tools: get_usage_guidance, get_performance_metrics.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::McpServer;
use super::guidance::{self, Guidance};
use super::output::{self, tool_output};
use crate::domain::Permission;
use crate::metrics::{LatencySummary, ToolSummary};
use crate::storage::PoolStats;

#[derive(Serialize, JsonSchema)]
pub struct PerformanceMetrics {
    pub uptime_seconds: u64,
    pub backend: &'static str,
    pub totals: Totals,
    pub tools: Vec<ToolSummary>,
    pub pool: PoolStats,
    pub token_cache: TokenCacheFigures,
}

#[derive(Serialize, JsonSchema)]
pub struct Totals {
    pub calls: u64,
    pub errors: u64,
    pub latency_ms: LatencySummary,
}

#[derive(Serialize, JsonSchema)]
pub struct TokenCacheFigures {
    pub hits: u64,
    pub misses: u64,
    pub hit_rate: f64,
}

tool_output!(PerformanceMetrics);

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GuidanceParams {
    /// operations (default), coordination, security or troubleshooting.
    pub guidance_type: Option<String>,
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AdminParams {
    pub auth_token: Option<String>,
}

#[tool_router(router = admin_router, vis = "pub(super)")]
impl McpServer {
    #[tool(
        description = "How to use this server at your access level: tools, order, visibility rules, \
examples.",
        output_schema = output::schema::<Guidance>()
    )]
    async fn get_usage_guidance(
        &self,
        Parameters(p): Parameters<GuidanceParams>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Self::caller(&ctx, p.auth_token, None);
        let tools = self
            .listed_tools(&ctx)
            .map(|listed| listed.tools)
            .unwrap_or_default();
        let ttl_hours = self.service.token_ttl().num_hours();
        self.with_identity(caller, |_svc, who| async move {
            guidance::build(&who, p.guidance_type.as_deref(), &tools, ttl_hours)
        })
        .await
    }

    #[tool(
        description = "Calls, errors and latency per tool since start. Needs admin.",
        output_schema = output::schema::<PerformanceMetrics>()
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
            let all = svc.metrics().snapshot().into_values().fold(
                crate::metrics::Histogram::default(),
                |mut acc, s| {
                    acc.merge(&s.latency);
                    acc
                },
            );
            Ok(PerformanceMetrics {
                uptime_seconds: svc.uptime().as_secs(),
                backend: svc.store().backend(),
                totals: Totals {
                    calls,
                    errors,
                    latency_ms: LatencySummary::of(&all),
                },
                tools,
                pool: svc.store().pool_stats(),
                token_cache: TokenCacheFigures {
                    hits,
                    misses,
                    hit_rate: if hits + misses == 0 {
                        0.0
                    } else {
                        hits as f64 / (hits + misses) as f64
                    },
                },
            })
        })
        .await
    }
}
