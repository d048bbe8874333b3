//! `client-config`: MCP client configuration for each supported client, serialized with serde_json
//! and toml (so it is always valid), printed alone on stdout so it can be redirected into the
//! client's file; where it goes and what to do next is a hint for stderr. The key is pasted, or
//! (`--env-ref`) referenced through an environment variable in the client's own syntax.

use serde_json::{Value, json};

/// The clients `client-config` writes for (the command line's `CLIENT` argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientKind {
    Claude,
    Cursor,
    Vscode,
    Codex,
    Gemini,
    Generic,
}

/// The name MCP clients know this server by.
pub const SERVER_NAME: &str = "shared-context";
/// The environment variable `--env-ref` points clients at when no name is given.
pub const DEFAULT_KEY_VAR: &str = "SCS_API_KEY";
const KEY_HEADER: &str = "X-API-Key";
/// The header an HTTP client chooses its tool profile with (`mcp::profile`).
const TOOLS_HEADER: &str = "X-SCS-Tools";

/// How the API key appears in the snippet.
#[derive(Debug, Clone)]
pub enum KeySource<'a> {
    /// The key itself (files holding it must not be committed).
    Inline(&'a str),
    /// The name of an environment variable the client reads when it connects.
    EnvVar(&'a str),
}

/// Everything a snippet may mention.
pub struct Endpoint<'a> {
    pub url: &'a str,
    pub key: KeySource<'a>,
    pub binary: &'a str,
    /// `--database-url` for the stdio form, so a spawned server uses this database whatever
    /// `DATABASE_URL` the client's environment carries. `None`: not pinned (see `pinnable`).
    pub database_url: Option<&'a str>,
    /// A tool profile chosen with `--tools` / `SCS_TOOLS`: a flag for a spawned server, the
    /// `X-SCS-Tools` header for an HTTP one (each client gets its own profile).
    pub tools: Option<&'a str>,
}

/// The snippet (for stdout) and the hint (for stderr).
pub struct Snippet {
    pub text: String,
    pub hint: String,
}

/// The URL a client on this machine reaches a server listening on `host:port` with: a wildcard
/// address (`0.0.0.0`, `::`) is not a destination, so it becomes loopback (which the default
/// `ALLOWED_HOSTS` admits).
pub fn reachable_url(host: &str, port: u16) -> String {
    let host = match host {
        "0.0.0.0" | "" => "127.0.0.1",
        "::" | "[::]" => "[::1]",
        h if h.contains(':') && !h.starts_with('[') => return format!("http://[{h}]:{port}/mcp"),
        h => h,
    };
    format!("http://{host}:{port}/mcp")
}

/// A database URL may be written into a client's file unless it holds a password.
pub fn pinnable(database_url: &str) -> bool {
    crate::util::url::mask_url(database_url) == database_url
}

/// `client-config`: the snippet on stdout, the hint on stderr.
pub fn print(
    config: &crate::config::Config,
    client: ClientKind,
    stdio: bool,
    env_ref: Option<&str>,
    tools: Option<&str>,
) -> anyhow::Result<()> {
    if let Some(var) = env_ref {
        let valid = var.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            anyhow::bail!(
                "--env-ref '{var}' is not an environment variable name; use letters, digits and _, e.g. --env-ref {DEFAULT_KEY_VAR}"
            );
        }
    }
    let url = reachable_url(&config.host, config.port);
    let binary = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "shared-context-server".into());
    let endpoint = Endpoint {
        url: &url,
        key: match env_ref {
            Some(var) => KeySource::EnvVar(var),
            None => KeySource::Inline(&config.keys.agent),
        },
        binary: &binary,
        database_url: pinnable(&config.database_url).then_some(config.database_url.as_str()),
        tools,
    };
    let out = snippet(client, stdio, &endpoint);
    println!("{}", out.text);
    eprintln!("{}", out.hint);
    Ok(())
}

