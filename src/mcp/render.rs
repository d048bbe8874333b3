//! Domain and storage values → the typed results tools return (`structuredContent`, complete;
//! `output.rs` derives their `outputSchema`), and the result envelope with its text part
//! (`text.rs` writes the compact text of reads).

use rmcp::model::{CallToolResult, ContentBlock};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

pub use super::output::Output;
use super::output::tool_output;
use super::text::{Body, compact_json};
use crate::domain::visibility;
use crate::error::DomainError;
use crate::service::IssuedToken;
use crate::storage::{MessageRecord, SessionRecord};
use crate::util::rfc3339;

/// A message as every tool returns it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Message {
    pub id: i64,
    pub session_id: String,
    pub sender: String,
    pub sender_type: String,
    /// Left out under `include_body: false`; cut under `max_content_chars` or `max_tokens`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    pub visibility: String,
    pub message_type: String,
    pub metadata: Map<String, Value>,
    pub timestamp: String,
    pub parent_message_id: Option<i64>,
    /// A direct message's recipients.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    /// The content shown is cut; `content_chars` is its whole length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_truncated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_chars: Option<usize>,
    /// Inbox reads: whether you acknowledged it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acked: Option<bool>,
}

impl From<MessageRecord> for Message {
    fn from(m: MessageRecord) -> Self {
        Self {
            id: m.id,
            session_id: m.session_id,
            sender: m.sender,
            sender_type: m.sender_type,
            content: Some(m.content),
            visibility: visibility::shown(m.visibility, !m.to.is_empty()).to_owned(),
            message_type: m.message_type,
            metadata: m.metadata,
            timestamp: rfc3339(m.created_at),
            parent_message_id: m.parent_message_id,
            to: m.to,
            content_truncated: None,
            content_chars: None,
            acked: None,
        }
    }
}

impl Message {
    /// A message as a read budget showed it: a cut content says so and gives the whole length;
    /// an omitted one (`include_body: false`) has no `content`.
    pub fn shown(m: MessageRecord, body: Body) -> Self {
        let mut out = Self::from(m);
        match body {
            Body::Whole => {}
            Body::Cut { total_chars } => {
                out.content_truncated = Some(true);
                out.content_chars = Some(total_chars);
            }
            Body::Omitted { total_chars } => {
                out.content = None;
                out.content_chars = Some(total_chars);
            }
        }
        out
    }
}

impl Message {
    /// The message as `structuredContent`, its strings and metadata moved in: what
    /// `serde_json::to_value` gives (the tests compare them), without copying each field. On a
    /// page of 50 messages the copies and their drop cost more instructions than building the
    /// page's text (callgrind, scripts/bench/instructions.sh).
    pub fn into_value(self) -> Value {
        let mut out = Map::new();
        let mut put = |key: &str, value: Value| {
            out.insert(key.to_owned(), value);
        };
        put("id", self.id.into());
        put("session_id", self.session_id.into());
        put("sender", self.sender.into());
        put("sender_type", self.sender_type.into());
        if let Some(content) = self.content {
            put("content", content.into());
        }
        put("visibility", self.visibility.into());
        put("message_type", self.message_type.into());
        put("metadata", Value::Object(self.metadata));
        put("timestamp", self.timestamp.into());
        put("parent_message_id", self.parent_message_id.into());
        if !self.to.is_empty() {
            put("to", self.to.into());
        }
        if let Some(cut) = self.content_truncated {
            put("content_truncated", cut.into());
        }
        if let Some(chars) = self.content_chars {
            put("content_chars", chars.into());
        }
        if let Some(acked) = self.acked {
            put("acked", acked.into());
        }
        Value::Object(out)
    }
}

pub fn message(m: MessageRecord) -> Value {
    Message::from(m).into_value()
}

/// Each message rendered, as one JSON array, moving the records.
pub fn messages(records: Vec<MessageRecord>) -> Value {
    Value::Array(records.into_iter().map(message).collect())
}

