//! Memory tool argument structs. Names and defaults match the Python server; doc comments become
//! the JSON-schema descriptions the model reads.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// Any JSON value, spelled out so that every property has a type (Gemini skips tools whose schema
/// has an untyped property) and without type lists (Gemini rejects those). Null is accepted too.
pub(super) fn any_json(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let scalar = serde_json::json!([{"type": "object"}, {"type": "string"}, {"type": "number"}, {"type": "boolean"}]);
    let mut options = scalar.as_array().cloned().unwrap_or_default();
    options.push(serde_json::json!({"type": "array", "items": {"anyOf": scalar}}));
    schemars::json_schema!({"anyOf": options})
}

/// Seconds as an integer; a numeric string is accepted as well (the Python server did).
fn ttl_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "integer"})
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SetMemoryParams {
    /// 1-255 characters without spaces, e.g. "plan/api-v2".
    pub key: String,
    /// Any JSON value, up to 1 MB.
    #[schemars(schema_with = "any_json")]
    pub value: Value,
    /// Scope it to this session (default: global).
    #[serde(default)]
    pub session_id: Option<String>,
    /// Seconds to live, 1-31536000 (default: forever).
    #[serde(default)]
    #[schemars(schema_with = "ttl_schema")]
    pub expires_in: Option<Value>,
    /// Optional JSON object.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub metadata: Option<Value>,
    /// false: fail with KEY_EXISTS if the key is set (default true).
    #[serde(default)]
    pub overwrite: Option<bool>,
    /// true: the session's shared memory, versioned (needs session_id).
    #[serde(default)]
    pub shared: Option<bool>,
    /// Shared only: write only if at this version (0: only if absent), else VERSION_CONFLICT.
    #[serde(default)]
    pub expected_version: Option<i64>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MemoryKeyParams {
    pub key: String,
    /// The scope it was stored in (default: global).
    #[serde(default)]
    pub session_id: Option<String>,
    /// true: the session's shared memory.
    #[serde(default)]
    pub shared: Option<bool>,
    #[serde(default)]
    pub max_tokens: Option<i64>,
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeleteMemoryParams {
    pub key: String,
    /// The scope it was stored in (default: global).
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListMemoryParams {
    /// A session id, "all", or omit for global.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Only keys starting with this (literal).
    #[serde(default)]
    pub prefix: Option<String>,
    /// 1-200, default 50.
    #[serde(default)]
    pub limit: Option<i64>,
    /// next_cursor of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// true: the session's shared memory.
    #[serde(default)]
    pub shared: Option<bool>,
    #[serde(default)]
    pub max_tokens: Option<i64>,
    #[serde(default)]
    pub auth_token: Option<String>,
}