pub fn snippet(client: ClientKind, stdio: bool, e: &Endpoint<'_>) -> Snippet {
    if stdio {
        stdio_snippet(client, e)
    } else {
        http_snippet(client, e)
    }
}

fn stdio_args(e: &Endpoint<'_>) -> Vec<String> {
    let mut args = vec!["--transport".to_owned(), "stdio".to_owned()];
    if let Some(url) = e.database_url {
        args.extend(["--database-url".to_owned(), url.to_owned()]);
    }
    if let Some(tools) = e.tools {
        args.extend(["--tools".to_owned(), tools.to_owned()]);
    }
    args
}

fn stdio_snippet(client: ClientKind, e: &Endpoint<'_>) -> Snippet {
    let args = stdio_args(e);
    let pinned = if e.database_url.is_some() {
        "The database is pinned with --database-url, so the client's DATABASE_URL cannot redirect it."
    } else {
        "The database URL holds a password, so it is not written here: give the spawned server DATABASE_URL in the client's env settings."
    };
    let (text, place) = match client {
        ClientKind::Claude => {
            let mut words = vec![
                "claude".to_owned(),
                "mcp".to_owned(),
                "add".to_owned(),
                SERVER_NAME.to_owned(),
                "--".to_owned(),
                e.binary.to_owned(),
            ];
            words.extend(args);
            (shell_command(&words), "Run this command.")
        }
        ClientKind::Codex => {
            let table = toml_server(json!({"command": e.binary, "args": args}));
            (table, "Add this to ~/.codex/config.toml.")
        }
        ClientKind::Vscode => (
            pretty(
                &json!({"servers": {SERVER_NAME: {"type": "stdio", "command": e.binary, "args": args}}}),
            ),
            "Save this as .vscode/mcp.json (or merge its \"servers\" entry).",
        ),
        ClientKind::Cursor | ClientKind::Gemini | ClientKind::Generic => (
            pretty(&json!({"mcpServers": {SERVER_NAME: {"command": e.binary, "args": args}}})),
            file_place(client),
        ),
    };
    Snippet {
        text,
        hint: format!("{place} No key is needed over stdio. {pinned}"),
    }
}

