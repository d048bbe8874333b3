//! The dashboard in a real browser: sign-in with each credential kind, the session list, live
//! messages, visibility per credential, content as text, the human overseer, sign-out, and a
//! visit without signing in.

use serde_json::json;

use super::{Ui, WAIT};
use crate::support::*;

const XSS: &str = "<img src=x onerror=\"window.__xss=1\">";

/// Tokens of the matrix's readers and a session holding one message of each visibility.
struct Cast {
    alice: String,
    bob: String,
    carol: String,
    session_id: String,
    /// Message id per visibility, in `VISIBILITIES` order.
    ids: Vec<i64>,
}

const VISIBILITIES: [&str; 4] = ["public", "private", "agent_only", "admin_only"];

async fn cast(ui: &Ui) -> Cast {
    let c = &ui.client;
    let alice = login(c, "alice", "claude", false).await;
    let bob = login(c, "bob", "claude", false).await;
    let carol = login(c, "carol", "gemini", false).await;
    let root = login(c, "root", "admin", true).await;
    let session_id = new_session(c, &alice, "Matrix of visibilities").await;
    let mut ids = Vec::new();
    for vis in VISIBILITIES {
        let sender = if vis == "admin_only" { &root } else { &alice };
        let body = call(
            c,
            "add_message",
            json!({"session_id": session_id, "content": format!("{vis} note"), "visibility": vis, "auth_token": sender}),
        )
        .await
        .ok();
        ids.push(body["message_id"].as_i64().unwrap());
    }
    Cast {
        alice,
        bob,
        carol,
        session_id,
        ids,
    }
}

#[tokio::test]
async fn browser_ui_unauthenticated_visit_shows_sign_in_and_no_data() {
    let Some(ui) = Ui::start().await else { return };
    ui.browser.goto(&ui.url("#/ops")).await;
    ui.browser
        .wait_for(
            "the sign-in form",
            "return document.getElementById('secret')",
            json!([]),
            WAIT,
        )
        .await;
    // The data endpoints refuse a browser without a sign-in.
    let statuses = ui
        .browser
        .wait_for(
            "fetches to finish",
            "if (!window.__probe) { window.__probe = Promise.all(['/ui/api/sessions', '/ui/api/operations', '/ui/api/audit', '/ui/api/me'].map(p => fetch(p).then(r => r.status))).then(s => window.__statuses = s); } return window.__statuses",
            json!([]),
            WAIT,
        )
        .await;
    assert_eq!(statuses, json!([401, 401, 401, 401]));
    ui.screenshot("sign-in").await;
    // A wrong key is refused with a message, and the key is not left in the page.
    ui.browser.type_into("#secret", "not-the-key").await;
    ui.browser.click("#signin-submit").await;
    let error = ui
        .browser
        .wait_for(
            "the sign-in error",
            "return document.getElementById('signin-error').textContent",
            json!([]),
            WAIT,
        )
        .await;
    assert!(
        error.as_str().unwrap().contains("not the admin key"),
        "{error}"
    );
    let leftovers = ui
        .browser
        .js(
            "return document.documentElement.outerHTML.includes('not-the-key') || location.href.includes('not-the-key') || localStorage.length + sessionStorage.length > 0 || document.cookie.length > 0",
            json!([]),
        )
        .await;
    assert_eq!(leftovers, json!(false));
    ui.finish().await;
}

#[tokio::test]
async fn browser_ui_each_credential_sees_exactly_its_messages() {
    let Some(ui) = Ui::start().await else { return };
    let cast = cast(&ui).await;
    let visible = |allowed: &[&str]| -> Vec<i64> {
        let mut ids: Vec<i64> = VISIBILITIES
            .iter()
            .zip(&cast.ids)
            .filter(|(v, _)| allowed.contains(v))
            .map(|(_, id)| *id)
            .collect();
        ids.reverse(); // newest first
        ids
    };
    let readers: [(&str, &str, Vec<i64>); 5] = [
        ("admin key", ADMIN_KEY, visible(&VISIBILITIES)),
        ("API key", API_KEY, visible(&["public"])),
        (
            "sender's token",
            &cast.alice,
            visible(&["public", "private", "agent_only"]),
        ),
        (
            "same type's token",
            &cast.bob,
            visible(&["public", "agent_only"]),
        ),
        ("other type's token", &cast.carol, visible(&["public"])),
    ];
    for (who, secret, expected) in readers {
        ui.sign_in(secret).await;
        // The session list shows the session, with the number of messages this reader may read.
        let count = ui
            .browser
            .wait_for(
                "the session in the list",
                "const a = document.querySelector(`[data-session-id='${arguments[0]}'] .count b`); return a && a.textContent",
                json!([cast.session_id]),
                WAIT,
            )
            .await;
        assert_eq!(
            count,
            json!(expected.len().to_string()),
            "{who}: message count in the list"
        );
        ui.open_session(&cast.session_id).await;
        let shown: Vec<i64> = ui.shown_messages().await.iter().map(|m| m.0).collect();
        assert_eq!(shown, expected, "{who} sees the wrong messages");
        // Nothing else reached the page: not in the DOM, not in any JSON it can fetch.
        let fetched = ui
            .browser
            .wait_for(
                "the page's JSON",
                "const key = '__text' + arguments[1]; if (!window['__asked' + arguments[1]]) { window['__asked' + arguments[1]] = 1; Promise.all([fetch(`/ui/api/sessions/${arguments[0]}/messages?limit=200`).then(r => r.text()), fetch(`/ui/api/sessions/${arguments[0]}/search?q=note`).then(r => r.text())]).then(t => { window[key] = t.join('\\n') + document.documentElement.outerHTML; }); } return window[key]",
                json!([cast.session_id, who.replace(' ', "_").replace('\'', "")]),
                WAIT,
            )
            .await;
        let text = fetched.as_str().unwrap();
        for (vis, id) in VISIBILITIES.iter().zip(&cast.ids) {
            assert_eq!(
                text.contains(&format!("{vis} note")),
                expected.contains(id),
                "{who}: '{vis} note' in page or JSON"
            );
        }
        if who == "admin key" {
            ui.screenshot("session").await;
        }
        ui.sign_out().await;
    }
    ui.finish().await;
}

