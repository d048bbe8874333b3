//! The coordination rows of a dump (format version 3): `leases`, `tasks` and `shared_memory`,
//! with every column, fencing tokens, task ids and versions included, so a move keeps fencing,
//! dependencies and compare-and-set intact.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ts;

/// A `leases` row: a grant that stays live until `expires_at`. `fencing_token` is reproduced, and
/// the importing backend's counter moves past it so new grants keep growing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseDump {
    pub fencing_token: i64,
    pub lease_id: String,
    pub holder: String,
    pub session_id: Option<String>,
    pub mode: String,
    pub resources: Vec<String>,
    pub reason: Option<String>,
    #[serde(with = "ts")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "ts")]
    pub expires_at: DateTime<Utc>,
}

/// A `tasks` row. `depends_on` and `result` are kept as stored JSON; the state is checked by the
/// database on import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskDump {
    pub id: i64,
    pub session_id: String,
    pub title: String,
    pub description: Option<String>,
    pub state: String,
    pub created_by: String,
    pub assignee: Option<String>,
    pub claimed_by: Option<String>,
    pub depends_on: Value,
    pub metadata: Map<String, Value>,
    pub result: Value,
    pub note: Option<String>,
    #[serde(with = "ts")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "ts")]
    pub updated_at: DateTime<Utc>,
}

/// A `shared_memory` row: one entry of a session's shared memory with its compare-and-set version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedMemoryDump {
    pub session_id: String,
    pub key: String,
    pub value: Value,
    pub value_size: i64,
    pub version: i64,
    pub updated_by: String,
    #[serde(with = "ts")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "ts")]
    pub updated_at: DateTime<Utc>,
}
