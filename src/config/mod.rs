//! Configuration: each setting (one table, `settings.rs`) from a flag, else the environment
//! (`SCS_` name first), else the TOML file (`--config`, `SCS_CONFIG` or the default path), else
//! its default; validated once at start-up with messages that say what to change. Secrets never
//! reach `Debug` or logs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;

use crate::auth::ApiKeys;
use crate::domain::PermissionTable;
use crate::domain::input::InputLimits;
use crate::service::{IdempotencySettings, MemorySettings};
use crate::storage::ConnectOptions;
use crate::util::url::{DatabaseKind, SUPPORTED_FORMS, mask_url, query_param, sqlite_file};

mod env;
mod retention;
mod secrets;
pub mod settings;
pub mod show;
pub mod sources;

use env::postgres_url_from_parts;
use secrets::load_or_create_secret;
pub use sources::{Overrides, Source, Sources, default_config_file};

pub const DEFAULT_PORT: u16 = 23456;
const MIN_KEY_CHARS: usize = 16;

/// How clients reach the server: streamable HTTP at `/mcp`, or stdin/stdout for a client that
/// spawns the server. (No doc comments on the variants: clap would print them in `--help`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Http,
    Stdio,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Stdio => "stdio",
        }
    }
}

impl std::str::FromStr for Transport {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        <Self as clap::ValueEnum>::from_str(s, true)
    }
}

