//! Start-up and shutdown: connect and migrate, build the service, run a transport until a
//! shutdown signal, drain, close the pool.

use std::sync::Arc;

use anyhow::Context;
use rmcp::ServiceExt;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::http::{self, HttpSettings};
use crate::mcp::McpServer;
use crate::service::{Service, ServiceSettings};
use crate::storage::{self, Store};
use crate::util::url::mask_url;

/// Connects to the configured database (creating the SQLite directory) and applies migrations.
pub async fn connect_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(path) = config.sqlite_path()
        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create database directory {}", dir.display()))?;
    }
    storage::connect(&config.database_url, &config.pool)
        .await
        .with_context(|| format!("cannot open database {}", mask_url(&config.database_url)))
}

pub fn build_service(config: &Config, store: Arc<dyn Store>) -> Service {
    Service::new(
        store,
        ServiceSettings {
            keys: config.keys.clone(),
            permissions: config.permissions.clone(),
            limits: config.limits,
            token_ttl: config.token_ttl,
            token_cache_ttl: config.token_cache_ttl,
            memory: config.memory,
            idempotency: config.idempotency,
            retention: config.retention,
            database_url: config.database_url.clone(),
            wait_cap: config.wait_cap,
            rate_limit_per_minute: config.rate_limit_per_minute,
            rate_limit_burst: config.rate_limit_burst,
            clock: Arc::new(crate::service::SystemClock),
            loop_guards: config.loop_guards,
            leases: config.leases,
        },
    )
}

/// Cancels the token on SIGINT or SIGTERM.
pub fn shutdown_on_signals(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => tracing::info!("SIGINT received; shutting down"),
            _ = term => tracing::info!("SIGTERM received; shutting down"),
        }
        token.cancel();
    });
}

pub async fn run_http(
    config: &Config,
    service: Service,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let addr = format!("{}:{}", config.host, config.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {addr}; is another server using the port? set HTTP_PORT or --port"
            )
        })?;
    let local = listener.local_addr()?;
    let settings = HttpSettings {
        allowed_hosts: config.allowed_hosts.clone(),
        allowed_origins: config.allowed_origins.clone(),
        max_request_body_bytes: config.max_request_body_bytes,
        stateless: config.stateless,
        tools: config.tools,
    };
    let app = http::router(service.clone(), settings, shutdown.clone());
    tracing::info!(
        backend = service.store().backend(),
        "listening on http://{local}/mcp"
    );
    // Tests and scripts read this line from stderr to find the port.
    crate::telemetry::notice(
        &format!("shared-context-server ready: http://{local}/mcp"),
        &[("backend", service.store().backend())],
    );
    first_run_notice(
        config,
        Some(&crate::client_config::reachable_url(
            &local.ip().to_string(),
            local.port(),
        )),
    );
    let sweeper_stop = shutdown.child_token();
    let sweeper = service.spawn_memory_sweeper(sweeper_stop.clone());
    let key_sweeper = service.spawn_idempotency_sweeper(sweeper_stop.clone());
    let lease_sweeper = service.spawn_lease_sweeper(sweeper_stop.clone());
    let pruner = service.spawn_pruner(sweeper_stop.clone());
    service.start_change_feed(sweeper_stop.clone());
    let coalescer = service.spawn_coalesced_writer(sweeper_stop.clone());
    let drain = shutdown.clone();
    let grace = config.shutdown_grace;
    let server = http::serve(listener, app, shutdown);
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result?,
        () = async { drain.cancelled().await; tokio::time::sleep(grace).await } => {
            tracing::warn!("in-flight requests did not finish within {grace:?}; closing anyway");
        }
    }
    stop_sweeper(sweeper_stop.clone(), key_sweeper).await;
    stop_sweeper(sweeper_stop.clone(), lease_sweeper).await;
    stop_sweeper(sweeper_stop.clone(), Some(coalescer)).await;
    stop_sweeper(sweeper_stop.clone(), pruner).await;
    stop_sweeper(sweeper_stop, sweeper).await;
    service.store().close().await;
    Ok(())
}

