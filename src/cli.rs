//! Command line: flags with their environment names, and the subcommands.

use std::path::PathBuf;

use clap::{CommandFactory as _, Parser, Subcommand};

use crate::client_config::ClientKind;
use crate::config::{Overrides, Transport};

#[derive(Debug, Parser)]
#[command(
    name = "shared-context-server",
    version,
    about = "MCP server for multi-agent context sharing"
)]
pub struct Cli {
    /// Transport: `http` (streamable HTTP at /mcp) or `stdio` (for a client that spawns us).
    #[arg(long, env = "MCP_TRANSPORT", global = true)]
    pub transport: Option<Transport>,
    /// Address to listen on (HTTP).
    #[arg(long, env = "HTTP_HOST", global = true)]
    pub host: Option<String>,
    /// Port to listen on (HTTP); 0 picks a free port.
    #[arg(long, env = "HTTP_PORT", global = true)]
    pub port: Option<u16>,
    /// `sqlite:/path/file.db`, `sqlite::memory:` or `postgres://user@host/db`.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// error, warn, info, debug or trace (or a tracing filter such as `shared_context_server=debug`).
    #[arg(long, env = "LOG_LEVEL", global = true)]
    pub log_level: Option<String>,
    /// Log lines as `text` or `json` (one object per line).
    #[arg(long, env = "LOG_FORMAT", global = true)]
    pub log_format: Option<crate::telemetry::LogFormat>,
    /// A TOML config file; flags and environment variables override it.
    #[arg(long, env = "SCS_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Where the embedded database and generated keys live.
    #[arg(long, env = "SCS_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Stateless HTTP: no MCP session affinity, plain JSON responses; for load balancers.
    /// MCP_STATELESS accepts 1/0, true/false, yes/no, on/off.
    #[arg(long, env = "MCP_STATELESS", global = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub stateless: bool,
    /// Tool groups to list: a comma list of core, search, memory, messaging, coordination, admin;
    /// or `all`, `default` (core,search,messaging) or `compat` (the Python server's 14 tools).
    #[arg(long, env = "SCS_TOOLS", global = true)]
    pub tools: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The settings these flags (and their environment variables) give the configuration.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            config_file: self.config.clone(),
            transport: self.transport,
            stateless: self.stateless,
            host: self.host.clone(),
            port: self.port,
            database_url: self.database_url.clone(),
            log_level: self.log_level.clone(),
            data_dir: self.data_dir.clone(),
            tools: self.tools.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP (the default when no command is given).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print a shell completion script, e.g. `shared-context-server completions bash >
    /// ~/.local/share/bash-completion/completions/shared-context-server`.
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff), e.g. `shared-context-server man > ~/.local/share/man/man1/shared-context-server.1`.
    Man,
    /// Ask the local server's /health/ready (port from --port/HTTP_PORT); exit 0 on 200, else 1.
    /// For container health checks: no shell or curl needed.
    Healthcheck,
    /// Print the MCP client configuration for a client on stdout (valid JSON or TOML, or the
    /// `claude mcp add` command); where to put it goes to stderr. The HTTP form unless
    /// `--transport stdio` or `--stdio`.
    ClientConfig {
        client: ClientKind,
        /// Print the stdio (spawned) form: the same as `--transport stdio`.
        #[arg(long)]
        stdio: bool,
        /// Reference the API key through an environment variable (default SCS_API_KEY) in the
        /// client's own syntax, instead of pasting the key into a file that may get committed.
        #[arg(long, value_name = "VAR", num_args = 0..=1, default_missing_value = crate::client_config::DEFAULT_KEY_VAR)]
        env_ref: Option<String>,
    },
    /// Load-test a running server over streamable HTTP MCP (closed loop, one session per agent).
    #[command(name = "bench")]
    Bench(crate::bench::BenchArgs),
    /// Delete what the retention settings (RETENTION_*, and each session's metadata.retention)
    /// say goes, in bounded batches, and print what went as JSON; `--dry-run` only counts.
    Prune {
        /// Count what would go; delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write every session, message, memory entry, audit row and token hash of the configured
    /// database as a JSON Lines dump (logs go to stderr).
    Export(crate::transfer::ExportArgs),
    /// Load a dump from `export` into the configured database, which must be empty; all or nothing.
    Import(crate::transfer::ImportArgs),
    /// Copy every row from one database to another, empty one (e.g. SQLite to PostgreSQL); all or nothing.
    Copy(crate::transfer::CopyArgs),
    /// Print an agent's new direct messages from a running server and exit (for hooks).
    Inbox(crate::inbox_cli::InboxArgs),
}

/// `completions SHELL`: the completion script for the whole command line, on stdout.
pub fn print_completions(shell: clap_complete::Shell) {
    let mut command = Cli::command();
    clap_complete::generate(
        shell,
        &mut command,
        "shared-context-server",
        &mut std::io::stdout(),
    );
}

/// `man`: the man page, on stdout.
pub fn print_man_page() -> std::io::Result<()> {
    clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())
}
