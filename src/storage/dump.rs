//! The rows of a dump, as the storage traits read and write them (`ExportTx`, `ImportTx`): one
//! struct per table with every column (except the generated `agent_memory.scope`), and a batch of
//! rows of one table. Their serde form is the dump's line format (`transfer::format`), which
//! owns the header, the end line and the parsing.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

mod coordination;
mod counters;
pub use coordination::{LeaseDump, SharedMemoryDump, TaskDump};
pub use counters::IdCounters;

/// The tables of a dump, in the order they are written and imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DumpTable {
    Sessions,
    Agents,
    Messages,
    MessageRecipients,
    AgentMemory,
    AuditLog,
    AgentTokens,
    Leases,
    Tasks,
    SharedMemory,
}

impl DumpTable {
    pub const ALL: [DumpTable; 10] = [
        DumpTable::Sessions,
        DumpTable::Agents,
        DumpTable::Messages,
        DumpTable::MessageRecipients,
        DumpTable::AgentMemory,
        DumpTable::AuditLog,
        DumpTable::AgentTokens,
        DumpTable::Leases,
        DumpTable::Tasks,
        DumpTable::SharedMemory,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DumpTable::Sessions => "sessions",
            DumpTable::Agents => "agents",
            DumpTable::Messages => "messages",
            DumpTable::MessageRecipients => "message_recipients",
            DumpTable::AgentMemory => "agent_memory",
            DumpTable::AuditLog => "audit_log",
            DumpTable::AgentTokens => "agent_tokens",
            DumpTable::Leases => "leases",
            DumpTable::Tasks => "tasks",
            DumpTable::SharedMemory => "shared_memory",
        }
    }
}

/// One statement for both backends: the names of the dump tables that hold a row (an import
/// goes only into an empty database).
pub(crate) static OCCUPIED_SQL: LazyLock<String> = LazyLock::new(|| {
    DumpTable::ALL
        .iter()
        .map(|t| format!("SELECT CAST('{t}' AS TEXT) WHERE EXISTS (SELECT 1 FROM {t})"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
});

/// The tables named by the rows of [`OCCUPIED_SQL`], in dump order.
pub(crate) fn occupied(names: Vec<(String,)>) -> Vec<DumpTable> {
    DumpTable::ALL
        .into_iter()
        .filter(|t| names.iter().any(|(n,)| n == t.as_str()))
        .collect()
}

impl std::fmt::Display for DumpTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `sessions` row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionDump {
    pub seq: i64,
    pub id: String,
    pub purpose: String,
    pub created_by: String,
    pub metadata: Map<String, Value>,
    pub is_active: bool,
    #[serde(with = "ts")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "ts")]
    pub updated_at: DateTime<Utc>,
}

/// A `messages` row. `visibility` is kept as stored; the database checks it on import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageDump {
    pub id: i64,
    pub session_id: String,
    pub sender: String,
    pub sender_type: String,
    pub content: String,
    pub visibility: String,
    pub message_type: String,
    pub metadata: Map<String, Value>,
    pub parent_message_id: Option<i64>,
    #[serde(with = "ts")]
    pub created_at: DateTime<Utc>,
}

/// An `agents` row: the registry that direct messages are addressed in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentDump {
    pub agent_id: String,
    pub agent_type: String,
    #[serde(with = "ts")]
    pub first_seen: DateTime<Utc>,
    #[serde(with = "ts")]
    pub last_seen: DateTime<Utc>,
}

/// A `message_recipients` row: one recipient of a direct message, with its receipt and ack.
/// Without these rows a direct message would read as a private note of its sender.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipientDump {
    pub message_id: i64,
    pub agent_id: String,
    pub session_id: String,
    #[serde(with = "ts_opt")]
    pub delivered_at: Option<DateTime<Utc>>,
    #[serde(with = "ts_opt")]
    pub acked_at: Option<DateTime<Utc>>,
}

