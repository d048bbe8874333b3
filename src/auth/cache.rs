//! Bounded cache of verified tokens. A revocation through this process evicts at once; another
//! process's revocation is seen when the entry's TTL runs out (the stated bound).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::Identity;

pub struct TokenCache {
    entries: Mutex<HashMap<String, (Identity, Instant)>>,
    ttl: Duration,
    capacity: usize,
    hits: std::sync::atomic::AtomicU64,
    misses: std::sync::atomic::AtomicU64,
}

impl TokenCache {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            ttl,
            capacity: capacity.max(1),
            hits: Default::default(),
            misses: Default::default(),
        }
    }

    /// The cached identity for a token hash, if fresh and not past the token's own expiry at `now`.
    pub fn get(&self, hash: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Identity> {
        use std::sync::atomic::Ordering::Relaxed;
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = match entries.get(hash) {
            Some((identity, at)) if at.elapsed() < self.ttl => match identity {
                Identity::Agent { expires_at, .. } if *expires_at <= now => None,
                other => Some(other.clone()),
            },
            _ => None,
        };
        if fresh.is_none() {
            entries.remove(hash);
            self.misses.fetch_add(1, Relaxed);
        } else {
            self.hits.fetch_add(1, Relaxed);
        }
        fresh
    }

    pub fn put(&self, hash: String, identity: Identity) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(&hash) {
            // Drop stale entries first; if all are fresh, drop an arbitrary one (bounded memory
            // matters more than the hit rate of one token).
            let ttl = self.ttl;
            entries.retain(|_, (_, at)| at.elapsed() < ttl);
            if entries.len() >= self.capacity
                && let Some(victim) = entries.keys().next().cloned()
            {
                entries.remove(&victim);
            }
        }
        entries.insert(hash, (identity, Instant::now()));
    }

    pub fn evict(&self, hash: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(hash);
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// (hits, misses) since start.
    pub fn counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.hits.load(Relaxed), self.misses.load(Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_evictable() {
        let cache = TokenCache::new(Duration::from_secs(60), 2);
        cache.put("a".into(), Identity::Anonymous);
        cache.put("b".into(), Identity::Anonymous);
        cache.put("c".into(), Identity::Anonymous);
        let present = ["a", "b", "c"]
            .iter()
            .filter(|k| cache.get(k, chrono::Utc::now()).is_some())
            .count();
        assert_eq!(present, 2);
        cache.evict("c");
        assert!(cache.get("c", chrono::Utc::now()).is_none());
    }

    #[test]
    fn zero_ttl_disables() {
        let cache = TokenCache::new(Duration::ZERO, 10);
        cache.put("a".into(), Identity::Anonymous);
        assert!(cache.get("a", chrono::Utc::now()).is_none());
    }
}
