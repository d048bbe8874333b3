//! Health report shared by the `health` tool and `GET /health`.

use serde::Serialize;

use super::Service;
use crate::storage::{PoolStats, TableStats};

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct HealthReport {
    /// `healthy`, `degraded` (slow database) or `unhealthy` (database unreachable).
    pub status: &'static str,
    pub backend: &'static str,
    pub version: &'static str,
    pub uptime_seconds: u64,
    pub database: DatabaseHealth,
    pub pool: PoolStats,
    pub token_cache: TokenCacheStats,
    /// The tables that grow: rows, size, dead rows, last vacuum and analyze.
    pub tables: Vec<TableStats>,
    /// Why the status is `degraded`, one sentence each (empty when healthy).
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
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

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TokenCacheStats {
    pub ttl_seconds: u64,
    pub hits: u64,
    pub misses: u64,
}

/// A ping slower than this marks the server degraded.
const DEGRADED_PING_MS: f64 = 500.0;
/// A table whose dead rows pass this share of its live rows (and `BLOAT_MIN_DEAD` in number)
/// is bloated: autovacuum is behind or blocked (a long transaction, autovacuum off).
const BLOAT_RATIO: f64 = 0.2;
const BLOAT_MIN_DEAD: i64 = 10_000;
/// A table this large that was never analyzed is planned from guesses.
const UNANALYZED_ROWS: i64 = 10_000;
/// Messages past this count with no retention rule: growth nobody bounds.
const UNBOUNDED_MESSAGES: i64 = 10_000_000;

/// The reasons `tables` make the server degraded.
fn table_reasons(tables: &[TableStats], retention: bool) -> Vec<String> {
    let mut out = Vec::new();
    for t in tables {
        if let Some(dead) = t.dead_rows
            && dead >= BLOAT_MIN_DEAD
            && dead as f64 > BLOAT_RATIO * t.rows.max(1) as f64
        {
            out.push(format!(
                "table {} has {dead} dead rows against {} live: autovacuum is behind (a long-running transaction or autovacuum turned off?)",
                t.table, t.rows
            ));
        }
        if t.dead_rows.is_some() && t.last_analyze.is_none() && t.rows >= UNANALYZED_ROWS {
            out.push(format!(
                "table {} holds {} rows and was never analyzed: run ANALYZE, or check that autovacuum runs",
                t.table, t.rows
            ));
        }
        if t.table == "messages" && !retention && t.rows >= UNBOUNDED_MESSAGES {
            out.push(format!(
                "table messages holds {} rows and no retention rule bounds it: set RETENTION_MESSAGE_MAX_AGE_DAYS or RETENTION_MESSAGE_MAX_COUNT",
                t.rows
            ));
        }
    }
    out
}

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
        let tables = if database.reachable {
            self.store().table_stats().await.unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut reasons = table_reasons(&tables, self.retention_settings().server_prunes());
        if let Some(ms) = database.ping_ms.filter(|ms| *ms > DEGRADED_PING_MS) {
            reasons.insert(0, format!("database ping took {ms:.0} ms"));
        }
        let status = match (database.reachable, reasons.is_empty()) {
            (false, _) => "unhealthy",
            (true, false) => "degraded",
            (true, true) => "healthy",
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
            tables,
            reasons,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, rows: i64, dead: i64, analyzed: bool) -> TableStats {
        TableStats {
            table: name.into(),
            rows,
            total_bytes: 0,
            dead_rows: Some(dead),
            last_vacuum: None,
            last_analyze: analyzed.then(crate::util::now),
        }
    }

    #[test]
    fn bloat_staleness_and_growth_degrade() {
        assert!(table_reasons(&[table("messages", 100_000, 1_000, true)], false).is_empty());
        let r = table_reasons(&[table("messages", 100_000, 50_000, true)], false);
        assert!(r[0].contains("50000 dead rows"), "{r:?}");
        let r = table_reasons(&[table("audit_log", 20_000, 0, false)], false);
        assert!(r[0].contains("never analyzed"), "{r:?}");
        let r = table_reasons(&[table("messages", 20_000_000, 0, true)], false);
        assert!(r[0].contains("no retention"), "{r:?}");
        assert!(table_reasons(&[table("messages", 20_000_000, 0, true)], true).is_empty());
    }
}
