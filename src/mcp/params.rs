//! Tool argument structs. Names and defaults match the Python server; doc comments become the
//! JSON-schema descriptions the model reads on every turn, so each says what the tool's own
//! description does not (`auth_token` and `idempotency_key` are described in `schema.rs`).
//! An optional argument is an `Option` and nothing more: serde reads a missing `Option` as `None`
//! and schemars leaves it out of `required`, so `#[serde(default)]` on it would repeat that (it
//! was on every one, and `duplicates` paired every argument block with every other). The
//! exception: a field whose schema is `schema_with` a function, where schemars no longer sees the
//! `Option` and needs `#[serde(default)]` to leave it optional.

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
    pub requested_permissions: Option<Vec<String>>,
    /// Server API key, unless sent as the X-API-Key header.
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
    pub token: Option<String>,
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateSessionParams {
    /// What the session is for, 1-1000 characters.
    pub purpose: String,
    /// Optional JSON object, e.g. {"repo": "api"}.
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub metadata: Option<Value>,
    pub idempotency_key: Option<String>,
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CloseSessionParams {
    pub session_id: String,
    pub idempotency_key: Option<String>,
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListSessionsParams {
    /// Open sessions only (default true).
    pub active_only: Option<bool>,
    /// 1-200, default 50.
    pub limit: Option<i64>,
    /// next_cursor of the previous page.
    pub cursor: Option<String>,
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AddMessageParams {
    pub session_id: String,
    /// The text, up to 100,000 characters.
    pub content: String,
    /// public (default), private, agent_only or admin_only.
    pub visibility: Option<String>,
    /// Optional JSON object, e.g. {"kind": "finding"}.
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub metadata: Option<Value>,
    /// The message this replies to (same session).
    pub parent_message_id: Option<i64>,
    /// Direct message to these agent ids (1-20): only they, you and admins read it; it reaches their get_inbox.
    pub to: Option<Vec<String>>,
    pub idempotency_key: Option<String>,
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SessionIdParams {
    pub session_id: String,
    pub max_tokens: Option<i64>,
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetMessagesParams {
    pub session_id: String,
    /// 1-1000, default 50.
    pub limit: Option<i64>,
    /// Skip this many, at most 10000 (not with after_id).
    pub offset: Option<i64>,
    /// Only this visibility (narrows, never widens).
    pub visibility_filter: Option<String>,
    /// Only messages after this id: next_after_id of your last read.
    pub after_id: Option<i64>,
    pub max_tokens: Option<i64>,
    /// false: headers only.
    pub include_body: Option<bool>,
    /// Cut each content to this many characters.
    pub max_content_chars: Option<i64>,
    pub auth_token: Option<String>,
}
