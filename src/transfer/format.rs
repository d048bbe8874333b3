//! The dump format: JSON Lines, one object per line.
//!
//! ```text
//! {"format":"shared-context-server/export","version":3,"exported_at":"…","source_backend":"sqlite","schema_version":11}
//! {"table":"sessions","seq":1,"id":"session_…","purpose":"…",…}
//! {"table":"agents","agent_id":"alice","agent_type":"claude",…}
//! {"table":"messages","id":1,"session_id":"session_…",…}
//! {"table":"message_recipients","message_id":1,"agent_id":"bob","delivered_at":null,"acked_at":null,…}
//! …
//! {"table":"leases","fencing_token":7,"lease_id":"lease_…","resources":["src/**"],…}
//! {"table":"tasks","id":3,"session_id":"session_…","depends_on":[2],…}
//! {"table":"shared_memory","session_id":"session_…","key":"plan","version":4,…}
//! {"end":{"sessions":1,"agents":2,"messages":1,"message_recipients":1,"agent_memory":0,"audit_log":2,"agent_tokens":1,"leases":1,"tasks":3,"shared_memory":1},"counters":{"sessions":1,"messages":4,"agent_memory":0,"audit_log":2,"leases":9,"tasks":3}}
//! ```
//!
//! Rows come table by table in foreign-key order (sessions, agents, messages,
//! message_recipients, agent_memory, audit_log, agent_tokens, leases, tasks, shared_memory), each
//! table in primary-key order (leases by fencing token). Every column is written (except the generated
//! `agent_memory.scope`), ids included; timestamps are RFC 3339 UTC with microseconds; JSON
//! columns are JSON values. The last line counts the rows per table, so a truncated dump is
//! recognised instead of half-imported, and carries the id counters ([`IdCounters`]): the
//! largest fencing token or id each counter handed out, also for rows deleted before the export,
//! so the importing database never hands one out again.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::storage::dump::{
    AgentDump, AuditDump, DumpBatch, DumpKey, DumpRow, DumpTable, IdCounters, LeaseDump,
    MemoryDump, MessageDump, RecipientDump, SessionDump, SharedMemoryDump, TaskDump, TokenDump,
};

/// The header's `format`.
pub const FORMAT: &str = "shared-context-server/export";
/// The header's `version`: the shape of the rows, bumped when a table or column is added or
/// changed. Version 2 added `agents` and `message_recipients` (direct messages, receipts, acks);
/// version 3 added `leases`, `tasks` and `shared_memory` (the coordination tables); version 4
/// added the id counters to the end line.
pub const VERSION: u32 = 4;
/// The oldest version this server still imports: version 1 lacks the two tables of version 2,
/// which is harmless only for a source that had no direct messages (see `compat`).
pub const OLDEST_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format: String,
    pub version: u32,
    #[serde(with = "crate::storage::dump::ts")]
    pub exported_at: DateTime<Utc>,
    /// `sqlite` or `postgresql`.
    pub source_backend: String,
    /// The newest migration applied to the source.
    pub schema_version: i64,
}

/// The last line: rows per table, and (from version 4) the id counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trailer {
    pub end: TableCounts,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counters: Option<IdCounters>,
}

/// Rows per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableCounts {
    pub sessions: u64,
    /// Absent from version 1 dumps.
    #[serde(default)]
    pub agents: u64,
    pub messages: u64,
    /// Absent from version 1 dumps.
    #[serde(default)]
    pub message_recipients: u64,
    pub agent_memory: u64,
    pub audit_log: u64,
    pub agent_tokens: u64,
    /// Absent from version 1 and 2 dumps.
    #[serde(default)]
    pub leases: u64,
    /// Absent from version 1 and 2 dumps.
    #[serde(default)]
    pub tasks: u64,
    /// Absent from version 1 and 2 dumps.
    #[serde(default)]
    pub shared_memory: u64,
}

impl TableCounts {
    pub fn get(&self, table: DumpTable) -> u64 {
        match table {
            DumpTable::Sessions => self.sessions,
            DumpTable::Agents => self.agents,
            DumpTable::Messages => self.messages,
            DumpTable::MessageRecipients => self.message_recipients,
            DumpTable::AgentMemory => self.agent_memory,
            DumpTable::AuditLog => self.audit_log,
            DumpTable::AgentTokens => self.agent_tokens,
            DumpTable::Leases => self.leases,
            DumpTable::Tasks => self.tasks,
            DumpTable::SharedMemory => self.shared_memory,
        }
    }

