//! Recording calls (per tool: latencies in microseconds, successes, errors) and percentiles.

use std::collections::BTreeMap;
use std::time::Duration;

use super::workload::Tool;

/// The nearest-rank percentile of an ascending slice: the smallest value with at least `p`% of
/// the values at or below it. `p` is clamped to 0..=100; an empty slice gives `None`.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 100.0) };
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.saturating_sub(1).min(sorted.len() - 1)])
}

/// What happened to one call.
#[derive(Debug, Clone)]
pub enum Outcome {
    Ok,
    /// An `isError` result; the `code` from structuredContent (or `unknown`) and its message.
    ToolError {
        code: String,
        message: String,
    },
    /// No result: transport failure, JSON-RPC error or timeout.
    Transport {
        kind: String,
        message: String,
    },
}

/// Counts of one kind of error, with the first message seen for it.
#[derive(Debug, Clone, Default)]
pub struct ErrorCounts {
    pub counts: BTreeMap<String, u64>,
    pub first_message: BTreeMap<String, String>,
}

impl ErrorCounts {
    fn add(&mut self, kind: &str, message: &str, n: u64) {
        *self.counts.entry(kind.to_string()).or_default() += n;
        self.first_message
            .entry(kind.to_string())
            .or_insert_with(|| message.to_string());
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    fn merge(&mut self, other: ErrorCounts) {
        for (kind, n) in other.counts {
            let message = other.first_message.get(&kind).cloned().unwrap_or_default();
            self.add(&kind, &message, n);
        }
    }
}

/// One tool's calls in the measured window. Latency is kept for every call that got a result
/// (successes and tool errors), not for transport errors.
#[derive(Debug, Clone, Default)]
pub struct ToolStats {
    pub latencies_us: Vec<u64>,
    pub ok: u64,
    pub tool_errors: ErrorCounts,
    pub transport_errors: ErrorCounts,
}

impl ToolStats {
    pub fn calls(&self) -> u64 {
        self.ok + self.tool_errors.total() + self.transport_errors.total()
    }

    pub fn errors(&self) -> u64 {
        self.tool_errors.total() + self.transport_errors.total()
    }
}

/// Everything one agent saw; merged across agents at the end.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    pub tools: BTreeMap<Tool, ToolStats>,
    pub warmup_calls: u64,
    pub warmup_errors: u64,
    /// Calls in flight when the run ended that answered after it: not counted.
    pub late: u64,
}

impl Recorder {
    pub fn record(&mut self, tool: Tool, latency: Duration, outcome: &Outcome, measured: bool) {
        if !measured {
            self.warmup_calls += 1;
            if !matches!(outcome, Outcome::Ok) {
                self.warmup_errors += 1;
            }
            return;
        }
        let stats = self.tools.entry(tool).or_default();
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        match outcome {
            Outcome::Ok => {
                stats.ok += 1;
                stats.latencies_us.push(us);
            }
            Outcome::ToolError { code, message } => {
                stats.tool_errors.add(code, message, 1);
                stats.latencies_us.push(us);
            }
            Outcome::Transport { kind, message } => stats.transport_errors.add(kind, message, 1),
        }
    }

    pub fn merge(&mut self, other: Recorder) {
        self.warmup_calls += other.warmup_calls;
        self.warmup_errors += other.warmup_errors;
        self.late += other.late;
        for (tool, s) in other.tools {
            let mine = self.tools.entry(tool).or_default();
            mine.latencies_us.extend(s.latencies_us);
            mine.ok += s.ok;
            mine.tool_errors.merge(s.tool_errors);
            mine.transport_errors.merge(s.transport_errors);
        }
    }

    pub fn total_calls(&self) -> u64 {
        self.tools.values().map(ToolStats::calls).sum()
    }

    pub fn total_errors(&self) -> u64 {
        self.tools.values().map(ToolStats::errors).sum()
    }
}

/// Latency summary of one tool, in milliseconds.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Latency {
    /// Sorts `us` in place and summarises it; `None` when there are no samples.
    pub fn of(us: &mut [u64]) -> Option<Self> {
        us.sort_unstable();
        let ms = |v: Option<u64>| v.map_or(0.0, |v| v as f64 / 1000.0);
        let sum: u128 = us.iter().map(|&v| u128::from(v)).sum();
        let n = us.len();
        (n > 0).then(|| Latency {
            p50_ms: ms(percentile(us, 50.0)),
            p95_ms: ms(percentile(us, 95.0)),
            p99_ms: ms(percentile(us, 99.0)),
            max_ms: ms(us.last().copied()),
            mean_ms: sum as f64 / n as f64 / 1000.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 95.0), Some(95));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 99.9), Some(100));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&v, 0.0), Some(1));
        assert_eq!(percentile(&v, 0.5), Some(1));
        assert_eq!(percentile(&v, 1.0), Some(1));
        assert_eq!(percentile(&v, 1.1), Some(2));
    }

    #[test]
    fn percentile_small_and_edge_inputs() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[7], 0.0), Some(7));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        // Two values: p50 is the first (rank 1 of 2), anything above is the second.
        assert_eq!(percentile(&[10, 20], 50.0), Some(10));
        assert_eq!(percentile(&[10, 20], 50.1), Some(20));
        // Out-of-range p is clamped rather than panicking.
        assert_eq!(percentile(&[1, 2, 3], -5.0), Some(1));
        assert_eq!(percentile(&[1, 2, 3], 250.0), Some(3));
        assert_eq!(percentile(&[1, 2, 3], f64::NAN), Some(1));
        // A long tail shows at p99 but not at p50.
        let mut v = vec![1_000u64; 990];
        v.extend([50_000u64; 10]);
        assert_eq!(percentile(&v, 50.0), Some(1_000));
        assert_eq!(percentile(&v, 99.0), Some(1_000));
        assert_eq!(percentile(&v, 99.1), Some(50_000));
    }

    #[test]
    fn latency_summary_sorts_and_converts_to_ms() {
        let mut us = vec![3_000, 1_000, 2_000, 4_000];
        let l = Latency::of(&mut us).unwrap();
        assert_eq!(us, vec![1_000, 2_000, 3_000, 4_000]);
        assert_eq!(l.p50_ms, 2.0);
        assert_eq!(l.max_ms, 4.0);
        assert_eq!(l.mean_ms, 2.5);
        assert!(Latency::of(&mut []).is_none());
    }

    #[test]
    fn recorder_separates_warmup_and_merges() {
        let mut a = Recorder::default();
        let ms = Duration::from_millis(1);
        a.record(Tool::AddMessage, ms, &Outcome::Ok, false);
        a.record(Tool::AddMessage, ms, &Outcome::Ok, true);
        let err = Outcome::ToolError {
            code: "NOT_FOUND".into(),
            message: "no such session".into(),
        };
        a.record(Tool::GetMessages, ms, &err, true);
        let mut b = Recorder::default();
        b.record(Tool::GetMessages, ms, &err, true);
        let t = Outcome::Transport {
            kind: "timeout".into(),
            message: "x".into(),
        };
        b.record(Tool::GetMessages, ms, &t, true);
        a.merge(b);
        assert_eq!(a.warmup_calls, 1);
        assert_eq!(a.total_calls(), 4);
        assert_eq!(a.total_errors(), 3);
        let gm = &a.tools[&Tool::GetMessages];
        assert_eq!(gm.tool_errors.counts["NOT_FOUND"], 2);
        assert_eq!(gm.transport_errors.counts["timeout"], 1);
        assert_eq!(gm.latencies_us.len(), 2);
    }
}
