//! One tracing span per MCP request, named and attributed after the OpenTelemetry semantic
//! conventions for MCP: name `{mcp.method.name} {target}` (`tools/call add_message`), kind
//! server, `mcp.method.name`, `gen_ai.tool.name`, `gen_ai.operation.name`, `mcp.session.id`,
//! `jsonrpc.request.id`, `network.transport`, and `error.type` when the call failed.
//!
//! The spans are at TRACE under their own target, so the text log neither prints nor pays for
//! them (a disabled callsite costs one cached check; the name is built only when enabled). The
//! `otel` cargo feature exports them (`telemetry::otel`).

use rmcp::RoleServer;
use rmcp::service::RequestContext;
use tracing::Span;

/// The spans' target; `telemetry::otel` listens to it.
use crate::telemetry::SPAN_TARGET as TARGET;

/// The span of one request; `tool` for `tools/call`.
pub fn request(method: &'static str, tool: Option<&str>, ctx: &RequestContext<RoleServer>) -> Span {
    if !tracing::enabled!(target: TARGET, tracing::Level::TRACE) {
        return Span::none();
    }
    let parts = ctx.extensions.get::<axum::http::request::Parts>();
    let session = parts
        .and_then(|p| p.headers.get("mcp-session-id"))
        .and_then(|v| v.to_str().ok());
    let name = match tool {
        Some(tool) => format!("{method} {tool}"),
        None => method.to_owned(),
    };
    tracing::trace_span!(
        target: TARGET,
        "mcp.request",
        otel.name = %name,
        otel.kind = "server",
        mcp.method.name = method,
        gen_ai.tool.name = tool,
        gen_ai.operation.name = tool.map(|_| "execute_tool"),
        mcp.session.id = session,
        jsonrpc.request.id = %ctx.id,
        network.transport = if parts.is_some() { "tcp" } else { "pipe" },
        error.type = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    )
}

/// Marks the request failed with `error_type` (our error code, e.g. `INVALID_INPUT`).
pub fn failed(span: &Span, error_type: &str) {
    span.record("error.type", error_type);
    span.record("otel.status_code", "ERROR");
}