/// An `agent_memory` row (without the generated `scope`). `value_size` is kept as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryDump {
    pub id: i64,
    pub agent_id: String,
    pub session_id: Option<String>,
    pub key: String,
    pub value: Value,
    pub value_size: i64,
    pub metadata: Map<String, Value>,
    #[serde(with = "ts")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "ts")]
    pub updated_at: DateTime<Utc>,
    #[serde(with = "ts_opt")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// An `audit_log` row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditDump {
    pub id: i64,
    #[serde(with = "ts")]
    pub created_at: DateTime<Utc>,
    pub event: String,
    pub actor: String,
    pub session_id: Option<String>,
    pub details: Value,
}

/// An `agent_tokens` row: the SHA-256 hash of a token, never the token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenDump {
    pub token_hash: String,
    pub agent_id: String,
    pub agent_type: String,
    /// As stored: comma-separated.
    pub permissions: String,
    #[serde(with = "ts")]
    pub issued_at: DateTime<Utc>,
    #[serde(with = "ts")]
    pub expires_at: DateTime<Utc>,
    #[serde(with = "ts_opt")]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One row line: the table in `"table"`, then the columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "table", rename_all = "snake_case")]
pub enum DumpRow {
    Sessions(SessionDump),
    Agents(AgentDump),
    Messages(MessageDump),
    MessageRecipients(RecipientDump),
    AgentMemory(MemoryDump),
    AuditLog(AuditDump),
    AgentTokens(TokenDump),
    Leases(LeaseDump),
    Tasks(TaskDump),
    SharedMemory(SharedMemoryDump),
}

impl DumpRow {
    pub fn table(&self) -> DumpTable {
        match self {
            DumpRow::Sessions(_) => DumpTable::Sessions,
            DumpRow::Agents(_) => DumpTable::Agents,
            DumpRow::Messages(_) => DumpTable::Messages,
            DumpRow::MessageRecipients(_) => DumpTable::MessageRecipients,
            DumpRow::AgentMemory(_) => DumpTable::AgentMemory,
            DumpRow::AuditLog(_) => DumpTable::AuditLog,
            DumpRow::AgentTokens(_) => DumpTable::AgentTokens,
            DumpRow::Leases(_) => DumpTable::Leases,
            DumpRow::Tasks(_) => DumpTable::Tasks,
            DumpRow::SharedMemory(_) => DumpTable::SharedMemory,
        }
    }
}

/// Where a page of a table ends: the last primary key read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpKey {
    Id(i64),
    Text(String),
    /// A (message id, agent id) key.
    IdText(i64, String),
    /// A (session id, key) key.
    TextText(String, String),
}

/// Rows of one table, as read in one page or inserted in one statement.
#[derive(Debug, Clone, PartialEq)]
pub enum DumpBatch {
    Sessions(Vec<SessionDump>),
    Agents(Vec<AgentDump>),
    Messages(Vec<MessageDump>),
    MessageRecipients(Vec<RecipientDump>),
    AgentMemory(Vec<MemoryDump>),
    AuditLog(Vec<AuditDump>),
    AgentTokens(Vec<TokenDump>),
    Leases(Vec<LeaseDump>),
    Tasks(Vec<TaskDump>),
    SharedMemory(Vec<SharedMemoryDump>),
}

impl DumpBatch {
    pub fn new(table: DumpTable) -> Self {
        match table {
            DumpTable::Sessions => DumpBatch::Sessions(Vec::new()),
            DumpTable::Agents => DumpBatch::Agents(Vec::new()),
            DumpTable::Messages => DumpBatch::Messages(Vec::new()),
            DumpTable::MessageRecipients => DumpBatch::MessageRecipients(Vec::new()),
            DumpTable::AgentMemory => DumpBatch::AgentMemory(Vec::new()),
            DumpTable::AuditLog => DumpBatch::AuditLog(Vec::new()),
            DumpTable::AgentTokens => DumpBatch::AgentTokens(Vec::new()),
            DumpTable::Leases => DumpBatch::Leases(Vec::new()),
            DumpTable::Tasks => DumpBatch::Tasks(Vec::new()),
            DumpTable::SharedMemory => DumpBatch::SharedMemory(Vec::new()),
        }
    }

