//! Configuration: defaults, then the TOML file, then environment variables and flags; validated
//! once at start-up with messages that say what to change. Secrets never reach `Debug` or logs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
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

use env::{env, env_list, env_parse, postgres_url_from_parts};
use secrets::load_or_create_secret;

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

/// Settings given on the command line (or in the environment variables the command line reads);
/// each one given wins over the config file. Plain data, so the configuration does not depend on
/// how the command line is parsed.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// The TOML config file to read.
    pub config_file: Option<PathBuf>,
    pub transport: Option<Transport>,
    /// Stateless HTTP when set; unset leaves the file's choice.
    pub stateless: bool,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub database_url: Option<String>,
    pub log_level: Option<String>,
    pub data_dir: Option<PathBuf>,
    /// The tool groups to list (`SCS_TOOLS` syntax).
    pub tools: Option<String>,
}

/// The config file's shape. Every field is optional; unknown fields are an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub transport: Option<Transport>,
    pub stateless: Option<bool>,
    pub wait_timeout_cap_seconds: Option<u64>,
    pub rate_limit_per_minute: Option<u32>,
    pub rate_limit_burst: Option<u32>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub database_url: Option<String>,
    pub log_level: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub api_key: Option<String>,
    pub admin_api_key: Option<String>,
    pub token_ttl_seconds: Option<u64>,
    pub token_cache_ttl_seconds: Option<u64>,
    pub allowed_hosts: Option<Vec<String>>,
    pub allowed_origins: Option<Vec<String>>,
    pub max_request_body_bytes: Option<usize>,
    pub max_message_length: Option<usize>,
    pub max_metadata_bytes: Option<usize>,
    pub shutdown_grace_seconds: Option<u64>,
    pub memory_sweep_interval_seconds: Option<u64>,
    pub max_memory_value_bytes: Option<usize>,
    pub idempotency_ttl_seconds: Option<u64>,
    /// The tool profile (`SCS_TOOLS`).
    pub tools: Option<String>,
    pub retention_message_max_age_days: Option<u32>,
    pub retention_message_max_count: Option<u64>,
    pub retention_closed_session_days: Option<u32>,
    pub retention_audit_days: Option<u32>,
    pub retention_interval_seconds: Option<u64>,
    pub retention_batch: Option<u32>,
    /// Agent type → permissions, e.g. `reviewer = ["read", "write"]`.
    #[serde(default)]
    pub permissions: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub postgres: PoolFileConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolFileConfig {
    pub pool_size: Option<u32>,
    pub max_overflow: Option<u32>,
    pub pool_timeout_seconds: Option<u64>,
    pub pool_recycle_seconds: Option<u64>,
    pub statement_timeout_seconds: Option<u64>,
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
    /// Which tools MCP clients see (`SCS_TOOLS`, `--tools`).
    pub tools: crate::mcp::ToolProfile,
    /// What pruning removes and how often (RETENTION_*).
    pub retention: crate::domain::retention::RetentionSettings,
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
    let base = env("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("shared-context-server")
}

impl Config {
    /// Builds the settings from the overrides, the environment and the optional file, then
    /// validates them.
    pub fn load(given: &Overrides) -> anyhow::Result<Self> {
        let file = match &given.config_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("config file {} is not valid", path.display()))?
            }
            None => FileConfig::default(),
        };
        let data_dir = given
            .data_dir
            .clone()
            .or(file.data_dir.clone())
            .unwrap_or_else(default_data_dir);
        let database_url = match given.database_url.clone().or(file.database_url.clone()) {
            Some(url) => url,
            None => match postgres_url_from_parts()? {
                Some(url) => url,
                None => format!("sqlite:{}", data_dir.join("shared-context.db").display()),
            },
        };
        let token_ttl = env_parse::<u64>("TOKEN_TTL_SECONDS")?
            .or(env_parse::<u64>("JWT_TOKEN_EXPIRY")?)
            .or(file.token_ttl_seconds)
            .unwrap_or(86_400);
        let token_cache_ttl = env_parse::<u64>("TOKEN_CACHE_TTL_SECONDS")?
            .or(file.token_cache_ttl_seconds)
            .unwrap_or(30);
        let defaults = InputLimits::default();
        let limits = InputLimits {
            content_max_chars: env_parse("MAX_MESSAGE_LENGTH")?
                .or(file.max_message_length)
                .unwrap_or(defaults.content_max_chars),
            metadata_max_bytes: env_parse("MAX_METADATA_BYTES")?
                .or(file.max_metadata_bytes)
                .unwrap_or(defaults.metadata_max_bytes),
            ..defaults
        };
        let pool_size = env_parse("POSTGRES_POOL_SIZE")?
            .or(file.postgres.pool_size)
            .unwrap_or(20u32);
        let overflow = env_parse("POSTGRES_MAX_OVERFLOW")?
            .or(file.postgres.max_overflow)
            .unwrap_or(10u32);
        let pool_timeout = env_parse("POSTGRES_POOL_TIMEOUT")?
            .or(file.postgres.pool_timeout_seconds)
            .unwrap_or(30u64);
        let recycle = env_parse("POSTGRES_POOL_RECYCLE")?
            .or(file.postgres.pool_recycle_seconds)
            .unwrap_or(3600u64);
        let statement_timeout = env_parse("POSTGRES_STATEMENT_TIMEOUT")?
            .or(file.postgres.statement_timeout_seconds)
            .unwrap_or(30u64);
        // SQLAlchemy semantics: `pool_size` connections are kept (min), `max_overflow` more may
        // open under load and close again after `idle_timeout` (idle connections are reaped only
        // above the minimum), `pool_recycle` is the maximum lifetime, `pool_timeout` the acquire
        // timeout. PostgreSQL's request pool pre-pings connections idle over a second
        // (storage/postgres/pool.rs and guard.rs).
        let idle_tx = env_parse("POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT")?.unwrap_or(60u64);
        let pool = ConnectOptions {
            max_connections: pool_size.saturating_add(overflow),
            min_connections: pool_size,
            acquire_timeout: Duration::from_secs(pool_timeout),
            max_lifetime: (recycle > 0).then(|| Duration::from_secs(recycle)),
            idle_timeout: Some(Duration::from_secs(60)),
            statement_timeout: Duration::from_secs(statement_timeout),
            idle_in_transaction_timeout: Duration::from_secs(idle_tx),
            application_name: env("POSTGRES_APPLICATION_NAME")
                .unwrap_or_else(|| "shared_context_server".into()),
            ..ConnectOptions::default()
        };
        let memory_defaults = MemorySettings::default();
        let sweep_seconds = env_parse::<u64>("MEMORY_SWEEP_INTERVAL_SECONDS")?
            .or(file.memory_sweep_interval_seconds)
            .unwrap_or(60);
        if sweep_seconds > 86_400 {
            bail!(
                "MEMORY_SWEEP_INTERVAL_SECONDS must be between 1 and 86400, or 0 to turn the sweeper off; got {sweep_seconds}"
            );
        }
        let memory = MemorySettings {
            limits: crate::domain::MemoryLimits {
                value_max_bytes: env_parse("MAX_MEMORY_VALUE_BYTES")?
                    .or(file.max_memory_value_bytes)
                    .unwrap_or(memory_defaults.limits.value_max_bytes),
            },
            sweep_interval: (sweep_seconds > 0).then(|| Duration::from_secs(sweep_seconds)),
        };
        let idempotency = IdempotencySettings {
            ttl: Duration::from_secs(
                env_parse::<u64>("IDEMPOTENCY_TTL_SECONDS")?
                    .or(file.idempotency_ttl_seconds)
                    .unwrap_or(IdempotencySettings::default().ttl.as_secs()),
            ),
            sweep_interval: memory.sweep_interval,
        };
        let retention = retention::settings(&file)?;
        let permissions = PermissionTable::default()
            .with_overrides(&file.permissions)
            .map_err(|e| anyhow::anyhow!("config file [permissions]: {}", e.message))?;

        let tools = match given.tools.clone().or(file.tools.clone()) {
            None => crate::mcp::ToolProfile::default(),
            Some(raw) => crate::mcp::ToolProfile::parse(&raw).map_err(|e| {
                anyhow::anyhow!(
                    "SCS_TOOLS / --tools: {}; {}",
                    e.message,
                    e.suggestions.concat()
                )
            })?,
        };
        let config = Self {
            transport: given
                .transport
                .or(file.transport)
                .unwrap_or(Transport::Http),
            stateless: given.stateless || file.stateless.unwrap_or(false),
            rate_limit_per_minute: env_parse("RATE_LIMIT_PER_MINUTE")?
                .or(file.rate_limit_per_minute)
                .unwrap_or(3000),
            rate_limit_burst: env_parse("RATE_LIMIT_BURST")?
                .or(file.rate_limit_burst)
                .unwrap_or(300),
            loop_guards: crate::domain::inbox::LoopGuards {
                max_thread_depth: env_parse("MAX_THREAD_DEPTH")?.unwrap_or(64),
                direct_per_pair_per_minute: env_parse("DIRECT_MESSAGES_PER_PAIR_PER_MINUTE")?
                    .unwrap_or(30),
            },
            wait_cap: Duration::from_secs(
                env_parse("WAIT_TIMEOUT_CAP_SECONDS")?
                    .or(file.wait_timeout_cap_seconds)
                    .unwrap_or(60),
            ),
            host: given
                .host
                .clone()
                .or(file.host.clone())
                .unwrap_or_else(|| "127.0.0.1".into()),
            port: given.port.or(file.port).unwrap_or(DEFAULT_PORT),
            database_url,
            data_dir,
            log_level: given
                .log_level
                .clone()
                .or(file.log_level.clone())
                .unwrap_or_else(|| "info".into()),
            keys: ApiKeys {
                agent: String::new(),
                admin: None,
            },
            generated_key_file: None,
            token_ttl: Duration::from_secs(token_ttl),
            token_cache_ttl: Duration::from_secs(token_cache_ttl),
            allowed_hosts: env_list("ALLOWED_HOSTS")
                .or(file.allowed_hosts.clone())
                .unwrap_or_else(|| vec!["localhost".into(), "127.0.0.1".into(), "::1".into()]),
            allowed_origins: env_list("ALLOWED_ORIGINS")
                .or(file.allowed_origins.clone())
                .unwrap_or_default(),
            max_request_body_bytes: env_parse("MAX_REQUEST_BODY_BYTES")?
                .or(file.max_request_body_bytes)
                .unwrap_or(4 << 20),
            limits,
            permissions,
            pool,
            shutdown_grace: Duration::from_secs(
                env_parse("SHUTDOWN_GRACE_SECONDS")?
                    .or(file.shutdown_grace_seconds)
                    .unwrap_or(10),
            ),
            memory,
            idempotency,
            tools,
            retention,
        };
        let config = config.with_keys(
            env("API_KEY").or(file.api_key),
            env("ADMIN_API_KEY").or(file.admin_api_key),
        )?;
        config.validate()?;
        Ok(config)
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
        if self.keys.agent.trim().chars().count() < MIN_KEY_CHARS {
            bail!(
                "API_KEY is shorter than {MIN_KEY_CHARS} characters; use a random key, e.g. `openssl rand -hex 32`"
            );
        }
        if let Some(admin) = &self.keys.admin {
            if admin.trim().chars().count() < MIN_KEY_CHARS {
                bail!(
                    "ADMIN_API_KEY is shorter than {MIN_KEY_CHARS} characters; use a random key, e.g. `openssl rand -hex 32`"
                );
            }
            if crate::auth::constant_time_eq(admin, &self.keys.agent) {
                bail!("ADMIN_API_KEY must differ from API_KEY, or every agent could become admin");
            }
        }
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
