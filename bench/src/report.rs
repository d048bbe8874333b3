//! The bench summary: a table for people, or JSON (`--json`) for scripts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use super::rss::RssSummary;
use super::stats::{ErrorCounts, Latency, Recorder};
use super::workload::Tool;

/// Everything the summary needs about one run.
pub struct Report {
    pub url: String,
    pub agents: u32,
    pub shared_sessions: u32,
    pub workload: String,
    pub shares: Vec<(Tool, f64)>,
    pub setup: Duration,
    pub preloaded_messages: u64,
    pub warmup: Duration,
    pub duration: Duration,
    pub recorder: Recorder,
    pub rss: Option<RssSummary>,
}

struct Row {
    name: String,
    calls: u64,
    ok: u64,
    per_sec: f64,
    latency: Option<Latency>,
    tool_errors: ErrorCounts,
    transport_errors: ErrorCounts,
}

impl Report {
    fn rows(&mut self) -> (Vec<Row>, Row) {
        let secs = self.duration.as_secs_f64().max(f64::EPSILON);
        let mut all_us = Vec::new();
        let mut rows = Vec::new();
        for (tool, stats) in &mut self.recorder.tools {
            all_us.extend_from_slice(&stats.latencies_us);
            rows.push(Row {
                name: tool.name().to_string(),
                calls: stats.calls(),
                ok: stats.ok,
                per_sec: stats.calls() as f64 / secs,
                latency: Latency::of(&mut stats.latencies_us),
                tool_errors: stats.tool_errors.clone(),
                transport_errors: stats.transport_errors.clone(),
            });
        }
        let calls = self.recorder.total_calls();
        let total = Row {
            name: "total".into(),
            calls,
            ok: rows.iter().map(|r| r.ok).sum(),
            per_sec: calls as f64 / secs,
            latency: Latency::of(&mut all_us),
            tool_errors: ErrorCounts::default(),
            transport_errors: ErrorCounts::default(),
        };
        (rows, total)
    }

    pub fn table(&mut self) -> String {
        let (rows, total) = self.rows();
        let mut out = String::new();
        let shares: Vec<String> = self
            .shares
            .iter()
            .map(|(t, s)| format!("{} {s:.0}%", t.name()))
            .collect();
        let _ = writeln!(out, "bench {} ({})", self.url, self.workload);
        let _ = writeln!(out, "  tools:    {}", shares.join(", "));
        let _ = writeln!(
            out,
            "  agents:   {} (one MCP session and token each), {} shared session(s), {} messages preloaded",
            self.agents, self.shared_sessions, self.preloaded_messages
        );
        let _ = writeln!(
            out,
            "  setup:    {:.1} ms (handshakes, authenticate_agent, create_session, preload)",
            ms(self.setup)
        );
        let _ = writeln!(
            out,
            "  run:      {:.1} s warm-up ({} calls, {} failed, discarded), {:.1} s measured, \
             {} late answer(s) after the end discarded",
            self.warmup.as_secs_f64(),
            self.recorder.warmup_calls,
            self.recorder.warmup_errors,
            self.duration.as_secs_f64(),
            self.recorder.late
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<16} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>7}",
            "tool", "calls", "calls/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"
        );
        for row in rows.iter().chain(std::iter::once(&total)) {
            let l = row.latency.unwrap_or_default();
            let _ = writeln!(
                out,
                "{:<16} {:>9} {:>10.1} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>7}",
                row.name,
                row.calls,
                row.per_sec,
                l.p50_ms,
                l.p95_ms,
                l.p99_ms,
                l.max_ms,
                row.calls - row.ok
            );
        }
        for row in &rows {
            for (label, errs) in [
                ("tool error", &row.tool_errors),
                ("transport", &row.transport_errors),
            ] {
                for (kind, n) in &errs.counts {
                    let first = errs.first_message.get(kind).map_or("", String::as_str);
                    let _ = writeln!(out, "  {} {label} {kind} x{n}: {first}", row.name);
                }
            }
        }
        if let Some(r) = self.rss {
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "server RSS (pid {}, {} samples): min {:.1} MiB, max {:.1} MiB, last {:.1} MiB",
                r.pid,
                r.samples,
                mib(r.min_kb),
                mib(r.max_kb),
                mib(r.last_kb)
            );
        }
        out
    }

    pub fn json(&mut self) -> Value {
        let (rows, total) = self.rows();
        let tools: BTreeMap<String, Value> = rows
            .iter()
            .map(|r| {
                let v = json!({
                    "calls": r.calls,
                    "ok": r.ok,
                    "errors": r.calls - r.ok,
                    "calls_per_sec": round(r.per_sec, 1),
                    "latency_ms": r.latency.map(rounded),
                    "tool_errors": r.tool_errors.counts,
                    "transport_errors": r.transport_errors.counts,
                    "first_error_messages": r.tool_errors.first_message.iter()
                        .chain(&r.transport_errors.first_message)
                        .collect::<BTreeMap<_, _>>(),
                });
                (r.name.clone(), v)
            })
            .collect();
        json!({
            "url": self.url,
            "workload": self.workload,
            "shares_percent": self.shares.iter().map(|(t, s)| (t.name(), round(*s, 1))).collect::<BTreeMap<_, _>>(),
            "agents": self.agents,
            "shared_sessions": self.shared_sessions,
            "preloaded_messages": self.preloaded_messages,
            "setup_ms": round(ms(self.setup), 1),
            "warmup_s": self.warmup.as_secs_f64(),
            "warmup_calls": self.recorder.warmup_calls,
            "warmup_errors": self.recorder.warmup_errors,
            "duration_s": self.duration.as_secs_f64(),
            "late_calls": self.recorder.late,
            "calls": total.calls,
            "ok": total.ok,
            "errors": total.calls - total.ok,
            "calls_per_sec": round(total.per_sec, 1),
            "latency_ms": total.latency.map(rounded),
            "tools": tools,
            "server_rss": self.rss.map(|r| json!({
                "pid": r.pid,
                "samples": r.samples,
                "min_kb": r.min_kb,
                "max_kb": r.max_kb,
                "last_kb": r.last_kb,
            })),
        })
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

fn rounded(l: Latency) -> Latency {
    Latency {
        p50_ms: round(l.p50_ms, 3),
        p95_ms: round(l.p95_ms, 3),
        p99_ms: round(l.p99_ms, 3),
        max_ms: round(l.max_ms, 3),
        mean_ms: round(l.mean_ms, 3),
    }
}
