//! Deployment files: a real PostgreSQL 15 starts with `postgresql/postgresql.conf` and
//! `postgresql/pg_hba.conf` and behaves as they say; `docker-compose.postgresql.yml` and the
//! `Dockerfile` are wired together the way `docs/operations.md` describes. No Docker engine is
//! involved: the compose file and the Dockerfile are checked as text, and their health-check
//! commands are run against the real binary.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::pg_cluster::TempCluster;
use crate::support::{ADMIN_KEY, API_KEY, BIN, unique_name};

mod files;

use files::yaml_block;

const REPO: &str = env!("CARGO_MANIFEST_DIR");
/// Where Debian and the PGDG packages put PostgreSQL 15, the version docker-compose.postgresql.yml
/// runs. `SCS_TEST_PG_BINDIR` points the test at another major version, e.g. before an upgrade.
const PG15_BINDIR: &str = "/usr/lib/postgresql/15/bin";
/// The whole cluster test, initdb to removal.
const TEST_BUDGET: Duration = Duration::from_secs(60);
const APP_ROLE: &str = "shared_context_user";
const APP_DB: &str = "shared_context";
const APP_PASSWORD: &str = "deploy-test-Pw-4242";
const ARCHIVE_DIR: &str = "/var/lib/postgresql/wal-archive";

