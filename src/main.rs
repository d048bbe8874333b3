//! Binary entry point: parse the command line, load config, run the chosen command.

use shared_context_server::cli::{self, Cli, Command, ConfigCommand};
use shared_context_server::config::{Config, Source, Sources, Transport};
use shared_context_server::{
    app, client_config, doctor, healthcheck, service, telemetry, transfer,
};
use tokio_util::sync::CancellationToken;

// Every call allocates and frees many small JSON values; mimalloc does that faster than glibc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logging for the commands that load no configuration: flag or environment, else `warn`.
fn init_client_logs(sources: &Sources) -> anyhow::Result<()> {
    let given = sources.raw("log_level");
    let format = sources.value("log_format")?;
    let level = given.as_ref().map_or("warn", |(v, _)| v.as_str());
    telemetry::init(level, given.is_some(), format);
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    use std::process::ExitCode;
    let overrides = cli.overrides();
    match cli.command {
        // Clients of a running server, and copy (which names both databases itself): none of
        // this server's config file, keys or data directory involved.
        Some(Command::Inbox(args)) => {
            init_client_logs(&Sources::without_file(&overrides))?;
            return shared_context_server::inbox_cli::run(args)
                .await
                .map(|()| ExitCode::SUCCESS);
        }
        Some(Command::Copy(ref args)) => {
            init_client_logs(&Sources::without_file(&overrides))?;
            return transfer::run_copy(args).await.map(|()| ExitCode::SUCCESS);
        }
        Some(Command::Completions { shell }) => {
            cli::print_completions(shell);
            return Ok(ExitCode::SUCCESS);
        }
        Some(Command::Man) => {
            cli::print_man_page()?;
            return Ok(ExitCode::SUCCESS);
        }
        Some(Command::Config {
            action: ConfigCommand::Path,
        }) => {
            match shared_context_server::config::default_config_file() {
                Some(path) => println!("{}", path.display()),
                None => anyhow::bail!("neither XDG_CONFIG_HOME nor HOME is set"),
            }
            return Ok(ExitCode::SUCCESS);
        }
        // The health check reads no config file and touches no data directory or keys.
        Some(Command::Healthcheck(_)) => {
            let sources = Sources::without_file(&overrides);
            let port: u16 = sources.value("port")?;
            let host = sources.raw("host").map(|(h, _)| h);
            let address = healthcheck::probe_address(host.as_deref(), port);
            return healthcheck::check(&address, "/health/ready")
                .await
                .map(|()| ExitCode::SUCCESS);
        }
        _ => {}
    }
    let sources = Sources::collect(&overrides)?;
    // `config show` and `doctor` inspect; they create no key, directory or database.
    if let Some(Command::Config { .. } | Command::Doctor(_)) = &cli.command {
        let config = Config::resolve(&sources)?;
        if let Some(Command::Config { .. }) = &cli.command {
            print!(
                "{}",
                shared_context_server::config::show::render(&sources, &config)
            );
            return Ok(ExitCode::SUCCESS);
        }
        return Ok(doctor::run(&sources, &config).await);
    }
    let config = Config::from_sources(&sources)?;
    let explicit = matches!(
        sources.raw("log_level"),
        Some((_, Source::Flag(_) | Source::Env(_)))
    );
    telemetry::init(&config.log_level, explicit, config.log_format);
    match cli.command.unwrap_or(Command::Serve(cli.server)) {
        Command::ClientConfig {
            client,
            stdio,
            env_ref,
            server,
        } => client_config::print(
            &config,
            client,
            stdio || config.transport == Transport::Stdio,
            env_ref.as_deref(),
            server
                .tools
                .is_some()
                .then(|| config.tools.to_string())
                .as_deref(),
        )?,
        Command::Migrate(_) => {
            let store = app::connect_store(&config).await?;
            eprintln!("migrations applied ({})", store.backend());
            store.close().await;
        }
        Command::Prune { dry_run, .. } => {
            let store = app::connect_store(&config).await?;
            let service = app::build_service(&config, store.clone());
            let shutdown = CancellationToken::new();
            app::shutdown_on_signals(shutdown.clone());
            let report = service
                .prune_reporting(dry_run, &shutdown, &prune_progress(dry_run))
                .await;
            store.close().await;
            println!("{}", serde_json::to_string_pretty(&report?)?);
        }
        Command::Export { args, .. } => {
            transfer::run_export(app::connect_store(&config).await?, &args).await?
        }
        Command::Import { args, .. } => {
            transfer::run_import(app::connect_store(&config).await?, &args).await?
        }
        Command::Serve(_) => {
            let started = std::time::Instant::now();
            let store = app::connect_store(&config).await?;
            app::print_banner(&config, started.elapsed());
            let service = app::build_service(&config, store);
            let shutdown = CancellationToken::new();
            app::shutdown_on_signals(shutdown.clone());
            match config.transport {
                Transport::Http => app::run_http(&config, service, shutdown).await?,
                Transport::Stdio => {
                    app::first_run_notice(&config, None);
                    app::run_stdio(service, config.tools, shutdown).await?
                }
            }
        }
        Command::Copy(_)
        | Command::Healthcheck(_)
        | Command::Inbox(_)
        | Command::Completions { .. }
        | Command::Man
        | Command::Config { .. }
        | Command::Doctor(_) => {
            unreachable!("handled before the config is loaded")
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `prune`'s progress on stderr, as export and import report theirs: what each phase has
/// removed (or, dry, counted) so far, at most once a second, and a line when the pass is done.
fn prune_progress(dry_run: bool) -> impl Fn(&'static str, &service::PruneReport) + Send + Sync {
    let started = std::time::Instant::now();
    let last = std::sync::Mutex::new((None::<&'static str>, started));
    move |phase, r| {
        let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        if last.0 == Some(phase) && now.duration_since(last.1) < std::time::Duration::from_secs(1) {
            return;
        }
        *last = (Some(phase), now);
        let verb = if dry_run { "would remove" } else { "removed" };
        eprintln!(
            "prune: {phase}: {verb} {} messages, {} sessions, {} audit rows so far ({} batches, {} sessions checked, {:.1} s)",
            r.messages,
            r.sessions,
            r.audit_rows,
            r.batches,
            r.sessions_checked,
            started.elapsed().as_secs_f64()
        );
    }
}
