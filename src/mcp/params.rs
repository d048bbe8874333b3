//! Tool argument structs. Names and defaults match the Python server; doc comments become the
//! JSON-schema descriptions the model reads on every turn, so each says what the tool's own
//! description does not (`auth_token` and `idempotency_key` are described in `schema.rs`).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AuthenticateAgentParams {
    /// Your id, e.g. "backend-dev-1"; your messages show it as sender.
    pub agent_id: String,
    /// e.g. "claude", "codex", "generic"; sets permissions and who reads your agent_only messages.
    pub agent_type: String,
    /// Any of read, write, admin, debug (default read, write); admin needs the admin key.
    #[serde(default)]
    pub requested_permissions: Option<Vec<String>>,
    /// Server API key, unless sent as the X-API-Key header.
    #[serde(default)]
    pub api_key: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RefreshTokenParams {
    /// The still-valid token to replace.
    pub current_token: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RevokeTokenParams {
    /// The token to revoke (default: the calling one).
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateSessionParams {
    /// What the session is for, 1-1000 characters.
    pub purpose: String,
    /// Optional JSON object, e.g. {"repo": "api"}.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub metadata: Option<Value>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CloseSessionParams {
    pub session_id: String,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListSessionsParams {
    /// Open sessions only (default true).
    #[serde(default)]
    pub active_only: Option<bool>,
    /// 1-200, default 50.
    #[serde(default)]
    pub limit: Option<i64>,
    /// next_cursor of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AddMessageParams {
    pub session_id: String,
    /// The text, up to 100,000 characters.
    pub content: String,
    /// public (default), private, agent_only or admin_only.
    #[serde(default)]
    pub visibility: Option<String>,
    /// Optional JSON object, e.g. {"kind": "finding"}.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub metadata: Option<Value>,
    /// The message this replies to (same session).
    #[serde(default)]
    pub parent_message_id: Option<i64>,
    /// Direct message to these agent ids (1-20): only they, you and admins read it; it reaches their get_inbox.
    #[serde(default)]
    pub to: Option<Vec<String>>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SessionIdParams {
    pub session_id: String,
    #[serde(default)]
    pub max_tokens: Option<i64>,
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetMessagesParams {
    pub session_id: String,
    /// 1-1000, default 50.
    #[serde(default)]
    pub limit: Option<i64>,
    /// Skip this many, at most 10000 (not with after_id).
    #[serde(default)]
    pub offset: Option<i64>,
    /// Only this visibility (narrows, never widens).
    #[serde(default)]
    pub visibility_filter: Option<String>,
    /// Only messages after this id: next_after_id of your last read.
    #[serde(default)]
    pub after_id: Option<i64>,
    #[serde(default)]
    pub max_tokens: Option<i64>,
    /// false: headers only.
    #[serde(default)]
    pub include_body: Option<bool>,
    /// Cut each content to this many characters.
    #[serde(default)]
    pub max_content_chars: Option<i64>,
    #[serde(default)]
    pub auth_token: Option<String>,
}
