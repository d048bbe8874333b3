//! Memory tool argument structs. Names and defaults match the Python server; doc comments become
//! the JSON-schema descriptions the model reads.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// Any JSON value, spelled out so that every property has a type (Gemini skips tools whose schema
/// has an untyped property) and without type lists (Gemini rejects those). Null is accepted too.
fn any_json(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
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
    /// The key, 1-255 characters without spaces, e.g. "plan/api-v2". Keys are yours alone; other agents never see them.
    pub key: String,
    /// Any JSON value: object, array, string, number, boolean or null (up to 1 MB as JSON by default).
    #[schemars(schema_with = "any_json")]
    pub value: Value,
    /// Keep the entry in this session's scope instead of your global memory. Null or "null" means global.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Seconds until the entry expires, 1-31536000 (one year). Leave out, null or 0 to keep it until deleted.
    #[serde(default)]
    #[schemars(schema_with = "ttl_schema")]
    pub expires_in: Option<Value>,
    /// Optional JSON object stored with the entry, e.g. {"source": "review"}.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub metadata: Option<Value>,
    /// Replace an existing entry (default true). With false, an unexpired entry makes the call fail with KEY_EXISTS.
    #[serde(default)]
    pub overwrite: Option<bool>,
    /// Optional, makes the call safe to retry: a unique id you choose for this request (1-200 characters, e.g. a UUID). Calling again with the same key and the same arguments returns the first call's result and writes nothing; the same key with other arguments fails with IDEMPOTENCY_CONFLICT. Keys are yours alone and are remembered for 24 hours by default. Use a new key for each new request.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Your token from authenticate_agent (needs "write").
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MemoryKeyParams {
    /// The key, e.g. "plan/api-v2".
    pub key: String,
    /// The session scope the key was stored in. Null or "null" (default) means your global memory.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Your token from authenticate_agent (or send Authorization: Bearer over HTTP).
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeleteMemoryParams {
    /// The key, e.g. "plan/api-v2".
    pub key: String,
    /// The session scope the key was stored in. Null or "null" (default) means your global memory.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Optional, makes the call safe to retry: a unique id you choose for this request (1-200 characters, e.g. a UUID). Calling again with the same key and the same arguments returns the first call's result and writes nothing; the same key with other arguments fails with IDEMPOTENCY_CONFLICT. Keys are yours alone and are remembered for 24 hours by default. Use a new key for each new request.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Your token from authenticate_agent (needs "write").
    #[serde(default)]
    pub auth_token: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListMemoryParams {
    /// Which scope to list: null (default) for your global memory, a session id for that session, or "all" for global and every session.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Only keys starting with this text, matched literally and case-sensitively ("%" and "_" are ordinary characters).
    #[serde(default)]
    pub prefix: Option<String>,
    /// How many entries to return, 1-200 (default 50).
    #[serde(default)]
    pub limit: Option<i64>,
    /// next_cursor from the previous page, to read the next one.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Your token from authenticate_agent (or send Authorization: Bearer over HTTP).
    #[serde(default)]
    pub auth_token: Option<String>,
}