    pub fn add(&mut self, table: DumpTable, n: u64) {
        let slot = match table {
            DumpTable::Sessions => &mut self.sessions,
            DumpTable::Agents => &mut self.agents,
            DumpTable::Messages => &mut self.messages,
            DumpTable::MessageRecipients => &mut self.message_recipients,
            DumpTable::AgentMemory => &mut self.agent_memory,
            DumpTable::AuditLog => &mut self.audit_log,
            DumpTable::AgentTokens => &mut self.agent_tokens,
            DumpTable::Leases => &mut self.leases,
            DumpTable::Tasks => &mut self.tasks,
            DumpTable::SharedMemory => &mut self.shared_memory,
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

/// One parsed line of a dump.
#[derive(Debug, Clone, PartialEq)]
// Nearly every line is a row, so boxing it would cost an allocation per row to shrink the one
// end line.
#[allow(clippy::large_enum_variant)]
pub enum Line {
    Row(DumpRow),
    End(TableCounts, Option<IdCounters>),
}

/// Parses a line after the header: a row, or the end line. The error names what is wrong (the
/// caller adds the line number).
pub fn parse_line(bytes: &[u8]) -> Result<Line, String> {
    match serde_json::from_slice::<DumpRow>(bytes) {
        Ok(row) => Ok(Line::Row(row)),
        Err(row_err) => {
            if let Ok(trailer) = serde_json::from_slice::<Trailer>(bytes) {
                if let Some(counters) = &trailer.counters {
                    counters.check().map_err(|e| format!("bad end line: {e}"))?;
                }
                return Ok(Line::End(trailer.end, trailer.counters));
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
        Some(v) if (u64::from(OLDEST_VERSION)..=u64::from(VERSION)).contains(&v) => {}
        Some(v) if v < u64::from(OLDEST_VERSION) => {
            return Err(format!(
                "the dump has format version {v}, older than this server reads ({OLDEST_VERSION} to {VERSION})"
            ));
        }
        Some(v) => {
            return Err(format!(
                "the dump has format version {v}, this server reads version {VERSION}; import it with the version of shared-context-server that wrote it, or a newer one"
            ));
        }
        None => return Err("the header has no numeric \"version\"".into()),
    }
    serde_json::from_value(value).map_err(|e| format!("bad header: {}", describe(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

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
            Ok(Line::End(TableCounts { sessions: 1, messages: 2, agent_memory: 3, audit_log: 4, agent_tokens: 5, ..TableCounts::default() }, None)),
            "a version 1 end line has no agents or message_recipients"
        );
        assert_eq!(
            parse_line(br#"{"end":{"sessions":1,"agents":6,"messages":2,"message_recipients":7,"agent_memory":3,"audit_log":4,"agent_tokens":5}}"#),
            Ok(Line::End(TableCounts { sessions: 1, agents: 6, messages: 2, message_recipients: 7, agent_memory: 3, audit_log: 4, agent_tokens: 5, ..TableCounts::default() }, None)),
            "a version 2 end line has no leases, tasks or shared_memory"
        );
        assert_eq!(
            parse_line(br#"{"end":{"sessions":1,"agents":6,"messages":2,"message_recipients":7,"agent_memory":3,"audit_log":4,"agent_tokens":5,"leases":8,"tasks":9,"shared_memory":10}}"#),
            Ok(Line::End(TableCounts { sessions: 1, agents: 6, messages: 2, message_recipients: 7, agent_memory: 3, audit_log: 4, agent_tokens: 5, leases: 8, tasks: 9, shared_memory: 10 }, None))
        );
    }

    #[test]
    fn the_end_line_carries_the_counters_from_version_4() {
        let counters = IdCounters {
            sessions: 2,
            messages: 40,
            agent_memory: 0,
            audit_log: 9,
            leases: 17,
            tasks: 5,
        };
        let line = serde_json::to_string(&Trailer {
            end: TableCounts::default(),
            counters: Some(counters),
        })
        .unwrap();
        assert!(line.contains(r#""counters":{"sessions":2,"messages":40,"agent_memory":0,"audit_log":9,"leases":17,"tasks":5}"#), "{line}");
        assert_eq!(
            parse_line(line.as_bytes()),
            Ok(Line::End(TableCounts::default(), Some(counters)))
        );
        let negative = line.replace(r#""leases":17"#, r#""leases":-1"#);
        let err = parse_line(negative.as_bytes()).unwrap_err();
        assert!(
            err.contains("bad end line") && err.contains("`leases` is -1"),
            "{err}"
        );
    }

    #[test]
    fn headers_are_checked() {
        let good = r#"{"format":"shared-context-server/export","version":1,"exported_at":"2026-01-01T00:00:00.000000Z","source_backend":"sqlite","schema_version":3}"#;
        assert_eq!(parse_header(good.as_bytes()).unwrap().schema_version, 3);
        let older = good.replace("\"version\":1", "\"version\":2");
        assert_eq!(parse_header(older.as_bytes()).unwrap().version, 2);
        let current = good.replace("\"version\":1", "\"version\":4");
        assert_eq!(parse_header(current.as_bytes()).unwrap().version, 4);
        assert!(
            parse_header(good.replace("\"version\":1", "\"version\":0").as_bytes())
                .unwrap_err()
                .contains("older than")
        );
        assert!(
            parse_header(b"{\"format\":\"other\"}")
                .unwrap_err()
                .contains("not a shared-context-server dump")
        );
        let newer = good.replace("\"version\":1", "\"version\":5");
        assert!(
            parse_header(newer.as_bytes())
                .unwrap_err()
                .contains("format version 5")
        );
        assert!(
            parse_header(b"\xff")
                .unwrap_err()
                .contains("not valid JSON")
        );
    }
}
