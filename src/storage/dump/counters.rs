//! The id counters of a dump (format version 4): for each table whose key a counter hands out,
//! the largest value it ever handed out, also for rows deleted since (a released lease, a pruned
//! session with its tasks and messages). A move applies them forward only, so a fencing token or
//! an id the source granted is never granted again by the target.

use serde::{Deserialize, Serialize};

use super::DumpTable;

/// The last value of each counter; 0 when it never handed one out. Serialised in the end line as
/// `"counters":{"sessions":…,"messages":…,"agent_memory":…,"audit_log":…,"leases":…,"tasks":…}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdCounters {
    /// `sessions.seq`
    pub sessions: i64,
    /// `messages.id`
    pub messages: i64,
    /// `agent_memory.id`
    pub agent_memory: i64,
    /// `audit_log.id`
    pub audit_log: i64,
    /// `leases.fencing_token`: the one promise of a fencing token is that it only grows.
    pub leases: i64,
    /// `tasks.id`
    pub tasks: i64,
}

impl IdCounters {
    /// The counted tables with their counted column, in dump order: the one list both backends
    /// build their counter statements from.
    pub const COLUMNS: [(DumpTable, &'static str); 6] = [
        (DumpTable::Sessions, "seq"),
        (DumpTable::Messages, "id"),
        (DumpTable::AgentMemory, "id"),
        (DumpTable::AuditLog, "id"),
        (DumpTable::Leases, "fencing_token"),
        (DumpTable::Tasks, "id"),
    ];

    /// The values in the order of [`Self::COLUMNS`].
    pub fn values(&self) -> [i64; 6] {
        [
            self.sessions,
            self.messages,
            self.agent_memory,
            self.audit_log,
            self.leases,
            self.tasks,
        ]
    }

    /// From values in the order of [`Self::COLUMNS`].
    pub fn from_values(v: [i64; 6]) -> Self {
        let [sessions, messages, agent_memory, audit_log, leases, tasks] = v;
        Self {
            sessions,
            messages,
            agent_memory,
            audit_log,
            leases,
            tasks,
        }
    }

    /// Refuses a negative counter, naming it.
    pub fn check(&self) -> Result<(), String> {
        match Self::COLUMNS
            .iter()
            .zip(self.values())
            .find(|(_, v)| *v < 0)
        {
            Some(((table, _), v)) => Err(format!(
                "the counter `{table}` is {v}; counters are 0 or more"
            )),
            None => Ok(()),
        }
    }
}
