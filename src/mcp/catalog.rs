//! The tool catalogue: for every tool of the contract (built or still to come) its group, its
//! short title and its behaviour hints. Profiles list tools by group; `tools/list` carries the
//! titles and the MCP annotations from here, so a new tool is one row here, plus its typed
//! result: `output_schema = output::schema::<MyResult>()` on its `#[tool]` (src/mcp/output.rs
//! says how; tests/it/output_schema.rs fails until the new tool is called there).

use rmcp::model::ToolAnnotations;

/// A group of tools chosen together with `SCS_TOOLS` / `--tools`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// Identity, sessions and messages: what every agent needs.
    Core,
    /// Finding messages by text, sender or time.
    Search,
    /// The agent's own key/value memory.
    Memory,
    /// Agents addressing each other: inbox, receipts, ask (coordination contract).
    Messaging,
    /// Leases and tasks (coordination contract).
    Coordination,
    /// Operators and help: health, metrics, token revocation, guidance.
    Admin,
}

impl Group {
    pub const ALL: [Group; 6] = [
        Group::Core,
        Group::Search,
        Group::Memory,
        Group::Messaging,
        Group::Coordination,
        Group::Admin,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Group::Core => "core",
            Group::Search => "search",
            Group::Memory => "memory",
            Group::Messaging => "messaging",
            Group::Coordination => "coordination",
            Group::Admin => "admin",
        }
    }

    pub fn parse(name: &str) -> Option<Group> {
        Group::ALL.into_iter().find(|g| g.name() == name)
    }

    pub(crate) const fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// What calling a tool does, as the MCP annotations describe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Changes nothing.
    Read,
    /// Adds something new; calling twice adds twice (unless an idempotency_key is given).
    Add,
    /// Replaces or removes state; calling twice with the same arguments has no further effect.
    Replace,
    /// Replaces state, and a second identical call is refused or changes it again.
    ReplaceOnce,
}

/// One tool of the contract.
#[derive(Debug, Clone, Copy)]
pub struct ToolInfo {
    pub name: &'static str,
    pub group: Group,
    pub title: &'static str,
    pub effect: Effect,
    /// One of the Python server's 14 tools (the `compat` profile).
    pub upstream: bool,
}

const fn tool(
    name: &'static str,
    group: Group,
    title: &'static str,
    effect: Effect,
    upstream: bool,
) -> ToolInfo {
    ToolInfo {
        name,
        group,
        title,
        effect,
        upstream,
    }
}

use Effect::{Add, Read, Replace, ReplaceOnce};
use Group::{Admin, Coordination, Core, Memory, Messaging, Search};

/// Every tool, built or in the coordination contract (`design/coordination-api.md`) and not yet
/// built. The token-budget test adds an allowance for each tool listed here but not served.
pub const CATALOG: &[ToolInfo] = &[
    tool("authenticate_agent", Core, "Log in", Add, true),
    tool("refresh_token", Core, "Refresh token", ReplaceOnce, true),
    tool("create_session", Core, "Create session", Add, true),
    tool("get_session", Core, "Read session", Read, true),
    tool("list_sessions", Core, "List sessions", Read, false),
    tool("close_session", Core, "Close session", Replace, false),
    tool("add_message", Core, "Post message", Add, true),
    tool("get_messages", Core, "Read messages", Read, true),
    tool("wait_for_messages", Core, "Wait for messages", Read, false),
    tool("search_context", Search, "Search messages", Read, true),
    tool("search_by_sender", Search, "Messages by sender", Read, true),
    tool(
        "search_by_timerange",
        Search,
        "Messages by time",
        Read,
        true,
    ),
    tool("set_memory", Memory, "Store memory", Replace, true),
    tool("get_memory", Memory, "Read memory", Read, true),
    tool("list_memory", Memory, "List memory keys", Read, true),
    tool("delete_memory", Memory, "Delete memory", Replace, false),
    tool("list_agents", Messaging, "List agents", Read, false),
    tool("get_inbox", Messaging, "Read inbox", Read, false),
    tool(
        "ack_messages",
        Messaging,
        "Acknowledge messages",
        Replace,
        false,
    ),
    tool("get_receipts", Messaging, "Read receipts", Read, false),
    tool("ask", Messaging, "Ask and wait", Add, false),
    tool("acquire_lease", Coordination, "Acquire lease", Add, false),
    tool(
        "release_lease",
        Coordination,
        "Release lease",
        Replace,
        false,
    ),
    tool("check_leases", Coordination, "Check leases", Read, false),
    tool("create_task", Coordination, "Create task", Add, false),
    tool("claim_task", Coordination, "Claim task", ReplaceOnce, false),
    tool(
        "update_task",
        Coordination,
        "Update task",
        ReplaceOnce,
        false,
    ),
    tool("list_tasks", Coordination, "List tasks", Read, false),
    tool("health", Admin, "Health", Read, false),
    tool(
        "get_performance_metrics",
        Admin,
        "Server metrics",
        Read,
        true,
    ),
    tool("revoke_token", Admin, "Revoke token", Replace, false),
    tool("get_usage_guidance", Admin, "Usage guide", Read, true),
];

pub fn info(name: &str) -> Option<&'static ToolInfo> {
    CATALOG.iter().find(|t| t.name == name)
}

impl ToolInfo {
    /// The MCP annotations: every tool is closed-world (it touches only this server's data).
    pub fn annotations(&self) -> ToolAnnotations {
        let (read_only, destructive, idempotent) = match self.effect {
            Effect::Read => (true, false, true),
            Effect::Add => (false, false, false),
            Effect::Replace => (false, true, true),
            Effect::ReplaceOnce => (false, true, false),
        };
        ToolAnnotations::with_title(self.title)
            .read_only(read_only)
            .destructive(destructive)
            .idempotent(idempotent)
            .open_world(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_compat_is_the_upstream_fourteen() {
        let mut names: Vec<_> = CATALOG.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CATALOG.len());
        assert_eq!(CATALOG.iter().filter(|t| t.upstream).count(), 14);
    }

    #[test]
    fn group_names_round_trip() {
        for g in Group::ALL {
            assert_eq!(Group::parse(g.name()), Some(g));
        }
        assert_eq!(Group::parse("nope"), None);
    }
}