fn repo_file(rel: &str) -> String {
    let path = Path::new(REPO).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Runs a command to completion within `limit`, capturing its output.
fn run(cmd: &mut Command, limit: Duration) -> Output {
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {desc}: {e}"));
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{desc} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_owned()
}

/// One HTTP/1.0 GET; returns the status code and the body.
fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the server");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Our PostgreSQL 15 cluster: a [`TempCluster`] initialised as the official image does and started
/// with our `postgresql.conf` and `pg_hba.conf`, plus psql as its superuser within the test's budget.
struct Cluster {
    pg: TempCluster,
    superuser_password: String,
    deadline: Instant,
}

impl std::ops::Deref for Cluster {
    type Target = TempCluster;
    fn deref(&self) -> &TempCluster {
        &self.pg
    }
}

impl Cluster {
    fn remaining(&self) -> Duration {
        let left = self.deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "the PostgreSQL configuration test ran out of its {TEST_BUDGET:?} budget"
        );
        left
    }

    fn create(deadline: Instant) -> Self {
        let bindir = PathBuf::from(
            std::env::var("SCS_TEST_PG_BINDIR").unwrap_or_else(|_| PG15_BINDIR.into()),
        );
        for tool in ["initdb", "pg_ctl", "postgres", "psql"] {
            assert!(
                bindir.join(tool).exists(),
                "PostgreSQL 15 is required for this test but {} is missing; install postgresql-15 \
                 (scripts/ensure-postgres.sh does on Debian 12) or set SCS_TEST_PG_BINDIR",
                bindir.join(tool).display()
            );
        }
        let dir = std::env::temp_dir().join(unique_name("scs_pgconf"));
        std::fs::create_dir_all(dir.join("archive")).expect("create temp dir");
        for file in ["postgresql.conf", "pg_hba.conf"] {
            std::fs::copy(
                Path::new(REPO).join("postgresql").join(file),
                dir.join(file),
            )
            .expect("copy config file");
        }
        let superuser_password = format!("su-{}", unique_name("pw"));
        std::fs::write(dir.join("pwfile"), format!("{superuser_password}\n")).unwrap();
        // As docker-compose.postgresql.yml runs it: config_file and hba_file from our files.
        let settings = [
            format!("config_file={}/postgresql.conf", dir.display()),
            format!("hba_file={}/pg_hba.conf", dir.display()),
            format!("data_directory={}/data", dir.display()),
        ];
        // As the official image does with POSTGRES_INITDB_ARGS=--data-checksums.
        let initdb_args = [
            "--data-checksums".to_owned(),
            "--encoding=UTF8".to_owned(),
            "--locale=C".to_owned(),
            "--no-sync".to_owned(),
            format!("--pwfile={}", dir.join("pwfile").display()),
        ];
        let pg = TempCluster::init(bindir, dir, &initdb_args, &settings);
        Self {
            pg,
            superuser_password,
            deadline,
        }
    }

    /// psql as the superuser: over the Unix socket as the OS user postgres (the `peer` rule) when
    /// we are root, otherwise over TCP with the superuser's password.
    fn admin_psql(&self, sql: &str) -> Output {
        let mut cmd = self.owner_cmd("psql");
        cmd.args([
            "-X",
            "-A",
            "-t",
            "-q",
            "-w",
            "-v",
            "ON_ERROR_STOP=1",
            "-U",
            "postgres",
            "-d",
            "postgres",
        ]);
        if self.runs_as_postgres() {
            cmd.arg("-h").arg(self.socket_dir());
        } else {
            cmd.args(["-h", "127.0.0.1"])
                .env("PGPASSWORD", &self.superuser_password);
        }
        cmd.args(["-p", &self.port.to_string(), "-c", sql]);
        run(&mut cmd, self.remaining())
    }

    fn sql(&self, sql: &str) -> String {
        let out = self.admin_psql(sql);
        assert!(
            out.status.success(),
            "{sql}: {}\nserver log:\n{}",
            text(&out.stderr),
            self.log()
        );
        text(&out.stdout)
    }

    fn show(&self, name: &str) -> String {
        self.sql(&format!("SHOW {name}"))
    }

    /// psql over TCP (127.0.0.1) as `user`, with or without a password; never prompts.
    fn tcp_psql(&self, user: &str, db: &str, password: Option<&str>, sql: &str) -> Output {
        let mut cmd = self.owner_cmd("psql");
        cmd.args(["-X", "-A", "-t", "-q", "-w", "-v", "ON_ERROR_STOP=1"])
            .arg(format!(
                "host=127.0.0.1 port={} user={user} dbname={db} sslmode=disable",
                self.port
            ))
            .args(["-c", sql]);
        if let Some(pw) = password {
            cmd.env("PGPASSWORD", pw);
        }
        run(&mut cmd, self.remaining())
    }

    /// Waits until `check` holds, polling every 100 ms, within `limit`.
    fn wait_for(&self, what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
        let until = Instant::now() + limit.min(self.remaining());
        while !check() {
            assert!(
                Instant::now() < until,
                "timed out waiting for {what}\nserver log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The real server binary on a free port, killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(database_url: &str, data_dir: &Path, deadline: Instant) -> Self {
        let mut child = Command::new(BIN)
            .args(["--port", "0"])
            .env_remove("SCS_CONFIG")
            .env("DATABASE_URL", database_url)
            .env("API_KEY", API_KEY)
            .env("ADMIN_API_KEY", ADMIN_KEY)
            .env("SCS_DATA_DIR", data_dir)
            .env("LOG_LEVEL", "warn")
            .env("SCS_TOOLS", "all")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the server");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let port = loop {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .min(Duration::from_secs(30));
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("shared-context-server ready: ") {
                        let port = url
                            .trim_end_matches("/mcp")
                            .rsplit(':')
                            .next()
                            .and_then(|p| p.parse().ok());
                        break port.unwrap_or_else(|| panic!("no port in {line}"));
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("the server did not become ready on PostgreSQL: {seen:#?}");
                }
            }
        };
        Self { child, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `name = value` settings of a postgresql.conf, in file order (comments and blank lines skipped).
fn conf_settings(conf: &str) -> Vec<(String, String)> {
    conf.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let (name, rest) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not a setting: {line}"));
            let rest = rest.trim();
            let value = if let Some(quoted) = rest.strip_prefix('\'') {
                quoted
                    .split_once('\'')
                    .map(|(v, _)| v)
                    .unwrap_or_else(|| panic!("unterminated quote: {line}"))
            } else {
                rest.split('#').next().unwrap().trim()
            };
            Some((name.trim().to_owned(), value.to_owned()))
        })
        .collect()
}

/// The health-check argv of the Dockerfile (`HEALTHCHECK ... CMD ["...", "healthcheck"]`).
fn dockerfile_healthcheck(dockerfile: &str) -> Vec<String> {
    let joined = dockerfile.replace("\\\n", " ");
    let line = joined
        .lines()
        .find(|l| l.trim_start().starts_with("HEALTHCHECK"))
        .expect("the Dockerfile has a HEALTHCHECK");
    let json = line
        .split_once(" CMD ")
        .expect("HEALTHCHECK ... CMD [...]")
        .1
        .trim();
    serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("HEALTHCHECK CMD must be a JSON exec form ({e}): {json}"))
}

