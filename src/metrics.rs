//! In-process call metrics: per-tool calls, errors by code, and a latency histogram that gives
//! both percentiles (for `get_performance_metrics`) and Prometheus buckets.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

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

#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    sum_ms: f64,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; bucket_bounds().len() + 1],
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

    /// `(upper bound in ms, cumulative count)` pairs, for Prometheus.
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let mut running = 0;
        bucket_bounds().iter().zip(&self.counts).map(move |(b, c)| {
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

#[derive(Debug, Serialize)]
pub struct ToolSummary {
    pub tool: String,
    pub calls: u64,
    pub errors: u64,
    pub errors_by_code: BTreeMap<String, u64>,
    pub latency_ms: LatencySummary,
}

#[derive(Debug, Serialize)]
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
