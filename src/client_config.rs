//! `client-config`: ready-to-paste MCP client configuration for each supported client.

use crate::cli::ClientKind;

/// Everything a snippet may mention.
pub struct Endpoint<'a> {
    pub url: &'a str,
    pub api_key: &'a str,
    pub binary: &'a str,
}

pub fn snippet(client: ClientKind, stdio: bool, e: &Endpoint<'_>) -> String {
    let Endpoint {
        url,
        api_key,
        binary,
    } = e;
    if stdio {
        return match client {
            ClientKind::Claude => {
                format!("claude mcp add shared-context -- {binary} --transport stdio")
            }
            ClientKind::Codex => format!(
                "# ~/.codex/config.toml\n[mcp_servers.shared-context]\ncommand = \"{binary}\"\nargs = [\"--transport\", \"stdio\"]"
            ),
            ClientKind::Gemini | ClientKind::Cursor | ClientKind::Generic => format!(
                "{{\n  \"mcpServers\": {{\n    \"shared-context\": {{\n      \"command\": \"{binary}\",\n      \"args\": [\"--transport\", \"stdio\"]\n    }}\n  }}\n}}"
            ),
            ClientKind::Vscode => format!(
                "{{\n  \"servers\": {{\n    \"shared-context\": {{\n      \"type\": \"stdio\",\n      \"command\": \"{binary}\",\n      \"args\": [\"--transport\", \"stdio\"]\n    }}\n  }}\n}}"
            ),
        };
    }
    match client {
        ClientKind::Claude => format!(
            "claude mcp add --transport http shared-context {url} --header \"X-API-Key: {api_key}\""
        ),
        ClientKind::Codex => format!(
            "# ~/.codex/config.toml\n[mcp_servers.shared-context]\nurl = \"{url}\"\nhttp_headers = {{ \"X-API-Key\" = \"{api_key}\" }}"
        ),
        ClientKind::Gemini => format!(
            "# ~/.gemini/settings.json\n{{\n  \"mcpServers\": {{\n    \"shared-context\": {{\n      \"httpUrl\": \"{url}\",\n      \"headers\": {{ \"X-API-Key\": \"{api_key}\" }}\n    }}\n  }}\n}}"
        ),
        ClientKind::Cursor => format!(
            "# ~/.cursor/mcp.json\n{{\n  \"mcpServers\": {{\n    \"shared-context\": {{\n      \"url\": \"{url}\",\n      \"headers\": {{ \"X-API-Key\": \"{api_key}\" }}\n    }}\n  }}\n}}"
        ),
        ClientKind::Vscode => format!(
            "# .vscode/mcp.json\n{{\n  \"servers\": {{\n    \"shared-context\": {{\n      \"type\": \"http\",\n      \"url\": \"{url}\",\n      \"headers\": {{ \"X-API-Key\": \"{api_key}\" }}\n    }}\n  }}\n}}"
        ),
        ClientKind::Generic => format!(
            "{{\n  \"mcpServers\": {{\n    \"shared-context\": {{\n      \"type\": \"http\",\n      \"url\": \"{url}\",\n      \"headers\": {{ \"X-API-Key\": \"{api_key}\" }}\n    }}\n  }}\n}}"
        ),
    }
}
