//! The last hour of tool calls, per tool and per minute: calls, errors and latency, for the
//! dashboard's charts. A ring of 60 one-minute buckets per tool (60 × 32 bytes per tool), so memory
//! stays flat however long the process runs.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Minutes kept.
pub const MINUTES: usize = 60;

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// Minutes since the Unix epoch this bucket counts; a stale bucket is reset on first use.
    minute: u64,
    calls: u32,
    errors: u32,
    sum_us: u64,
    max_us: u32,
}

#[derive(Default)]
pub struct CallHistory {
    tools: Mutex<BTreeMap<String, [Bucket; MINUTES]>>,
}

/// One tool's last hour, oldest minute first (`MINUTES` entries each).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ToolHistory {
    pub tool: String,
    pub calls: Vec<u32>,
    pub errors: Vec<u32>,
    /// Mean latency per minute in milliseconds (0 with no calls).
    pub mean_ms: Vec<f64>,
    pub max_ms: Vec<f64>,
}

/// Every tool's last hour, ending with the minute that holds `now`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HistorySnapshot {
    /// Unix seconds at the start of the first minute.
    pub start_unix: u64,
    pub minute_seconds: u64,
    pub tools: Vec<ToolHistory>,
}

fn minute_of(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() / 60
}

impl CallHistory {
    pub fn record(&self, tool: &str, elapsed: Duration, failed: bool) {
        self.record_at(tool, elapsed, failed, SystemTime::now());
    }

    pub fn record_at(&self, tool: &str, elapsed: Duration, failed: bool, at: SystemTime) {
        let minute = minute_of(at);
        let mut tools = self.tools.lock().unwrap_or_else(|p| p.into_inner());
        let ring = match tools.get_mut(tool) {
            Some(r) => r,
            None => tools
                .entry(tool.to_owned())
                .or_insert([Bucket::default(); MINUTES]),
        };
        let bucket = &mut ring[(minute % MINUTES as u64) as usize];
        if bucket.minute != minute {
            *bucket = Bucket {
                minute,
                ..Bucket::default()
            };
        }
        let us = elapsed.as_micros().min(u128::from(u32::MAX)) as u32;
        bucket.calls = bucket.calls.saturating_add(1);
        bucket.errors = bucket.errors.saturating_add(u32::from(failed));
        bucket.sum_us += u64::from(us);
        bucket.max_us = bucket.max_us.max(us);
    }

    pub fn snapshot(&self) -> HistorySnapshot {
        self.snapshot_at(SystemTime::now())
    }

    pub fn snapshot_at(&self, now: SystemTime) -> HistorySnapshot {
        let last = minute_of(now);
        let first = last + 1 - MINUTES as u64;
        let tools = self.tools.lock().unwrap_or_else(|p| p.into_inner());
        let tools = tools
            .iter()
            .map(|(tool, ring)| {
                let minutes: Vec<Bucket> = (first..=last)
                    .map(|m| {
                        let b = ring[(m % MINUTES as u64) as usize];
                        if b.minute == m { b } else { Bucket::default() }
                    })
                    .collect();
                let ms = |us: f64| (us / 10.0).round() / 100.0;
                ToolHistory {
                    tool: tool.clone(),
                    calls: minutes.iter().map(|b| b.calls).collect(),
                    errors: minutes.iter().map(|b| b.errors).collect(),
                    mean_ms: minutes
                        .iter()
                        .map(|b| match b.calls {
                            0 => 0.0,
                            n => ms(b.sum_us as f64 / f64::from(n)),
                        })
                        .collect(),
                    max_ms: minutes.iter().map(|b| ms(f64::from(b.max_us))).collect(),
                }
            })
            .filter(|t| t.calls.iter().any(|c| *c > 0))
            .collect();
        HistorySnapshot {
            start_unix: first * 60,
            minute_seconds: 60,
            tools,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_one_hour_per_minute_and_forgets_older() {
        let h = CallHistory::default();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000 * 60);
        h.record_at("add_message", Duration::from_millis(2), false, t0);
        h.record_at("add_message", Duration::from_millis(4), true, t0);
        let later = t0 + Duration::from_secs(59 * 60);
        h.record_at("add_message", Duration::from_millis(1), false, later);
        let s = h.snapshot_at(later);
        let t = &s.tools[0];
        assert_eq!(t.calls.len(), MINUTES);
        assert_eq!(
            (t.calls[0], t.errors[0], t.mean_ms[0], t.max_ms[0]),
            (2, 1, 3.0, 4.0)
        );
        assert_eq!(t.calls[MINUTES - 1], 1);
        // One more minute: the first one falls out of the hour, and its slot is reused.
        let next = later + Duration::from_secs(60);
        h.record_at("add_message", Duration::from_millis(1), false, next);
        let s = h.snapshot_at(next);
        assert_eq!(s.tools[0].calls.iter().sum::<u32>(), 2);
        // Two hours later nothing is left, and the tool disappears from the snapshot.
        assert!(
            h.snapshot_at(next + Duration::from_secs(7200))
                .tools
                .is_empty()
        );
    }
}