pub fn shown_messages(kept: Vec<(MessageRecord, Body)>) -> Vec<Message> {
    kept.into_iter()
        .map(|(m, b)| Message::shown(m, b))
        .collect()
}

/// `fields` (an object built with `json!` from small values) plus `key: value`, moved in:
/// putting a large array inside `json!` would copy it whole.
pub fn object_with(mut fields: Value, key: &str, value: Value) -> Value {
    if let Value::Object(map) = &mut fields {
        map.insert(key.to_owned(), value);
    }
    fields
}

/// A session as every tool returns it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Session {
    pub id: String,
    pub purpose: String,
    pub created_by: String,
    pub metadata: Map<String, Value>,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&SessionRecord> for Session {
    fn from(s: &SessionRecord) -> Self {
        Self {
            id: s.id.clone(),
            purpose: s.purpose.clone(),
            created_by: s.created_by.clone(),
            metadata: s.metadata.clone(),
            is_active: s.is_active,
            created_at: rfc3339(s.created_at),
            updated_at: rfc3339(s.updated_at),
        }
    }
}

pub fn session(s: &SessionRecord) -> Value {
    serde_json::to_value(Session::from(s)).unwrap_or_default()
}

/// `authenticate_agent` and `refresh_token`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Token {
    /// Pass as auth_token (or `Authorization: Bearer`).
    pub token: String,
    pub agent_id: String,
    pub agent_type: String,
    pub permissions: Vec<&'static str>,
    pub issued_at: String,
    pub expires_at: String,
    /// Seconds from issued_at to expires_at.
    pub expires_in: i64,
    pub token_type: &'static str,
    pub token_format: &'static str,
}

impl From<&IssuedToken> for Token {
    fn from(t: &IssuedToken) -> Self {
        Self {
            token: t.token.clone(),
            agent_id: t.agent_id.as_str().to_owned(),
            agent_type: t.agent_type.as_str().to_owned(),
            permissions: t.permissions.names(),
            issued_at: rfc3339(t.issued_at),
            expires_at: rfc3339(t.expires_at),
            expires_in: (t.expires_at - t.issued_at).num_seconds(),
            token_type: "Bearer",
            token_format: "sct_*",
        }
    }
}

tool_output!(Token);

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
/// The code is also noted for the call's metrics (`FAILED_WITH`).
pub fn failure(err: &DomainError) -> CallToolResult {
    let _ = FAILED_WITH.try_with(|code| code.set(Some(err.code)));
    structured(err.body(), true)
}

tokio::task_local! {
    /// The code of the error a tool call answered with, set by [`failure`] inside the call's
    /// scope (`McpServer::call_tool`), so the metrics count the typed code.
    pub static FAILED_WITH: std::cell::Cell<Option<crate::domain::ErrorCode>>;
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A message with every field, and one with only the required ones.
    pub(crate) fn samples() -> [Message; 2] {
        let full = Message {
            id: 7,
            session_id: "session_0123456789abcdef".into(),
            sender: "alice".into(),
            sender_type: "claude".into(),
            content: Some("caf\u{e9} │ \"quoted\"\n".into()),
            visibility: "direct".into(),
            message_type: "agent_response".into(),
            metadata: serde_json::json!({"seq": 1, "nested": {"a": [1, -2.5, null]}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            timestamp: "2026-12-07T08:00:00.000000Z".into(),
            parent_message_id: Some(3),
            to: vec!["bob".into(), "carol".into()],
            content_truncated: Some(true),
            content_chars: Some(4000),
            acked: Some(false),
        };
        let bare = Message {
            id: -1,
            content: None,
            metadata: Map::new(),
            parent_message_id: None,
            to: Vec::new(),
            content_truncated: None,
            content_chars: None,
            acked: None,
            ..full.clone()
        };
        [full, bare]
    }

    #[test]
    fn a_message_moved_into_a_value_is_what_serde_gives() {
        for m in samples() {
            let serde = serde_json::to_value(&m).unwrap();
            assert_eq!(m.into_value(), serde);
        }
    }
}
