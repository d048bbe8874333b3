//! `client-config` through the real binary: every client, both transports, pasted key or
//! `--env-ref`, parsed with a real JSON or TOML parser (the `claude` command by a real shell);
//! and the first-run notice: a URL that answers, the key only on a terminal.

use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::support::{API_KEY, BIN, Backend, TestDb, server_env, temp_dir};

const CLIENTS: [&str; 6] = ["claude", "cursor", "vscode", "codex", "gemini", "generic"];

fn client_config(env: &[(String, String)], args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("client-config")
        .args(args)
        .env_remove("MCP_TRANSPORT")
        .envs(env.iter().cloned())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The words of a `claude mcp add …` command, as sh splits them (printf prints one per line).
fn shell_words(command: &str) -> Vec<String> {
    let rest = command.strip_prefix("claude ").expect("a claude command");
    let out = Command::new("sh")
        .args(["-c", &format!("printf '%s\\n' {rest}")])
        .env_remove("SCS_API_KEY")
        .output()
        .unwrap();
    assert!(out.status.success(), "sh cannot parse: {command}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The key (or key reference) and the URL or command of the one server entry in a snippet.
fn parse(client: &str, text: &str) -> Value {
    match client {
        "claude" => Value::from(shell_words(text.trim())),
        "codex" => {
            let doc: toml::Table =
                toml::from_str(text).unwrap_or_else(|e| panic!("TOML: {e}\n{text}"));
            serde_json::to_value(&doc["mcp_servers"]["shared-context"]).unwrap()
        }
        _ => {
            let doc: Value =
                serde_json::from_str(text).unwrap_or_else(|e| panic!("{client} JSON: {e}\n{text}"));
            let servers = if client == "vscode" {
                &doc["servers"]
            } else {
                &doc["mcpServers"]
            };
            let mut entry = servers["shared-context"].clone();
            if client == "vscode" {
                entry["inputs"] = doc["inputs"].clone();
            }
            entry
        }
    }
}

#[tokio::test]
async fn every_snippet_parses_and_honours_transport_and_env_ref() {
    let db = TestDb::new(Backend::Sqlite).await;
    let env = server_env(&db);
    for client in CLIENTS {
        // HTTP with the key pasted.
        let out = client_config(&env, &[client]);
        assert!(
            out.status.success(),
            "{client}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            !text.trim_start().starts_with('#'),
            "{client}: comment on stdout"
        );
        let entry = parse(client, &text);
        let flat = entry.to_string();
        assert!(flat.contains(API_KEY), "{client}: {flat}");
        assert!(flat.contains("http://127.0.0.1:"), "{client}: {flat}");
        let hint = String::from_utf8(out.stderr).unwrap();
        assert!(hint.contains("--env-ref"), "{client} hint: {hint}");

        // HTTP with the key referenced, in the client's own syntax.
        let out = client_config(&env, &[client, "--env-ref"]);
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(!text.contains(API_KEY), "{client} --env-ref pasted the key");
        let entry = parse(client, &text);
        match client {
            "claude" => assert!(
                entry
                    .as_array()
                    .unwrap()
                    .contains(&Value::from("X-API-Key: ${SCS_API_KEY}")),
                "{entry}"
            ),
            "cursor" => assert_eq!(entry["headers"]["X-API-Key"], "${env:SCS_API_KEY}"),
            "gemini" => assert_eq!(entry["headers"]["X-API-Key"], "$SCS_API_KEY"),
            "generic" => assert_eq!(entry["headers"]["X-API-Key"], "${SCS_API_KEY}"),
            "codex" => assert_eq!(entry["env_http_headers"]["X-API-Key"], "SCS_API_KEY"),
            "vscode" => {
                assert_eq!(entry["headers"]["X-API-Key"], "${input:scs-api-key}");
                assert_eq!(entry["inputs"][0]["id"], "scs-api-key");
                assert_eq!(entry["inputs"][0]["password"], true);
            }
            _ => unreachable!(),
        }
        let named = client_config(&env, &[client, "--env-ref", "MY_KEY"]);
        assert!(String::from_utf8(named.stdout).unwrap().contains("MY_KEY") || client == "vscode");

        // stdio, asked for with --transport (once printed the HTTP form) or --stdio: no key, and
        // the database pinned with --database-url.
        for args in [
            vec![client, "--transport", "stdio"],
            vec![client, "--stdio"],
        ] {
            let out = client_config(&env, &args);
            assert!(out.status.success(), "{args:?}");
            let text = String::from_utf8(out.stdout).unwrap();
            assert!(
                !text.contains(API_KEY) && !text.contains("http://"),
                "{args:?}: {text}"
            );
            let flat = parse(client, &text).to_string();
            assert!(flat.contains("stdio"), "{args:?}: {flat}");
            assert!(
                flat.contains("--database-url") && flat.contains(&db.url),
                "{args:?}: {flat}"
            );
        }
    }
    // A database URL with a password is never written into a client's file.
    let mut secret = env.clone();
    secret.push((
        "DATABASE_URL".into(),
        "postgres://u:hunter2@127.0.0.1:1/x".into(),
    ));
    let out = client_config(&secret, &["cursor", "--stdio"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text.contains("hunter2") && !text.contains("--database-url"),
        "{text}"
    );
    // A bad variable name is an error that prints nothing.
    let out = client_config(&env, &["cursor", "--env-ref", "not a name"]);
    assert!(!out.status.success() && out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--env-ref"));
}

/// First run with `--host 0.0.0.0` (the Docker default) and stderr not a terminal: the notice
/// names a URL that answers and the key file, never the key.
#[tokio::test]
async fn first_run_notice_names_a_working_url_and_hides_the_key_off_a_terminal() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let dir = temp_dir();
    let mut child = tokio::process::Command::new(BIN)
        .args(["--host", "0.0.0.0", "--port", "0"])
        .env_remove("API_KEY")
        .env_remove("ADMIN_API_KEY")
        .env_remove("DATABASE_URL")
        .env_remove("MCP_TRANSPORT")
        .env("SCS_DATA_DIR", &dir)
        .env("LOG_LEVEL", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.contains("admin key is in")) {
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .expect("notice in time")
            .unwrap()
            .unwrap_or_else(|| panic!("exited: {seen:?}"));
        seen.push(line);
    }
    let key = std::fs::read_to_string(dir.join("api_key")).unwrap();
    let text = seen.join("\n");
    assert!(
        !text.contains(key.trim()),
        "the key reached a non-terminal stderr:\n{text}"
    );
    assert!(
        text.contains(&dir.join("api_key").display().to_string()),
        "{text}"
    );
    let url = text
        .split_whitespace()
        .find(|w| w.starts_with("http://") && w.ends_with("/mcp") && !w.contains("0.0.0.0"))
        .unwrap_or_else(|| panic!("no usable URL in:\n{text}"))
        .to_owned();
    // The URL works: with the key, an MCP initialize succeeds (not 403 for the Host).
    let init = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let status = reqwest::Client::new()
        .post(&url)
        .header("x-api-key", key.trim())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(init.to_string())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200, "{url}");
    let _ = child.kill().await;
    let _ = std::fs::remove_dir_all(dir);
}
