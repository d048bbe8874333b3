//! Command-line extras through the real binary: shell completions and the man page, and boolean
//! environment values (`1`, `yes`, `on`, …) for `MCP_STATELESS`.

use std::process::{Command, Stdio};

use serde_json::json;

use crate::support::{API_KEY, BIN, Backend, HttpServer, TestDb};

fn output(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn completions_and_man_page() {
    let bash = output(&["completions", "bash"]);
    assert!(bash.status.success());
    let script = String::from_utf8(bash.stdout).unwrap();
    assert!(script.contains("client-config") && script.contains("healthcheck"));
    // bash itself accepts the script.
    let mut check = Command::new("bash")
        .arg("-n")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    check
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(
        check.wait().unwrap().success(),
        "bash -n rejects the completion script"
    );
    let zsh = String::from_utf8(output(&["completions", "zsh"]).stdout).unwrap();
    assert!(zsh.starts_with("#compdef shared-context-server"));
    let fish = String::from_utf8(output(&["completions", "fish"]).stdout).unwrap();
    assert!(fish.contains("complete -c shared-context-server"));
    let bad = output(&["completions", "tcsh"]);
    assert!(!bad.status.success());

    let man = String::from_utf8(output(&["man"]).stdout).unwrap();
    assert!(
        man.contains(".TH shared-context-server 1"),
        "{}",
        &man[..200.min(man.len())]
    );
    assert!(man.contains("client\\-config") || man.contains("client-config"));
}

/// Whether a server started with `MCP_STATELESS=value` answers `initialize` without an MCP session.
async fn stateless_with(db: &TestDb, value: &str) -> bool {
    let server = HttpServer::start(db, &[("MCP_STATELESS", value)]).await;
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let resp = reqwest::Client::new()
        .post(server.mcp_url())
        .header("x-api-key", API_KEY)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(init.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    !resp.headers().contains_key("mcp-session-id")
}

#[tokio::test]
async fn boolean_settings_accept_the_usual_spellings() {
    let db = TestDb::new(Backend::Sqlite).await;
    for value in ["1", "true", "yes", "on", "TRUE"] {
        assert!(stateless_with(&db, value).await, "MCP_STATELESS={value}");
    }
    for value in ["0", "false", "no", "off"] {
        assert!(!stateless_with(&db, value).await, "MCP_STATELESS={value}");
    }
    let out = Command::new(BIN)
        .args(["migrate"])
        .envs(crate::support::server_env(&db))
        .env("MCP_STATELESS", "maybe")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("MCP_STATELESS")
            || String::from_utf8_lossy(&out.stderr).contains("maybe")
    );
}