fn http_snippet(client: ClientKind, e: &Endpoint<'_>) -> Snippet {
    let url = e.url;
    // The header value each client expands to the key.
    let header = |syntax: fn(&str) -> String| match &e.key {
        KeySource::Inline(key) => (*key).to_owned(),
        KeySource::EnvVar(var) => syntax(var),
    };
    let key_hint = match &e.key {
        KeySource::Inline(_) => {
            "It contains the API key: keep the file out of version control, or use --env-ref."
                .to_owned()
        }
        KeySource::EnvVar(var) => {
            format!(
                "It reads the key from ${var} when the client starts: export {var}=<the API key> in the client's environment."
            )
        }
    };
    // The key header plus, with a profile, the tools header.
    let headers = |key: Value| {
        let mut headers = json!({KEY_HEADER: key});
        if let Some(tools) = e.tools {
            headers[TOOLS_HEADER] = json!(tools);
        }
        headers
    };
    let tools_header = e.tools.map(|t| json!({TOOLS_HEADER: t}));
    let (text, place) = match client {
        ClientKind::Claude => {
            let mut words: Vec<String> = [
                "claude",
                "mcp",
                "add",
                "--transport",
                "http",
                SERVER_NAME,
                url,
                "--header",
                &format!("{KEY_HEADER}: {}", header(|v| format!("${{{v}}}"))),
            ]
            .map(str::to_owned)
            .into();
            if let Some(tools) = e.tools {
                words.extend(["--header".to_owned(), format!("{TOOLS_HEADER}: {tools}")]);
            }
            (shell_command(&words), "Run this command.")
        }
        ClientKind::Codex => {
            let server = match &e.key {
                KeySource::Inline(key) => json!({"url": url, "http_headers": headers(json!(key))}),
                KeySource::EnvVar(var) => {
                    let server = json!({"url": url, "env_http_headers": {KEY_HEADER: var}});
                    match &tools_header {
                        Some(h) => merge(server, json!({"http_headers": h})),
                        None => server,
                    }
                }
            };
            (toml_server(server), "Add this to ~/.codex/config.toml.")
        }
        ClientKind::Gemini => (
            pretty(
                &json!({"mcpServers": {SERVER_NAME: {"httpUrl": url, "headers": headers(json!(header(|v| format!("${v}"))))}}}),
            ),
            file_place(client),
        ),
        ClientKind::Cursor => (
            pretty(
                &json!({"mcpServers": {SERVER_NAME: {"url": url, "headers": headers(json!(header(|v| format!("${{env:{v}}}"))))}}}),
            ),
            file_place(client),
        ),
        ClientKind::Generic => (
            pretty(
                &json!({"mcpServers": {SERVER_NAME: {"type": "http", "url": url, "headers": headers(json!(header(|v| format!("${{{v}}}"))))}}}),
            ),
            file_place(client),
        ),
        ClientKind::Vscode => {
            let server = json!({"type": "http", "url": url});
            let doc = match &e.key {
                KeySource::Inline(key) => {
                    json!({"servers": {SERVER_NAME: merge(server, json!({"headers": headers(json!(key))}))}})
                }
                // VS Code has no environment expansion in headers; an input asks once and keeps
                // the key in VS Code's secret storage.
                KeySource::EnvVar(_) => json!({
                    "inputs": [{"type": "promptString", "id": "scs-api-key", "description": "shared-context-server API key", "password": true}],
                    "servers": {SERVER_NAME: merge(server, json!({"headers": headers(json!("${input:scs-api-key}"))}))},
                }),
            };
            (
                pretty(&doc),
                "Save this as .vscode/mcp.json (or merge its \"servers\" entry).",
            )
        }
    };
    let key_hint = match (client, &e.key) {
        (ClientKind::Vscode, KeySource::EnvVar(_)) => {
            "VS Code asks for the key once and keeps it in its secret storage.".to_owned()
        }
        _ => key_hint,
    };
    Snippet {
        text,
        hint: format!("{place} {key_hint}"),
    }
}

fn file_place(client: ClientKind) -> &'static str {
    match client {
        ClientKind::Cursor => {
            "Save this as ~/.cursor/mcp.json (or merge its \"mcpServers\" entry)."
        }
        ClientKind::Gemini => "Merge this into ~/.gemini/settings.json (its \"mcpServers\" entry).",
        _ => "Merge this into your client's MCP configuration.",
    }
}

fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON values always serialize")
}

/// `[mcp_servers.shared-context]` with the given fields, as TOML.
fn toml_server(server: Value) -> String {
    let doc = json!({"mcp_servers": {SERVER_NAME: server}});
    toml::to_string(&doc).expect("JSON objects of strings serialize as TOML")
}

/// Words joined into a POSIX shell command, each quoted when it needs to be. Single quotes keep
/// `${VAR}` literal, so the client (not the shell that runs the command) expands it.
fn shell_command(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            let plain = !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+".contains(&b));
            if plain {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_addresses_become_loopback() {
        assert_eq!(reachable_url("0.0.0.0", 80), "http://127.0.0.1:80/mcp");
        assert_eq!(reachable_url("::", 80), "http://[::1]:80/mcp");
        assert_eq!(reachable_url("::1", 80), "http://[::1]:80/mcp");
        assert_eq!(reachable_url("10.0.0.5", 80), "http://10.0.0.5:80/mcp");
    }

    #[test]
    fn shell_quoting() {
        let words = [
            "a".to_owned(),
            "X-API-Key: ${K}".to_owned(),
            "it's".to_owned(),
        ];
        assert_eq!(shell_command(&words), "a 'X-API-Key: ${K}' 'it'\\''s'");
    }
}
