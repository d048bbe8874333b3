//! Rows as records, for both backends: the column list of each record, written once, and how its
//! columns decode. The lists are macros so that statements composed with `concat!` stay
//! `&'static str` (PostgreSQL keeps each prepared per connection, keyed by its text).
//!
//! Both backends decode the same Rust types: SQLite's RFC 3339 text timestamps, 0/1 integers and
//! JSON text go through sqlx's chrono, bool and JSON decoders, PostgreSQL's `timestamptz`,
//! `boolean` and `jsonb` natively. So each record derives `FromRow` once (in `storage/mod.rs`
//! and `storage/memory.rs`, by column name), and only what needs more than a decoder is here.

use sqlx::{Database, Decode, FromRow, Type};

use super::{TokenRecord, parse_permissions};
use crate::domain::Visibility;

/// [`super::SessionRecord`]'s columns of `sessions`.
macro_rules! session_columns {
    () => {
        "seq, id, purpose, created_by, metadata, is_active, created_at, updated_at"
    };
}

/// [`super::MessageRecord`]'s columns of `messages`, as alias `m`.
macro_rules! message_columns {
    () => {
        "m.id, m.session_id, m.sender, m.sender_type, m.content, m.visibility, m.message_type, \
         m.metadata, m.parent_message_id, m.created_at"
    };
}

/// [`TokenRow`]'s columns of `agent_tokens`.
macro_rules! token_columns {
    () => {
        "token_hash, agent_id, agent_type, permissions, issued_at, expires_at, revoked_at"
    };
}

/// [`super::MemoryEntry`]'s columns of `agent_memory`.
macro_rules! memory_entry_columns {
    () => {
        "session_id, key, value_size, created_at, updated_at, expires_at"
    };
}

/// [`super::MemoryRecord`]'s columns of `agent_memory`.
macro_rules! memory_columns {
    () => {
        "session_id, key, value, metadata, value_size, created_at, updated_at, expires_at"
    };
}

/// [`super::AuditRecord`]'s columns of `audit_log`.
macro_rules! audit_columns {
    () => {
        "event, actor, session_id, details, created_at"
    };
}

pub(crate) use {
    audit_columns, memory_columns, memory_entry_columns, message_columns, session_columns,
    token_columns,
};

/// The message columns, for statements built at run time (search).
pub(crate) const MESSAGE_COLUMNS: &str = message_columns!();

/// A token as stored: the permissions are one comma-separated column.
#[derive(Debug, FromRow)]
pub(crate) struct TokenRow {
    token_hash: String,
    agent_id: String,
    agent_type: String,
    permissions: String,
    issued_at: chrono::DateTime<chrono::Utc>,
    expires_at: chrono::DateTime<chrono::Utc>,
    revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<TokenRow> for TokenRecord {
    fn from(row: TokenRow) -> Self {
        Self {
            permissions: parse_permissions(&row.permissions),
            token_hash: row.token_hash,
            agent_id: row.agent_id,
            agent_type: row.agent_type,
            issued_at: row.issued_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        }
    }
}

/// A visibility is stored as its name (`Visibility::as_str`).
impl<DB: Database> Type<DB> for Visibility
where
    str: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <str as Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <str as Type<DB>>::compatible(ty)
    }
}

impl<'r, DB: Database> Decode<'r, DB> for Visibility
where
    &'r str: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let name = <&str as Decode<DB>>::decode(value)?;
        Visibility::parse(name).map_err(|e| e.message.into())
    }
}
