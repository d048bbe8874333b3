//! The dump format: JSON Lines, one object per line.
//!
//! ```text
//! {"format":"shared-context-server/export","version":1,"exported_at":"…","source_backend":"sqlite","schema_version":3}
//! {"table":"sessions","seq":1,"id":"session_…","purpose":"…",…}
//! {"table":"messages","id":1,"session_id":"session_…",…}
//! …
//! {"end":{"sessions":1,"messages":1,"agent_memory":0,"audit_log":2,"agent_tokens":1}}
//! ```
//!
//! Rows come table by table in foreign-key order (sessions, messages, agent_memory, audit_log,
//! agent_tokens), each table in primary-key order. Every column is written (except the generated
//! `agent_memory.scope`), ids included; timestamps are RFC 3339 UTC with microseconds; JSON
//! columns are JSON values. The last line counts the rows per table, so a truncated dump is
//! recognised instead of half-imported.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The header's `format`.
pub const FORMAT: &str = "shared-context-server/export";
/// The header's `version`: the shape of the rows, bumped when a column is added or changed.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format: String,
    pub version: u32,
    #[serde(with = "ts")]
    pub exported_at: DateTime<Utc>,
    /// `sqlite` or `postgresql`.
    pub source_backend: String,
    /// The newest migration applied to the source.
    pub schema_version: i64,
}

/// The tables of a dump, in the order they are written and imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DumpTable {
    Sessions,
    Messages,
    AgentMemory,
    AuditLog,
    AgentTokens,
}

impl DumpTable {
    pub const ALL: [DumpTable; 5] = [
        DumpTable::Sessions,
        DumpTable::Messages,
        DumpTable::AgentMemory,
        DumpTable::AuditLog,
        DumpTable::AgentTokens,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DumpTable::Sessions => "sessions",
            DumpTable::Messages => "messages",
            DumpTable::AgentMemory => "agent_memory",
            DumpTable::AuditLog => "audit_log",
            DumpTable::AgentTokens => "agent_tokens",
        }
    }
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
    Messages(MessageDump),
    AgentMemory(MemoryDump),
    AuditLog(AuditDump),
    AgentTokens(TokenDump),
}

impl DumpRow {
    pub fn table(&self) -> DumpTable {
        match self {
            DumpRow::Sessions(_) => DumpTable::Sessions,
            DumpRow::Messages(_) => DumpTable::Messages,
            DumpRow::AgentMemory(_) => DumpTable::AgentMemory,
            DumpRow::AuditLog(_) => DumpTable::AuditLog,
            DumpRow::AgentTokens(_) => DumpTable::AgentTokens,
        }
    }
}

/// The last line: rows per table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trailer {
    pub end: TableCounts,
}

/// Rows per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableCounts {
    pub sessions: u64,
    pub messages: u64,
    pub agent_memory: u64,
    pub audit_log: u64,
    pub agent_tokens: u64,
}

impl TableCounts {
    pub fn get(&self, table: DumpTable) -> u64 {
        match table {
            DumpTable::Sessions => self.sessions,
            DumpTable::Messages => self.messages,
            DumpTable::AgentMemory => self.agent_memory,
            DumpTable::AuditLog => self.audit_log,
            DumpTable::AgentTokens => self.agent_tokens,
        }
    }

    pub fn add(&mut self, table: DumpTable, n: u64) {
        let slot = match table {
            DumpTable::Sessions => &mut self.sessions,
            DumpTable::Messages => &mut self.messages,
            DumpTable::AgentMemory => &mut self.agent_memory,
            DumpTable::AuditLog => &mut self.audit_log,
            DumpTable::AgentTokens => &mut self.agent_tokens,
        };
        *slot += n;
    }

    pub fn total(&self) -> u64 {
        DumpTable::ALL.iter().map(|t| self.get(*t)).sum()
    }
}

impl std::fmt::Display for TableCounts {
    /// `sessions 2, messages 9, agent_memory 6, audit_log 20, agent_tokens 3`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, table) in DumpTable::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{table} {}", self.get(*table))?;
        }
        Ok(())
    }
}

/// Where a page of a table ends: the last primary key read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpKey {
    Id(i64),
    Text(String),
}

/// Rows of one table, as read in one page or inserted in one statement.
#[derive(Debug, Clone, PartialEq)]
pub enum DumpBatch {
    Sessions(Vec<SessionDump>),
    Messages(Vec<MessageDump>),
    AgentMemory(Vec<MemoryDump>),
    AuditLog(Vec<AuditDump>),
    AgentTokens(Vec<TokenDump>),
}

impl DumpBatch {
    pub fn new(table: DumpTable) -> Self {
        match table {
            DumpTable::Sessions => DumpBatch::Sessions(Vec::new()),
            DumpTable::Messages => DumpBatch::Messages(Vec::new()),
            DumpTable::AgentMemory => DumpBatch::AgentMemory(Vec::new()),
            DumpTable::AuditLog => DumpBatch::AuditLog(Vec::new()),
            DumpTable::AgentTokens => DumpBatch::AgentTokens(Vec::new()),
        }
    }

