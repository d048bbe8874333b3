//! `doctor`: checks a set-up without changing it (the settings, the database and its
//! migrations, the keys and their file permissions, the Host allow-list against the listen
//! address, the TLS files) and says what to fix. Exit status 1 when something must be fixed;
//! warnings alone leave it 0.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::config::{Config, Source, Sources, Transport};
use crate::storage::probe::{self, Probe};
use crate::util::url::{mask_url, query_param};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Ok,
    Warn,
    Fail,
}

#[derive(Default)]
struct Report {
    lines: Vec<(Level, String, Option<String>)>,
}

impl Report {
    fn ok(&mut self, what: impl Into<String>) {
        self.lines.push((Level::Ok, what.into(), None));
    }
    fn warn(&mut self, what: impl Into<String>, fix: impl Into<String>) {
        self.lines
            .push((Level::Warn, what.into(), Some(fix.into())));
    }
    fn fail(&mut self, what: impl Into<String>, fix: impl Into<String>) {
        self.lines
            .push((Level::Fail, what.into(), Some(fix.into())));
    }
    fn worst(&self) -> Level {
        self.lines.iter().map(|l| l.0).max().unwrap_or(Level::Ok)
    }
}

/// Runs every check, prints the report on stdout, returns the exit status.
pub async fn run(sources: &Sources, config: &Config) -> ExitCode {
    let mut report = Report::default();
    match &sources.file_path {
        Some(path) => report.ok(format!("config file {}", path.display())),
        None => report.ok("no config file; flags, environment and defaults"),
    }
    match config.validate_settings() {
        Ok(()) => report.ok("settings valid"),
        Err(e) => report.fail(
            format!("settings: {e:#}"),
            "`config show` prints each value and its source",
        ),
    }
    check_keys(&mut report, sources, config);
    check_database(&mut report, config).await;
    if config.transport == Transport::Http {
        check_hosts(&mut report, config);
        check_port(&mut report, config).await;
    }
    check_tls_files(&mut report, &config.database_url);

    for (level, what, fix) in &report.lines {
        let tag = match level {
            Level::Ok => "ok  ",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        println!("{tag}  {what}");
        if let Some(fix) = fix {
            println!("      fix: {fix}");
        }
    }
    let count = |l| report.lines.iter().filter(|x| x.0 == l).count();
    println!(
        "{} problem(s), {} warning(s)",
        count(Level::Fail),
        count(Level::Warn)
    );
    if report.worst() == Level::Fail {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn check_keys(report: &mut Report, sources: &Sources, config: &Config) {
    let mut values = Vec::new();
    for (key, env) in [("api_key", "API_KEY"), ("admin_api_key", "ADMIN_API_KEY")] {
        match sources.raw(key) {
            Some((value, source)) => {
                if let Source::File(path) = &source
                    && let Some(mode) = loose_mode(path)
                {
                    report.fail(
                        format!(
                            "{key} is in {} (mode {mode:o}), which others can read",
                            path.display()
                        ),
                        format!("chmod 600 {}", path.display()),
                    );
                }
                report.ok(format!("{key} given ({source})"));
                values.push(Some(value));
            }
            None => {
                let path = config.data_dir.join(key);
                match std::fs::read_to_string(&path) {
                    Err(_) if !path.exists() => {
                        report.warn(
                            format!("{key}: {} does not exist yet", path.display()),
                            format!("the first start generates it (mode 0600); or set SCS_{env}"),
                        );
                        values.push(None);
                    }
                    Err(e) => {
                        report.fail(
                            format!("{key}: cannot read {}: {e}", path.display()),
                            "give the server's user read access to it (mode 0600, owned by that user)",
                        );
                        values.push(None);
                    }
                    Ok(text) => {
                        match loose_mode(&path) {
                            Some(mode) => report.fail(
                                format!(
                                    "{key}: {} has mode {mode:o}; others can read the key",
                                    path.display()
                                ),
                                format!("chmod 600 {}", path.display()),
                            ),
                            None => report.ok(format!("{key} in {} (mode 0600)", path.display())),
                        }
                        values.push(Some(text.trim().to_owned()));
                    }
                }
            }
        }
    }
    if let [Some(agent), admin] = values.as_slice()
        && let Err(e) = Config::validate_keys(agent, admin.as_deref())
    {
        report.fail(
            format!("keys: {e:#}"),
            "replace the key: `openssl rand -hex 32`",
        );
    }
}

/// The permission bits when group or others may read the file.
fn loose_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

async fn check_database(report: &mut Report, config: &Config) {
    let url = mask_url(&config.database_url);
    match probe::inspect(&config.database_url, Duration::from_secs(5)).await {
        Err(e) => report.fail(
            format!("database {url} unreachable: {e:#}"),
            "start the database or correct DATABASE_URL (SCS_DATABASE_URL)",
        ),
        Ok(Probe::InMemory) => report.warn(
            format!("database {url} is in memory"),
            "nothing persists across restarts; give a file (sqlite:/path.db) to keep data",
        ),
        Ok(Probe::Missing(path)) => report.warn(
            format!("database file {} does not exist yet", path.display()),
            "the first start (or `migrate`) creates and migrates it",
        ),
        Ok(Probe::Found(m)) => {
            report.ok(format!("database {url} reachable ({})", m.server));
            let list = |v: &[i64]| v.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
            if !m.unknown.is_empty() {
                report.fail(
                    format!(
                        "migrations {} come from a newer shared-context-server (this one knows up to {})",
                        list(&m.unknown),
                        m.latest
                    ),
                    "upgrade this binary, or point it at another database",
                );
            }
            if !m.mismatched.is_empty() {
                report.fail(
                    format!(
                        "migrations {} differ from this binary's copy",
                        list(&m.mismatched)
                    ),
                    "an incompatible build created this database; use the build that created it",
                );
            }
            if !m.dirty.is_empty() {
                report.fail(
                    format!("migrations {} were interrupted part-way", list(&m.dirty)),
                    "restore the database from a backup taken before the upgrade",
                );
            }
            if !m.pending.is_empty() {
                report.warn(
                    format!(
                        "{} of {} migrations not applied yet ({})",
                        m.pending.len(),
                        m.pending.len() + m.applied,
                        list(&m.pending)
                    ),
                    "`shared-context-server migrate` applies them (so does the next start)",
                );
            } else if m.unknown.is_empty() && m.mismatched.is_empty() && m.dirty.is_empty() {
                report.ok(format!("migrations applied, up to {}", m.latest));
            }
        }
    }
}

fn check_hosts(report: &mut Report, config: &Config) {
    let hosts = &config.allowed_hosts;
    let listed = |h: &str| hosts.iter().any(|a| a == "*" || a.eq_ignore_ascii_case(h));
    let any = hosts.iter().any(|a| a == "*");
    let ip: Option<std::net::IpAddr> = config.host.parse().ok();
    let fix = |name: &str| format!("add {name} to SCS_ALLOWED_HOSTS (now {})", hosts.join(","));
    match ip {
        Some(ip) if ip.is_unspecified() => {
            if any {
                report.warn(
                    format!("listening on {} with ALLOWED_HOSTS=*: the DNS-rebinding guard is off", config.host),
                    "list the names clients use instead of *, if browsers on other sites can reach this port",
                );
            } else {
                report.warn(
                    format!(
                        "listening on all interfaces ({}), but only Host {} is accepted: clients that reach this machine by IP or name get 403",
                        config.host,
                        hosts.join(", ")
                    ),
                    fix("the names and addresses clients use"),
                );
            }
        }
        Some(ip) if ip.is_loopback() => {
            if listed("localhost") || listed(&ip.to_string()) {
                report.ok(format!(
                    "Host allow-list accepts local clients of {}",
                    config.host
                ));
            } else {
                report.fail(
                    format!("listening on {} but neither localhost nor {ip} is an allowed Host: every local client gets 403", config.host),
                    fix("localhost"),
                );
            }
        }
        _ => {
            if listed(&config.host) {
                report.ok(format!("Host allow-list accepts {}", config.host));
            } else {
                report.fail(
                    format!("listening on {}, which is not an allowed Host: clients of http://{}:{}/mcp get 403", config.host, config.host, config.port),
                    fix(&config.host),
                );
            }
        }
    }
}

async fn check_port(report: &mut Report, config: &Config) {
    if config.port == 0 {
        return;
    }
    let address = format!("{}:{}", config.host, config.port);
    match tokio::net::TcpListener::bind(&address).await {
        Ok(_) => report.ok(format!("{address} is free to listen on")),
        Err(e) => report.warn(
            format!("cannot listen on {address} now: {e}"),
            "if a server is already running there, that is expected; otherwise pick another port (SCS_HTTP_PORT)",
        ),
    }
}

fn check_tls_files(report: &mut Report, url: &str) {
    for (param, what) in [
        ("sslrootcert", "CA certificate"),
        ("sslcert", "client certificate"),
        ("sslkey", "client key"),
    ] {
        let Some(raw) = query_param(url, param) else {
            continue;
        };
        let path = Path::new(raw);
        match std::fs::File::open(path) {
            Err(e) => report.fail(
                format!("{what} {} ({param}): {e}", path.display()),
                format!(
                    "correct {param} (or POSTGRES_SSL_*) or give the server's user read access"
                ),
            ),
            Ok(_) if param == "sslkey" && loose_mode(path).is_some() => report.fail(
                format!("{what} {} can be read by others", path.display()),
                format!("chmod 600 {}", path.display()),
            ),
            Ok(_) => report.ok(format!("{what} {} readable", path.display())),
        }
    }
}
