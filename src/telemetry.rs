//! Logging: always to stderr (stdout is the protocol in stdio mode), as text or JSON lines.
//!
//! The filter: `--log-level`/`LOG_LEVEL` when given (flags beat the environment, as the README
//! says), else `RUST_LOG`, else the config file's `log_level`, else `info`. A plain level keeps the
//! MCP SDK (rmcp) at `warn`: at `info` it logs 3 lines per stateless request (~9,000 lines/s at
//! the published throughput). A full filter (`info,rmcp=debug`) is taken as written.

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line (timestamp, level, target, fields), for log shippers.
    Json,
}

/// The filter directives for a level or filter string.
pub fn directives(level: &str) -> String {
    let level = level.trim();
    match level.to_ascii_lowercase().as_str() {
        "info" | "debug" | "trace" => format!("{level},rmcp=warn"),
        _ => level.to_owned(),
    }
}

/// `explicit`: the level came from `--log-level` or `LOG_LEVEL`, which beat `RUST_LOG`.
pub fn init(level: &str, explicit: bool, format: LogFormat) {
    let from_rust_log = (!explicit)
        .then(|| std::env::var("RUST_LOG").ok())
        .flatten()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| EnvFilter::try_new(v).ok());
    let filter = from_rust_log
        .or_else(|| EnvFilter::try_new(directives(level)).ok())
        .unwrap_or_else(|| EnvFilter::new(directives("info")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::directives;

    #[test]
    fn plain_levels_keep_the_sdk_at_warn() {
        assert_eq!(directives("info"), "info,rmcp=warn");
        assert_eq!(directives("debug"), "debug,rmcp=warn");
        assert_eq!(directives("warn"), "warn");
        assert_eq!(directives("info,rmcp=debug"), "info,rmcp=debug");
    }
}
