//! Export and import on PostgreSQL. The export reads in one REPEATABLE READ, READ ONLY
//! transaction (a consistent snapshot while the server keeps running); the import runs in one
//! transaction that first locks our tables against writers, inserts each batch with one
//! `INSERT … SELECT FROM UNNEST(arrays)` (explicit ids need `OVERRIDING SYSTEM VALUE`), and
//! moves the identity sequences past the imported ids before committing. The inbox tables are
//! in `inbox_rows`, leases, tasks and shared memory in `coordination_rows`.

mod coordination_rows;
mod inbox_rows;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::types::Json;
use sqlx::{Postgres, Transaction};

use super::PgStore;
use crate::storage::dump::{
    AuditDump, DumpBatch, DumpKey, DumpTable, MemoryDump, MessageDump, SessionDump, TokenDump,
};
use crate::storage::{ExportTx, ImportTx, StoreResult, TransferStore};

struct Export(Transaction<'static, Postgres>);
struct Import(Transaction<'static, Postgres>);

type Obj = Json<Map<String, Value>>;
type SessionRow = (
    i64,
    String,
    String,
    String,
    Obj,
    bool,
    DateTime<Utc>,
    DateTime<Utc>,
);
type MessageRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    Obj,
    Option<i64>,
    DateTime<Utc>,
);
type MemoryRow = (
    i64,
    String,
    Option<String>,
    String,
    Json<Value>,
    i64,
    Obj,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);
type AuditRow = (
    i64,
    DateTime<Utc>,
    String,
    String,
    Option<String>,
    Json<Value>,
);
type TokenRow = (
    String,
    String,
    String,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

pub(super) fn after_id(after: Option<&DumpKey>) -> i64 {
    match after {
        Some(DumpKey::Id(id)) => *id,
        _ => i64::MIN,
    }
}

#[async_trait]
impl TransferStore for PgStore {
    async fn begin_export(&self) -> StoreResult<Box<dyn ExportTx>> {
        // Fail fast while the database is down, like every other call.
        self.with_conn(async |_| Ok(())).await?;
        let mut tx = self
            .aux_pool()
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
        // The reader of the dump (a pipe, the other database of a copy) may pause us for longer
        // than the server's idle-in-transaction limit.
        sqlx::query("SET LOCAL idle_in_transaction_session_timeout = 0")
            .execute(&mut *tx)
            .await?;
        Ok(Box::new(Export(tx)))
    }

    async fn begin_import(&self) -> StoreResult<Box<dyn ImportTx>> {
        self.with_conn(async |_| Ok(())).await?;
        let mut tx = self.aux_pool().begin().await?;
        for setting in [
            "SET LOCAL idle_in_transaction_session_timeout = 0",
            // Large batches (GIN and trigram index upkeep) may take longer than a request may.
            "SET LOCAL statement_timeout = 0",
            // …but waiting for a running server's writes to finish is bounded.
            "SET LOCAL lock_timeout = '30s'",
            // Writers wait until the import commits; readers are not blocked.
            "LOCK TABLE sessions, agents, messages, message_recipients, agent_memory, audit_log, agent_tokens, \
             leases, tasks, shared_memory IN EXCLUSIVE MODE",
        ] {
            sqlx::query(setting).execute(&mut *tx).await?;
        }
        Ok(Box::new(Import(tx)))
    }
}

#[async_trait]
impl ExportTx for Export {
    async fn page(
        &mut self,
        table: DumpTable,
        after: Option<&DumpKey>,
        limit: u32,
    ) -> StoreResult<DumpBatch> {
        let conn = &mut *self.0;
        let limit = i64::from(limit);
        Ok(match table {
            DumpTable::Sessions => {
                let rows: Vec<SessionRow> = sqlx::query_as(
                    "SELECT seq, id, purpose, created_by, metadata, is_active, created_at, updated_at \
                     FROM sessions WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(after_id(after))
                .bind(limit)
                .fetch_all(conn)
                .await?;
                DumpBatch::Sessions(
                    rows.into_iter()
                        .map(
                            |(
                                seq,
                                id,
                                purpose,
                                created_by,
                                Json(metadata),
                                is_active,
                                created_at,
                                updated_at,
                            )| {
                                SessionDump {
                                    seq,
                                    id,
                                    purpose,
                                    created_by,
                                    metadata,
                                    is_active,
                                    created_at,
                                    updated_at,
                                }
                            },
                        )
                        .collect(),
                )
            }
            DumpTable::Agents => inbox_rows::agents(conn, after, limit).await?,
            DumpTable::MessageRecipients => inbox_rows::recipients(conn, after, limit).await?,
            DumpTable::Leases => coordination_rows::leases(conn, after, limit).await?,
            DumpTable::Tasks => coordination_rows::tasks(conn, after, limit).await?,
            DumpTable::SharedMemory => coordination_rows::shared_memory(conn, after, limit).await?,
            DumpTable::Messages => {
                let rows: Vec<MessageRow> = sqlx::query_as(
                    "SELECT id, session_id, sender, sender_type, content, visibility, message_type, metadata, \
                     parent_message_id, created_at FROM messages WHERE id > $1 ORDER BY id LIMIT $2",
                )
                .bind(after_id(after))
                .bind(limit)
                .fetch_all(conn)
                .await?;
                DumpBatch::Messages(
                    rows.into_iter()
                        .map(
                            |(
                                id,
                                session_id,
                                sender,
                                sender_type,
                                content,
                                visibility,
                                message_type,
                                Json(metadata),
                                parent,
                                created_at,
                            )| {
                                MessageDump {
                                    id,
                                    session_id,
                                    sender,
                                    sender_type,
                                    content,
                                    visibility,
                                    message_type,
                                    metadata,
                                    parent_message_id: parent,
                                    created_at,
                                }
                            },
                        )
                        .collect(),
                )
            }
            DumpTable::AgentMemory => {
                let rows: Vec<MemoryRow> = sqlx::query_as(
                    "SELECT id, agent_id, session_id, key, value, value_size, metadata, created_at, updated_at, \
                     expires_at FROM agent_memory WHERE id > $1 ORDER BY id LIMIT $2",
                )
                .bind(after_id(after))
                .bind(limit)
                .fetch_all(conn)
                .await?;
                DumpBatch::AgentMemory(
                    rows.into_iter()
                        .map(
                            |(
                                id,
                                agent_id,
                                session_id,
                                key,
                                Json(value),
                                value_size,
                                Json(metadata),
                                created_at,
                                updated_at,
                                expires_at,
                            )| {
                                MemoryDump {
                                    id,
                                    agent_id,
                                    session_id,
                                    key,
                                    value,
                                    value_size,
                                    metadata,
                                    created_at,
                                    updated_at,
                                    expires_at,
                                }
                            },
                        )
                        .collect(),
                )
            }
            DumpTable::AuditLog => {
                let rows: Vec<AuditRow> = sqlx::query_as(
                    "SELECT id, created_at, event, actor, session_id, details FROM audit_log \
                     WHERE id > $1 ORDER BY id LIMIT $2",
                )
                .bind(after_id(after))
                .bind(limit)
                .fetch_all(conn)
                .await?;
                DumpBatch::AuditLog(
                    rows.into_iter()
                        .map(
                            |(id, created_at, event, actor, session_id, Json(details))| AuditDump {
                                id,
                                created_at,
                                event,
                                actor,
                                session_id,
                                details,
                            },
                        )
                        .collect(),
                )
            }
            DumpTable::AgentTokens => {
                // Two statements, so each has a plan that walks the primary key.
                let rows: Vec<TokenRow> = match after {
                    Some(DumpKey::Text(hash)) => {
                        sqlx::query_as(
                            "SELECT token_hash, agent_id, agent_type, permissions, issued_at, expires_at, revoked_at \
                             FROM agent_tokens WHERE token_hash > $1 ORDER BY token_hash LIMIT $2",
                        )
                        .bind(hash.as_str())
                        .bind(limit)
                        .fetch_all(conn)
                        .await?
                    }
                    _ => {
                        sqlx::query_as(
                            "SELECT token_hash, agent_id, agent_type, permissions, issued_at, expires_at, revoked_at \
                             FROM agent_tokens ORDER BY token_hash LIMIT $1",
                        )
                        .bind(limit)
                        .fetch_all(conn)
                        .await?
                    }
                };
                DumpBatch::AgentTokens(
                    rows.into_iter()
                        .map(
                            |(
                                token_hash,
                                agent_id,
                                agent_type,
                                permissions,
                                issued_at,
                                expires_at,
                                revoked_at,
                            )| {
                                TokenDump {
                                    token_hash,
                                    agent_id,
                                    agent_type,
                                    permissions,
                                    issued_at,
                                    expires_at,
                                    revoked_at,
                                }
                            },
                        )
                        .collect(),
                )
            }
        })
    }
}

#[async_trait]
impl ImportTx for Import {
    async fn occupied(&mut self) -> StoreResult<Vec<DumpTable>> {
        let (s, m, a, l, t): (bool, bool, bool, bool, bool) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM sessions), EXISTS (SELECT 1 FROM messages), \
             EXISTS (SELECT 1 FROM agent_memory), EXISTS (SELECT 1 FROM audit_log), EXISTS (SELECT 1 FROM agent_tokens)",
        )
        .fetch_one(&mut *self.0)
        .await?;
        let mut occupied: Vec<DumpTable> = [
            DumpTable::Sessions,
            DumpTable::Messages,
            DumpTable::AgentMemory,
            DumpTable::AuditLog,
            DumpTable::AgentTokens,
        ]
        .into_iter()
        .zip([s, m, a, l, t])
        .filter_map(|(t, used)| used.then_some(t))
        .collect();
        occupied.extend(inbox_rows::occupied(&mut self.0).await?);
        occupied.extend(coordination_rows::occupied(&mut self.0).await?);
        occupied.sort();
        Ok(occupied)
    }

    async fn insert(&mut self, batch: &DumpBatch) -> StoreResult<()> {
        let conn = &mut *self.0;
        match batch {
            DumpBatch::Agents(rows) => inbox_rows::insert_agents(conn, rows).await?,
            DumpBatch::MessageRecipients(rows) => inbox_rows::insert_recipients(conn, rows).await?,
            DumpBatch::Leases(rows) => coordination_rows::insert_leases(conn, rows).await?,
            DumpBatch::Tasks(rows) => coordination_rows::insert_tasks(conn, rows).await?,
            DumpBatch::SharedMemory(rows) => {
                coordination_rows::insert_shared_memory(conn, rows).await?
            }
            DumpBatch::Sessions(rows) => {
                sqlx::query(
                    "INSERT INTO sessions (seq, id, purpose, created_by, metadata, is_active, created_at, updated_at) \
                     OVERRIDING SYSTEM VALUE \
                     SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::boolean[], \
                       $7::timestamptz[], $8::timestamptz[])",
                )
                .bind(rows.iter().map(|r| r.seq).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.purpose.as_str()).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.created_by.as_str()).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| Json(&r.metadata)).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.is_active).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.updated_at).collect::<Vec<_>>())
                .execute(conn)
                .await?;
            }
            DumpBatch::Messages(rows) => {
                sqlx::query(
                    "INSERT INTO messages (id, session_id, sender, sender_type, content, visibility, message_type, \
                       metadata, parent_message_id, created_at) \
                     OVERRIDING SYSTEM VALUE \
                     SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                       $7::text[], $8::jsonb[], $9::bigint[], $10::timestamptz[])",
                )
                .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.session_id.as_str()).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.sender.as_str()).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.sender_type.as_str()).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.content.as_str()).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.visibility.as_str()).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.message_type.as_str()).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| Json(&r.metadata)).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.parent_message_id).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
                .execute(conn)
                .await?;
            }
            DumpBatch::AgentMemory(rows) => {
                // `scope` is generated from session_id.
                sqlx::query(
                    "INSERT INTO agent_memory (id, agent_id, session_id, key, value, value_size, metadata, created_at, \
                       updated_at, expires_at) \
                     OVERRIDING SYSTEM VALUE \
                     SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::bigint[], \
                       $7::jsonb[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[])",
                )
                .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.agent_id.as_str()).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.session_id.as_deref()).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.key.as_str()).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| Json(&r.value)).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.value_size).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| Json(&r.metadata)).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.updated_at).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.expires_at).collect::<Vec<_>>())
                .execute(conn)
                .await?;
            }
            DumpBatch::AuditLog(rows) => {
                sqlx::query(
                    "INSERT INTO audit_log (id, created_at, event, actor, session_id, details) \
                     OVERRIDING SYSTEM VALUE \
                     SELECT * FROM UNNEST($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::jsonb[])",
                )
                .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.created_at).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.event.as_str()).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.actor.as_str()).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.session_id.as_deref()).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| Json(&r.details)).collect::<Vec<_>>())
                .execute(conn)
                .await?;
            }
            DumpBatch::AgentTokens(rows) => {
                sqlx::query(
                    "INSERT INTO agent_tokens (token_hash, agent_id, agent_type, permissions, issued_at, expires_at, revoked_at) \
                     SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], \
                       $6::timestamptz[], $7::timestamptz[])",
                )
                .bind(rows.iter().map(|r| r.token_hash.as_str()).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.agent_id.as_str()).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.agent_type.as_str()).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.permissions.as_str()).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.issued_at).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.expires_at).collect::<Vec<_>>())
                .bind(rows.iter().map(|r| r.revoked_at).collect::<Vec<_>>())
                .execute(conn)
                .await?;
            }
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> StoreResult<()> {
        // New rows continue after the imported ids. setval ignores a NULL (empty table).
        sqlx::query(
            "SELECT setval(pg_get_serial_sequence('shared_context.sessions', 'seq'), (SELECT max(seq) FROM sessions)), \
                    setval(pg_get_serial_sequence('shared_context.messages', 'id'), (SELECT max(id) FROM messages)), \
                    setval(pg_get_serial_sequence('shared_context.agent_memory', 'id'), (SELECT max(id) FROM agent_memory)), \
                    setval(pg_get_serial_sequence('shared_context.audit_log', 'id'), (SELECT max(id) FROM audit_log))",
        )
        .execute(&mut *self.0)
        .await?;
        coordination_rows::advance_counters(&mut self.0).await?;
        self.0.commit().await?;
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> StoreResult<()> {
        self.0.rollback().await?;
        Ok(())
    }
}
