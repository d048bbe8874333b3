//! Export and import on PostgreSQL. The export reads in one REPEATABLE READ, READ ONLY
//! transaction (a consistent snapshot while the server keeps running); the import runs in one
//! transaction that first locks our tables against writers, inserts each batch with one
//! `INSERT … SELECT FROM UNNEST(arrays)` (explicit ids need `OVERRIDING SYSTEM VALUE`), and
//! moves the identity sequences past the imported ids before committing. The rows of each table
//! are read and inserted in `core_rows` (sessions, messages, memory, audit, tokens), `inbox_rows`
//! (agents, recipients) and `coordination_rows` (leases, tasks, shared memory).

mod coordination_rows;
mod core_rows;
mod counters;
mod inbox_rows;

use async_trait::async_trait;
use sqlx::{Postgres, Transaction};

use super::PgStore;
use crate::storage::dump::{self, DumpBatch, DumpKey, DumpTable, IdCounters};
use crate::storage::{ExportTx, ImportTx, StoreResult, TransferStore};

struct Export(Transaction<'static, Postgres>);
struct Import(Transaction<'static, Postgres>);

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
            DumpTable::Sessions => core_rows::sessions(conn, after, limit).await?,
            DumpTable::Agents => inbox_rows::agents(conn, after, limit).await?,
            DumpTable::MessageRecipients => inbox_rows::recipients(conn, after, limit).await?,
            DumpTable::Leases => coordination_rows::leases(conn, after, limit).await?,
            DumpTable::Tasks => coordination_rows::tasks(conn, after, limit).await?,
            DumpTable::SharedMemory => coordination_rows::shared_memory(conn, after, limit).await?,
            DumpTable::Messages => core_rows::messages(conn, after, limit).await?,
            DumpTable::AgentMemory => core_rows::agent_memory(conn, after, limit).await?,
            DumpTable::AuditLog => core_rows::audit_log(conn, after, limit).await?,
            DumpTable::AgentTokens => core_rows::agent_tokens(conn, after, limit).await?,
        })
    }

    async fn counters(&mut self) -> StoreResult<IdCounters> {
        counters::read(&mut self.0).await
    }
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
        let conn = &mut *self.0;
        match batch {
            DumpBatch::Agents(rows) => inbox_rows::insert_agents(conn, rows).await?,
            DumpBatch::MessageRecipients(rows) => inbox_rows::insert_recipients(conn, rows).await?,
            DumpBatch::Leases(rows) => coordination_rows::insert_leases(conn, rows).await?,
            DumpBatch::Tasks(rows) => coordination_rows::insert_tasks(conn, rows).await?,
            DumpBatch::SharedMemory(rows) => {
                coordination_rows::insert_shared_memory(conn, rows).await?
            }
            DumpBatch::Sessions(rows) => core_rows::insert_sessions(conn, rows).await?,
            DumpBatch::Messages(rows) => core_rows::insert_messages(conn, rows).await?,
            DumpBatch::AgentMemory(rows) => core_rows::insert_agent_memory(conn, rows).await?,
            DumpBatch::AuditLog(rows) => core_rows::insert_audit_log(conn, rows).await?,
            DumpBatch::AgentTokens(rows) => core_rows::insert_agent_tokens(conn, rows).await?,
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> StoreResult<()> {
        // New rows continue after the imported keys; no counter moves back.
        let top = counters::read(&mut self.0).await?;
        counters::advance(&mut self.0, &top).await?;
        self.0.commit().await?;
        Ok(())
    }

    async fn advance(&mut self, top: &IdCounters) -> StoreResult<()> {
        counters::advance(&mut self.0, top).await
    }

    async fn rollback(self: Box<Self>) -> StoreResult<()> {
        self.0.rollback().await?;
        Ok(())
    }
}
