//! Export and import on SQLite. The export reads in one transaction on a reader connection (a
//! WAL snapshot); the import holds the writer in one `BEGIN IMMEDIATE` transaction and inserts
//! multi-row `VALUES`. The FTS triggers index imported messages as they arrive, and AUTOINCREMENT
//! counters follow explicit ids by themselves (`sqlite_sequence` keeps the largest id inserted);
//! the dump's counters move them further (`counters`). The inbox tables are in `inbox_rows`,
//! leases, tasks and shared memory in `coordination_rows`.

mod coordination_rows;
mod counters;
mod inbox_rows;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{QueryBuilder, Sqlite, Transaction};

use super::{SqliteStore, json_map, ts};
use crate::storage::dump::{
    self, AuditDump, DumpBatch, DumpKey, DumpTable, IdCounters, MemoryDump, MessageDump,
    SessionDump, TokenDump,
};
use crate::storage::{ExportTx, ImportTx, StoreError, StoreResult, TransferStore};
use crate::util::rfc3339;

struct Export(Transaction<'static, Sqlite>);
struct Import(Transaction<'static, Sqlite>);

type SessionRow = (i64, String, String, String, String, bool, String, String);
type MessageRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    String,
);
type MemoryRow = (
    i64,
    String,
    Option<String>,
    String,
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
);
type AuditRow = (i64, String, String, String, Option<String>, String);
type TokenRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
);

pub(super) fn json(raw: &str, column: &str) -> StoreResult<Value> {
    serde_json::from_str(raw)
        .map_err(|e| StoreError::Internal(format!("bad JSON in {column}: {e}")))
}

fn opt_ts(raw: Option<String>) -> StoreResult<Option<chrono::DateTime<chrono::Utc>>> {
    raw.as_deref().map(ts).transpose()
}

pub(super) fn after_id(after: Option<&DumpKey>) -> i64 {
    match after {
        Some(DumpKey::Id(id)) => *id,
        _ => i64::MIN,
    }
}

#[async_trait]
impl TransferStore for SqliteStore {
    async fn begin_export(&self) -> StoreResult<Box<dyn ExportTx>> {
        let mut tx = self.reader.begin().await?;
        // A deferred transaction takes its snapshot at the first read: take it now.
        sqlx::query("SELECT count(*) FROM sessions")
            .execute(&mut *tx)
            .await?;
        Ok(Box::new(Export(tx)))
    }

    async fn begin_import(&self) -> StoreResult<Box<dyn ImportTx>> {
        Ok(Box::new(Import(
            self.writer.begin_with("BEGIN IMMEDIATE").await?,
        )))
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
                     FROM sessions WHERE seq > $1 ORDER BY seq LIMIT +$2",
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
                                metadata,
                                is_active,
                                created_at,
                                updated_at,
                            )| {
                                Ok(SessionDump {
                                    seq,
                                    id,
                                    purpose,
                                    created_by,
                                    metadata: json_map(&metadata)?,
                                    is_active,
                                    created_at: ts(&created_at)?,
                                    updated_at: ts(&updated_at)?,
                                })
                            },
                        )
                        .collect::<StoreResult<_>>()?,
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
                     parent_message_id, created_at FROM messages WHERE id > $1 ORDER BY id LIMIT +$2",
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
                                metadata,
                                parent,
                                created_at,
                            )| {
                                Ok(MessageDump {
                                    id,
                                    session_id,
                                    sender,
                                    sender_type,
                                    content,
                                    visibility,
                                    message_type,
                                    metadata: json_map(&metadata)?,
                                    parent_message_id: parent,
                                    created_at: ts(&created_at)?,
                                })
                            },
                        )
                        .collect::<StoreResult<_>>()?,
                )
            }
            DumpTable::AgentMemory => {
                let rows: Vec<MemoryRow> = sqlx::query_as(
                    "SELECT id, agent_id, session_id, key, value, value_size, metadata, created_at, updated_at, \
                     expires_at FROM agent_memory WHERE id > $1 ORDER BY id LIMIT +$2",
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
                                value,
                                value_size,
                                metadata,
                                created_at,
                                updated_at,
                                expires_at,
                            )| {
                                Ok(MemoryDump {
                                    id,
                                    agent_id,
                                    session_id,
                                    key,
                                    value: json(&value, "agent_memory.value")?,
                                    value_size,
                                    metadata: json_map(&metadata)?,
                                    created_at: ts(&created_at)?,
                                    updated_at: ts(&updated_at)?,
                                    expires_at: opt_ts(expires_at)?,
                                })
                            },
                        )
                        .collect::<StoreResult<_>>()?,
                )
            }
            DumpTable::AuditLog => {
                let rows: Vec<AuditRow> = sqlx::query_as(
                    "SELECT id, created_at, event, actor, session_id, details FROM audit_log \
                     WHERE id > $1 ORDER BY id LIMIT +$2",
                )
                .bind(after_id(after))
                .bind(limit)
                .fetch_all(conn)
                .await?;
                DumpBatch::AuditLog(
                    rows.into_iter()
                        .map(|(id, created_at, event, actor, session_id, details)| {
                            Ok(AuditDump {
                                id,
                                created_at: ts(&created_at)?,
                                event,
                                actor,
                                session_id,
                                details: json(&details, "audit_log.details")?,
                            })
                        })
                        .collect::<StoreResult<_>>()?,
                )
            }
            DumpTable::AgentTokens => {
                let after = match after {
                    Some(DumpKey::Text(hash)) => Some(hash.as_str()),
                    _ => None,
                };
                let rows: Vec<TokenRow> = sqlx::query_as(
                    "SELECT token_hash, agent_id, agent_type, permissions, issued_at, expires_at, revoked_at \
                     FROM agent_tokens WHERE $1 IS NULL OR token_hash > $1 ORDER BY token_hash LIMIT +$2",
                )
                .bind(after)
                .bind(limit)
                .fetch_all(conn)
                .await?;
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
                                Ok(TokenDump {
                                    token_hash,
                                    agent_id,
                                    agent_type,
                                    permissions,
                                    issued_at: ts(&issued_at)?,
                                    expires_at: ts(&expires_at)?,
                                    revoked_at: opt_ts(revoked_at)?,
                                })
                            },
                        )
                        .collect::<StoreResult<_>>()?,
                )
            }
        })
    }

    async fn counters(&mut self) -> StoreResult<IdCounters> {
        counters::read(&mut self.0).await
    }
}

