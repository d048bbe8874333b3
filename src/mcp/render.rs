//! Domain and storage values → the JSON objects tools return.

use rmcp::model::CallToolResult;
use serde_json::{Value, json};

use crate::error::AppError;
use crate::service::IssuedToken;
use crate::storage::{MessageRecord, SessionRecord};
use crate::util::rfc3339;

pub fn message(m: &MessageRecord) -> Value {
    json!({
        "id": m.id,
        "session_id": m.session_id,
        "sender": m.sender,
        "sender_type": m.sender_type,
        "content": m.content,
        "visibility": m.visibility.as_str(),
        "message_type": m.message_type,
        "metadata": m.metadata,
        "timestamp": rfc3339(m.created_at),
        "parent_message_id": m.parent_message_id,
    })
}

pub fn session(s: &SessionRecord) -> Value {
    json!({
        "id": s.id,
        "purpose": s.purpose,
        "created_by": s.created_by,
        "metadata": s.metadata,
        "is_active": s.is_active,
        "created_at": rfc3339(s.created_at),
        "updated_at": rfc3339(s.updated_at),
    })
}

pub fn token(t: &IssuedToken) -> Value {
    json!({
        "token": t.token,
        "agent_id": t.agent_id.as_str(),
        "agent_type": t.agent_type.as_str(),
        "permissions": t.permissions.names(),
        "issued_at": rfc3339(t.issued_at),
        "expires_at": rfc3339(t.expires_at),
        "expires_in": (t.expires_at - t.issued_at).num_seconds(),
        "token_type": "Bearer",
        "token_format": "sct_*",
    })
}

/// `{"success": true, ...fields}` as a structured tool result.
pub fn success(mut body: Value) -> CallToolResult {
    if let Value::Object(map) = &mut body {
        map.insert("success".into(), Value::Bool(true));
    }
    CallToolResult::structured(body)
}

/// A tool error the agent can act on: `isError: true` with code, sentence and next steps.
pub fn failure(err: &AppError) -> CallToolResult {
    let mut body = json!({
        "success": false,
        "code": err.code.as_str(),
        "error": err.message,
        "suggestions": if err.suggestions.is_empty() { vec![err.code.default_suggestion().to_owned()] } else { err.suggestions.clone() },
    });
    if let Some(seconds) = err.retry_after {
        body["retry_after"] = json!(seconds);
    }
    CallToolResult::structured_error(body)
}
