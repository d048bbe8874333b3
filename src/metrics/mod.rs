//! In-process call metrics: per-tool calls, errors by code, and a latency histogram that gives
//! both percentiles (for `get_performance_metrics`, from fine buckets) and Prometheus buckets
//! (16 coarse, rounded bounds); HTTP responses by status and live gauges (`live`); process
//! figures (`process`); the last hour per tool and minute for the dashboard (`history`).

pub mod history;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

mod live;
pub mod process;

pub use live::{HttpResponses, LiveGauge, LiveGuard};

/// Upper bounds in milliseconds, roughly ×1.25 apart from 50 µs to 60 s: fine enough that a
/// percentile read from the buckets is within 25 % of the true value.
fn bucket_bounds() -> &'static [f64] {
    static BOUNDS: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    BOUNDS.get_or_init(|| {
        let mut bounds = Vec::new();
        let mut b = 0.05;
        while b < 60_000.0 {
            bounds.push((b * 1000.0_f64).round() / 1000.0);
            b *= 1.25;
        }
        bounds.push(60_000.0);
        bounds
    })
}

/// The exported (Prometheus) bucket bounds in seconds: 16 round values from 0.5 ms to 60 s. The
/// fine buckets' 65 bounds per tool made ~1,600 series with bounds like `0.00009800000000000001`.
pub const EXPORT_BOUNDS_SECONDS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    /// Counts per exported bucket (the last one is above 60 s), recorded alongside the fine ones
    /// so the exported counts are exact rather than re-binned.
    export_counts: [u64; EXPORT_BOUNDS_SECONDS.len() + 1],
    sum_ms: f64,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; bucket_bounds().len() + 1],
            export_counts: [0; EXPORT_BOUNDS_SECONDS.len() + 1],
            sum_ms: 0.0,
            total: 0,
        }
    }
}

impl Histogram {
    pub fn record(&mut self, elapsed: Duration) {
        let ms = elapsed.as_secs_f64() * 1000.0;
        let index = bucket_bounds().partition_point(|b| *b < ms);
        self.counts[index] += 1;
        let seconds = elapsed.as_secs_f64();
        self.export_counts[EXPORT_BOUNDS_SECONDS.partition_point(|b| *b < seconds)] += 1;
        self.sum_ms += ms;
        self.total += 1;
    }

    /// The bucket bound below which `q` (0–1) of the observations fall.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let rank = (q * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return bucket_bounds().get(i).copied().unwrap_or(f64::INFINITY);
            }
        }
        f64::INFINITY
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        for (a, b) in self.export_counts.iter_mut().zip(&other.export_counts) {
            *a += b;
        }
        self.sum_ms += other.sum_ms;
        self.total += other.total;
    }

    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum_ms / self.total as f64
        }
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn sum_ms(&self) -> f64 {
        self.sum_ms
    }

    /// `(upper bound in seconds, cumulative count)` for the exported buckets, for Prometheus
    /// (the `+Inf` bucket is `total()`).
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let mut running = 0;
        EXPORT_BOUNDS_SECONDS
            .iter()
            .zip(&self.export_counts)
            .map(move |(b, c)| {
                running += c;
                (*b, running)
            })
    }
}

#[derive(Debug, Default, Clone)]
pub struct ToolStats {
    pub calls: u64,
    pub errors: BTreeMap<String, u64>,
    pub latency: Histogram,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ToolSummary {
    pub tool: String,
    pub calls: u64,
    pub errors: u64,
    pub errors_by_code: BTreeMap<String, u64>,
    pub latency_ms: LatencySummary,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct LatencySummary {
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

impl LatencySummary {
    pub fn of(h: &Histogram) -> Self {
        let r = |v: f64| (v * 1000.0).round() / 1000.0;
        Self {
            mean: r(h.mean()),
            p50: r(h.quantile(0.50)),
            p95: r(h.quantile(0.95)),
            p99: r(h.quantile(0.99)),
        }
    }
}

#[derive(Default)]
pub struct Metrics {
    tools: Mutex<BTreeMap<String, ToolStats>>,
    /// HTTP responses by status, counted by the access-log layer.
    pub http_responses: HttpResponses,
    /// `wait_for_messages` calls blocked right now.
    pub waiters: LiveGauge,
    /// Open `GET /sessions/{id}/events` streams.
    pub event_streams: LiveGauge,
    /// The last hour per minute, for the dashboard's charts.
    history: history::CallHistory,
}

impl Metrics {
    /// Records one tool call; `error_code` is set for tool errors and protocol failures.
    pub fn record_call(&self, tool: &str, elapsed: Duration, error_code: Option<&str>) {
        let mut tools = self.tools.lock().unwrap_or_else(|p| p.into_inner());
        let stats = match tools.get_mut(tool) {
            Some(s) => s,
            None => tools.entry(tool.to_owned()).or_default(),
        };
        stats.calls += 1;
        stats.latency.record(elapsed);
        if let Some(code) = error_code {
            *stats.errors.entry(code.to_owned()).or_default() += 1;
        }
        drop(tools);
        self.history.record(tool, elapsed, error_code.is_some());
    }

    /// Calls, errors and latency per tool and minute over the last hour.
    pub fn last_hour(&self) -> history::HistorySnapshot {
        self.history.snapshot()
    }

    pub fn snapshot(&self) -> BTreeMap<String, ToolStats> {
        self.tools.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn summaries(&self) -> Vec<ToolSummary> {
        self.snapshot()
            .into_iter()
            .map(|(tool, s)| ToolSummary {
                tool,
                calls: s.calls,
                errors: s.errors.values().sum(),
                errors_by_code: s.errors,
                latency_ms: LatencySummary::of(&s.latency),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_a_bucket() {
        let mut h = Histogram::default();
        for ms in 1..=100 {
            h.record(Duration::from_millis(ms));
        }
        let p50 = h.quantile(0.5);
        assert!((50.0..=63.0).contains(&p50), "p50 {p50}");
        let p99 = h.quantile(0.99);
        assert!((99.0..=125.0).contains(&p99), "p99 {p99}");
        assert_eq!(h.total(), 100);
        assert_eq!(h.cumulative().last().unwrap().1, 100);
        let buckets: Vec<(f64, u64)> = h.cumulative().collect();
        assert_eq!(buckets.len(), 16);
        // 1..=100 ms: 1 at ≤ 1 ms, 2 at ≤ 2.5 ms, 5 at ≤ 5 ms, 10, 25, 50, 100 at ≤ 0.1 s.
        let at = |bound: f64| buckets.iter().find(|(b, _)| *b == bound).unwrap().1;
        assert_eq!(
            [
                at(0.001),
                at(0.0025),
                at(0.005),
                at(0.01),
                at(0.025),
                at(0.05),
                at(0.1)
            ],
            [1, 2, 5, 10, 25, 50, 100]
        );
    }

    #[test]
    fn counts_errors_by_code() {
        let m = Metrics::default();
        m.record_call("add_message", Duration::from_millis(1), None);
        m.record_call(
            "add_message",
            Duration::from_millis(2),
            Some("SESSION_NOT_FOUND"),
        );
        let s = &m.summaries()[0];
        assert_eq!((s.calls, s.errors), (2, 1));
    }
}
