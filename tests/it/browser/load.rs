//! How long the session page takes to show its first messages when the session holds 100,000
//! (docs/BENCHMARKS.md). Ignored by default (it fills a database first); run with
//! `cargo test --test it -- --ignored --nocapture browser_ui_page_load`.

use serde_json::json;
use sqlx::Connection as _;

use super::{Ui, WAIT};
use crate::support::*;

const MESSAGES: i64 = 100_000;

/// `MESSAGES` messages in one statement, one in five private, from seven senders.
async fn fill(db: &TestDb, session_id: &str) {
    let at = shared_context_server::util::rfc3339(chrono::Utc::now());
    match db.backend {
        Backend::Sqlite => {
            let mut conn = sqlx::sqlite::SqliteConnection::connect(&db.url)
                .await
                .expect("open");
            sqlx::query(
                "INSERT INTO messages (session_id, sender, sender_type, content, visibility, created_at) \
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
                 SELECT $2, 'agent-' || (i % 7), 'claude', 'message number ' || i || ' about the build', \
                 CASE WHEN i % 5 = 0 THEN 'private' ELSE 'public' END, $3 FROM n",
            )
            .bind(MESSAGES)
            .bind(session_id)
            .bind(&at)
            .execute(&mut conn)
            .await
            .expect("fill");
        }
        Backend::Postgres => {
            let mut conn = sqlx::postgres::PgConnection::connect(&db.url)
                .await
                .expect("open");
            sqlx::query(
                "INSERT INTO shared_context.messages (session_id, sender, sender_type, content, visibility, created_at) \
                 SELECT $2, 'agent-' || (i % 7), 'claude', 'message number ' || i || ' about the build', \
                 CASE WHEN i % 5 = 0 THEN 'private' ELSE 'public' END, now() FROM generate_series(1, $1) AS i",
            )
            .bind(MESSAGES)
            .bind(session_id)
            .execute(&mut conn)
            .await
            .expect("fill");
        }
    }
}

async fn page_load(backend: Backend) {
    let Some(ui) = Ui::start_on(backend).await else {
        return;
    };
    let alice = login(&ui.client, "alice", "claude", false).await;
    let sid = call(
        &ui.client,
        "create_session",
        json!({"purpose": "100k", "auth_token": alice}),
    )
    .await
    .ok()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    fill(ui.db(), &sid).await;
    ui.sign_in(API_KEY).await;
    let mut samples = Vec::new();
    let mut api = Vec::new();
    for _ in 0..5 {
        // A full page load each time (about:blank first), timed by the page's own clock from
        // navigation start until the first message is in the document.
        ui.browser.goto("about:blank").await;
        ui.browser.goto(&ui.url(&format!("#/s/{sid}"))).await;
        let ms = ui
            .browser
            .js_async(
                "const done = arguments[arguments.length - 1]; \
                 (function poll() { if (document.querySelector('#messages article')) {                    const m = performance.getEntriesByType('resource').find(e => e.name.includes('/messages'));                    done([performance.now(), m.responseEnd - m.requestStart]); } else requestAnimationFrame(poll); })()",
                json!([]),
            )
            .await;
        samples.push(ms[0].as_f64().expect("a time"));
        api.push(ms[1].as_f64().expect("a time"));
        ui.browser
            .wait_for(
                "the page",
                "return document.querySelectorAll('#messages article').length >= 50",
                json!([]),
                WAIT,
            )
            .await;
    }
    let shown = ui.shown_messages().await;
    assert_eq!(shown.len(), 50, "the first page");
    assert!(shown.iter().all(|m| m.1 == "public"));
    samples.sort_by(f64::total_cmp);
    api.sort_by(f64::total_cmp);
    let median = samples[samples.len() / 2];
    eprintln!(
        "dashboard page load, {MESSAGES} messages, {backend:?}: first messages visible after {median:.0} ms \
         (median of 5; all: {samples:.0?}); the newest-page request took {:.1} ms (median; all: {api:.1?})",
        api[api.len() / 2]
    );
    assert!(median < 1000.0, "first messages took {median:.0} ms");
    ui.finish().await;
}

#[tokio::test]
#[ignore = "fills 100,000 messages; run for docs/BENCHMARKS.md"]
async fn browser_ui_page_load_100k_messages_sqlite() {
    page_load(Backend::Sqlite).await;
}

#[tokio::test]
#[ignore = "fills 100,000 messages; run for docs/BENCHMARKS.md"]
async fn browser_ui_page_load_100k_messages_postgres() {
    page_load(Backend::Postgres).await;
}