    pub fn table(&self) -> DumpTable {
        match self {
            DumpBatch::Sessions(_) => DumpTable::Sessions,
            DumpBatch::Messages(_) => DumpTable::Messages,
            DumpBatch::AgentMemory(_) => DumpTable::AgentMemory,
            DumpBatch::AuditLog(_) => DumpTable::AuditLog,
            DumpBatch::AgentTokens(_) => DumpTable::AgentTokens,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            DumpBatch::Sessions(v) => v.len(),
            DumpBatch::Messages(v) => v.len(),
            DumpBatch::AgentMemory(v) => v.len(),
            DumpBatch::AuditLog(v) => v.len(),
            DumpBatch::AgentTokens(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a row of this batch's table; refuses (naming its table) a row of another table.
    pub fn push(&mut self, row: DumpRow) -> Result<(), DumpTable> {
        match (self, row) {
            (DumpBatch::Sessions(v), DumpRow::Sessions(r)) => v.push(r),
            (DumpBatch::Messages(v), DumpRow::Messages(r)) => v.push(r),
            (DumpBatch::AgentMemory(v), DumpRow::AgentMemory(r)) => v.push(r),
            (DumpBatch::AuditLog(v), DumpRow::AuditLog(r)) => v.push(r),
            (DumpBatch::AgentTokens(v), DumpRow::AgentTokens(r)) => v.push(r),
            (_, row) => return Err(row.table()),
        }
        Ok(())
    }

    /// The primary key of the last row: where the next page starts.
    pub fn last_key(&self) -> Option<DumpKey> {
        match self {
            DumpBatch::Sessions(v) => v.last().map(|r| DumpKey::Id(r.seq)),
            DumpBatch::Messages(v) => v.last().map(|r| DumpKey::Id(r.id)),
            DumpBatch::AgentMemory(v) => v.last().map(|r| DumpKey::Id(r.id)),
            DumpBatch::AuditLog(v) => v.last().map(|r| DumpKey::Id(r.id)),
            DumpBatch::AgentTokens(v) => v.last().map(|r| DumpKey::Text(r.token_hash.clone())),
        }
    }

    /// A rough size in bytes, to keep pages and insert statements to a few megabytes.
    pub fn approx_bytes(&self) -> usize {
        const ROW: usize = 200;
        match self {
            DumpBatch::Sessions(v) => v.iter().map(|r| ROW + r.purpose.len()).sum(),
            DumpBatch::Messages(v) => v.iter().map(|r| ROW + r.content.len()).sum(),
            DumpBatch::AgentMemory(v) => v.iter().map(|r| ROW + r.value_size.max(0) as usize).sum(),
            DumpBatch::AuditLog(v) => v.len() * ROW,
            DumpBatch::AgentTokens(v) => v.len() * ROW,
        }
    }

    /// The rows, each as a line's object.
    pub fn into_rows(self) -> Box<dyn Iterator<Item = DumpRow> + Send> {
        match self {
            DumpBatch::Sessions(v) => Box::new(v.into_iter().map(DumpRow::Sessions)),
            DumpBatch::Messages(v) => Box::new(v.into_iter().map(DumpRow::Messages)),
            DumpBatch::AgentMemory(v) => Box::new(v.into_iter().map(DumpRow::AgentMemory)),
            DumpBatch::AuditLog(v) => Box::new(v.into_iter().map(DumpRow::AuditLog)),
            DumpBatch::AgentTokens(v) => Box::new(v.into_iter().map(DumpRow::AgentTokens)),
        }
    }

    /// Splits off everything after the first `at` rows.
    pub fn split_off(&mut self, at: usize) -> DumpBatch {
        match self {
            DumpBatch::Sessions(v) => DumpBatch::Sessions(v.split_off(at)),
            DumpBatch::Messages(v) => DumpBatch::Messages(v.split_off(at)),
            DumpBatch::AgentMemory(v) => DumpBatch::AgentMemory(v.split_off(at)),
            DumpBatch::AuditLog(v) => DumpBatch::AuditLog(v.split_off(at)),
            DumpBatch::AgentTokens(v) => DumpBatch::AgentTokens(v.split_off(at)),
        }
    }
}

/// One parsed line of a dump.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Row(DumpRow),
    End(TableCounts),
}

/// Parses a line after the header: a row, or the end line. The error names what is wrong (the
/// caller adds the line number).
pub fn parse_line(bytes: &[u8]) -> Result<Line, String> {
    match serde_json::from_slice::<DumpRow>(bytes) {
        Ok(row) => Ok(Line::Row(row)),
        Err(row_err) => {
            if let Ok(trailer) = serde_json::from_slice::<Trailer>(bytes) {
                return Ok(Line::End(trailer.end));
            }
            // Say which table was meant when the object names one; the serde message otherwise.
            let table = serde_json::from_slice::<Value>(bytes)
                .ok()
                .and_then(|v| v.get("table").and_then(Value::as_str).map(str::to_owned));
            let why = describe(&row_err);
            Err(match (table, row_err.classify()) {
                (_, serde_json::error::Category::Syntax | serde_json::error::Category::Eof) => {
                    format!("not valid JSON ({why})")
                }
                (Some(table), _) => format!("bad `{table}` row: {why}"),
                (None, _) => format!("not a dump row: {why}"),
            })
        }
    }
}

/// serde_json's message with the position inside the line as a column ("line 1" would mislead).
fn describe(err: &serde_json::Error) -> String {
    let text = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    match text.strip_suffix(&suffix) {
        Some(message) if err.column() > 0 => format!("{message}, at column {}", err.column()),
        Some(message) => message.to_owned(),
        None => text,
    }
}

/// Parses and checks the first line.
pub fn parse_header(bytes: &[u8]) -> Result<Header, String> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("the header is not valid JSON ({})", describe(&e)))?;
    if value.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(format!(
            "this is not a shared-context-server dump: the first line must be a header with \"format\":\"{FORMAT}\""
        ));
    }
    match value.get("version").and_then(Value::as_u64) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) => {
            return Err(format!(
                "the dump has format version {v}, this server reads version {VERSION}; import it with the version of shared-context-server that wrote it, or a newer one"
            ));
        }
        None => return Err("the header has no numeric \"version\"".into()),
    }
    serde_json::from_value(value).map_err(|e| format!("bad header: {}", describe(&e)))
}

