//! Memory tool argument structs. Names and defaults match the Python server; doc comments become
//! the JSON-schema descriptions the model reads.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::service::ListMemory;

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
    pub session_id: Option<String>,
    /// Seconds to live, 1-31536000 (default: forever).
    #[serde(default)] // with schema_with, schemars sees no Option: this keeps it optional
    #[schemars(schema_with = "ttl_schema")]
    pub expires_in: Option<Value>,
    /// Optional JSON object.
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub metadata: Option<Value>,
    /// false: fail with KEY_EXISTS if the key is set (default true).
    pub overwrite: Option<bool>,
    /// true: the session's shared memory, versioned (needs session_id).
    pub shared: Option<bool>,
    /// Shared only: write only if at this version (0: only if absent), else VERSION_CONFLICT.
    pub expected_version: Option<i64>,
    pub idempotency_key: Option<String>,
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MemoryKeyParams {
    pub key: String,
    /// The scope it was stored in (default: global).
    pub session_id: Option<String>,
    /// true: the session's shared memory.
    pub shared: Option<bool>,
    pub max_tokens: Option<i64>,
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeleteMemoryParams {
    pub key: String,
    /// The scope it was stored in (default: global).
    pub session_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub auth_token: Option<String>,
}

impl ListMemoryParams {
    /// The listing asked for (private or shared alike).
    pub(super) fn listing(&self) -> ListMemory {
        ListMemory {
            session_id: self.session_id.clone(),
            prefix: self.prefix.clone(),
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListMemoryParams {
    /// A session id, "all", or omit for global.
    pub session_id: Option<String>,
    /// Only keys starting with this (literal).
    pub prefix: Option<String>,
    /// 1-200, default 50.
    pub limit: Option<i64>,
    /// next_cursor of the previous page.
    pub cursor: Option<String>,
    /// true: the session's shared memory.
    pub shared: Option<bool>,
    pub max_tokens: Option<i64>,
    pub auth_token: Option<String>,
}
