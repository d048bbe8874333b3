//! The one table of settings: each setting's config-file key, environment names, flag, default,
//! description, and whether it is secret or read by `serve` only. The `--help` epilogue,
//! `config show` and the README's configuration table all come from it (`tests/it/settings.rs`
//! fails when the README disagrees). A new setting is a new row here, read in `Config::load`
//! through `Sources`; nothing reads the environment by name elsewhere.

/// How `config show` prints a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    Plain,
    /// Never shown: `********`.
    Secret,
    /// A URL whose password is masked.
    Url,
}

/// A setting's default: a value that is parsed like any given value, or one derived at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Unset means off or absent.
    None,
    Value(&'static str),
    /// Computed at start-up; the text says how.
    Derived(&'static str),
}

#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The config-file key; `postgres.pool_size` is `pool_size` under `[postgres]`.
    pub key: &'static str,
    /// Legacy environment names, read after `SCS_` + the first one (the first is the main name).
    pub env: &'static [&'static str],
    pub flag: Option<&'static str>,
    /// False for the config file's own path.
    pub in_file: bool,
    pub default: Fallback,
    pub about: &'static str,
    pub shown: Shown,
    /// Read only by the server (`serve`, and `client-config`, `config show`, `doctor`, which
    /// describe it); the others are read by every command that opens the database.
    pub serve_only: bool,
}

impl Setting {
    /// The environment names in the order they are read: `SCS_<NAME>` first, then the legacy ones.
    pub fn env_names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.env.len() + 1);
        if let Some(first) = self.env.first()
            && !first.starts_with("SCS_")
        {
            names.push(format!("SCS_{first}"));
        }
        names.extend(self.env.iter().map(|n| (*n).to_owned()));
        names
    }

    /// The main environment name (`SCS_` form), for messages.
    pub fn env_name(&self) -> String {
        self.env_names().remove(0)
    }

    pub fn default_text(&self) -> &'static str {
        match self.default {
            Fallback::None => "unset",
            Fallback::Value(v) | Fallback::Derived(v) => v,
        }
    }
}

/// Looks a setting up by its config-file key. Panics on an unknown key: keys are literals in
/// this crate, checked by the unit tests.
pub fn setting(key: &str) -> &'static Setting {
    SETTINGS
        .iter()
        .find(|s| s.key == key)
        .unwrap_or_else(|| panic!("no setting `{key}` in config::settings::SETTINGS"))
}

macro_rules! row {
    ($key:literal, [$($env:literal),+], $flag:expr, $default:expr, $shown:ident, $serve:literal, $about:literal) => {
        Setting {
            key: $key,
            env: &[$($env),+],
            flag: $flag,
            in_file: true,
            default: $default,
            about: $about,
            shown: Shown::$shown,
            serve_only: $serve,
        }
    };
}

use Fallback::{Derived, None as Unset, Value};