pub(super) fn object(map: &serde_json::Map<String, Value>) -> String {
    // Same text as the service writes: serde_json's rendering of the object.
    serde_json::to_string(map).unwrap_or_else(|_| "{}".into())
}

#[async_trait]
impl ImportTx for Import {
    async fn occupied(&mut self) -> StoreResult<Vec<DumpTable>> {
        let names: Vec<(String,)> = sqlx::query_as(dump::OCCUPIED_SQL.as_str())
            .fetch_all(&mut *self.0)
            .await?;
        Ok(dump::occupied(names))
    }

    async fn insert(&mut self, batch: &DumpBatch) -> StoreResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut qb: QueryBuilder<Sqlite> = match batch {
            DumpBatch::Sessions(rows) => {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO sessions (seq, id, purpose, created_by, metadata, is_active, created_at, updated_at) ",
                );
                qb.push_values(rows, |mut b, r| {
                    b.push_bind(r.seq)
                        .push_bind(&r.id)
                        .push_bind(&r.purpose)
                        .push_bind(&r.created_by)
                        .push_bind(object(&r.metadata))
                        .push_bind(r.is_active)
                        .push_bind(rfc3339(r.created_at))
                        .push_bind(rfc3339(r.updated_at));
                });
                qb
            }
            DumpBatch::Agents(rows) => inbox_rows::insert_agents(rows),
            DumpBatch::MessageRecipients(rows) => inbox_rows::insert_recipients(rows),
            DumpBatch::Leases(rows) => coordination_rows::insert_leases(rows),
            DumpBatch::Tasks(rows) => coordination_rows::insert_tasks(rows),
            DumpBatch::SharedMemory(rows) => coordination_rows::insert_shared_memory(rows),
            DumpBatch::Messages(rows) => {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO messages (id, session_id, sender, sender_type, content, visibility, message_type, \
                     metadata, parent_message_id, created_at) ",
                );
                qb.push_values(rows, |mut b, r| {
                    b.push_bind(r.id)
                        .push_bind(&r.session_id)
                        .push_bind(&r.sender)
                        .push_bind(&r.sender_type)
                        .push_bind(&r.content)
                        .push_bind(&r.visibility)
                        .push_bind(&r.message_type)
                        .push_bind(object(&r.metadata))
                        .push_bind(r.parent_message_id)
                        .push_bind(rfc3339(r.created_at));
                });
                qb
            }
            DumpBatch::AgentMemory(rows) => {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO agent_memory (id, agent_id, session_id, key, value, value_size, metadata, \
                     created_at, updated_at, expires_at) ",
                );
                qb.push_values(rows, |mut b, r| {
                    b.push_bind(r.id)
                        .push_bind(&r.agent_id)
                        .push_bind(&r.session_id)
                        .push_bind(&r.key)
                        .push_bind(r.value.to_string())
                        .push_bind(r.value_size)
                        .push_bind(object(&r.metadata))
                        .push_bind(rfc3339(r.created_at))
                        .push_bind(rfc3339(r.updated_at))
                        .push_bind(r.expires_at.map(rfc3339));
                });
                qb
            }
            DumpBatch::AuditLog(rows) => {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO audit_log (id, created_at, event, actor, session_id, details) ",
                );
                qb.push_values(rows, |mut b, r| {
                    b.push_bind(r.id)
                        .push_bind(rfc3339(r.created_at))
                        .push_bind(&r.event)
                        .push_bind(&r.actor)
                        .push_bind(&r.session_id)
                        .push_bind(r.details.to_string());
                });
                qb
            }
            DumpBatch::AgentTokens(rows) => {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO agent_tokens (token_hash, agent_id, agent_type, permissions, issued_at, expires_at, \
                     revoked_at) ",
                );
                qb.push_values(rows, |mut b, r| {
                    b.push_bind(&r.token_hash)
                        .push_bind(&r.agent_id)
                        .push_bind(&r.agent_type)
                        .push_bind(&r.permissions)
                        .push_bind(rfc3339(r.issued_at))
                        .push_bind(rfc3339(r.expires_at))
                        .push_bind(r.revoked_at.map(rfc3339));
                });
                qb
            }
        };
        qb.build().execute(&mut *self.0).await?;
        Ok(())
    }

    async fn advance(&mut self, top: &IdCounters) -> StoreResult<()> {
        counters::advance(&mut self.0, top).await
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.0.commit().await?;
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> StoreResult<()> {
        self.0.rollback().await?;
        Ok(())
    }
}
