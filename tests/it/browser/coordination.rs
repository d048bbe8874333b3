//! The session page's leases and tasks in a real browser: a reader sees the session's live
//! lease (resources, holder, mode, expiry) and its tasks (title as text, state, assignee or
//! claimant, blocked_by), and a claim made by an MCP client meanwhile shows without a reload.

use serde_json::{Value, json};

use super::{Ui, WAIT};
use crate::support::*;

const TITLE_XSS: &str = "<img src=x onerror=\"window.__xss=1\"> design";

/// The rows of a table body as lists of cell texts.
async fn rows(ui: &Ui, body: &str) -> Vec<Vec<String>> {
    let script = format!(
        "return [...document.querySelectorAll('#{body} tr:not(.empty)')].map(r => [...r.cells].map(c => c.textContent))"
    );
    serde_json::from_value(ui.browser.js(&script, json!([])).await).expect("rows")
}

#[tokio::test]
async fn browser_ui_session_page_shows_leases_and_tasks() {
    let Some(ui) = Ui::start().await else { return };
    let c = &ui.client;
    let alice = login(c, "alice", "claude", false).await;
    let bob = login(c, "bob", "claude", false).await;
    let sid = call(
        c,
        "create_session",
        json!({"purpose": "Refactor with leases", "auth_token": alice}),
    )
    .await
    .ok()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    call(
        c,
        "acquire_lease",
        json!({"resources": ["src/db/**", "deploy-slot"], "session_id": sid, "auth_token": alice}),
    )
    .await
    .ok();
    let task = |args: Value| async move {
        call(c, "create_task", args).await.ok()["task_id"]
            .as_i64()
            .unwrap()
    };
    let design = task(json!({"session_id": sid, "title": TITLE_XSS, "auth_token": alice})).await;
    let build = task(json!({"session_id": sid, "title": "build", "depends_on": [design], "assignee": "bob", "auth_token": alice})).await;

    ui.sign_in(API_KEY).await;
    ui.open_session(&sid).await;
    ui.browser
        .wait_for(
            "the coordination panel",
            "return document.querySelectorAll('#task-rows tr:not(.empty)').length === 2",
            json!([]),
            WAIT,
        )
        .await;
    let open = ui
        .browser
        .js(
            "return document.getElementById('coordination').open",
            json!([]),
        )
        .await;
    assert_eq!(
        open,
        json!(true),
        "a session with leases and tasks shows them"
    );
    let leases = rows(&ui, "lease-rows").await;
    assert_eq!(leases.len(), 1, "{leases:?}");
    assert_eq!(
        leases[0][..3],
        ["src/db/**, deploy-slot", "alice", "exclusive"],
        "{leases:?}"
    );
    assert!(
        leases[0][3].starts_with("in "),
        "the expiry is shown ahead of now: {leases:?}"
    );
    let tasks = rows(&ui, "task-rows").await;
    assert_eq!(
        tasks,
        [
            vec![
                format!("#{design}"),
                TITLE_XSS.to_owned(),
                "submitted".into(),
                "–".into(),
                "–".into()
            ],
            vec![
                format!("#{build}"),
                "build".into(),
                "submitted".into(),
                "assigned to bob".into(),
                format!("#{design}")
            ],
        ]
    );
    ui.screenshot("session-coordination").await;

    // bob claims the design over MCP; its system message refreshes the panel in place.
    ui.browser.js("window.__same_page = 1", json!([])).await;
    call(
        c,
        "claim_task",
        json!({"session_id": sid, "task_id": design, "auth_token": bob}),
    )
    .await
    .ok();
    ui.browser
        .wait_for(
            "the claim to show",
            "const r = document.querySelector('#task-rows tr[data-state=\"working\"]'); return r && r.cells[3].textContent",
            json!([]),
            WAIT,
        )
        .await;
    let tasks = rows(&ui, "task-rows").await;
    assert_eq!(tasks[0][2..4], ["working", "claimed by bob"], "{tasks:?}");
    let flags = ui
        .browser
        .js("return [window.__same_page, window.__xss === undefined, document.querySelectorAll('#task-rows img').length]", json!([]))
        .await;
    assert_eq!(
        flags,
        json!([1, true, 0]),
        "no reload, and the title stayed text"
    );
    ui.finish().await;
}
