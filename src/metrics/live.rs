//! Live gauges (open streams, blocked waiters) that a guard increments and its drop decrements,
//! and HTTP responses counted by status.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

/// A count of things alive right now.
#[derive(Debug, Default, Clone)]
pub struct LiveGauge(Arc<AtomicI64>);

/// Counts one thing for as long as it lives.
#[derive(Debug)]
pub struct LiveGuard(Arc<AtomicI64>);

impl LiveGauge {
    pub fn enter(&self) -> LiveGuard {
        self.0.fetch_add(1, Ordering::Relaxed);
        LiveGuard(self.0.clone())
    }

    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// HTTP responses by status code.
#[derive(Debug, Default)]
pub struct HttpResponses(Mutex<BTreeMap<u16, u64>>);

impl HttpResponses {
    pub fn record(&self, status: u16) {
        *self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(status)
            .or_default() += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<u16, u64> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_count_while_alive() {
        let gauge = LiveGauge::default();
        let a = gauge.enter();
        let b = gauge.enter();
        assert_eq!(gauge.get(), 2);
        drop(a);
        assert_eq!(gauge.get(), 1);
        drop(b);
        assert_eq!(gauge.get(), 0);
    }
}
