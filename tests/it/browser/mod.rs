//! Browser tests of the dashboard (`browser_ui_*`): the real binary, a real headless Chromium
//! driven over WebDriver by chromedriver, and real MCP clients posting meanwhile.
//!
//! Without Chromium and chromedriver a developer's run skips these tests with a message; in CI
//! (`CI=true`, or `SCS_REQUIRE_BROWSER=1`, which `.ci/run` sets) they fail instead.
//! `SCS_UI_SCREENSHOTS=dir` saves the main pages as PNGs there (docs/screenshots).

mod coordination;
mod load;
mod pages;
mod webdriver;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::support::*;
pub use webdriver::Browser;

pub const WAIT: Duration = Duration::from_secs(15);

fn find_program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Ok(path) = std::env::var(env) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// Chromium and chromedriver, or `None` (after saying why) when this run may skip.
fn browser_programs() -> Option<(PathBuf, PathBuf)> {
    let chromium = find_program(
        "SCS_CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    );
    let driver = find_program("SCS_CHROMEDRIVER", &["chromedriver"]);
    if let (Some(c), Some(d)) = (&chromium, &driver) {
        return Some((c.clone(), d.clone()));
    }
    let required = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("SCS_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let message = "the dashboard browser tests need chromium and chromedriver \
                   (Debian: apt-get install chromium chromium-driver; or set SCS_CHROMIUM and SCS_CHROMEDRIVER)";
    assert!(
        !required,
        "{message}; this run requires them (CI / SCS_REQUIRE_BROWSER=1)"
    );
    eprintln!("SKIPPED: {message}");
    None
}

/// One chromedriver process, killed on drop.
struct Driver {
    _child: tokio::process::Child,
    url: String,
}

async fn start_driver(program: &PathBuf) -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = tokio::process::Command::new(program)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start chromedriver");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let ready = reqwest::get(format!("{url}/status")).await.ok();
        if let Some(r) = ready
            && let Ok(body) = r.json::<serde_json::Value>().await
            && body["value"]["ready"] == json!(true)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "chromedriver did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Driver { _child: child, url }
}

/// Browsers are heavy on a small machine: one browser test at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A server on a fresh SQLite database, an MCP client for it and a browser pointed at it.
pub struct Ui {
    pub server: HttpServer,
    pub client: Client,
    pub browser: Browser,
    _driver: Driver,
    _db: TestDb,
    _profile: PathBuf,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Ui {
    /// `None` when the browser is missing and this run may skip.
    pub async fn start() -> Option<Self> {
        Self::start_on(Backend::Sqlite).await
    }

    pub async fn start_on(backend: Backend) -> Option<Self> {
        let (chromium, driver_program) = browser_programs()?;
        let turn = ONE_AT_A_TIME.lock().await;
        let db = TestDb::new(backend).await;
        let server = HttpServer::start(&db, &[]).await;
        let client = server.client().await;
        let driver = start_driver(&driver_program).await;
        let profile = temp_dir();
        let browser = Browser::start(
            &driver.url,
            &chromium.display().to_string(),
            &profile.display().to_string(),
        )
        .await
        .expect("start chromium");
        Some(Self {
            server,
            client,
            browser,
            _driver: driver,
            _db: db,
            _profile: profile,
            _turn: turn,
        })
    }

    pub fn db(&self) -> &TestDb {
        &self._db
    }

    pub fn url(&self, fragment: &str) -> String {
        format!("{}/ui/{fragment}", self.server.base)
    }

    /// Signs in through the form, as a person would, and waits for the signed-in page.
    pub async fn sign_in(&self, secret: &str) {
        self.browser.goto(&self.url("")).await;
        self.browser
            .wait_for(
                "the sign-in form",
                "return document.getElementById('secret')",
                json!([]),
                WAIT,
            )
            .await;
        self.browser.type_into("#secret", secret).await;
        self.browser.click("#signin-submit").await;
        self.browser
            .wait_for(
                "the signed-in page",
                "return !document.getElementById('nav').hidden",
                json!([]),
                WAIT,
            )
            .await;
    }

    pub async fn sign_out(&self) {
        self.browser.click("#signout").await;
        self.browser
            .wait_for(
                "the sign-in form after sign-out",
                "return document.getElementById('secret') && document.getElementById('nav').hidden",
                json!([]),
                WAIT,
            )
            .await;
    }

    /// Opens a session's page and waits until its first page of messages has loaded.
    pub async fn open_session(&self, session_id: &str) {
        self.browser
            .goto(&self.url(&format!("#/s/{session_id}")))
            .await;
        self.browser
            .wait_for(
                "the session's messages",
                "const s = document.getElementById('older'); return s && !s.textContent.startsWith('Loading')",
                json!([]),
                WAIT,
            )
            .await;
    }

    /// `(id, visibility, sender_type, content)` of every message shown.
    pub async fn shown_messages(&self) -> Vec<(i64, String, String, String)> {
        let rows = self
            .browser
            .js(
                "return [...document.querySelectorAll('#messages article')].map(a => [Number(a.dataset.id), a.dataset.visibility, a.dataset.senderType, a.querySelector('.content').textContent])",
                json!([]),
            )
            .await;
        serde_json::from_value(rows).expect("rows")
    }

    /// Saves a screenshot as `name.png` when `SCS_UI_SCREENSHOTS` names a directory.
    pub async fn screenshot(&self, name: &str) {
        let Ok(dir) = std::env::var("SCS_UI_SCREENSHOTS") else {
            return;
        };
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let png = self.browser.screenshot().await;
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(PathBuf::from(dir).join(format!("{name}.png")), png).expect("save");
    }

    pub async fn finish(self) {
        let Ui { browser, .. } = self;
        browser.quit().await;
    }
}