#[rustfmt::skip]
pub static SETTINGS: &[Setting] = &[
    Setting {
        key: "config",
        env: &["SCS_CONFIG"],
        flag: Some("--config"),
        in_file: false,
        default: Derived("$XDG_CONFIG_HOME/shared-context-server/config.toml, if it exists"),
        about: "the TOML config file (flags and environment variables override it)",
        shown: Shown::Plain,
        serve_only: false,
    },
    row!("data_dir", ["SCS_DATA_DIR"], Some("--data-dir"), Derived("$XDG_DATA_HOME/shared-context-server"), Plain, false,
        "where the embedded database and generated keys live"),
    row!("database_url", ["DATABASE_URL"], Some("--database-url"), Derived("sqlite:DATA_DIR/shared-context.db"), Url, false,
        "`sqlite:/path.db`, `sqlite::memory:` or `postgres://user:pass@host:5432/db`"),
    row!("log_level", ["LOG_LEVEL"], Some("--log-level"), Value("info"), Plain, false,
        "error, warn, info, debug or trace, or a tracing filter; beats `RUST_LOG`. A plain level keeps the MCP SDK at warn; debug adds an access-log line per HTTP request"),
    row!("log_format", ["LOG_FORMAT"], Some("--log-format"), Value("text"), Plain, false,
        "`text` or `json` (one object per line on stderr)"),
    row!("transport", ["MCP_TRANSPORT"], Some("--transport"), Value("http"), Plain, true,
        "`http` (streamable HTTP at /mcp) or `stdio` (for a client that spawns the server)"),
    row!("host", ["HTTP_HOST"], Some("--host"), Value("127.0.0.1"), Plain, true,
        "listen address (`0.0.0.0` for all interfaces)"),
    row!("port", ["HTTP_PORT"], Some("--port"), Value("23456"), Plain, true,
        "listen port (0 picks a free one)"),
    row!("stateless", ["MCP_STATELESS"], Some("--stateless"), Value("false"), Plain, true,
        "HTTP without MCP sessions (plain JSON answers), for load balancers; 1/true/yes/on or 0/false/no/off"),
    row!("tools", ["SCS_TOOLS"], Some("--tools"), Value("default"), Plain, true,
        "tool groups listed to clients: core, search, memory, messaging, coordination, admin, or all, default, compat"),
    row!("api_key", ["API_KEY"], None, Derived("generated into DATA_DIR/api_key"), Secret, true,
        "the agents' key (at least 16 characters)"),
    row!("admin_api_key", ["ADMIN_API_KEY"], None, Derived("generated into DATA_DIR/admin_api_key"), Secret, true,
        "the admin key; must differ from the agents' key"),
    row!("token_ttl_seconds", ["TOKEN_TTL_SECONDS", "JWT_TOKEN_EXPIRY"], None, Value("86400"), Plain, true,
        "agent token lifetime, 60 s to 30 days"),
    row!("token_cache_ttl_seconds", ["TOKEN_CACHE_TTL_SECONDS"], None, Value("30"), Plain, true,
        "how long a verified token is trusted without asking the database (0: always ask)"),
    row!("allowed_hosts", ["ALLOWED_HOSTS"], None, Value("localhost,127.0.0.1,::1"), Plain, true,
        "accepted `Host` headers (DNS-rebinding guard); `*` for any"),
    row!("allowed_origins", ["ALLOWED_ORIGINS"], None, Unset, Plain, true,
        "accepted browser `Origin`s; unset: those of the allowed hosts"),
    row!("max_request_body_bytes", ["MAX_REQUEST_BODY_BYTES"], None, Value("4194304"), Plain, true,
        "larger request bodies get 413"),
    row!("max_message_length", ["MAX_MESSAGE_LENGTH"], None, Value("100000"), Plain, true,
        "characters per message"),
    row!("max_metadata_bytes", ["MAX_METADATA_BYTES"], None, Value("10240"), Plain, true,
        "serialised metadata size"),
    row!("max_memory_value_bytes", ["MAX_MEMORY_VALUE_BYTES"], None, Value("1048576"), Plain, true,
        "serialised size of one memory value (keep it below max_request_body_bytes)"),
    row!("memory_sweep_interval_seconds", ["MEMORY_SWEEP_INTERVAL_SECONDS"], None, Value("60"), Plain, true,
        "how often expired memory entries and idempotency keys are deleted; 0: never, max 86400"),
    row!("idempotency_ttl_seconds", ["IDEMPOTENCY_TTL_SECONDS"], None, Value("86400"), Plain, true,
        "how long an idempotency key and its replayed response are kept, 1 s to 30 days"),
    row!("shutdown_grace_seconds", ["SHUTDOWN_GRACE_SECONDS"], None, Value("10"), Plain, true,
        "how long SIGINT/SIGTERM wait for in-flight requests"),
    row!("rate_limit_per_minute", ["RATE_LIMIT_PER_MINUTE"], None, Value("3000"), Plain, true,
        "calls per agent per minute (0: no limit); over it: RATE_LIMITED with retry_after"),
    row!("rate_limit_burst", ["RATE_LIMIT_BURST"], None, Value("300"), Plain, true,
        "calls an agent may make above the rate in a burst"),
    row!("wait_timeout_cap_seconds", ["WAIT_TIMEOUT_CAP_SECONDS"], None, Value("60"), Plain, true,
        "the longest a wait_for_messages call blocks"),
    row!("max_thread_depth", ["MAX_THREAD_DEPTH"], None, Value("64"), Plain, true,
        "longest reply chain; deeper replies are THREAD_TOO_DEEP"),
    row!("direct_messages_per_pair_per_minute", ["DIRECT_MESSAGES_PER_PAIR_PER_MINUTE"], None, Value("30"), Plain, true,
        "direct messages one agent may send another per minute (0: no cap)"),
    row!("max_lease_ttl_seconds", ["MAX_LEASE_TTL_SECONDS"], None, Value("3600"), Plain, true,
        "longest lease acquire_lease grants or renews, 1 s to 7 days"),
    row!("retention_message_max_age_days", ["RETENTION_MESSAGE_MAX_AGE_DAYS"], None, Unset, Plain, false,
        "delete messages older than this (unset: keep)"),
    row!("retention_message_max_count", ["RETENTION_MESSAGE_MAX_COUNT"], None, Unset, Plain, false,
        "keep only each session's newest N messages"),
    row!("retention_closed_session_days", ["RETENTION_CLOSED_SESSION_DAYS"], None, Unset, Plain, false,
        "delete closed sessions this many days after closing"),
    row!("retention_audit_days", ["RETENTION_AUDIT_DAYS"], None, Unset, Plain, false,
        "delete audit rows older than this"),
    row!("retention_interval_seconds", ["RETENTION_INTERVAL_SECONDS"], None, Value("300"), Plain, true,
        "background pruning interval; 0: only `prune`, max 86400"),
    row!("retention_batch", ["RETENTION_BATCH"], None, Value("1000"), Plain, false,
        "rows deleted per short transaction, 1 to 10000"),
    row!("sqlite.synchronous", ["SQLITE_SYNCHRONOUS"], None, Value("normal"), Plain, false,
        "`full` fsyncs every commit: survives power loss, slower writes (docs/RELIABILITY.md)"),
    row!("postgres.pool_size", ["POSTGRES_POOL_SIZE"], None, Value("20"), Plain, false,
        "connections kept open; the pool maximum is pool_size + max_overflow"),
    row!("postgres.max_overflow", ["POSTGRES_MAX_OVERFLOW"], None, Value("10"), Plain, false,
        "extra connections opened under load"),
    row!("postgres.pool_timeout_seconds", ["POSTGRES_POOL_TIMEOUT"], None, Value("30"), Plain, false,
        "wait for a connection before DATABASE_UNAVAILABLE"),
    row!("postgres.pool_recycle_seconds", ["POSTGRES_POOL_RECYCLE"], None, Value("3600"), Plain, false,
        "maximum connection lifetime (0: none)"),
    row!("postgres.statement_timeout_seconds", ["POSTGRES_STATEMENT_TIMEOUT"], None, Value("30"), Plain, false,
        "per-statement limit"),
    row!("postgres.idle_in_transaction_timeout_seconds", ["POSTGRES_IDLE_IN_TRANSACTION_TIMEOUT"], None, Value("60"), Plain, false,
        "idle_in_transaction_session_timeout on every connection"),
    row!("postgres.application_name", ["POSTGRES_APPLICATION_NAME"], None, Value("shared_context_server"), Plain, false,
        "application_name on every connection"),
    row!("postgres.host", ["POSTGRES_HOST"], None, Unset, Plain, false,
        "with no database_url: build a PostgreSQL URL from postgres.host and the settings below"),
    row!("postgres.port", ["POSTGRES_PORT"], None, Value("5432"), Plain, false,
        "see postgres.host"),
    row!("postgres.db", ["POSTGRES_DB"], None, Value("shared_context"), Plain, false,
        "see postgres.host"),
    row!("postgres.user", ["POSTGRES_USER"], None, Value("postgres"), Plain, false,
        "see postgres.host"),
    row!("postgres.password", ["POSTGRES_PASSWORD"], None, Unset, Secret, false,
        "see postgres.host"),
    row!("postgres.ssl_mode", ["POSTGRES_SSL_MODE"], None, Unset, Plain, false,
        "TLS with postgres.host: disable … verify-full (with a URL: `?sslmode=`)"),
    row!("postgres.ssl_root_cert", ["POSTGRES_SSL_ROOT_CERT"], None, Unset, Plain, false,
        "CA certificate file (with a URL: `&sslrootcert=`)"),
    row!("postgres.ssl_cert", ["POSTGRES_SSL_CERT"], None, Unset, Plain, false,
        "client certificate file (with a URL: `&sslcert=`)"),
    row!("postgres.ssl_key", ["POSTGRES_SSL_KEY"], None, Unset, Plain, false,
        "client key file, mode 0600 (with a URL: `&sslkey=`)"),
];

