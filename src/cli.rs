//! Command line: the subcommands and their flags. Server flags belong to `serve` (and to the
//! bare command, which serves); commands that open the configured database take the database
//! flags; `--log-level` and `--log-format` are global. Environment names and defaults come from
//! the settings table (`config::settings`), which also writes the `--help` epilogue.

use std::path::PathBuf;

use clap::{Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

use crate::client_config::ClientKind;
use crate::config::{Overrides, Transport};
use crate::telemetry::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "shared-context-server",
    version,
    about = "MCP server for multi-agent context sharing"
)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogArgs,
    /// The server's flags when no command is given (the same as `serve`).
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Logging, for every command.
#[derive(Debug, Clone, Default, Args)]
pub struct LogArgs {
    /// error, warn, info, debug or trace (or a tracing filter such as `shared_context_server=debug`).
    #[arg(long, global = true)]
    pub log_level: Option<String>,
    /// Log lines as `text` or `json` (one object per line).
    #[arg(long, global = true)]
    pub log_format: Option<LogFormat>,
}

/// The configured database, for every command that opens it.
#[derive(Debug, Clone, Default, Args)]
pub struct StoreArgs {
    /// A TOML config file (default: $XDG_CONFIG_HOME/shared-context-server/config.toml if it exists).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Where the embedded database and generated keys live.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// `sqlite:/path/file.db`, `sqlite::memory:` or `postgres://user@host/db`.
    #[arg(long)]
    pub database_url: Option<String>,
}

/// The server's flags.
#[derive(Debug, Clone, Default, Args)]
pub struct ServerArgs {
    /// Transport: `http` (streamable HTTP at /mcp) or `stdio` (for a client that spawns us).
    #[arg(long)]
    pub transport: Option<Transport>,
    /// Address to listen on (HTTP).
    #[arg(long)]
    pub host: Option<String>,
    /// Port to listen on (HTTP); 0 picks a free port.
    #[arg(long)]
    pub port: Option<u16>,
    /// Stateless HTTP: no MCP session affinity, plain JSON responses; for load balancers.
    #[arg(long)]
    pub stateless: bool,
    /// Tool groups to list: a comma list of core, search, memory, messaging, coordination, admin;
    /// or `all`, `default` (core,search,messaging) or `compat` (the Python server's 14 tools).
    #[arg(long)]
    pub tools: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `healthcheck`: where the local server listens.
#[derive(Debug, Clone, Default, Args)]
pub struct ProbeArgs {
    /// The server's listen address (a wildcard address is probed on loopback).
    #[arg(long)]
    pub host: Option<String>,
    /// The server's port.
    #[arg(long)]
    pub port: Option<u16>,
}

impl StoreArgs {
    fn overrides(&self, log: &LogArgs) -> Overrides {
        Overrides::default()
            .with_opt("config", self.config.as_ref().map(|p| p.display()))
            .with_opt("data_dir", self.data_dir.as_ref().map(|p| p.display()))
            .with_opt("database_url", self.database_url.as_ref())
            .with_opt("log_level", log.log_level.as_ref())
            .with_opt("log_format", log.log_format.map(|f| f.as_str()))
    }
}

impl ServerArgs {
    fn overrides(&self, log: &LogArgs) -> Overrides {
        self.store
            .overrides(log)
            .with_opt("transport", self.transport.map(|t| t.as_str()))
            .with_opt("host", self.host.as_ref())
            .with_opt("port", self.port)
            .with_opt("stateless", self.stateless.then_some("true"))
            .with_opt("tools", self.tools.as_ref())
    }
}

impl ServerArgs {
    /// The first flag given, if any.
    fn given(&self) -> Option<&'static str> {
        [
            (self.transport.is_some(), "--transport"),
            (self.host.is_some(), "--host"),
            (self.port.is_some(), "--port"),
            (self.stateless, "--stateless"),
            (self.tools.is_some(), "--tools"),
            (self.store.config.is_some(), "--config"),
            (self.store.data_dir.is_some(), "--data-dir"),
            (self.store.database_url.is_some(), "--database-url"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }
}

impl ProbeArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides::default()
            .with_opt("host", self.host.as_ref())
            .with_opt("port", self.port)
    }
}

