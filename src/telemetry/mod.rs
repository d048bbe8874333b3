//! Logging: always to stderr (stdout is the protocol in stdio mode), as text or JSON lines.
//!
//! The filter: `--log-level`/`LOG_LEVEL` when given (flags beat the environment, as the README
//! says), else `RUST_LOG`, else the config file's `log_level`, else `info`. A plain level keeps the
//! MCP SDK (rmcp) at `warn`: at `info` it logs 3 lines per stateless request (~9,000 lines/s at
//! the published throughput). A full filter (`info,rmcp=debug`) is taken as written.

use clap::ValueEnum;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer};

#[cfg(feature = "otel")]
pub mod otel;

/// The target of the MCP request spans (`mcp::spans`), at TRACE: the text log leaves them out;
/// the `otel` feature exports them.
pub const SPAN_TARGET: &str = "shared_context_server::mcp::spans";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line (timestamp, level, target, fields), for log shippers.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        <Self as ValueEnum>::from_str(s, true)
    }
}

/// The filter directives for a level or filter string.
pub fn directives(level: &str) -> String {
    let level = level.trim();
    match level.to_ascii_lowercase().as_str() {
        "info" | "debug" | "trace" => format!("{level},rmcp=warn"),
        _ => level.to_owned(),
    }
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
        }
    }
}

static FORMAT: std::sync::OnceLock<LogFormat> = std::sync::OnceLock::new();

/// A line the operator always sees, whatever the level (the ready line, the first-run notice):
/// the text as is, or under `LOG_FORMAT=json` one JSON object like the log lines, so stderr stays
/// pure JSON for a log shipper. Scripts find the ready line by its text in either form.
pub fn notice(message: &str, fields: &[(&str, &str)]) {
    if FORMAT.get().copied().unwrap_or_default() == LogFormat::Text {
        eprintln!("{message}");
        return;
    }
    let mut line = serde_json::Map::new();
    line.insert(
        "timestamp".into(),
        chrono::Utc::now()
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            .into(),
    );
    line.insert("level".into(), "INFO".into());
    line.insert("target".into(), "shared_context_server".into());
    line.insert("message".into(), message.trim().into());
    for (key, value) in fields {
        line.insert((*key).into(), (*value).into());
    }
    eprintln!("{}", serde_json::Value::Object(line));
}

/// `explicit`: the level came from `--log-level` or `LOG_LEVEL`, which beat `RUST_LOG`.
pub fn init(level: &str, explicit: bool, format: LogFormat) {
    let _ = FORMAT.set(format);
    let from_rust_log = (!explicit)
        .then(|| std::env::var("RUST_LOG").ok())
        .flatten()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| EnvFilter::try_new(v).ok());
    let filter = from_rust_log
        .or_else(|| EnvFilter::try_new(directives(level)).ok())
        .unwrap_or_else(|| EnvFilter::new(directives("info")));
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let fmt = match format {
        LogFormat::Text => fmt.with_filter(filter).boxed(),
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_filter(filter)
            .boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(traces())
        .try_init();
}

/// The OpenTelemetry layer when built with the `otel` feature and asked for by OTEL_*.
#[cfg(feature = "otel")]
fn traces<S>() -> Option<impl Layer<S>>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    otel::from_env()
}

#[cfg(not(feature = "otel"))]
fn traces() -> Option<tracing_subscriber::layer::Identity> {
    None
}

/// Sends the spans still buffered (the `otel` feature); a no-op otherwise. Call before exit.
pub fn shutdown() {
    #[cfg(feature = "otel")]
    otel::shutdown();
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
