//! Health report shared by the `health` tool and `GET /health`.

use serde::Serialize;

use super::Service;
use crate::storage::PoolStats;

#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    /// `healthy`, `degraded` (slow database) or `unhealthy` (database unreachable).
    pub status: &'static str,
    pub backend: &'static str,
    pub version: &'static str,
    pub uptime_seconds: u64,
    pub database: DatabaseHealth,
    pub pool: PoolStats,
    pub token_cache: TokenCacheStats,
}

#[derive(Debug, Clone, Serialize)]
pub struct DatabaseHealth {
    /// The database URL with credentials masked.
    pub url: String,
    pub reachable: bool,
    pub server_version: Option<String>,
    pub ping_ms: Option<f64>,
    pub error: Option<String>,
    /// Size, connections and largest tables (PostgreSQL); size and journal mode (SQLite).
    pub stats: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenCacheStats {
    pub ttl_seconds: u64,
    pub hits: u64,
    pub misses: u64,
}

/// A ping slower than this marks the server degraded.
const DEGRADED_PING_MS: f64 = 500.0;
const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

impl Service {
    pub async fn health(&self) -> HealthReport {
        let started = std::time::Instant::now();
        let ping = tokio::time::timeout(PING_TIMEOUT, self.store().ping()).await;
        let ping_ms = started.elapsed().as_secs_f64() * 1000.0;
        let database = match ping {
            Ok(Ok(())) => DatabaseHealth {
                url: self.database_url_masked().to_owned(),
                reachable: true,
                server_version: self.store().server_version().await.ok(),
                ping_ms: Some((ping_ms * 1000.0).round() / 1000.0),
                error: None,
                stats: self.store().db_stats().await.ok(),
            },
            Ok(Err(_)) => DatabaseHealth {
                url: self.database_url_masked().to_owned(),
                stats: None,
                reachable: false,
                server_version: None,
                ping_ms: None,
                error: Some("database unavailable".into()),
            },
            Err(_) => DatabaseHealth {
                url: self.database_url_masked().to_owned(),
                stats: None,
                reachable: false,
                server_version: None,
                ping_ms: None,
                error: Some("database ping timed out".into()),
            },
        };
        let status = match (database.reachable, database.ping_ms) {
            (false, _) => "unhealthy",
            (true, Some(ms)) if ms > DEGRADED_PING_MS => "degraded",
            _ => "healthy",
        };
        let (hits, misses) = self.token_cache().counts();
        HealthReport {
            status,
            backend: self.store().backend(),
            version: env!("CARGO_PKG_VERSION"),
            uptime_seconds: self.uptime().as_secs(),
            database,
            pool: self.store().pool_stats(),
            token_cache: TokenCacheStats {
                ttl_seconds: self.token_cache().ttl().as_secs(),
                hits,
                misses,
            },
        }
    }
}