impl Cli {
    /// The settings this command's flags give the configuration.
    pub fn overrides(&self) -> Overrides {
        let log = &self.log;
        match &self.command {
            None => self.server.overrides(log),
            Some(
                Command::Serve(s)
                | Command::Doctor(s)
                | Command::ClientConfig { server: s, .. }
                | Command::Config {
                    action: ConfigCommand::Show(s),
                },
            ) => s.overrides(log),
            Some(
                Command::Migrate(store)
                | Command::Prune { store, .. }
                | Command::Export { store, .. }
                | Command::Import { store, .. },
            ) => store.overrides(log),
            Some(Command::Healthcheck(probe)) => probe.overrides(),
            Some(_) => StoreArgs::default().overrides(log),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP (the default when no command is given).
    Serve(ServerArgs),
    /// Apply database migrations and exit.
    Migrate(StoreArgs),
    /// Check the set-up without changing anything: the database and its migrations, the keys
    /// and their file permissions, the Host allow-list against the listen address, TLS files.
    /// Prints what to fix; exits 1 when something must be fixed.
    Doctor(ServerArgs),
    /// `config show`: every setting's effective value and its source (secrets masked);
    /// `config path`: the default config file's path.
    Config {
        #[command(subcommand)]
        action: ConfigCommand,
    },
    /// Print a shell completion script, e.g. `shared-context-server completions bash >
    /// ~/.local/share/bash-completion/completions/shared-context-server`.
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff), e.g. `shared-context-server man > ~/.local/share/man/man1/shared-context-server.1`.
    Man,
    /// Ask the local server's /health/ready (port from --port/HTTP_PORT); exit 0 on 200, else 1.
    /// For container health checks: no shell or curl needed.
    Healthcheck(ProbeArgs),
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
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Delete what the retention settings (RETENTION_*, and each session's metadata.retention)
    /// say goes, in bounded batches, and print what went as JSON; `--dry-run` only counts.
    Prune {
        /// Count what would go; delete nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Write every session, message, memory entry, audit row and token hash of the configured
    /// database as a JSON Lines dump (logs go to stderr).
    Export {
        #[command(flatten)]
        args: crate::transfer::ExportArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Load a dump from `export` into the configured database, which must be empty; all or nothing.
    Import {
        #[command(flatten)]
        args: crate::transfer::ImportArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Copy every row from one database to another, empty one (e.g. SQLite to PostgreSQL); all or nothing.
    Copy(crate::transfer::CopyArgs),
    /// Print an agent's new direct messages from a running server and exit (for hooks).
    Inbox(crate::inbox_cli::InboxArgs),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Every setting's effective value and where it came from (flag, env, file, default).
    Show(ServerArgs),
    /// The default config file's path (read when it exists and no --config is given).
    Path,
}

/// The command line with the settings table as the `--help` epilogue (top level and `serve`).
pub fn command() -> clap::Command {
    let epilogue = crate::config::settings::help_epilogue();
    let short = "`--help` lists every setting with its environment names; `config show` prints the effective values.";
    Cli::command()
        .after_help(short)
        .after_long_help(epilogue.clone())
        .mut_subcommand("serve", |serve| {
            serve.after_help(short).after_long_help(epilogue)
        })
}

/// Parses the process's arguments (exits with clap's message on an error). The server's flags
/// before a command (`--port 1 migrate`) are refused with the place they belong.
pub fn parse() -> Cli {
    let mut command = command();
    let mut matches = command.get_matches_mut();
    let name = matches.subcommand_name().map(str::to_owned);
    let cli = Cli::from_arg_matches_mut(&mut matches).unwrap_or_else(|e| e.exit());
    if let Some(name) = name
        && let Some(flag) = cli.server.given()
    {
        command
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "{flag} before `{name}`: a command's flags go after it, and the server's flags \
                     belong to `serve`; `shared-context-server {name} --help` lists {name}'s flags"
                ),
            )
            .exit();
    }
    cli
}

/// `completions SHELL`: the completion script for the whole command line, on stdout.
pub fn print_completions(shell: clap_complete::Shell) {
    clap_complete::generate(
        shell,
        &mut command(),
        "shared-context-server",
        &mut std::io::stdout(),
    );
}

/// `man`: the man page, on stdout.
pub fn print_man_page() -> std::io::Result<()> {
    clap_mangen::Man::new(command()).render(&mut std::io::stdout())
}
