//! `GET /metrics` in the Prometheus text format: build info, process figures, database up, HTTP
//! responses by status, tool calls, errors by code and latency per tool, MCP sessions, waiters,
//! event streams, pool gauges and connection-acquisition figures.

use std::fmt::Write as _;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::HttpState;
use crate::metrics::{Histogram, process};

/// A Prometheus text-format document, one metric family at a time.
struct Exposition(String);

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &str, value: impl std::fmt::Display) {
        if labels.is_empty() {
            let _ = writeln!(self.0, "{name} {value}");
        } else {
            let _ = writeln!(self.0, "{name}{{{labels}}} {value}");
        }
    }

    /// One gauge or counter family with a single, label-less sample.
    fn single(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        self.family(name, kind, help);
        self.sample(name, "", value);
    }

    /// `labels` without the `le` label, e.g. `tool="add_message"` or empty.
    fn histogram(&mut self, name: &str, labels: &str, h: &Histogram) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, count) in h.cumulative() {
            // `{}` prints the shortest form that reads back exactly: 0.0005, 2.5, 60.
            self.sample(
                &format!("{name}_bucket"),
                &format!("{labels}{sep}le=\"{bound}\""),
                count,
            );
        }
        self.sample(
            &format!("{name}_bucket"),
            &format!("{labels}{sep}le=\"+Inf\""),
            h.total(),
        );
        self.sample(&format!("{name}_sum"), labels, h.sum_ms() / 1000.0);
        self.sample(&format!("{name}_count"), labels, h.total());
    }
}

/// Label values are tool names, error codes and backend names (ASCII identifiers); escaping is
/// still applied so a future label cannot break the format.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub(super) async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    let service = &state.service;
    let mut out = Exposition(String::with_capacity(16 * 1024));
    let backend = escape(service.store().backend());
    let store = service.store();

    out.family(
        "scs_build_info",
        "gauge",
        "Version and backend of this server; always 1.",
    );
    out.sample(
        "scs_build_info",
        &format!(
            "version=\"{}\",backend=\"{backend}\"",
            env!("CARGO_PKG_VERSION")
        ),
        1,
    );
    let up = matches!(
        tokio::time::timeout(Duration::from_secs(2), store.ping()).await,
        Ok(Ok(()))
    );
    out.single(
        "scs_database_up",
        "gauge",
        "1 when the database answered a ping within 2 s, else 0.",
        u8::from(up),
    );
    process_figures(&mut out);
    out.single(
        "scs_uptime_seconds",
        "gauge",
        "Seconds since start.",
        service.uptime().as_secs_f64(),
    );

    out.family(
        "scs_http_responses_total",
        "counter",
        "HTTP responses, by status code (401/403 refusals, 413 bodies over the limit included).",
    );
    for (status, n) in service.metrics().http_responses.snapshot() {
        out.sample(
            "scs_http_responses_total",
            &format!("status=\"{status}\""),
            n,
        );
    }
    out.single(
        "scs_mcp_sessions",
        "gauge",
        "Open MCP sessions (streamable HTTP; 0 in stateless mode).",
        state.sessions.sessions.read().await.len(),
    );
    out.single(
        "scs_waiters",
        "gauge",
        "wait_for_messages calls blocked right now.",
        service.metrics().waiters.get(),
    );
    out.single(
        "scs_event_streams",
        "gauge",
        "Open GET /sessions/{id}/events streams.",
        service.metrics().event_streams.get(),
    );

    let tools = service.metrics().snapshot();
    out.family("scs_tool_calls_total", "counter", "Tool calls, by tool.");
    for (tool, s) in &tools {
        out.sample(
            "scs_tool_calls_total",
            &format!("tool=\"{}\"", escape(tool)),
            s.calls,
        );
    }
    out.family(
        "scs_tool_errors_total",
        "counter",
        "Tool calls that failed, by tool and error code.",
    );
    for (tool, s) in &tools {
        for (code, n) in &s.errors {
            let labels = format!("tool=\"{}\",code=\"{}\"", escape(tool), escape(code));
            out.sample("scs_tool_errors_total", &labels, n);
        }
    }
    out.family(
        "scs_tool_duration_seconds",
        "histogram",
        "Tool call latency.",
    );
    for (tool, s) in &tools {
        out.histogram(
            "scs_tool_duration_seconds",
            &format!("tool=\"{}\"", escape(tool)),
            &s.latency,
        );
    }

    let pool = store.pool_stats();
    let backend_label = format!("backend=\"{backend}\"");
    for (name, help, value) in [
        (
            "scs_pool_connections",
            "Open connections in the pool.",
            pool.size,
        ),
        (
            "scs_pool_idle_connections",
            "Idle connections in the pool.",
            pool.idle,
        ),
        (
            "scs_pool_in_use_connections",
            "Connections in use.",
            pool.in_use,
        ),
        ("scs_pool_max_connections", "Pool maximum.", pool.max),
        (
            "scs_pool_waiting",
            "Calls waiting for a connection.",
            pool.waiting,
        ),
    ] {
        out.family(name, "gauge", help);
        out.sample(name, &backend_label, value);
    }
    if let Some(acquire) = store.acquire_histogram() {
        out.family(
            "scs_pool_acquire_seconds",
            "histogram",
            "Time to get a database connection from the pool.",
        );
        out.histogram("scs_pool_acquire_seconds", "", &acquire);
    }
    let (hits, misses) = service.token_cache().counts();
    out.family(
        "scs_token_cache_total",
        "counter",
        "Token checks, by cache result.",
    );
    out.sample("scs_token_cache_total", "result=\"hit\"", hits);
    out.sample("scs_token_cache_total", "result=\"miss\"", misses);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out.0,
    )
}

fn process_figures(out: &mut Exposition) {
    let p = process::read();
    if let Some(v) = p.resident_memory_bytes {
        out.single(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory in bytes.",
            v,
        );
    }
    if let Some(v) = p.cpu_seconds {
        out.single(
            "process_cpu_seconds_total",
            "counter",
            "User and system CPU time in seconds.",
            v,
        );
    }
    if let Some(v) = p.open_fds {
        out.single("process_open_fds", "gauge", "Open file descriptors.", v);
    }
    if let Some(v) = p.max_fds {
        out.single(
            "process_max_fds",
            "gauge",
            "Maximum open file descriptors.",
            v,
        );
    }
    if let Some(v) = p.start_time_seconds {
        out.single(
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since the Unix epoch, in seconds.",
            v,
        );
    }
}
