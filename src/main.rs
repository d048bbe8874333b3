//! Binary entry point: parse the command line, load config, run the chosen command.

use clap::Parser;
use shared_context_server::cli::{Cli, Command};
use shared_context_server::config::{Config, Transport};
use shared_context_server::{app, bench, client_config, healthcheck, telemetry, transfer};
use tokio_util::sync::CancellationToken;

// Every call allocates and frees many small JSON values; mimalloc does that faster than glibc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // The bench is a client of a running server: it needs none of this server's config or keys.
    let log_format = cli.log_format.unwrap_or_default();
    if let Some(Command::Bench(args)) = cli.command {
        telemetry::init(
            cli.log_level.as_deref().unwrap_or("warn"),
            cli.log_level.is_some(),
            log_format,
        );
        return bench::run(args).await;
    }
    // inbox is a client of a running server, like bench.
    if let Some(Command::Inbox(args)) = cli.command {
        telemetry::init(
            cli.log_level.as_deref().unwrap_or("warn"),
            cli.log_level.is_some(),
            log_format,
        );
        return shared_context_server::inbox_cli::run(args).await;
    }
    // copy names both databases itself: no config file, keys or data directory involved.
    if let Some(Command::Copy(args)) = &cli.command {
        telemetry::init(
            cli.log_level.as_deref().unwrap_or("warn"),
            cli.log_level.is_some(),
            log_format,
        );
        return transfer::run_copy(args).await;
    }
    match &cli.command {
        Some(Command::Completions { shell }) => {
            shared_context_server::cli::print_completions(*shell);
            return Ok(());
        }
        Some(Command::Man) => return Ok(shared_context_server::cli::print_man_page()?),
        _ => {}
    }
    // The health check reads no config file and touches no data directory or keys.
    if let Some(Command::Healthcheck) = &cli.command {
        let port = cli
            .port
            .unwrap_or(shared_context_server::config::DEFAULT_PORT);
        let address = healthcheck::probe_address(cli.host.as_deref(), port);
        return healthcheck::check(&address, "/health/ready").await;
    }
    let config = Config::load(&cli.overrides())?;
    telemetry::init(&config.log_level, cli.log_level.is_some(), log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::ClientConfig {
            client,
            stdio,
            env_ref,
        } => client_config::print(
            &config,
            client,
            stdio || config.transport == Transport::Stdio,
            env_ref.as_deref(),
            cli.tools
                .is_some()
                .then(|| config.tools.to_string())
                .as_deref(),
        ),
        Command::Migrate => {
            let store = app::connect_store(&config).await?;
            eprintln!("migrations applied ({})", store.backend());
            store.close().await;
            Ok(())
        }
        Command::Bench(_)
        | Command::Copy(_)
        | Command::Healthcheck
        | Command::Inbox(_)
        | Command::Completions { .. }
        | Command::Man => {
            unreachable!("handled before the config is loaded")
        }
        Command::Prune { dry_run } => {
            let store = app::connect_store(&config).await?;
            let service = app::build_service(&config, store.clone());
            let shutdown = CancellationToken::new();
            app::shutdown_on_signals(shutdown.clone());
            let report = service.prune(dry_run, &shutdown).await;
            store.close().await;
            println!("{}", serde_json::to_string_pretty(&report?)?);
            Ok(())
        }
        Command::Export(args) => {
            transfer::run_export(app::connect_store(&config).await?, &args).await
        }
        Command::Import(args) => {
            transfer::run_import(app::connect_store(&config).await?, &args).await
        }
        Command::Serve => {
            let started = std::time::Instant::now();
            let store = app::connect_store(&config).await?;
            app::print_banner(&config, started.elapsed());
            let service = app::build_service(&config, store);
            let shutdown = CancellationToken::new();
            app::shutdown_on_signals(shutdown.clone());
            match config.transport {
                Transport::Http => app::run_http(&config, service, shutdown).await,
                Transport::Stdio => {
                    app::first_run_notice(&config, None);
                    app::run_stdio(service, config.tools, shutdown).await
                }
            }
        }
    }
}
