//! The server in this process: the real `http::router` and service on a listener bound to
//! 127.0.0.1:0, with a [`ManualClock`] the test moves forward instead of sleeping through TTLs.
//! Start-up costs no process and no port probing; everything below the router is the production
//! code, sweepers and change feed included. Use [`HttpServer`](super::HttpServer) instead when the
//! test is about the binary itself (configuration, signals, logs, stdio).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use shared_context_server::auth::ApiKeys;
use shared_context_server::domain::PermissionTable;
use shared_context_server::domain::input::InputLimits;
use shared_context_server::http::{HttpSettings, router, serve};
use shared_context_server::service::{
    Clock, IdempotencySettings, MemorySettings, Service, ServiceSettings,
};
use tokio_util::sync::CancellationToken;

use super::{ADMIN_KEY, API_KEY, Client, TestDb, mcp_client};

/// A clock that starts at the wall-clock time and moves only when the test says so.
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            now: Mutex::new(shared_context_server::util::now()),
        })
    }

    /// Moves time forward: what expires within `by` has expired afterwards.
    pub fn advance(&self, by: Duration) {
        *self.now.lock().unwrap() += chrono::Duration::from_std(by).expect("a sane duration");
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap()
    }
}

/// The settings the binary would have with the test environment of `server_env` (pools, rate
/// limit off), a manual clock, and sweepers off; `TestApp::start_with` changes what a test needs.
pub fn test_settings(db: &TestDb, clock: Arc<ManualClock>) -> ServiceSettings {
    ServiceSettings {
        keys: ApiKeys {
            agent: API_KEY.into(),
            admin: Some(ADMIN_KEY.into()),
        },
        permissions: PermissionTable::default(),
        limits: InputLimits::default(),
        token_ttl: Duration::from_secs(86_400),
        rate_limit_per_minute: 0,
        rate_limit_burst: 0,
        wait_cap: Duration::from_secs(60),
        token_cache_ttl: Duration::from_secs(30),
        memory: MemorySettings {
            sweep_interval: None,
            ..MemorySettings::default()
        },
        idempotency: IdempotencySettings {
            sweep_interval: None,
            ..IdempotencySettings::default()
        },
        retention: shared_context_server::domain::retention::RetentionSettings {
            interval: None,
            ..Default::default()
        },
        database_url: db.url.clone(),
        clock,
        loop_guards: Default::default(),
        leases: shared_context_server::service::LeaseSettings {
            sweep_interval: None,
            ..Default::default()
        },
    }
}

/// The real router and service served in-process; stopped (listener, sweepers, feed) on drop.
pub struct TestApp {
    pub base: String,
    pub clock: Arc<ManualClock>,
    stop: CancellationToken,
}

impl TestApp {
    pub async fn start(db: &TestDb) -> Self {
        Self::start_with(db, |_| {}).await
    }

    /// Starts with the settings `adjust` leaves (see [`test_settings`]).
    pub async fn start_with(db: &TestDb, adjust: impl FnOnce(&mut ServiceSettings)) -> Self {
        let clock = ManualClock::new();
        let mut settings = test_settings(db, clock.clone());
        adjust(&mut settings);
        let service = Service::new(db.store(4).await, settings);
        let stop = CancellationToken::new();
        let http = HttpSettings {
            allowed_hosts: vec!["127.0.0.1".into(), "localhost".into()],
            allowed_origins: vec![],
            max_request_body_bytes: 4 * 1024 * 1024,
            stateless: false,
            tools: shared_context_server::mcp::ToolProfile::all(),
        };
        let app = router(service.clone(), http, stop.child_token());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let base = format!("http://{}", listener.local_addr().unwrap());
        // As app::run_http does: the sweepers and the pruner (when their interval is set) and the
        // change feed.
        let _ = service.spawn_memory_sweeper(stop.child_token());
        let _ = service.spawn_idempotency_sweeper(stop.child_token());
        let _ = service.spawn_pruner(stop.child_token());
        let _ = service.spawn_lease_sweeper(stop.child_token());
        service.start_change_feed(stop.child_token());
        tokio::spawn(serve(listener, app, stop.child_token()));
        Self { base, clock, stop }
    }

    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }

    /// An MCP client over real HTTP, authorised with the agent API key.
    pub async fn client(&self) -> Client {
        mcp_client(&self.mcp_url(), &[("x-api-key", API_KEY)])
            .await
            .expect("connect with API key")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
