//! `shared-context-server inbox`: prints the direct messages that arrived for an agent since the
//! last run (or since `--after`), then exits, for hooks that surface them to an idle client
//! (`examples/hooks/`). The cursor lives in a local file per agent, written only after the
//! messages were printed, so a crash prints a message twice rather than never.

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

mod mcp_client;

use mcp_client::Client;

#[derive(Debug, clap::Args)]
pub struct InboxArgs {
    /// The server's MCP endpoint.
    #[arg(long, env = "SCS_URL", default_value = "http://127.0.0.1:23456/mcp")]
    pub url: String,
    /// The agent's token (from authenticate_agent).
    #[arg(long, env = "SCS_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The server API key, when the server asks for one besides the token.
    #[arg(long, env = "API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Wait up to this many seconds for a message when there is none (server-capped).
    #[arg(long, default_value_t = 0.0)]
    pub wait: f64,
    /// Print the get_inbox result as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Read after this cursor and keep no cursor file.
    #[arg(long)]
    pub after: Option<String>,
    /// Where the cursor is kept (default: one file per agent under the state directory).
    #[arg(long)]
    pub cursor_file: Option<PathBuf>,
    /// At most this many messages (1-200).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

fn state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("shared-context-server");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local/state/shared-context-server")
}

/// A file name from an agent id: safe characters kept, the rest replaced.
fn cursor_file_for(agent_id: &str) -> PathBuf {
    let safe: String = agent_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    state_dir().join(format!("inbox-{safe}.cursor"))
}

async fn call(client: &mut Client, tool: &str, args: Value) -> anyhow::Result<Value> {
    let Value::Object(args) = args else {
        bail!("arguments must be an object")
    };
    let reply = client
        .call_tool(tool, args)
        .await
        .with_context(|| format!("{tool} failed"))?;
    let body = reply.structured;
    if reply.is_error {
        bail!(
            "{tool} failed: {} {}",
            body["code"].as_str().unwrap_or("?"),
            body["error"].as_str().unwrap_or("")
        );
    }
    Ok(body)
}

pub async fn run(args: InboxArgs) -> anyhow::Result<()> {
    let mut client = Client::connect(&args.url, args.api_key.as_deref(), &args.token).await?;
    let cursor_file = match (&args.after, &args.cursor_file) {
        (Some(_), None) => None,
        (_, Some(path)) => Some(path.clone()),
        (None, None) => {
            let me = call(&mut client, "get_usage_guidance", json!({})).await?;
            let agent = me["agent_info"]["agent_id"]
                .as_str()
                .context("the token names no agent (is it a valid, unexpired token?)")?
                .to_owned();
            Some(cursor_file_for(&agent))
        }
    };
    let after = match (&args.after, &cursor_file) {
        (Some(a), _) => a.clone(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "0".into()),
        (None, None) => "0".into(),
    };
    let mut request = Map::new();
    request.insert("after_cursor".into(), after.into());
    request.insert("limit".into(), args.limit.into());
    request.insert("wait_seconds".into(), args.wait.into());
    let page = call(&mut client, "get_inbox", Value::Object(request)).await?;
    if args.json {
        println!("{page}");
    } else {
        for m in page["messages"].as_array().into_iter().flatten() {
            println!(
                "[{} #{}] {} -> {}: {}",
                m["session_id"].as_str().unwrap_or(""),
                m["id"],
                m["sender"].as_str().unwrap_or(""),
                m["to"],
                m["content"].as_str().unwrap_or("")
            );
        }
    }
    if let (Some(path), Some(next)) = (cursor_file, page["next_cursor"].as_str()) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        // Written whole then renamed, so a crash leaves the old cursor or the new one.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, next).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    }
    client.close().await;
    Ok(())
}