fn seconds(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Validated settings the server runs with.
#[derive(Clone)]
pub struct Config {
    pub transport: Transport,
    /// HTTP without MCP sessions (each POST stands alone), for load balancers.
    pub stateless: bool,
    /// Upper bound of `wait_for_messages` timeouts.
    pub wait_cap: Duration,
    /// `MAX_THREAD_DEPTH` and `DIRECT_MESSAGES_PER_PAIR_PER_MINUTE`.
    pub loop_guards: crate::domain::inbox::LoopGuards,
    pub rate_limit_per_minute: u32,
    pub rate_limit_burst: u32,
    pub host: String,
    pub port: u16,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub log_level: String,
    pub log_format: crate::telemetry::LogFormat,
    pub keys: ApiKeys,
    /// Set when this start generated the agent key (first run): print it for the user.
    pub generated_key_file: Option<PathBuf>,
    pub token_ttl: Duration,
    pub token_cache_ttl: Duration,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub max_request_body_bytes: usize,
    pub limits: InputLimits,
    pub permissions: PermissionTable,
    pub pool: ConnectOptions,
    pub shutdown_grace: Duration,
    pub memory: MemorySettings,
    /// How long idempotency keys are kept; swept on the memory sweeper's schedule.
    pub idempotency: IdempotencySettings,
    /// `MAX_LEASE_TTL_SECONDS`; leases are swept on the memory sweeper's schedule.
    pub leases: crate::service::LeaseSettings,
    /// Which tools MCP clients see (`SCS_TOOLS`, `--tools`).
    pub tools: crate::mcp::ToolProfile,
    /// What pruning removes and how often (RETENTION_*).
    pub retention: crate::domain::retention::RetentionSettings,
    /// The config file read, if any.
    pub config_file: Option<PathBuf>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("transport", &self.transport)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database_url", &mask_url(&self.database_url))
            .field("data_dir", &self.data_dir)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

/// `$XDG_DATA_HOME/shared-context-server`, else `~/.local/share/shared-context-server`.
pub fn default_data_dir() -> PathBuf {
    let var = |name| {
        std::env::var(name)
            .ok()
            .filter(|v: &String| !v.trim().is_empty())
    };
    let base = var("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| Path::new(&h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("shared-context-server")
}

impl Config {
    /// Builds the settings from the flags, the environment and the config file, generates the
    /// keys on the first run, then validates them.
    pub fn load(given: &Overrides) -> anyhow::Result<Self> {
        Self::from_sources(&Sources::collect(given)?)
    }

    /// `load` with the sources already collected.
    pub fn from_sources(sources: &Sources) -> anyhow::Result<Self> {
        let config = Self::resolve(sources)?;
        let config = config.with_keys(sources.text("api_key"), sources.text("admin_api_key"))?;
        config.validate()?;
        Ok(config)
    }

    /// The settings without touching the data directory (no keys read or generated): what
    /// `config show` and `doctor` inspect.
    pub fn resolve(src: &Sources) -> anyhow::Result<Self> {
        let data_dir = src
            .text("data_dir")
            .map(PathBuf::from)
            .unwrap_or_else(default_data_dir);
        let database_url = match src.text("database_url") {
            Some(url) => url,
            None => match postgres_url_from_parts(src)? {
                Some(url) => url,
                None => format!("sqlite:{}", data_dir.join("shared-context.db").display()),
            },
        };
        let limits = InputLimits {
            content_max_chars: src.value("max_message_length")?,
            metadata_max_bytes: src.value("max_metadata_bytes")?,
            ..InputLimits::default()
        };
        let pool_size: u32 = src.value("postgres.pool_size")?;
        let overflow: u32 = src.value("postgres.max_overflow")?;
        let recycle: u64 = src.value("postgres.pool_recycle_seconds")?;
        // SQLAlchemy semantics: `pool_size` connections are kept (min), `max_overflow` more may
        // open under load and close again after `idle_timeout` (idle connections are reaped only
        // above the minimum), `pool_recycle` is the maximum lifetime, `pool_timeout` the acquire
        // timeout. PostgreSQL's request pool pre-pings connections idle over a second
        // (storage/postgres/pool.rs and guard.rs).
        let pool = ConnectOptions {
            max_connections: pool_size.saturating_add(overflow),
            min_connections: pool_size,
            acquire_timeout: seconds(src.value("postgres.pool_timeout_seconds")?),
            max_lifetime: (recycle > 0).then(|| seconds(recycle)),
            idle_timeout: Some(seconds(60)),
            statement_timeout: seconds(src.value("postgres.statement_timeout_seconds")?),
            idle_in_transaction_timeout: seconds(
                src.value("postgres.idle_in_transaction_timeout_seconds")?,
            ),
            application_name: src.value("postgres.application_name")?,
            sqlite_full_sync: src.one_of("sqlite.synchronous", &["normal", "full"])? == "full",
            ..ConnectOptions::default()
        };
        let sweep_seconds: u64 = src.value("memory_sweep_interval_seconds")?;
        if sweep_seconds > 86_400 {
            bail!(
                "MEMORY_SWEEP_INTERVAL_SECONDS must be between 1 and 86400, or 0 to turn the sweeper off; got {sweep_seconds}"
            );
        }
        let memory = MemorySettings {
            limits: crate::domain::MemoryLimits {
                value_max_bytes: src.value("max_memory_value_bytes")?,
            },
            sweep_interval: (sweep_seconds > 0).then(|| seconds(sweep_seconds)),
        };
        let idempotency = IdempotencySettings {
            ttl: seconds(src.value("idempotency_ttl_seconds")?),
            sweep_interval: memory.sweep_interval,
        };
        let permissions = PermissionTable::default()
            .with_overrides(&src.permissions)
            .map_err(|e| anyhow::anyhow!("config file [permissions]: {}", e.message))?;
        let tools = match src.text("tools") {
            None => crate::mcp::ToolProfile::default(),
            Some(raw) => crate::mcp::ToolProfile::parse(&raw).map_err(|e| {
                anyhow::anyhow!(
                    "SCS_TOOLS / --tools: {}; {}",
                    e.message,
                    e.suggestions.concat()
                )
            })?,
        };
        Ok(Self {
            transport: src.value("transport")?,
            stateless: src.flag("stateless")?,
            rate_limit_per_minute: src.value("rate_limit_per_minute")?,
            rate_limit_burst: src.value("rate_limit_burst")?,
            loop_guards: crate::domain::inbox::LoopGuards {
                max_thread_depth: src.value("max_thread_depth")?,
                direct_per_pair_per_minute: src.value("direct_messages_per_pair_per_minute")?,
            },
            wait_cap: seconds(src.value("wait_timeout_cap_seconds")?),
            host: src.value("host")?,
            port: src.value("port")?,
            database_url,
            data_dir,
            log_level: src.value("log_level")?,
            log_format: src.value("log_format")?,
            keys: ApiKeys {
                agent: String::new(),
                admin: None,
            },
            generated_key_file: None,
            token_ttl: seconds(src.value("token_ttl_seconds")?),
            token_cache_ttl: seconds(src.value("token_cache_ttl_seconds")?),
            allowed_hosts: src.list("allowed_hosts").unwrap_or_default(),
            allowed_origins: src.list("allowed_origins").unwrap_or_default(),
            max_request_body_bytes: src.value("max_request_body_bytes")?,
            limits,
            permissions,
            pool,
            shutdown_grace: seconds(src.value("shutdown_grace_seconds")?),
            memory,
            idempotency,
            leases: crate::service::LeaseSettings {
                max_ttl_seconds: src.value("max_lease_ttl_seconds")?,
                sweep_interval: memory.sweep_interval,
            },
            tools,
            retention: retention::settings(src)?,
            config_file: src.file_path.clone(),
        })
    }

    /// Uses the given keys, or the ones kept in the data directory, or generates them (0600).
    fn with_keys(mut self, agent: Option<String>, admin: Option<String>) -> anyhow::Result<Self> {
        let (agent, generated) = match agent {
            Some(key) => (key, None),
            None => {
                let path = self.data_dir.join("api_key");
                let (key, created) = load_or_create_secret(&path)?;
                (key, created.then_some(path))
            }
        };
        let admin = match admin {
            Some(key) => key,
            None => load_or_create_secret(&self.data_dir.join("admin_api_key"))?.0,
        };
        self.keys = ApiKeys {
            agent,
            admin: Some(admin),
        };
        self.generated_key_file = generated;
        Ok(self)
    }

    fn validate(&self) -> anyhow::Result<()> {
        Self::validate_keys(&self.keys.agent, self.keys.admin.as_deref())?;
        self.validate_settings()
    }

    /// The key rules: long enough, and the admin key differs from the agents' key.
    pub fn validate_keys(agent: &str, admin: Option<&str>) -> anyhow::Result<()> {
        if agent.trim().chars().count() < MIN_KEY_CHARS {
            bail!(
                "API_KEY is shorter than {MIN_KEY_CHARS} characters; use a random key, e.g. `openssl rand -hex 32`"
            );
        }
        if let Some(admin) = admin {
            if admin.trim().chars().count() < MIN_KEY_CHARS {
                bail!(
                    "ADMIN_API_KEY is shorter than {MIN_KEY_CHARS} characters; use a random key, e.g. `openssl rand -hex 32`"
                );
            }
            if crate::auth::constant_time_eq(admin, agent) {
                bail!("ADMIN_API_KEY must differ from API_KEY, or every agent could become admin");
            }
        }
        Ok(())
    }

    /// Every rule but the keys' (`doctor` checks the key files separately).
    pub fn validate_settings(&self) -> anyhow::Result<()> {
        if DatabaseKind::of(&self.database_url).is_none() {
            bail!(
                "DATABASE_URL '{}' is not supported; use {SUPPORTED_FORMS}",
                mask_url(&self.database_url)
            );
        }
        if let Some(mode) = query_param(&self.database_url, "sslmode")
            && ![
                "disable",
                "allow",
                "prefer",
                "require",
                "verify-ca",
                "verify-full",
            ]
            .contains(&mode)
        {
            bail!(
                "sslmode '{mode}' is not valid; use disable, allow, prefer, require, verify-ca or verify-full"
            );
        }
        if self.host.parse::<std::net::IpAddr>().is_err() && self.host != "localhost" {
            bail!(
                "HTTP_HOST '{}' is not an IP address; use 127.0.0.1 (local) or 0.0.0.0 (all interfaces)",
                self.host
            );
        }
        if !(60..=30 * 86_400).contains(&self.token_ttl.as_secs()) {
            bail!(
                "TOKEN_TTL_SECONDS must be between 60 and 2592000 (30 days); got {}",
                self.token_ttl.as_secs()
            );
        }
        if self.limits.content_max_chars == 0 || self.limits.metadata_max_bytes == 0 {
            bail!("MAX_MESSAGE_LENGTH and MAX_METADATA_BYTES must be positive");
        }
        if self.memory.limits.value_max_bytes == 0 {
            bail!("MAX_MEMORY_VALUE_BYTES must be positive (default 1048576)");
        }
        if !(1..=30 * 86_400).contains(&self.idempotency.ttl.as_secs()) {
            bail!(
                "IDEMPOTENCY_TTL_SECONDS must be between 1 and 2592000 (30 days); got {}",
                self.idempotency.ttl.as_secs()
            );
        }
        if !(1..=7 * 86_400).contains(&self.leases.max_ttl_seconds) {
            bail!(
                "MAX_LEASE_TTL_SECONDS must be between 1 and 604800 (7 days); got {}",
                self.leases.max_ttl_seconds
            );
        }
        if self.max_request_body_bytes < 1024 {
            bail!("MAX_REQUEST_BODY_BYTES must be at least 1024");
        }
        if self.pool.max_connections == 0 {
            bail!("POSTGRES_POOL_SIZE + POSTGRES_MAX_OVERFLOW must be at least 1");
        }
        if self.pool.acquire_timeout.is_zero() {
            bail!("POSTGRES_POOL_TIMEOUT must be at least 1 second");
        }
        Ok(())
    }

    /// The SQLite file behind the database URL, when there is one.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        sqlite_file(&self.database_url)
    }
}
