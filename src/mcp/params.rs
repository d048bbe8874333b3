//! Tool argument structs. Names and defaults match the Python server; doc comments become the
//! JSON-schema descriptions the model reads.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AuthenticateAgentParams {
    /// Your agent's id, e.g. "backend-dev-1" (1-100 characters). Messages you post carry it as sender.
    pub agent_id: String,
    /// Your agent type, e.g. "claude", "gemini", "codex", "generic". Decides your permissions and who reads your agent_only messages.
    pub agent_type: String,
    /// Permissions to ask for: any of "read", "write", "admin", "debug". Default ["read", "write"]. "admin" needs the admin API key.
    #[serde(default)]
    pub requested_permissions: Option<Vec<String>>,
    /// The server API key. Over HTTP you may send it as the X-API-Key header instead. Not needed over stdio (except for admin).
    #[serde(default)]
    pub api_key: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RefreshTokenParams {
    /// The token to replace; it must still be valid. It is revoked once the new one is issued.
    pub current_token: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RevokeTokenParams {
    /// The token to revoke. Default: the token this call is made with (log out).
    #[serde(default)]
    pub token: Option<String>,
    /// Your token (or send Authorization: Bearer over HTTP).
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateSessionParams {
    /// What the session is for, e.g. "Refactor the billing module" (1-1000 characters).
    pub purpose: String,
    /// Optional JSON object stored with the session, e.g. {"repo": "api", "ticket": "ENG-42"}.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub metadata: Option<Value>,
    /// Optional, makes the call safe to retry: a unique id you choose for this request (1-200 characters, e.g. a UUID). Calling again with the same key and the same arguments returns the first call's result and writes nothing; the same key with other arguments fails with IDEMPOTENCY_CONFLICT. Keys are yours alone and are remembered for 24 hours by default. Use a new key for each new request.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Your token from authenticate_agent (needs "write").
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SessionIdParams {
    /// The session id, e.g. "session_0123456789abcdef".
    pub session_id: String,
    /// Your token from authenticate_agent (or send Authorization: Bearer over HTTP).
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CloseSessionParams {
    /// The session to close, e.g. "session_0123456789abcdef".
    pub session_id: String,
    /// Optional, makes the call safe to retry: a unique id you choose for this request (1-200 characters, e.g. a UUID). Calling again with the same key and the same arguments returns the first call's result and writes nothing; the same key with other arguments fails with IDEMPOTENCY_CONFLICT. Keys are yours alone and are remembered for 24 hours by default. Use a new key for each new request.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Your token from authenticate_agent (needs "write"; you must be the creator or an admin).
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListSessionsParams {
    /// Only sessions still open (default true).
    #[serde(default)]
    pub active_only: Option<bool>,
    /// How many sessions to return, 1-200 (default 50), newest first.
    #[serde(default)]
    pub limit: Option<i64>,
    /// next_cursor from the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Your token from authenticate_agent (or send Authorization: Bearer over HTTP).
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AddMessageParams {
    /// The session to post in.
    pub session_id: String,
    /// The message text (up to 100,000 characters by default).
    pub content: String,
    /// Who may read it: "public" (default, everyone), "private" (only you), "agent_only" (agents of your agent_type), "admin_only" (admins; needs admin).
    #[serde(default)]
    pub visibility: Option<String>,
    /// Optional JSON object, e.g. {"kind": "finding", "file": "src/db.rs"}.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub metadata: Option<Value>,
    /// Id of the message this one replies to; it must be in the same session.
    #[serde(default)]
    pub parent_message_id: Option<i64>,
    /// Optional, makes the call safe to retry: a unique id you choose for this request (1-200 characters, e.g. a UUID). Calling again with the same key and the same arguments returns the first call's result and writes nothing; the same key with other arguments fails with IDEMPOTENCY_CONFLICT. Keys are yours alone and are remembered for 24 hours by default. Use a new key for each new request.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Your token from authenticate_agent (needs "write").
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetMessagesParams {
    /// The session to read.
    pub session_id: String,
    /// Page size, 1-1000 (default 50).
    #[serde(default)]
    pub limit: Option<i64>,
    /// Skip this many matching messages (oldest first), at most 10000; page deeper with after_id. Not combined with after_id.
    #[serde(default)]
    pub offset: Option<i64>,
    /// Only messages of this visibility: "public", "private", "agent_only" or "admin_only". It narrows what you may read; it never widens it.
    #[serde(default)]
    pub visibility_filter: Option<String>,
    /// Only messages with a larger id, oldest first: pass next_after_id from your last read to get what is new.
    #[serde(default)]
    pub after_id: Option<i64>,
    /// Your token from authenticate_agent (or send Authorization: Bearer over HTTP). Without it you read public messages only.
    #[serde(default)]
    pub auth_token: Option<String>,
}