pub async fn run_stdio(
    service: Service,
    tools: crate::mcp::ToolProfile,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let server = McpServer::new(service.clone(), tools);
    let sweeper_stop = shutdown.child_token();
    let sweeper = service.spawn_memory_sweeper(sweeper_stop.clone());
    let key_sweeper = service.spawn_idempotency_sweeper(sweeper_stop.clone());
    let lease_sweeper = service.spawn_lease_sweeper(sweeper_stop.clone());
    let pruner = service.spawn_pruner(sweeper_stop.clone());
    service.start_change_feed(sweeper_stop.clone());
    let coalescer = service.spawn_coalesced_writer(sweeper_stop.clone());
    crate::telemetry::notice(
        &format!(
            "shared-context-server ready: stdio ({})",
            service.store().backend()
        ),
        &[("backend", service.store().backend())],
    );
    match server.serve(rmcp::transport::stdio_pipes()).await {
        Ok(running) => {
            tokio::select! {
                result = running.waiting() => { result?; }
                () = shutdown.cancelled() => {}
            }
        }
        // stdin closed before `initialize`: a probe, not a failure.
        Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => {}
        Err(e) => return Err(e.into()),
    }
    stop_sweeper(sweeper_stop.clone(), key_sweeper).await;
    stop_sweeper(sweeper_stop.clone(), lease_sweeper).await;
    stop_sweeper(sweeper_stop.clone(), Some(coalescer)).await;
    stop_sweeper(sweeper_stop.clone(), pruner).await;
    stop_sweeper(sweeper_stop, sweeper).await;
    service.store().close().await;
    Ok(())
}

/// Stops the sweepers and waits (briefly) for this one to finish its current batch before the pool closes.
async fn stop_sweeper(stop: CancellationToken, sweeper: Option<tokio::task::JoinHandle<()>>) {
    stop.cancel();
    if let Some(handle) = sweeper {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), handle).await;
    }
}

/// Start-up facts for the operator, on stderr: the database.
pub fn print_banner(config: &Config, connect_time: std::time::Duration) {
    tracing::info!(database = %mask_url(&config.database_url), connect_ms = connect_time.as_millis() as u64, "database ready");
}

/// On the run that generated the API key: where it is and how to connect, on stderr. `url` is
/// the address a local client reaches (`None` over stdio). The key itself is shown only when
/// stderr is a terminal: in a container or under a service manager stderr is a log that others
/// read and keep.
pub fn first_run_notice(config: &Config, url: Option<&str>) {
    let Some(key_file) = &config.generated_key_file else {
        return;
    };
    use std::io::IsTerminal as _;
    let on_terminal = std::io::stderr().is_terminal();
    let key = if on_terminal {
        format!("  API key: {}\n", config.keys.agent)
    } else {
        format!(
            "  (the key is not printed because stderr is not a terminal: read it from {})\n",
            key_file.display()
        )
    };
    let connect = match url {
        Some(url) if on_terminal => format!(
            "  claude mcp add --transport http shared-context {url} --header \"X-API-Key: {}\"\n",
            config.keys.agent
        ),
        Some(url) => format!(
            "  claude mcp add --transport http shared-context {url} --header \"X-API-Key: $(cat {})\"\n",
            key_file.display()
        ),
        None => String::new(),
    };
    let admin_file = config.data_dir.join("admin_api_key");
    let text = format!(
        "\nFirst run: generated an API key and saved it to {} (mode 0600).\n{key}\
         Connect a client:\n{connect}  \
         or: shared-context-server client-config <claude|cursor|vscode|codex|gemini|generic> [--env-ref]\n\
         The admin key is in {}.\n",
        key_file.display(),
        admin_file.display()
    );
    let key_path = key_file.display().to_string();
    let admin_path = admin_file.display().to_string();
    let mut fields = vec![
        ("event", "first_run"),
        ("api_key_file", key_path.as_str()),
        ("admin_api_key_file", admin_path.as_str()),
    ];
    if on_terminal {
        fields.push(("api_key", config.keys.agent.as_str()));
    }
    let command = connect.trim();
    if !command.is_empty() {
        fields.push(("connect", command));
    }
    crate::telemetry::notice(&text, &fields);
}
