//! `get_usage_guidance` content, generated from the live tool list and the caller's access level
//! so it cannot drift from what the server really offers.

use rmcp::model::Tool;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::domain::{DomainError, ErrorCode, Identity, Permission};

/// What a caller needs to use a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Anyone,
    Read,
    /// An authenticated agent (memory is per agent).
    Agent,
    Write,
    Admin,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anyone => "anyone",
            Self::Read => "read",
            Self::Agent => "an agent token",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }

    fn allows(self, who: &Identity) -> bool {
        match self {
            Self::Anyone => true,
            Self::Read => who.permissions().contains(Permission::Read),
            Self::Agent => who.agent_id().is_some(),
            Self::Write => who.permissions().contains(Permission::Write),
            Self::Admin => who.is_admin(),
        }
    }
}

/// The access each tool needs. `every_tool_has_an_access_entry` keeps it complete.
pub const TOOL_ACCESS: &[(&str, Access)] = &[
    ("get_usage_guidance", Access::Anyone),
    ("health", Access::Anyone),
    ("authenticate_agent", Access::Anyone),
    ("refresh_token", Access::Anyone),
    ("revoke_token", Access::Anyone),
    ("list_sessions", Access::Read),
    ("get_session", Access::Read),
    ("get_messages", Access::Read),
    ("search_context", Access::Read),
    ("search_by_sender", Access::Read),
    ("search_by_timerange", Access::Read),
    ("wait_for_messages", Access::Read),
    ("get_memory", Access::Agent),
    ("list_memory", Access::Agent),
    ("create_session", Access::Write),
    ("close_session", Access::Write),
    ("add_message", Access::Write),
    ("set_memory", Access::Write),
    ("delete_memory", Access::Write),
    ("get_performance_metrics", Access::Admin),
    ("list_agents", Access::Read),
    ("get_inbox", Access::Agent),
    ("ack_messages", Access::Agent),
    ("get_receipts", Access::Agent),
    ("ask", Access::Write),
    ("acquire_lease", Access::Write),
    ("release_lease", Access::Write),
    ("check_leases", Access::Read),
    ("create_task", Access::Write),
    ("claim_task", Access::Write),
    ("update_task", Access::Write),
    ("list_tasks", Access::Read),
];

pub fn access_of(tool: &str) -> Option<Access> {
    TOOL_ACCESS
        .iter()
        .find(|(name, _)| *name == tool)
        .map(|(_, a)| *a)
}

pub const GUIDANCE_TYPES: [&str; 4] = ["operations", "coordination", "security", "troubleshooting"];

fn access_level(who: &Identity) -> &'static str {
    if who.is_admin() {
        "ADMIN"
    } else if who.permissions().contains(Permission::Write) {
        "AGENT"
    } else {
        "READ_ONLY"
    }
}

fn first_sentence(text: &str) -> &str {
    text.split_inclusive(". ").next().unwrap_or(text).trim()
}