/// RFC 3339 UTC with microseconds, as everywhere else.
mod ts {
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

mod ts_opt {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_row_line_round_trips_with_its_table_first() {
        let row = DumpRow::AgentMemory(MemoryDump {
            id: 7,
            agent_id: "a".into(),
            session_id: None,
            key: "k".into(),
            value: json!([1, 2.5, null, {"x": "ü"}]),
            value_size: 24,
            metadata: Map::new(),
            created_at: at("2026-01-02T03:04:05.123456Z"),
            updated_at: at("2026-01-02T03:04:05.123456+02:00"),
            expires_at: None,
        });
        let line = serde_json::to_string(&row).unwrap();
        assert!(
            line.starts_with(r#"{"table":"agent_memory","id":7,"#),
            "{line}"
        );
        assert!(
            line.contains(r#""updated_at":"2026-01-02T01:04:05.123456Z""#),
            "{line}"
        );
        assert!(line.contains(r#""expires_at":null"#), "{line}");
        assert_eq!(parse_line(line.as_bytes()), Ok(Line::Row(row)));
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        assert!(
            parse_line(b"{\"table\":\"sessions\",")
                .unwrap_err()
                .contains("not valid JSON")
        );
        let unknown = parse_line(br#"{"table":"users","id":1}"#).unwrap_err();
        assert!(unknown.contains("unknown variant `users`"), "{unknown}");
        let missing = parse_line(br#"{"table":"audit_log","id":1}"#).unwrap_err();
        assert!(
            missing.starts_with("bad `audit_log` row: missing field"),
            "{missing}"
        );
        let extra = parse_line(
            br#"{"table":"audit_log","id":1,"created_at":"2026-01-01T00:00:00Z","event":"e","actor":"a","session_id":null,"details":{},"x":1}"#,
        )
        .unwrap_err();
        assert!(extra.contains("unknown field `x`"), "{extra}");
        let time = parse_line(
            br#"{"table":"audit_log","id":1,"created_at":"yesterday","event":"e","actor":"a","session_id":null,"details":{}}"#,
        )
        .unwrap_err();
        assert!(time.contains("RFC 3339"), "{time}");
        assert_eq!(
            parse_line(br#"{"end":{"sessions":1,"messages":2,"agent_memory":3,"audit_log":4,"agent_tokens":5}}"#),
            Ok(Line::End(TableCounts { sessions: 1, messages: 2, agent_memory: 3, audit_log: 4, agent_tokens: 5 }))
        );
    }

    #[test]
    fn headers_are_checked() {
        let good = r#"{"format":"shared-context-server/export","version":1,"exported_at":"2026-01-01T00:00:00.000000Z","source_backend":"sqlite","schema_version":3}"#;
        assert_eq!(parse_header(good.as_bytes()).unwrap().schema_version, 3);
        assert!(
            parse_header(b"{\"format\":\"other\"}")
                .unwrap_err()
                .contains("not a shared-context-server dump")
        );
        let newer = good.replace("\"version\":1", "\"version\":2");
        assert!(
            parse_header(newer.as_bytes())
                .unwrap_err()
                .contains("format version 2")
        );
        assert!(
            parse_header(b"\xff")
                .unwrap_err()
                .contains("not valid JSON")
        );
    }
}
