//! The rules shared by every front end: permissions, visibility, validation, limits and audit.
//! MCP tools and HTTP handlers call these; nothing here knows about the transport's wire format.

mod ask;
mod auth;
mod clock;
mod dashboard;
mod health;
mod idempotency;
mod inbox;
mod lease;
mod memory;
mod memory_view;
mod messages;
mod presence;
mod rate_limit;
mod retention;
mod search;
mod sessions;
mod shared_memory;
mod sweep;
mod tasks;
mod wait;

use std::sync::Arc;
use std::time::Instant;

pub use ask::{Ask, AskOutcome};
pub use auth::{Caller, IssuedToken, Origin};
pub use clock::{Clock, SystemClock};
pub use dashboard::{HumanPost, SessionSummary};
pub use health::HealthReport;
pub use idempotency::IdempotencySettings;
pub use inbox::{GetInbox, InboxPage};
pub use lease::{AcquireLease, CHECK_LEASES_MAX, LeaseGrant, LeaseSettings, ReleasedLease};
pub use memory::{DeletedKey, ListMemory, MemoryPage, MemorySettings, SetMemory, memory_cursor};
pub use messages::{AddMessage, GetMessages, MessagePage};
pub use presence::{AgentView, ListAgents};
pub use retention::{PruneProgress, PruneReport};
pub use search::{SearchContext, SearchHit, SearchResults, TimeRange};
pub use sessions::{SessionPage, SessionView};
pub use shared_memory::SetSharedMemory;
pub use tasks::{ClaimTaskInput, CreateTask, ListTasks, UpdateTaskInput};
pub use wait::WaitForMessages;

use crate::auth::{ApiKeys, TokenCache};
use crate::domain::PermissionTable;
use crate::domain::input::InputLimits;
use crate::storage::Store;

/// Everything a request needs, cheap to clone.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    keys: ApiKeys,
    permissions: PermissionTable,
    limits: InputLimits,
    token_ttl: chrono::Duration,
    wait_cap: std::time::Duration,
    tokens: TokenCache,
    notifier: crate::realtime::Notifier,
    rate_limiter: rate_limit::RateLimiter,
    memory: MemorySettings,
    idempotency: IdempotencySettings,
    retention: crate::domain::retention::RetentionSettings,
    database_url_masked: String,
    metrics: crate::metrics::Metrics,
    started: Instant,
    clock: Arc<dyn Clock>,
    loop_guards: crate::domain::inbox::LoopGuards,
    coalescer: presence::Coalescer,
    leases: lease::LeaseSettings,
}

/// Settings the service needs from the config.
pub struct ServiceSettings {
    pub keys: ApiKeys,
    pub permissions: PermissionTable,
    pub limits: InputLimits,
    pub token_ttl: std::time::Duration,
    /// Calls per minute per agent (0: no limit), and the burst allowed above it.
    pub rate_limit_per_minute: u32,
    pub rate_limit_burst: u32,
    /// The longest `wait_for_messages` may block.
    pub wait_cap: std::time::Duration,
    pub token_cache_ttl: std::time::Duration,
    pub memory: MemorySettings,
    /// Idempotency-key lifetime and sweeping.
    pub idempotency: IdempotencySettings,
    /// What pruning removes, and how often it runs.
    pub retention: crate::domain::retention::RetentionSettings,
    /// Shown by `health`, with credentials masked.
    pub database_url: String,
    /// Where "now" comes from: [`SystemClock`] except in tests that move time themselves.
    pub clock: Arc<dyn Clock>,
    /// Reply depth and per-pair direct-message caps.
    pub loop_guards: crate::domain::inbox::LoopGuards,
    /// `MAX_LEASE_TTL_SECONDS` and the lease sweeper.
    pub leases: LeaseSettings,
}

impl Service {
    pub fn new(store: Arc<dyn Store>, settings: ServiceSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                keys: settings.keys,
                permissions: settings.permissions,
                limits: settings.limits,
                wait_cap: settings.wait_cap,
                token_ttl: chrono::Duration::from_std(settings.token_ttl)
                    .unwrap_or(chrono::Duration::hours(24)),
                tokens: TokenCache::new(settings.token_cache_ttl, 10_000),
                memory: settings.memory,
                idempotency: settings.idempotency,
                retention: settings.retention,
                database_url_masked: crate::util::url::mask_url(&settings.database_url),
                metrics: crate::metrics::Metrics::default(),
                notifier: crate::realtime::Notifier::default(),
                rate_limiter: rate_limit::RateLimiter::new(
                    settings.rate_limit_per_minute,
                    settings.rate_limit_burst,
                ),
                started: Instant::now(),
                clock: settings.clock,
                loop_guards: settings.loop_guards,
                coalescer: presence::Coalescer::default(),
                leases: settings.leases,
            }),
        }
    }

    /// The current time by the service's clock; every expiry decision uses it.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }

    pub fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    pub fn keys(&self) -> &ApiKeys {
        &self.inner.keys
    }

    pub fn permissions(&self) -> &PermissionTable {
        &self.inner.permissions
    }

    pub fn limits(&self) -> &InputLimits {
        &self.inner.limits
    }

    pub fn token_ttl(&self) -> chrono::Duration {
        self.inner.token_ttl
    }

    pub fn database_url_masked(&self) -> &str {
        &self.inner.database_url_masked
    }

    pub fn uptime(&self) -> std::time::Duration {
        self.inner.started.elapsed()
    }

    pub fn wait_cap(&self) -> std::time::Duration {
        self.inner.wait_cap
    }

    pub fn rate_limiter(&self) -> &rate_limit::RateLimiter {
        &self.inner.rate_limiter
    }

    pub fn notifier(&self) -> &crate::realtime::Notifier {
        &self.inner.notifier
    }

    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.inner.metrics
    }

    pub fn token_cache(&self) -> &TokenCache {
        &self.inner.tokens
    }
}