/// The `test:` argv of a service's healthcheck in the compose file (written as a JSON-compatible
/// flow sequence), without the leading CMD / CMD-SHELL.
fn compose_healthcheck(compose: &str, service: &str) -> Vec<String> {
    let block = yaml_block(compose, &["services", service, "healthcheck"]);
    let line = block
        .iter()
        .find(|l| l.trim_start().starts_with("test:"))
        .expect("healthcheck has test:");
    let json = line.trim_start().trim_start_matches("test:").trim();
    let argv: Vec<String> = serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("healthcheck test must be a [\"CMD\", ...] list ({e}): {json}"));
    assert!(matches!(argv[0].as_str(), "CMD" | "CMD-SHELL"), "{argv:?}");
    argv[1..].to_vec()
}

fn run_healthcheck(argv: &[String], port: u16) -> Output {
    // The image's binary is this build's binary.
    let program = match argv[0].as_str() {
        "/usr/local/bin/shared-context-server" => BIN,
        other => other,
    };
    run(
        Command::new(program)
            .args(&argv[1..])
            .env("HTTP_PORT", port.to_string()),
        Duration::from_secs(10),
    )
}

#[test]
fn postgres_accepts_our_server_config() {
    let deadline = Instant::now() + TEST_BUDGET;
    let cluster = Cluster::create(deadline);
    cluster.resume();

    // Every line of our postgresql.conf was applied, except those this test overrides on the
    // command line (where to listen), exactly as pg_file_settings reports them.
    let conf_text = repo_file("postgresql/postgresql.conf");
    let ours = conf_settings(&conf_text);
    let problems = cluster.sql(
        "SELECT f.name || ': ' || coalesce(f.error, 'not applied') FROM pg_file_settings f \
         JOIN pg_settings s ON s.name = f.name \
         WHERE (f.error IS NOT NULL OR NOT f.applied) AND s.source <> 'command line' ORDER BY f.seqno",
    );
    assert!(
        problems.is_empty(),
        "settings in postgresql.conf that did not apply:\n{problems}"
    );
    let from_file = cluster.sql("SELECT count(DISTINCT name) FROM pg_file_settings WHERE sourcefile LIKE '%/postgresql.conf'");
    assert_eq!(
        from_file,
        ours.len().to_string(),
        "pg_file_settings sees a different number of settings than we wrote"
    );

    // The settings the issue names took effect, with the values written in the file.
    for name in [
        "shared_buffers",
        "effective_cache_size",
        "work_mem",
        "maintenance_work_mem",
        "wal_buffers",
        "max_connections",
        "checkpoint_timeout",
        "max_wal_size",
        "checkpoint_completion_target",
        "random_page_cost",
        "effective_io_concurrency",
        "log_min_duration_statement",
        "log_lock_waits",
        "deadlock_timeout",
        "log_checkpoints",
        "log_connections",
        "wal_level",
        "archive_mode",
        "archive_command",
        "password_encryption",
        "shared_preload_libraries",
        "statement_timeout",
        "idle_in_transaction_session_timeout",
    ] {
        let written = ours
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{name} is not set in postgresql.conf"));
        assert_eq!(cluster.show(name), written, "SHOW {name}");
    }
    assert_eq!(cluster.show("shared_buffers"), "1GB");
    assert_eq!(cluster.show("wal_level"), "replica");
    assert_eq!(cluster.show("password_encryption"), "scram-sha-256");
    assert_eq!(
        cluster.show("statement_timeout"),
        "0",
        "statement_timeout belongs to the app's connections"
    );
    assert_eq!(cluster.show("data_checksums"), "on");
    // pg_stat_statements really is preloaded: the extension answers.
    cluster.sql("CREATE EXTENSION pg_stat_statements");
    assert!(
        cluster
            .sql("SELECT count(*) FROM pg_stat_statements")
            .parse::<i64>()
            .unwrap()
            > 0
    );

    // pg_hba.conf: every line parses, nothing is trust, peer only on the socket for postgres,
    // and the app's rule admits exactly its role and database.
    let rules = cluster.sql("SELECT count(*) FROM pg_hba_file_rules");
    let hba_lines = repo_file("postgresql/pg_hba.conf")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .count();
    assert_eq!(
        rules,
        hba_lines.to_string(),
        "every pg_hba.conf line is a rule"
    );
    assert_eq!(cluster.sql("SELECT string_agg(line_number || ': ' || error, E'\\n') FROM pg_hba_file_rules WHERE error IS NOT NULL"), "");
    assert_eq!(cluster.sql("SELECT count(*) FROM pg_hba_file_rules WHERE auth_method NOT IN ('scram-sha-256', 'peer', 'reject')"), "0", "only scram-sha-256, peer and reject");
    assert_eq!(cluster.sql("SELECT count(*) FROM pg_hba_file_rules WHERE auth_method = 'peer' AND (type <> 'local' OR user_name <> '{postgres}')"), "0", "peer only for postgres on the socket");
    assert_eq!(
        cluster.sql(&format!("SELECT address || '/' || netmask FROM pg_hba_file_rules WHERE type = 'host' AND database = '{{{APP_DB}}}' AND user_name = '{{{APP_ROLE}}}'")),
        "172.28.0.0/255.255.0.0",
        "the app's rule covers the compose network"
    );

    // Archiving with the archive directory absent (the default deployment): segments are
    // "archived" without error, so pg_wal does not fill up.
    cluster.sql("CREATE TABLE wal_probe (x int); INSERT INTO wal_probe VALUES (1)");
    if !Path::new(ARCHIVE_DIR).exists() {
        cluster.sql("SELECT pg_switch_wal()");
        cluster.wait_for(
            "the archiver to process a segment",
            Duration::from_secs(15),
            || {
                cluster.sql("SELECT archived_count > 0 AND failed_count = 0 FROM pg_stat_archiver")
                    == "t"
            },
        );
    }
    // With the directory present, the same command (pointed at our temp dir) copies each segment.
    let archive = cluster.dir.join("archive");
    let command = cluster
        .show("archive_command")
        .replace(ARCHIVE_DIR, &archive.display().to_string());
    cluster.sql(&format!(
        "ALTER SYSTEM SET archive_command = '{}'",
        command.replace('\'', "''")
    ));
    cluster.sql("SELECT pg_reload_conf()");
    cluster.wait_for("the new archive_command", Duration::from_secs(10), || {
        cluster.show("archive_command") == command
    });
    cluster.sql("INSERT INTO wal_probe VALUES (2)");
    let segment = cluster.sql("SELECT pg_walfile_name(pg_switch_wal())");
    cluster.wait_for(
        "the segment in the archive directory",
        Duration::from_secs(15),
        || archive.join(&segment).exists(),
    );
    assert_eq!(
        cluster.sql("SELECT failed_count FROM pg_stat_archiver"),
        "0"
    );

    // SCRAM: the app's password is stored as a SCRAM verifier; TCP login with it works, without it
    // or with a wrong one it is refused, and the superuser gets no password-less TCP login.
    cluster.sql(&format!(
        "CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_PASSWORD}'"
    ));
    cluster.sql(&format!("CREATE DATABASE {APP_DB} OWNER {APP_ROLE}"));
    assert_eq!(
        cluster.sql(&format!(
            "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = '{APP_ROLE}'"
        )),
        "t"
    );
    let ok = cluster.tcp_psql(APP_ROLE, APP_DB, Some(APP_PASSWORD), "SELECT current_user");
    assert!(
        ok.status.success(),
        "password login over TCP: {}",
        text(&ok.stderr)
    );
    assert_eq!(text(&ok.stdout), APP_ROLE);
    let no_pw = cluster.tcp_psql(APP_ROLE, APP_DB, None, "SELECT 1");
    assert!(
        !no_pw.status.success() && text(&no_pw.stderr).contains("no password supplied"),
        "login without a password must be refused: {}",
        text(&no_pw.stderr)
    );
    let wrong = cluster.tcp_psql(APP_ROLE, APP_DB, Some("wrong-password"), "SELECT 1");
    assert!(
        !wrong.status.success() && text(&wrong.stderr).contains("password authentication failed"),
        "wrong password: {}",
        text(&wrong.stderr)
    );
    let su = cluster.tcp_psql("postgres", "postgres", None, "SELECT 1");
    assert!(
        !su.status.success(),
        "the superuser must not get a password-less TCP login"
    );

    // The real server, as a non-superuser database owner (the compose set-up after hardening),
    // migrates and serves on this cluster; the Dockerfile's and the compose file's health checks
    // pass against it, and fail once PostgreSQL is gone.
    let url = format!(
        "postgres://{APP_ROLE}:{APP_PASSWORD}@127.0.0.1:{}/{APP_DB}",
        cluster.port
    );
    let server = Server::start(&url, &cluster.dir.join("scs-data"), deadline);
    let (status, body) = http_get(server.port, "/health");
    assert_eq!(status, 200, "{body}");
    let health: Value = serde_json::from_str(&body).expect("health JSON");
    assert_eq!(health["backend"], "postgresql", "{health}");
    let major = cluster.sql("SELECT current_setting('server_version_num')::int / 10000");
    if std::env::var_os("SCS_TEST_PG_BINDIR").is_none() {
        assert_eq!(
            major, "15",
            "docker-compose.postgresql.yml runs postgres:15"
        );
    }
    assert!(
        health["database"]["server_version"]
            .as_str()
            .unwrap_or_default()
            .starts_with(&format!("PostgreSQL {major}")),
        "{health}"
    );
    let tagged = cluster.sql(&format!("SELECT count(*) FROM pg_stat_activity WHERE usename = '{APP_ROLE}' AND application_name = 'shared_context_server'"));
    assert!(
        tagged.parse::<i64>().unwrap() > 0,
        "the pool's connections carry application_name"
    );
    let docker_check = dockerfile_healthcheck(&repo_file("Dockerfile"));
    let out = run_healthcheck(&docker_check, server.port);
    assert!(
        out.status.success(),
        "Dockerfile HEALTHCHECK against a ready server: {}",
        text(&out.stderr)
    );
    let compose_check: Vec<String> = compose_healthcheck(
        &repo_file("docker-compose.postgresql.yml"),
        "shared-context-server",
    )
    .into_iter()
    .map(|arg| arg.replace("/23456", &format!("/{}", server.port)))
    .collect();
    let out = run_healthcheck(&compose_check, server.port);
    assert!(
        out.status.success(),
        "compose healthcheck against a ready server: {}",
        text(&out.stderr)
    );

    cluster.stop("fast");
    assert_eq!(http_get(server.port, "/health/ready").0, 503);
    assert!(
        !run_healthcheck(&docker_check, server.port).status.success(),
        "the health check must fail without the database"
    );
    assert!(
        !run_healthcheck(&compose_check, server.port)
            .status
            .success()
    );
    drop(server);
    drop(cluster);
    assert!(
        Instant::now() < deadline,
        "the test took longer than {TEST_BUDGET:?}"
    );
}