/// The `--help` epilogue: every setting with its environment names and default.
pub fn help_epilogue() -> String {
    let mut out = String::from(
        "Settings (flag > environment > config file > default; `SCS_` names are read before the \
         legacy ones; `config show` prints the effective values):\n",
    );
    for s in SETTINGS {
        let names = s.env_names().join(", ");
        let flag = s.flag.map(|f| format!(" {f}")).unwrap_or_default();
        let serve = if s.serve_only { " [serve]" } else { "" };
        out.push_str(&format!(
            "  {}{flag}{serve}\n      {names}; default: {}\n      {}\n",
            s.key,
            s.default_text(),
            s.about
        ));
    }
    out
}

/// The README's configuration table (markdown), between its `settings` markers.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| file key | environment (`SCS_` name first) | flag | default | meaning |\n|---|---|---|---|---|\n",
    );
    for s in SETTINGS {
        let key = if s.in_file {
            format!("`{}`", s.key)
        } else {
            "—".to_owned()
        };
        let env = s
            .env_names()
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let flag = s.flag.map_or("—".to_owned(), |f| format!("`{f}`"));
        let default = match s.default {
            Fallback::None => "—".to_owned(),
            Fallback::Value(v) => format!("`{v}`"),
            Fallback::Derived(v) => v.to_owned(),
        };
        let serve = if s.serve_only { " (server only)" } else { "" };
        out.push_str(&format!(
            "| {key} | {env} | {flag} | {default} | {}{serve} |\n",
            s.about.replace('|', "\\|")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_names_are_unique() {
        let mut keys = std::collections::BTreeSet::new();
        let mut names = std::collections::BTreeSet::new();
        for s in SETTINGS {
            assert!(keys.insert(s.key), "duplicate key {}", s.key);
            for n in s.env_names() {
                assert!(names.insert(n.clone()), "duplicate environment name {n}");
            }
        }
    }

    #[test]
    fn table_defaults_match_the_types_defaults() {
        let parse = |key| match setting(key).default {
            Fallback::Value(v) => v.parse::<u64>().unwrap(),
            other => panic!("{key}: {other:?}"),
        };
        let limits = crate::domain::input::InputLimits::default();
        assert_eq!(parse("max_message_length"), limits.content_max_chars as u64);
        assert_eq!(
            parse("max_metadata_bytes"),
            limits.metadata_max_bytes as u64
        );
        let memory = crate::domain::MemoryLimits::default();
        assert_eq!(
            parse("max_memory_value_bytes"),
            memory.value_max_bytes as u64
        );
        let keys = crate::service::IdempotencySettings::default();
        assert_eq!(parse("idempotency_ttl_seconds"), keys.ttl.as_secs());
        let retention = crate::domain::retention::RetentionSettings::default();
        assert_eq!(
            parse("retention_interval_seconds"),
            retention.interval.unwrap().as_secs()
        );
        assert_eq!(parse("retention_batch"), u64::from(retention.batch));
        assert_eq!(parse("port"), u64::from(super::super::DEFAULT_PORT));
    }

    #[test]
    fn scs_names_come_first() {
        assert_eq!(setting("port").env_names(), ["SCS_HTTP_PORT", "HTTP_PORT"]);
        assert_eq!(setting("data_dir").env_names(), ["SCS_DATA_DIR"]);
        assert_eq!(
            setting("token_ttl_seconds").env_names(),
            [
                "SCS_TOKEN_TTL_SECONDS",
                "TOKEN_TTL_SECONDS",
                "JWT_TOKEN_EXPIRY"
            ]
        );
    }
}
