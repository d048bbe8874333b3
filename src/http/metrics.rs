//! `GET /metrics` in the Prometheus text format: tool calls, errors by code and latency per tool,
//! pool gauges and connection-acquisition figures.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::HttpState;

pub(super) async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    let service = &state.service;
    let mut out = String::with_capacity(16 * 1024);
    let tools = service.metrics().snapshot();

    let _ = writeln!(
        out,
        "# HELP scs_tool_calls_total Tool calls, by tool.\n# TYPE scs_tool_calls_total counter"
    );
    for (tool, s) in &tools {
        let _ = writeln!(out, "scs_tool_calls_total{{tool=\"{tool}\"}} {}", s.calls);
    }
    let _ = writeln!(
        out,
        "# HELP scs_tool_errors_total Tool calls that failed, by tool and error code.\n# TYPE scs_tool_errors_total counter"
    );
    for (tool, s) in &tools {
        for (code, n) in &s.errors {
            let _ = writeln!(
                out,
                "scs_tool_errors_total{{tool=\"{tool}\",code=\"{code}\"}} {n}"
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP scs_tool_duration_seconds Tool call latency.\n# TYPE scs_tool_duration_seconds histogram"
    );
    for (tool, s) in &tools {
        histogram(
            &mut out,
            "scs_tool_duration_seconds",
            &format!("tool=\"{tool}\","),
            &s.latency,
        );
    }

    let pool = service.store().pool_stats();
    let backend = service.store().backend();
    for (name, help, value) in [
        (
            "scs_pool_connections",
            "Open connections in the pool.",
            f64::from(pool.size),
        ),
        (
            "scs_pool_idle_connections",
            "Idle connections in the pool.",
            f64::from(pool.idle),
        ),
        (
            "scs_pool_in_use_connections",
            "Connections in use.",
            f64::from(pool.in_use),
        ),
        (
            "scs_pool_max_connections",
            "Pool maximum.",
            f64::from(pool.max),
        ),
        (
            "scs_pool_waiting",
            "Calls waiting for a connection.",
            f64::from(pool.waiting),
        ),
        (
            "scs_uptime_seconds",
            "Seconds since start.",
            service.uptime().as_secs_f64(),
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name}{{backend=\"{backend}\"}} {value}"
        );
    }
    if let Some(acquire) = service.store().acquire_histogram() {
        let _ = writeln!(
            out,
            "# HELP scs_pool_acquire_seconds Time to get a database connection from the pool.\n# TYPE scs_pool_acquire_seconds histogram"
        );
        histogram(&mut out, "scs_pool_acquire_seconds", "", &acquire);
    }
    let (hits, misses) = service.token_cache().counts();
    let _ = writeln!(
        out,
        "# HELP scs_token_cache_total Token checks, by cache result.\n# TYPE scs_token_cache_total counter"
    );
    let _ = writeln!(
        out,
        "scs_token_cache_total{{result=\"hit\"}} {hits}\nscs_token_cache_total{{result=\"miss\"}} {misses}"
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

fn histogram(out: &mut String, name: &str, labels: &str, h: &crate::metrics::Histogram) {
    for (bound_ms, count) in h.cumulative() {
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}le=\"{}\"}} {count}",
            bound_ms / 1000.0
        );
    }
    let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {}", h.total());
    let trimmed = labels.trim_end_matches(',');
    let _ = writeln!(out, "{name}_sum{{{trimmed}}} {}", h.sum_ms() / 1000.0);
    let _ = writeln!(out, "{name}_count{{{trimmed}}} {}", h.total());
}
