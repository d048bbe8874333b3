//! `shared-context-server inbox` against a running server: prints new direct messages once,
//! advances its cursor file, waits with `--wait`, prints JSON with `--json`; and the Claude Code
//! Stop hook script built on it.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

fn inbox_cmd(url: &str, token: &str, extra: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.arg("inbox")
        .args(["--url", url, "--token", token])
        .args(extra)
        .env_remove("API_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

async fn run(cmd: &mut tokio::process::Command) -> String {
    let out = cmd.output().await.expect("run inbox");
    assert!(
        out.status.success(),
        "inbox failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn inbox_command_prints_new_direct_messages_once() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = HttpServer::start(&db, &[]).await;
    let c = server.client().await;
    let alice = login(&c, "alice", "claude", false).await;
    let bob = login(&c, "bob", "claude", false).await;
    let sid = new_session(&c, &alice, "cli").await;
    call(&c, "add_message", json!({"session_id": sid, "content": "please review #12", "to": ["bob"], "auth_token": alice})).await.ok();
    let url = server.mcp_url();
    let dir = temp_dir();
    let cursor = dir.join("bob.cursor");
    let cursor_arg = cursor.to_str().unwrap();

    let first = run(&mut inbox_cmd(&url, &bob, &["--cursor-file", cursor_arg])).await;
    assert!(
        first.contains("please review #12") && first.contains("alice"),
        "{first}"
    );
    assert!(cursor.exists());
    let second = run(&mut inbox_cmd(&url, &bob, &["--cursor-file", cursor_arg])).await;
    assert_eq!(second, "", "a message was printed twice");
    // --after reads from any cursor and leaves the file alone.
    let again = run(&mut inbox_cmd(&url, &bob, &["--after", "0", "--json"])).await;
    let page: Value = serde_json::from_str(again.trim()).unwrap();
    assert_eq!(page["messages"][0]["content"], json!("please review #12"));

    // --wait returns as soon as a message arrives.
    let mut waiting = inbox_cmd(&url, &bob, &["--cursor-file", cursor_arg, "--wait", "20"]);
    let started = Instant::now();
    let child = waiting.spawn().unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    call(
        &c,
        "add_message",
        json!({"session_id": sid, "content": "ping", "to": ["bob"], "auth_token": alice}),
    )
    .await
    .ok();
    let out = child.wait_with_output().await.unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("ping"));
    assert!(started.elapsed() < Duration::from_secs(10));

    // The Claude Code Stop hook: new mail blocks the stop (exit 2, messages on stderr) once.
    call(
        &c,
        "add_message",
        json!({"session_id": sid, "content": "one more thing", "to": ["bob"], "auth_token": alice}),
    )
    .await
    .ok();
    let hook = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/hooks/claude-code/inbox-stop-hook.sh"
    );
    let path = format!(
        "{}:{}",
        std::path::Path::new(BIN).parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run_hook = |stdin: &'static str| {
        let mut cmd = tokio::process::Command::new("bash");
        cmd.arg(hook)
            .env("PATH", &path)
            .env("SCS_URL", &url)
            .env("SCS_TOKEN", &bob)
            .env("XDG_STATE_HOME", &dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        async move {
            use tokio::io::AsyncWriteExt;
            let mut child = cmd.spawn().unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(stdin.as_bytes())
                .await
                .unwrap();
            child.wait_with_output().await.unwrap()
        }
    };
    let blocked = run_hook(r#"{"stop_hook_active": false}"#).await;
    assert_eq!(blocked.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&blocked.stderr).contains("one more thing"));
    let quiet = run_hook(r#"{"stop_hook_active": false}"#).await;
    assert_eq!(quiet.status.code(), Some(0), "nothing new: Claude may stop");
    call(
        &c,
        "add_message",
        json!({"session_id": sid, "content": "loop?", "to": ["bob"], "auth_token": alice}),
    )
    .await
    .ok();
    let looping = run_hook(r#"{"stop_hook_active": true}"#).await;
    assert_eq!(
        looping.status.code(),
        Some(0),
        "a stop the hook already blocked is let through"
    );
}