/// `get_usage_guidance`'s result.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Guidance {
    /// ADMIN, READ_WRITE, READ_ONLY or ANONYMOUS.
    pub access_level: &'static str,
    pub agent_info: AgentInfo,
    pub guidance_type: String,
    /// The advice of this guidance_type.
    pub guidance: Map<String, Value>,
    pub tools_you_can_use: Vec<ToolAccess>,
    pub tools_needing_more_access: Vec<ToolAccess>,
    /// Example calls, each {tool, arguments}.
    pub examples: Map<String, Value>,
    pub generated_at: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AgentInfo {
    pub agent_id: Option<String>,
    pub permissions: Vec<&'static str>,
    pub expires_at: Option<String>,
    pub can_refresh: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ToolAccess {
    pub tool: String,
    /// The permission it needs.
    pub needs: &'static str,
    pub what: String,
}

super::output::tool_output!(Guidance);

/// A `json!` object literal as a map (the literals below are objects).
fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

pub fn build(
    who: &Identity,
    guidance_type: Option<&str>,
    tools: &[Tool],
    token_ttl_hours: i64,
) -> Result<Guidance, DomainError> {
    let kind = guidance_type
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or("operations");
    if !GUIDANCE_TYPES.contains(&kind) {
        return Err(DomainError::new(
            ErrorCode::InvalidInput,
            format!(
                "unknown guidance_type '{kind}'; use one of {}",
                GUIDANCE_TYPES.join(", ")
            ),
        ));
    }
    let mut available = Vec::new();
    let mut unavailable = Vec::new();
    for tool in tools {
        let access = access_of(&tool.name).unwrap_or(Access::Read);
        let entry = ToolAccess {
            tool: tool.name.to_string(),
            needs: access.as_str(),
            what: first_sentence(tool.description.as_deref().unwrap_or("")).to_owned(),
        };
        if access.allows(who) {
            available.push(entry)
        } else {
            unavailable.push(entry)
        }
    }
    let has = |name: &str| tools.iter().any(|t| t.name == name);
    let guidance = match kind {
        "operations" => json!({
            "order": [
                "authenticate_agent(agent_id, agent_type) once; keep the token",
                "list_sessions to find work, or create_session(purpose) and share the session_id",
                "add_message(session_id, content, visibility) to share findings",
                "get_messages(session_id, after_id=<next_after_id>) to read only what is new",
                if has("set_memory") { "set_memory / get_memory for notes that outlive a session" } else { "keep notes as private messages" },
            ],
            "tokens": format!("tokens last {token_ttl_hours} h; call refresh_token before expires_at, or authenticate_agent again"),
        }),
        "coordination" => json!({
            "patterns": [
                "one session per task; put the task and its constraints in purpose and metadata",
                "post results as public messages with metadata {\"kind\": \"finding\"|\"decision\"|\"question\"}",
                "reply with parent_message_id to keep threads together",
                "poll with get_messages(after_id) instead of re-reading the whole session",
                if has("search_context") { "search_context(query) before repeating work someone may have done" } else { "get_session shows the newest 50 messages at a glance" },
            ],
            "visibility_for_coordination": "agent_only shares with agents of your agent_type (e.g. all claude subagents) and hides from others",
            "leases": if has("acquire_lease") { "claim before you edit: acquire_lease(resources=[\"src/db/**\"], ttl_seconds, reason) and keep its lease_id and fencing_token; LEASE_CONFLICT says who holds what until when, so work on something else or ask them. Check before a refactor: check_leases(resources) lists live overlapping leases (read-only). Renew long work with acquire_lease(lease_id, ttl_seconds); release_lease(lease_id) when done. A lease with session_id conflicts within that session and with global leases." } else { "" },
            "tasks": if has("create_task") { "hand off with a task, not a message: create_task(session_id, title, depends_on=[ids], assignee) (assignee: it reaches their inbox and only they may claim it); workers claim_task(session_id) for the oldest task open to them, then update_task(task_id, state=\"completed\"|\"failed\"|\"input-required\", note, result). Exactly one claimant wins; list_tasks shows blocked_by. Every change is a message in the session." } else { "" },
            "shared_memory": "record decisions in shared memory: set_memory(session_id, key, value, shared=true, expected_version=<version you read>, 0 = only if absent); on VERSION_CONFLICT merge current_value and retry with current_version. get_memory/list_memory with shared=true read it.",
            "direct_messages": if has("get_inbox") { "add_message(..., to=[agent_id]) writes to named agents only (list_agents shows who exists); they read it with get_inbox(after_cursor=<next_cursor>, wait_seconds) from any session and ack_messages it; get_receipts shows delivery and acks; ask(session_id, to, content) waits for the reply. Reading never marks anything read." } else { "" },
        }),
        "security" => json!({
            "visibility": {
                "public": "everyone with read access, including calls without a token",
                "private": "only its sender (and admins)",
                "agent_only": "agents whose agent_type equals the sender's (and admins)",
                "admin_only": "admins only; writing one needs admin",
                "direct (add_message with to)": "its sender, its recipients and admins only, whatever visibility says",
            },
            "rules": [
                "your identity comes from your token; never share it with other agents",
                "visibility_filter only narrows what you may read; it never widens it",
                "admin needs the admin API key; agent_type \"admin\" alone grants nothing",
                "revoke_token when you are done",
            ],
        }),
        _ => json!({
            "errors": {
                "TOKEN_AUTHENTICATION_FAILED": "token unknown, expired or revoked: authenticate_agent again",
                "PERMISSION_DENIED": "your token lacks the permission: authenticate with an agent_type that has it",
                "SESSION_NOT_FOUND": "list_sessions to find the id; ids look like session_0123456789abcdef",
                "SESSION_CLOSED": "the session was closed; create_session for new work",
                "INVALID_VISIBILITY": "use public, private, agent_only or admin_only",
                "DATABASE_UNAVAILABLE": "transient: wait retry_after seconds and call again; check health",
                "RECIPIENT_NOT_FOUND": "no such agent (nothing was posted); pick one from suggestions or list_agents",
                "THREAD_TOO_DEEP": "the reply chain hit MAX_THREAD_DEPTH: start a new thread, or stop if agents are looping",
                "RATE_LIMITED": "wait retry_after seconds; for direct messages the cap is per pair of agents (loop guard)",
            },
            "checks": ["health shows the server and database status", "get_messages with after_id=0 re-reads from the start"],
        }),
    };
    Ok(Guidance {
        access_level: access_level(who),
        agent_info: AgentInfo {
            agent_id: who.agent_id().map(|a| a.as_str().to_owned()),
            permissions: who.permissions().names(),
            expires_at: match who {
                Identity::Agent { expires_at, .. } => Some(crate::util::rfc3339(*expires_at)),
                Identity::Anonymous => None,
            },
            can_refresh: matches!(who, Identity::Agent { .. }),
        },
        guidance_type: kind.to_owned(),
        guidance: object(guidance),
        tools_you_can_use: available,
        tools_needing_more_access: unavailable,
        examples: object(json!({
            "authenticate": {"tool": "authenticate_agent", "arguments": {"agent_id": "reviewer-1", "agent_type": "claude"}},
            "post": {"tool": "add_message", "arguments": {"session_id": "session_0123456789abcdef", "content": "Tests pass on main", "visibility": "public", "auth_token": "sct_…"}},
            "read_new": {"tool": "get_messages", "arguments": {"session_id": "session_0123456789abcdef", "after_id": 42, "auth_token": "sct_…"}},
        })),
        generated_at: crate::util::rfc3339(crate::util::now()),
    })
}
