//! Per-agent rate limit: a token bucket per agent id, refilled continuously. Over the limit a call
//! gets `RATE_LIMITED` with `retry_after`, and nothing else happens.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::domain::{DomainError, ErrorCode};

/// Buckets kept at most; idle (full) buckets are dropped first when it is reached.
const MAX_BUCKETS: usize = 100_000;

pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_minute` 0 turns the limit off.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        Self {
            per_second: f64::from(per_minute) / 60.0,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn check(&self, agent_id: &str) -> Result<(), DomainError> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(agent_id) {
            let (rate, burst) = (self.per_second, self.burst);
            buckets.retain(|_, (tokens, at)| *tokens + at.elapsed().as_secs_f64() * rate < burst);
        }
        let (tokens, at) = buckets
            .entry(agent_id.to_owned())
            .or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - *tokens) / self.per_second).ceil().max(1.0) as u32;
        Err(DomainError::new(
            ErrorCode::RateLimited,
            format!(
                "agent '{agent_id}' is over the rate limit of {:.0} calls per minute",
                self.per_second * 60.0
            ),
        )
        .suggest("wait retry_after seconds; prefer wait_for_messages over polling in a loop")
        .retry_after(wait))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_limited_per_agent() {
        let limiter = RateLimiter::new(60, 3);
        for _ in 0..3 {
            limiter.check("a").unwrap();
        }
        let err = limiter.check("a").unwrap_err();
        assert_eq!(err.code, ErrorCode::RateLimited);
        assert_eq!(err.retry_after, Some(1));
        limiter.check("b").unwrap();
        RateLimiter::new(0, 1).check("a").unwrap();
    }
}