#[tokio::test]
async fn browser_ui_live_message_from_mcp_client_appears_without_reload() {
    let Some(ui) = Ui::start().await else { return };
    let cast = cast(&ui).await;
    ui.sign_in(API_KEY).await;
    ui.open_session(&cast.session_id).await;
    ui.browser
        .wait_for(
            "the live stream",
            "return document.getElementById('live').textContent === 'live'",
            json!([]),
            WAIT,
        )
        .await;
    ui.browser.js("window.__same_page = 1", json!([])).await;
    for (vis, content) in [
        ("private", "a secret live"),
        ("public", "hello, live world"),
    ] {
        call(
            &ui.client,
            "add_message",
            json!({"session_id": cast.session_id, "content": content, "visibility": vis, "auth_token": cast.alice}),
        )
        .await
        .ok();
    }
    ui.browser
        .wait_for(
            "the live message",
            "return [...document.querySelectorAll('#messages .content')].some(c => c.textContent === 'hello, live world')",
            json!([]),
            WAIT,
        )
        .await;
    let top = ui.shown_messages().await;
    assert_eq!(
        top[0].3, "hello, live world",
        "the newest message is on top"
    );
    assert!(
        top.iter().all(|m| m.1 == "public"),
        "the viewer's stream carried a non-public message: {top:?}"
    );
    assert_eq!(
        ui.browser.js("return window.__same_page", json!([])).await,
        json!(1),
        "the page reloaded"
    );
    ui.finish().await;
}

