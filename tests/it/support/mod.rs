//! Test harness: a database per test (SQLite file or a fresh PostgreSQL database), the real
//! binary over HTTP or stdio, and rmcp clients that talk to it.

mod app;
mod tools;

pub use app::{ManualClock, TestApp, test_settings};
pub use tools::{direct, ids_of, new_session, post_varied, text_and_structured};

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};

use reqwest::header::{HeaderName, HeaderValue};
use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{ConfigureCommandExt, StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

pub const API_KEY: &str = "test-agent-key-0123456789abcdef";
pub const ADMIN_KEY: &str = "test-admin-key-0123456789abcdef";
pub const BIN: &str = env!("CARGO_BIN_EXE_shared-context-server");

pub type Client = RunningService<RoleClient, ()>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One test per backend for each `async fn name(backend: Backend)` listed: `sqlite::name` and
/// `postgres::name` (scripts/test.sh counts the tests whose names contain `postgres`). A name may
/// carry its own test attribute, e.g. `#[tokio::test(flavor = "multi_thread")] name`; without one
/// it gets `#[tokio::test]`. One invocation per module (it declares `mod sqlite` and `mod postgres`).
macro_rules! contract {
    ($($(#[$attr:meta])* $name:ident),* $(,)?) => {
        mod sqlite {
            $( $crate::support::contract!(@test Sqlite [$(#[$attr])*] $name); )*
        }
        mod postgres {
            $( $crate::support::contract!(@test Postgres [$(#[$attr])*] $name); )*
        }
    };
    (@test $backend:ident [] $name:ident) => {
        #[tokio::test]
        async fn $name() {
            super::$name($crate::support::Backend::$backend).await;
        }
    };
    (@test $backend:ident [$(#[$attr:meta])+] $name:ident) => {
        $(#[$attr])+
        async fn $name() {
            super::$name($crate::support::Backend::$backend).await;
        }
    };
}
pub(crate) use contract;

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[track_caller]
pub fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(unique_name("scs_test"));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// The PostgreSQL server the tests create their databases on.
pub fn pg_admin_url() -> String {
    std::env::var("SCS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// One database for one test, removed when dropped.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    pub dir: PathBuf,
    pg_name: Option<String>,
}

impl TestDb {
    /// A `Store` on this database (migrated), with a pool of `max_connections`.
    pub async fn store(
        &self,
        max_connections: u32,
    ) -> std::sync::Arc<dyn shared_context_server::storage::Store> {
        shared_context_server::storage::connect(
            &self.url,
            &shared_context_server::storage::ConnectOptions {
                max_connections,
                ..Default::default()
            },
        )
        .await
        .expect("connect")
    }

    /// A database the test manages itself (for example on its own cluster).
    pub fn external(backend: Backend, url: String) -> Self {
        Self {
            backend,
            url,
            dir: temp_dir(),
            pg_name: None,
        }
    }

    pub async fn new(backend: Backend) -> Self {
        let dir = temp_dir();
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite:{}", dir.join("test.db").display());
                Self {
                    backend,
                    url,
                    dir,
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let admin = pg_admin_url();
                let name = unique_name("scs_test");
                let mut conn = match sqlx::postgres::PgConnection::connect(&admin).await {
                    Ok(c) => c,
                    Err(e) => panic!(
                        "PostgreSQL is required for this test but {admin} is unreachable ({e}). \
                         Run scripts/test.sh, which starts it, or set SCS_TEST_POSTGRES_URL."
                    ),
                };
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let (base, _) = admin.rsplit_once('/').expect("admin url has a database");
                Self {
                    backend,
                    url: format!("{base}/{name}"),
                    dir,
                    pg_name: Some(name),
                }
            }
        }
    }
}

use sqlx::Connection as _;

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(name) = self.pg_name.take() {
            let admin = pg_admin_url();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    if let Ok(mut conn) = sqlx::postgres::PgConnection::connect(&admin).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&mut conn)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

/// The server binary's environment for a test database.
pub fn server_env(db: &TestDb) -> Vec<(String, String)> {
    vec![
        ("DATABASE_URL".into(), db.url.clone()),
        ("API_KEY".into(), API_KEY.into()),
        ("ADMIN_API_KEY".into(), ADMIN_KEY.into()),
        (
            "SCS_DATA_DIR".into(),
            db.dir.join("data").display().to_string(),
        ),
        ("LOG_LEVEL".into(), "warn".into()),
        // Many servers run at once in the suite: keep each one's PostgreSQL pool small.
        ("POSTGRES_POOL_SIZE".into(), "2".into()),
        ("POSTGRES_MAX_OVERFLOW".into(), "6".into()),
        // Tests drive single agents hard; the rate-limit test sets its own limit.
        ("RATE_LIMIT_PER_MINUTE".into(), "0".into()),
        // Every tool, not the default profile: the suite exercises them all.
        ("SCS_TOOLS".into(), "all".into()),
        // No developer's default config file (~/.config/shared-context-server) leaks in.
        (
            "XDG_CONFIG_HOME".into(),
            db.dir.join("config").display().to_string(),
        ),
    ]
}

/// The real binary serving HTTP on a free port; killed on drop.
pub struct HttpServer {
    pub child: tokio::process::Child,
    pub base: String,
    pub stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl HttpServer {
    /// `kill -9` the server and reap it, checking SIGKILL is what ended it (the crash tests).
    pub async fn kill_9_and_reap(&mut self) {
        use std::os::unix::process::ExitStatusExt;
        let pid = self.child.id().expect("running");
        assert!(
            std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status()
                .unwrap()
                .success()
        );
        let status = tokio::time::timeout(std::time::Duration::from_secs(10), self.child.wait())
            .await
            .expect("reap")
            .unwrap();
        assert_eq!(status.signal(), Some(9));
    }

    pub async fn start(db: &TestDb, extra_env: &[(&str, &str)]) -> Self {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.args(["--port", "0"])
            .envs(server_env(db))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn server");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        let base = loop {
            let line = tokio::time::timeout_at(deadline, lines.next_line())
                .await
                .expect("server did not report ready within 30 s")
                .expect("read stderr")
                .unwrap_or_else(|| {
                    panic!("server exited before ready: {:?}", stderr.lock().unwrap())
                });
            stderr.lock().unwrap().push(line.clone());
            if let Some(url) = line.strip_prefix("shared-context-server ready: ") {
                break url.trim_end_matches("/mcp").to_owned();
            }
        };
        let sink = stderr.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        Self {
            child,
            base,
            stderr,
        }
    }

    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }

    /// An MCP client that sends the given headers on every request.
    pub async fn client_with(&self, headers: &[(&str, &str)]) -> Result<Client, String> {
        mcp_client(&self.mcp_url(), headers).await
    }

    /// An MCP client authorised with the agent API key.
    pub async fn client(&self) -> Client {
        self.client_with(&[("x-api-key", API_KEY)])
            .await
            .expect("connect with API key")
    }
}

/// An MCP client for `url` that sends the given headers on every request.
pub async fn mcp_client(url: &str, headers: &[(&str, &str)]) -> Result<Client, String> {
    let map: HashMap<HeaderName, HeaderValue> = headers
        .iter()
        .map(|(k, v)| {
            (
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            )
        })
        .collect();
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_owned()).custom_headers(map);
    ().serve(StreamableHttpClientTransport::from_config(config))
        .await
        .map_err(|e| e.to_string())
}

/// The real binary over stdio pipes.
pub async fn stdio_client(db: &TestDb) -> Client {
    let transport = TokioChildProcess::new(tokio::process::Command::new(BIN).configure(|c| {
        c.args(["--transport", "stdio"]).envs(server_env(db));
    }))
    .expect("spawn stdio server");
    ().serve(transport).await.expect("stdio initialize")
}

/// What a tool call returned.
#[derive(Debug, Clone)]
pub struct Reply {
    pub is_error: bool,
    pub body: Value,
}

impl Reply {
    #[track_caller]
    pub fn ok(self) -> Value {
        assert!(!self.is_error, "expected success, got {}", self.body);
        assert_eq!(self.body["success"], json!(true), "{}", self.body);
        self.body
    }

    #[track_caller]
    pub fn err_code(&self) -> &str {
        assert!(self.is_error, "expected an error, got {}", self.body);
        assert_eq!(self.body["success"], json!(false));
        assert!(
            self.body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "error sentence missing: {}",
            self.body
        );
        self.body["code"].as_str().unwrap_or_default()
    }
}

pub async fn call(client: &rmcp::Peer<RoleClient>, tool: &str, args: Value) -> Reply {
    let params = CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().cloned().unwrap_or_default());
    let result = client
        .call_tool(params)
        .await
        .unwrap_or_else(|e| panic!("{tool} failed at protocol level: {e}"));
    let body = result.structured_content.clone().unwrap_or_else(|| {
        let text = result
            .content
            .first()
            .and_then(|c| c.as_text())
            .map(|t| t.text.clone())
            .unwrap_or_default();
        serde_json::from_str(&text).unwrap_or(Value::Null)
    });
    Reply {
        is_error: result.is_error.unwrap_or(false),
        body,
    }
}

/// `base` with the members of `extra` added or replaced (both JSON objects).
#[track_caller]
pub fn with(mut base: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().expect("extra is an object") {
        base[k] = v.clone();
    }
    base
}

/// Calls a tool that must fail with `code` and say what to do next; returns the error body.
pub async fn expect_code(
    client: &rmcp::Peer<RoleClient>,
    tool: &str,
    args: Value,
    code: &str,
) -> Value {
    let reply = call(client, tool, args.clone()).await;
    let mut shown = args.to_string();
    shown.truncate(200);
    assert_eq!(reply.err_code(), code, "{tool}({shown}) → {}", reply.body);
    assert!(
        reply.body["suggestions"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{code} should say what to do next: {}",
        reply.body
    );
    reply.body
}

/// Authenticates an agent and returns its token.
pub async fn login(
    client: &rmcp::Peer<RoleClient>,
    agent_id: &str,
    agent_type: &str,
    admin: bool,
) -> String {
    let mut args = json!({"agent_id": agent_id, "agent_type": agent_type});
    if admin {
        args["requested_permissions"] = json!(["read", "write", "admin"]);
        args["api_key"] = json!(ADMIN_KEY);
    }
    let body = call(client, "authenticate_agent", args).await.ok();
    body["token"].as_str().expect("token").to_owned()
}

/// Writes a token that expired an hour ago straight into the database, as an old token would be.
pub async fn insert_expired_token(db: &TestDb, agent_id: &str) -> String {
    let token = shared_context_server::auth::new_token();
    let hash = shared_context_server::auth::token_hash(&token);
    let issued = chrono::Utc::now() - chrono::Duration::hours(25);
    let expires = chrono::Utc::now() - chrono::Duration::hours(1);
    match db.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::sqlite::SqliteConnection::connect(&db.url)
                .await
                .expect("open sqlite");
            sqlx::query("INSERT INTO agent_tokens (token_hash, agent_id, agent_type, permissions, issued_at, expires_at) VALUES ($1, $2, 'claude', 'read,write', $3, $4)")
                .bind(hash)
                .bind(agent_id)
                .bind(shared_context_server::util::rfc3339(issued))
                .bind(shared_context_server::util::rfc3339(expires))
                .execute(&mut conn)
                .await
                .expect("insert expired token");
        }
        Backend::Postgres => {
            let mut conn = sqlx::postgres::PgConnection::connect(&db.url)
                .await
                .expect("open postgres");
            sqlx::query("INSERT INTO shared_context.agent_tokens (token_hash, agent_id, agent_type, permissions, issued_at, expires_at) VALUES ($1, $2, 'claude', 'read,write', $3, $4)")
                .bind(hash)
                .bind(agent_id)
                .bind(issued)
                .bind(expires)
                .execute(&mut conn)
                .await
                .expect("insert expired token");
        }
    }
    token
}

/// One integer from the test database (SQLite and PostgreSQL spellings).
pub async fn db_scalar(db: &TestDb, sqlite: &str, postgres: &str) -> i64 {
    match db.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::sqlite::SqliteConnection::connect(&db.url)
                .await
                .expect("open sqlite");
            sqlx::query_scalar(sqlx::AssertSqlSafe(sqlite.to_owned()))
                .fetch_one(&mut conn)
                .await
                .expect(sqlite)
        }
        Backend::Postgres => {
            let mut conn = sqlx::postgres::PgConnection::connect(&db.url)
                .await
                .expect("open postgres");
            sqlx::query_scalar(sqlx::AssertSqlSafe(postgres.to_owned()))
                .fetch_one(&mut conn)
                .await
                .expect(postgres)
        }
    }
}

/// Runs one statement straight against the test database; returns the rows it affected.
pub async fn db_exec(db: &TestDb, sqlite: &str, postgres: &str) -> u64 {
    match db.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::sqlite::SqliteConnection::connect(&db.url)
                .await
                .expect("open sqlite");
            sqlx::query(sqlx::AssertSqlSafe(sqlite.to_owned()))
                .execute(&mut conn)
                .await
                .expect(sqlite)
                .rows_affected()
        }
        Backend::Postgres => {
            let mut conn = sqlx::postgres::PgConnection::connect(&db.url)
                .await
                .expect("open postgres");
            sqlx::query(sqlx::AssertSqlSafe(postgres.to_owned()))
                .execute(&mut conn)
                .await
                .expect(postgres)
                .rows_affected()
        }
    }
}

/// Rows in a table (the PostgreSQL one is in the `shared_context` schema).
pub async fn db_count(db: &TestDb, table: &str) -> i64 {
    db_scalar(
        db,
        &format!("SELECT COUNT(*) FROM {table}"),
        &format!("SELECT COUNT(*) FROM shared_context.{table}"),
    )
    .await
}

/// A tiny deterministic pseudo-random generator (xorshift64*), for fuzz and crash tests.
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `num/den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Resident memory (VmRSS, KiB) of a process, from /proc/PID/status.
#[track_caller]
pub fn vm_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

/// Every row of the messages table, straight from the database: id → (sender, content).
pub async fn stored_rows(db: &TestDb) -> Vec<(i64, String, String)> {
    match db.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::sqlite::SqliteConnection::connect(&db.url)
                .await
                .expect("open sqlite");
            sqlx::query_as("SELECT id, sender, content FROM messages ORDER BY id")
                .fetch_all(&mut conn)
                .await
                .expect("read messages")
        }
        Backend::Postgres => {
            let mut conn = sqlx::postgres::PgConnection::connect(&db.url)
                .await
                .expect("open postgres");
            sqlx::query_as("SELECT id, sender, content FROM shared_context.messages ORDER BY id")
                .fetch_all(&mut conn)
                .await
                .expect("read messages")
        }
    }
}
