//! Domain and storage values → the JSON objects tools return (`structuredContent`, complete),
//! and the result envelope with its text part (`text.rs` writes the compact text of reads).

use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::{Map, Value, json};

use super::text::{Body, compact_json};
use crate::error::AppError;
use crate::service::IssuedToken;
use crate::storage::{MessageRecord, SessionRecord};
use crate::util::rfc3339;

pub fn message(m: MessageRecord) -> Value {
    // Built field by field so the strings and the metadata move into the result: `json!` takes
    // each value by reference and copies it, which showed up as a tenth of get_messages' CPU.
    let mut o = Map::with_capacity(10);
    o.insert("id".into(), m.id.into());
    o.insert("session_id".into(), m.session_id.into());
    o.insert("sender".into(), m.sender.into());
    o.insert("sender_type".into(), m.sender_type.into());
    o.insert("content".into(), m.content.into());
    o.insert("visibility".into(), m.visibility.as_str().into());
    o.insert("message_type".into(), m.message_type.into());
    o.insert("metadata".into(), Value::Object(m.metadata));
    o.insert("timestamp".into(), rfc3339(m.created_at).into());
    o.insert("parent_message_id".into(), m.parent_message_id.into());
    if !m.to.is_empty() {
        o.insert("to".into(), m.to.into());
    }
    Value::Object(o)
}

/// Each message rendered, as one JSON array, moving the records.
pub fn messages(records: Vec<MessageRecord>) -> Value {
    Value::Array(records.into_iter().map(message).collect())
}

/// A message as a read budget showed it: a cut content says so and gives the whole length;
/// an omitted one (`include_body: false`) has no `content`.
pub fn shown_message(m: MessageRecord, body: Body) -> Value {
    let mut v = message(m);
    if let Value::Object(o) = &mut v {
        match body {
            Body::Whole => {}
            Body::Cut { total_chars } => {
                o.insert("content_truncated".into(), true.into());
                o.insert("content_chars".into(), total_chars.into());
            }
            Body::Omitted { total_chars } => {
                o.remove("content");
                o.insert("content_chars".into(), total_chars.into());
            }
        }
    }
    v
}

pub fn shown_messages(kept: Vec<(MessageRecord, Body)>) -> Value {
    Value::Array(kept.into_iter().map(|(m, b)| shown_message(m, b)).collect())
}

/// A tool's result: the structured object, and its text when the tool writes one (reads);
/// otherwise the text is the object's compact JSON.
pub struct Output {
    pub body: Value,
    pub text: Option<String>,
}

impl From<Value> for Output {
    fn from(body: Value) -> Self {
        Self { body, text: None }
    }
}

/// `fields` (an object built with `json!` from small values) plus `key: value`, moved in:
/// putting a large array inside `json!` would copy it whole.
pub fn object_with(mut fields: Value, key: &str, value: Value) -> Value {
    if let Value::Object(map) = &mut fields {
        map.insert(key.to_owned(), value);
    }
    fields
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

/// `{"success": true, ...fields}` as a structured tool result, with its text.
pub fn success(output: impl Into<Output>) -> CallToolResult {
    let Output { mut body, text } = output.into();
    if let Value::Object(map) = &mut body {
        map.insert("success".into(), Value::Bool(true));
    }
    let text = text.unwrap_or_else(|| compact_json(&body));
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(body);
    result
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
    if let Value::Object(map) = &mut body {
        for (key, value) in &err.details {
            map.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    structured(body, true)
}

/// structuredContent plus the same JSON as a text block (errors: a client reading only the text
/// gets the code and the suggestions).
///
/// rmcp's own constructors render the text through `Value`'s `Display`, which goes through a
/// `fmt::Formatter` and re-checks UTF-8 on every write; `serde_json::to_writer` writes bytes
/// straight into one buffer. A page of messages is tens of kilobytes, so this shows.
fn structured(body: Value, is_error: bool) -> CallToolResult {
    let mut text = Vec::with_capacity(1024);
    // Writing a `Value` into a `Vec` cannot fail: its keys are strings and the Vec grows.
    let _ = serde_json::to_writer(&mut text, &body);
    let text = String::from_utf8(text).unwrap_or_default();
    let content = vec![ContentBlock::text(text)];
    let mut result = if is_error {
        CallToolResult::error(content)
    } else {
        CallToolResult::success(content)
    };
    result.structured_content = Some(body);
    result
}
