//! The records of sessions, messages, tokens and audit events: what goes into the store and
//! what comes back, decoded by column name.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::domain::{Reader, SessionId, Visibility};

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub purpose: String,
    pub created_by: String,
    pub metadata: Map<String, Value>,
    pub at: DateTime<Utc>,
}

/// Decoded by column name (`rows::session_columns!`); serialized as the result an idempotent
/// write stores and replays.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct SessionRecord {
    pub id: String,
    pub purpose: String,
    pub created_by: String,
    #[sqlx(json)]
    pub metadata: Map<String, Value>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Insertion order; the `list_sessions` cursor.
    pub seq: i64,
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub session_id: SessionId,
    pub sender: String,
    pub sender_type: String,
    pub content: String,
    pub visibility: Visibility,
    pub metadata: Map<String, Value>,
    pub parent_message_id: Option<i64>,
    pub at: DateTime<Utc>,
    /// A direct message's recipients (never the sender); empty for a message to the session.
    pub to: Vec<String>,
}

/// Decoded by column name (`rows::message_columns!`); serialized as the result an idempotent
/// write stores and replays.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct MessageRecord {
    pub id: i64,
    pub session_id: String,
    pub sender: String,
    pub sender_type: String,
    pub content: String,
    pub visibility: Visibility,
    pub message_type: String,
    #[sqlx(json)]
    pub metadata: Map<String, Value>,
    pub parent_message_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    /// A direct message's recipients; reads fill it in (`InboxStore::recipients_of`).
    #[sqlx(skip)]
    #[serde(default)]
    pub to: Vec<String>,
}

impl MessageRecord {
    pub(crate) fn from_new(id: i64, new: &NewMessage) -> Self {
        Self {
            id,
            session_id: new.session_id.as_str().to_owned(),
            sender: new.sender.clone(),
            sender_type: new.sender_type.clone(),
            content: new.content.clone(),
            visibility: new.visibility,
            message_type: MESSAGE_TYPE.to_owned(),
            metadata: new.metadata.clone(),
            parent_message_id: new.parent_message_id,
            created_at: new.at,
            to: new.to.clone(),
        }
    }
}

/// The Python server stored every message as this type; we keep the column for compatibility.
pub const MESSAGE_TYPE: &str = "agent_response";

/// Why a message was not inserted, when it was not. A return value matched at once: the record
/// inline costs less than a box per post.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum InsertOutcome {
    Inserted(MessageRecord),
    SessionMissing,
    SessionClosed,
    ParentNotInSession,
}

/// A read of one session's messages, always filtered by the reader.
#[derive(Debug, Clone)]
pub struct MessageQuery<'a> {
    pub session_id: &'a SessionId,
    pub reader: &'a Reader,
    pub only: Option<Visibility>,
    /// Only messages with an id above this one (0: from the start).
    pub after_id: i64,
    pub offset: i64,
    pub limit: u32,
    /// Newest first (then `offset` counts from the newest).
    pub newest_first: bool,
}

#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub token_hash: String,
    pub agent_id: String,
    pub agent_type: String,
    pub permissions: Vec<String>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub event: &'static str,
    pub actor: String,
    pub session_id: Option<String>,
    pub details: Value,
    pub at: DateTime<Utc>,
}

impl AuditEvent {
    pub fn new(event: &'static str, actor: impl Into<String>, details: Value) -> Self {
        Self {
            event,
            actor: actor.into(),
            session_id: None,
            details,
            at: crate::util::now(),
        }
    }

    pub fn in_session(mut self, session_id: &str) -> Self {
        self.session_id = Some(session_id.to_owned());
        self
    }
}

/// Decoded by column name (`rows::audit_columns!`).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AuditRecord {
    pub event: String,
    pub actor: String,
    pub session_id: Option<String>,
    #[sqlx(json)]
    pub details: Value,
    pub created_at: DateTime<Utc>,
}