    pub fn table(&self) -> DumpTable {
        match self {
            DumpBatch::Sessions(_) => DumpTable::Sessions,
            DumpBatch::Agents(_) => DumpTable::Agents,
            DumpBatch::Messages(_) => DumpTable::Messages,
            DumpBatch::MessageRecipients(_) => DumpTable::MessageRecipients,
            DumpBatch::AgentMemory(_) => DumpTable::AgentMemory,
            DumpBatch::AuditLog(_) => DumpTable::AuditLog,
            DumpBatch::AgentTokens(_) => DumpTable::AgentTokens,
            DumpBatch::Leases(_) => DumpTable::Leases,
            DumpBatch::Tasks(_) => DumpTable::Tasks,
            DumpBatch::SharedMemory(_) => DumpTable::SharedMemory,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            DumpBatch::Sessions(v) => v.len(),
            DumpBatch::Agents(v) => v.len(),
            DumpBatch::Messages(v) => v.len(),
            DumpBatch::MessageRecipients(v) => v.len(),
            DumpBatch::AgentMemory(v) => v.len(),
            DumpBatch::AuditLog(v) => v.len(),
            DumpBatch::AgentTokens(v) => v.len(),
            DumpBatch::Leases(v) => v.len(),
            DumpBatch::Tasks(v) => v.len(),
            DumpBatch::SharedMemory(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a row of this batch's table; refuses (naming its table) a row of another table.
    pub fn push(&mut self, row: DumpRow) -> Result<(), DumpTable> {
        match (self, row) {
            (DumpBatch::Sessions(v), DumpRow::Sessions(r)) => v.push(r),
            (DumpBatch::Agents(v), DumpRow::Agents(r)) => v.push(r),
            (DumpBatch::Messages(v), DumpRow::Messages(r)) => v.push(r),
            (DumpBatch::MessageRecipients(v), DumpRow::MessageRecipients(r)) => v.push(r),
            (DumpBatch::AgentMemory(v), DumpRow::AgentMemory(r)) => v.push(r),
            (DumpBatch::AuditLog(v), DumpRow::AuditLog(r)) => v.push(r),
            (DumpBatch::AgentTokens(v), DumpRow::AgentTokens(r)) => v.push(r),
            (DumpBatch::Leases(v), DumpRow::Leases(r)) => v.push(r),
            (DumpBatch::Tasks(v), DumpRow::Tasks(r)) => v.push(r),
            (DumpBatch::SharedMemory(v), DumpRow::SharedMemory(r)) => v.push(r),
            (_, row) => return Err(row.table()),
        }
        Ok(())
    }

    /// The primary key of the last row: where the next page starts.
    pub fn last_key(&self) -> Option<DumpKey> {
        match self {
            DumpBatch::Sessions(v) => v.last().map(|r| DumpKey::Id(r.seq)),
            DumpBatch::Agents(v) => v.last().map(|r| DumpKey::Text(r.agent_id.clone())),
            DumpBatch::Messages(v) => v.last().map(|r| DumpKey::Id(r.id)),
            DumpBatch::MessageRecipients(v) => v
                .last()
                .map(|r| DumpKey::IdText(r.message_id, r.agent_id.clone())),
            DumpBatch::AgentMemory(v) => v.last().map(|r| DumpKey::Id(r.id)),
            DumpBatch::AuditLog(v) => v.last().map(|r| DumpKey::Id(r.id)),
            DumpBatch::AgentTokens(v) => v.last().map(|r| DumpKey::Text(r.token_hash.clone())),
            DumpBatch::Leases(v) => v.last().map(|r| DumpKey::Id(r.fencing_token)),
            DumpBatch::Tasks(v) => v.last().map(|r| DumpKey::Id(r.id)),
            DumpBatch::SharedMemory(v) => v
                .last()
                .map(|r| DumpKey::TextText(r.session_id.clone(), r.key.clone())),
        }
    }

    /// A rough size in bytes, to keep pages and insert statements to a few megabytes.
    pub fn approx_bytes(&self) -> usize {
        const ROW: usize = 200;
        match self {
            DumpBatch::Sessions(v) => v.iter().map(|r| ROW + r.purpose.len()).sum(),
            DumpBatch::Agents(v) => v.len() * ROW,
            DumpBatch::Messages(v) => v.iter().map(|r| ROW + r.content.len()).sum(),
            DumpBatch::MessageRecipients(v) => v.len() * ROW,
            DumpBatch::AgentMemory(v) => v.iter().map(|r| ROW + r.value_size.max(0) as usize).sum(),
            DumpBatch::AuditLog(v) => v.len() * ROW,
            DumpBatch::AgentTokens(v) => v.len() * ROW,
            DumpBatch::Leases(v) => v
                .iter()
                .map(|r| ROW + r.resources.iter().map(String::len).sum::<usize>())
                .sum(),
            DumpBatch::Tasks(v) => v
                .iter()
                .map(|r| ROW + r.title.len() + r.description.as_ref().map_or(0, String::len))
                .sum(),
            DumpBatch::SharedMemory(v) => {
                v.iter().map(|r| ROW + r.value_size.max(0) as usize).sum()
            }
        }
    }

    /// The rows, each as a line's object.
    pub fn into_rows(self) -> Box<dyn Iterator<Item = DumpRow> + Send> {
        match self {
            DumpBatch::Sessions(v) => Box::new(v.into_iter().map(DumpRow::Sessions)),
            DumpBatch::Agents(v) => Box::new(v.into_iter().map(DumpRow::Agents)),
            DumpBatch::Messages(v) => Box::new(v.into_iter().map(DumpRow::Messages)),
            DumpBatch::MessageRecipients(v) => {
                Box::new(v.into_iter().map(DumpRow::MessageRecipients))
            }
            DumpBatch::AgentMemory(v) => Box::new(v.into_iter().map(DumpRow::AgentMemory)),
            DumpBatch::AuditLog(v) => Box::new(v.into_iter().map(DumpRow::AuditLog)),
            DumpBatch::AgentTokens(v) => Box::new(v.into_iter().map(DumpRow::AgentTokens)),
            DumpBatch::Leases(v) => Box::new(v.into_iter().map(DumpRow::Leases)),
            DumpBatch::Tasks(v) => Box::new(v.into_iter().map(DumpRow::Tasks)),
            DumpBatch::SharedMemory(v) => Box::new(v.into_iter().map(DumpRow::SharedMemory)),
        }
    }

    /// Splits off everything after the first `at` rows.
    pub fn split_off(&mut self, at: usize) -> DumpBatch {
        match self {
            DumpBatch::Sessions(v) => DumpBatch::Sessions(v.split_off(at)),
            DumpBatch::Agents(v) => DumpBatch::Agents(v.split_off(at)),
            DumpBatch::Messages(v) => DumpBatch::Messages(v.split_off(at)),
            DumpBatch::MessageRecipients(v) => DumpBatch::MessageRecipients(v.split_off(at)),
            DumpBatch::AgentMemory(v) => DumpBatch::AgentMemory(v.split_off(at)),
            DumpBatch::AuditLog(v) => DumpBatch::AuditLog(v.split_off(at)),
            DumpBatch::AgentTokens(v) => DumpBatch::AgentTokens(v.split_off(at)),
            DumpBatch::Leases(v) => DumpBatch::Leases(v.split_off(at)),
            DumpBatch::Tasks(v) => DumpBatch::Tasks(v.split_off(at)),
            DumpBatch::SharedMemory(v) => DumpBatch::SharedMemory(v.split_off(at)),
        }
    }
}

/// RFC 3339 UTC with microseconds, as everywhere else.
pub(crate) mod ts {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::util::rfc3339(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        parse(&raw).map_err(serde::de::Error::custom)
    }

    pub fn parse(raw: &str) -> Result<DateTime<Utc>, String> {
        DateTime::parse_from_rfc3339(raw)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("'{raw}' is not an RFC 3339 timestamp ({e})"))
    }
}

pub(crate) mod ts_opt {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&crate::util::rfc3339(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        let raw = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
        raw.map(|r| super::ts::parse(&r).map_err(serde::de::Error::custom))
            .transpose()
    }
}