#[tokio::test]
async fn browser_ui_message_content_renders_as_text() {
    let Some(ui) = Ui::start().await else { return };
    let cast = cast(&ui).await;
    call(
        &ui.client,
        "add_message",
        json!({"session_id": cast.session_id, "content": XSS, "metadata": {"note": XSS}, "auth_token": cast.alice}),
    )
    .await
    .ok();
    ui.sign_in(ADMIN_KEY).await;
    ui.open_session(&cast.session_id).await;
    let shown = ui.shown_messages().await;
    assert_eq!(shown[0].3, XSS, "the content is shown as the text it is");
    // Live too: the same content over the event stream.
    call(
        &ui.client,
        "add_message",
        json!({"session_id": cast.session_id, "content": format!("live {XSS}"), "auth_token": cast.alice}),
    )
    .await
    .ok();
    ui.browser
        .wait_for(
            "the live copy",
            "return [...document.querySelectorAll('#messages .content')].some(c => c.textContent.startsWith('live <img'))",
            json!([]),
            WAIT,
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let probe = ui
        .browser
        .js(
            "return [typeof window.__xss, document.querySelectorAll('#messages img').length]",
            json!([]),
        )
        .await;
    assert_eq!(probe, json!(["undefined", 0]));
    ui.finish().await;
}

#[tokio::test]
async fn browser_ui_human_overseer_posts_and_closes() {
    let Some(ui) = Ui::start().await else { return };
    let cast = cast(&ui).await;
    ui.sign_in(ADMIN_KEY).await;
    ui.open_session(&cast.session_id).await;
    ui.browser
        .js(
            "document.getElementById('overseer-name').value = ''",
            json!([]),
        )
        .await;
    ui.browser.type_into("#overseer-name", "Ada").await;
    ui.browser
        .type_into("#overseer-text", "Please summarise before you stop.")
        .await;
    ui.browser.click("#overseer-send").await;
    ui.browser
        .wait_for(
            "the human's message",
            "const a = document.querySelector('#messages article[data-sender-type=human]'); return a && a.querySelector('.sender').textContent === 'Ada'",
            json!([]),
            WAIT,
        )
        .await;
    // An agent reading the session can tell the person's message from an agent's.
    let page = call(
        &ui.client,
        "get_messages",
        json!({"session_id": cast.session_id, "auth_token": cast.bob}),
    )
    .await
    .ok();
    let last = page["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["sender"].as_str(), last["sender_type"].as_str()),
        (Some("Ada"), Some("human"))
    );
    ui.screenshot("overseer").await;
    // Closing, confirmed in the dialog.
    ui.browser
        .js("window.confirm = () => true", json!([]))
        .await;
    ui.browser.click("#close-session").await;
    ui.browser
        .wait_for(
            "the closed badge",
            "return [...document.querySelectorAll('.badge.closed')].length > 0 && !document.getElementById('close-session')",
            json!([]),
            WAIT,
        )
        .await;
    // Both actions are in the audit log, under the person's name.
    ui.browser.goto(&ui.url("#/audit")).await;
    let events = ui
        .browser
        .wait_for(
            "the audit rows",
            "const rows = [...document.querySelectorAll('#audit-rows tr')].map(r => r.cells[1].textContent + ' ' + r.cells[2].textContent); return rows.length && rows",
            json!([]),
            WAIT,
        )
        .await;
    let events: Vec<String> = serde_json::from_value(events).unwrap();
    assert!(
        events.contains(&"human_message Ada".to_owned()),
        "{events:?}"
    );
    assert!(
        events.contains(&"session_closed Ada".to_owned()),
        "{events:?}"
    );
    ui.screenshot("audit").await;
    ui.finish().await;
}

#[tokio::test]
async fn browser_ui_main_pages_render_on_desktop_and_phone() {
    let Some(ui) = Ui::start().await else { return };
    crate::dashboard::demo_sessions(&ui.client).await;
    ui.sign_in(ADMIN_KEY).await;
    ui.browser
        .wait_for(
            "the session list",
            "return document.querySelectorAll('#session-list .srow').length >= 3",
            json!([]),
            WAIT,
        )
        .await;
    ui.screenshot("sessions").await;
    ui.browser.goto(&ui.url("#/ops")).await;
    ui.browser
        .wait_for(
            "the tool charts",
            "return document.querySelectorAll('#tool-charts .chart svg rect').length > 0",
            json!([]),
            WAIT,
        )
        .await;
    ui.screenshot("operations").await;
    let first = ui
        .browser
        .js(
            "return document.querySelector('#session-list .srow') === null",
            json!([]),
        )
        .await;
    assert_eq!(first, json!(true));
    ui.browser.set_size(390, 844).await;
    ui.browser.goto(&ui.url("#/")).await;
    let link = ui
        .browser
        .wait_for(
            "the session list on a phone",
            "const a = document.querySelector('#session-list .srow'); return a && a.getAttribute('href')",
            json!([]),
            WAIT,
        )
        .await;
    // Nothing wider than the screen.
    let overflow = ui
        .browser
        .js(
            "return document.documentElement.scrollWidth > window.innerWidth",
            json!([]),
        )
        .await;
    assert_eq!(
        overflow,
        json!(false),
        "the session list scrolls sideways on a phone"
    );
    ui.screenshot("phone-sessions").await;
    ui.browser.goto(&ui.url(link.as_str().unwrap())).await;
    ui.browser
        .wait_for(
            "a session on a phone",
            "return document.querySelectorAll('#messages article').length > 0",
            json!([]),
            WAIT,
        )
        .await;
    ui.screenshot("phone-session").await;
    ui.finish().await;
}

#[tokio::test]
async fn browser_ui_direct_message_is_marked_with_its_recipients() {
    let Some(ui) = Ui::start().await else { return };
    let c = &ui.client;
    let alice = login(c, "alice", "claude", false).await;
    let bob = login(c, "bob", "claude", false).await;
    let carol = login(c, "carol", "claude", false).await;
    let sid = new_session(c, &alice, "Direct").await;
    let id = call(c, "add_message", json!({"session_id": sid, "content": "bob: the parser is yours", "to": ["bob"], "auth_token": alice}))
        .await
        .ok()["message_id"]
        .as_i64()
        .unwrap();
    ui.sign_in(&bob).await;
    ui.open_session(&sid).await;
    let shown = ui.shown_messages().await;
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!((shown[0].0, shown[0].1.as_str()), (id, "direct"));
    let badges = ui
        .browser
        .js(
            "return [...document.querySelectorAll('#messages article .badge')].map(b => b.textContent)",
            json!([]),
        )
        .await;
    let badges: Vec<String> = serde_json::from_value(badges).unwrap();
    assert!(
        badges.iter().any(|b| b == "direct") && badges.iter().any(|b| b == "to bob"),
        "a direct message shows 'direct' and 'to bob': {badges:?}"
    );
    ui.sign_out().await;
    ui.sign_in(&carol).await;
    ui.open_session(&sid).await;
    assert!(ui.shown_messages().await.is_empty(), "carol reads nothing");
    ui.finish().await;
}
