//! The service's one source of "now": token issue and expiry, memory TTLs, idempotency-key
//! lifetimes, the expiry sweeps, and the timestamps of what it writes. Production uses
//! [`SystemClock`]; a test passes its own clock to move time forward instead of sleeping. Every
//! expiry comparison is done here or in SQL against a bound time, never against the database's
//! `now()`, so the injected clock governs all of them.

use chrono::{DateTime, Utc};

/// Where the service reads the current time.
pub trait Clock: Send + Sync + 'static {
    /// The current time, at the microsecond precision both backends store.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        crate::util::now()
    }
}
