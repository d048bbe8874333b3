//! SQLite backend: WAL, busy timeout, foreign keys; one writer connection so writers queue in
//! the pool instead of failing with SQLITE_BUSY, and a small pool of readers.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

mod memory;
mod search;

use super::visibility::message_read_where;
use super::*;
use crate::domain::{SessionId, Visibility};
use crate::util::rfc3339;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
}

type SessionRow = (i64, String, String, String, String, i64, String, String);
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
type TokenRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
);

const SESSION_COLUMNS: &str =
    "seq, id, purpose, created_by, metadata, is_active, created_at, updated_at";

impl SqliteStore {
    pub async fn connect(url: &str, options: &ConnectOptions) -> anyhow::Result<Self> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let mut opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        if !in_memory {
            opts = opts
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
        }
        let acquire = options.acquire_timeout;
        // An in-memory database lives as long as its connection: pin exactly one for everything.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(acquire)
            .connect_with(opts.clone())
            .await?;
        MIGRATOR.run(&writer).await?;
        let reader = if in_memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(options.max_connections.clamp(1, 8))
                .min_connections(1)
                .acquire_timeout(acquire)
                .connect_with(opts.read_only(true))
                .await?
        };
        Ok(Self { reader, writer })
    }
}

fn ts(raw: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Internal(format!("bad timestamp '{raw}' in database: {e}")))
}

fn json_map(raw: &str) -> StoreResult<Map<String, Value>> {
    serde_json::from_str(raw)
        .map_err(|e| StoreError::Internal(format!("bad JSON in database: {e}")))
}

fn session(row: SessionRow) -> StoreResult<SessionRecord> {
    let (seq, id, purpose, created_by, metadata, is_active, created_at, updated_at) = row;
    Ok(SessionRecord {
        id,
        purpose,
        created_by,
        metadata: json_map(&metadata)?,
        is_active: is_active != 0,
        created_at: ts(&created_at)?,
        updated_at: ts(&updated_at)?,
        seq,
    })
}

fn message(row: MessageRow) -> StoreResult<MessageRecord> {
    let (
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
    ) = row;
    Ok(MessageRecord {
        id,
        session_id,
        sender,
        sender_type,
        content,
        visibility: Visibility::parse(&visibility).map_err(|e| StoreError::Internal(e.message))?,
        message_type,
        metadata: json_map(&metadata)?,
        parent_message_id: parent,
        created_at: ts(&created_at)?,
    })
}

fn token(row: TokenRow) -> StoreResult<TokenRecord> {
    let (token_hash, agent_id, agent_type, permissions, issued_at, expires_at, revoked_at) = row;
    Ok(TokenRecord {
        token_hash,
        agent_id,
        agent_type,
        permissions: parse_permissions(&permissions),
        issued_at: ts(&issued_at)?,
        expires_at: ts(&expires_at)?,
        revoked_at: revoked_at.as_deref().map(ts).transpose()?,
    })
}

async fn insert_audit<'c, E: sqlx::SqliteExecutor<'c>>(exec: E, e: &AuditEvent) -> StoreResult<()> {
    sqlx::query("INSERT INTO audit_log (created_at, event, actor, session_id, details) VALUES ($1, $2, $3, $4, $5)")
        .bind(rfc3339(e.at))
        .bind(e.event)
        .bind(&e.actor)
        .bind(&e.session_id)
        .bind(e.details.to_string())
        .execute(exec)
        .await?;
    Ok(())
}

fn bind_read<'q>(
    q: sqlx::query::QueryAs<'q, sqlx::Sqlite, MessageRow, sqlx::sqlite::SqliteArguments>,
    query: &'q MessageQuery<'_>,
) -> sqlx::query::QueryAs<'q, sqlx::Sqlite, MessageRow, sqlx::sqlite::SqliteArguments> {
    let (kind, id, ty) = query.reader.sql_params();
    q.bind(kind)
        .bind(id.to_owned())
        .bind(ty.to_owned())
        .bind(query.session_id.as_str().to_owned())
        .bind(query.only.map(Visibility::as_str))
        .bind(query.after_id)
}

#[async_trait]
impl CoreStore for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn pool_stats(&self) -> PoolStats {
        let size = self.reader.size() + self.writer.size();
        let idle = (self.reader.num_idle() + self.writer.num_idle()) as u32;
        let max = self.reader.options().get_max_connections() + 1;
        PoolStats {
            size,
            idle,
            in_use: size.saturating_sub(idle),
            max,
        }
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn server_version(&self) -> StoreResult<String> {
        let (v,): (String,) = sqlx::query_as("SELECT sqlite_version()")
            .fetch_one(&self.reader)
            .await?;
        Ok(format!("SQLite {v}"))
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    async fn create_session(&self, new: &NewSession) -> StoreResult<SessionRecord> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let at = rfc3339(new.at);
        let (seq,): (i64,) = sqlx::query_as(
            "INSERT INTO sessions (id, purpose, created_by, metadata, is_active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 1, $5, $5) RETURNING seq",
        )
        .bind(new.id.as_str())
        .bind(&new.purpose)
        .bind(&new.created_by)
        .bind(Value::Object(new.metadata.clone()).to_string())
        .bind(&at)
        .fetch_one(&mut *tx)
        .await?;
        let audit = AuditEvent::new(
            "session_created",
            new.created_by.clone(),
            serde_json::json!({"purpose_chars": new.purpose.chars().count()}),
        )
        .in_session(new.id.as_str());
        insert_audit(
            &mut *tx,
            &AuditEvent {
                at: new.at,
                ..audit
            },
        )
        .await?;
        tx.commit().await?;
        Ok(SessionRecord {
            id: new.id.as_str().to_owned(),
            purpose: new.purpose.clone(),
            created_by: new.created_by.clone(),
            metadata: new.metadata.clone(),
            is_active: true,
            created_at: new.at,
            updated_at: new.at,
            seq,
        })
    }

    async fn get_session(&self, id: &SessionId) -> StoreResult<Option<SessionRecord>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1");
        let row: Option<SessionRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await?;
        row.map(session).transpose()
    }

    async fn list_sessions(
        &self,
        active_only: bool,
        limit: u32,
        before_seq: Option<i64>,
    ) -> StoreResult<Vec<SessionRecord>> {
        let rows: Vec<SessionRow> = sqlx::query_as(
            "SELECT seq, id, purpose, created_by, metadata, is_active, created_at, updated_at FROM sessions \
             WHERE ($1 = 0 OR is_active = 1) AND seq < $2 ORDER BY seq DESC LIMIT $3",
        )
        .bind(i64::from(active_only))
        .bind(before_seq.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter().map(session).collect()
    }

    async fn close_session(
        &self,
        id: &SessionId,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<SessionRecord>> {
        let row: Option<SessionRow> = sqlx::query_as(
            "UPDATE sessions SET is_active = 0, updated_at = $2 WHERE id = $1 \
             RETURNING seq, id, purpose, created_by, metadata, is_active, created_at, updated_at",
        )
        .bind(id.as_str())
        .bind(rfc3339(at))
        .fetch_optional(&self.writer)
        .await?;
        row.map(session).transpose()
    }

    async fn add_message(&self, new: &NewMessage) -> StoreResult<InsertOutcome> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let at = rfc3339(new.at);
        let state: Option<(i64,)> = sqlx::query_as("SELECT is_active FROM sessions WHERE id = $1")
            .bind(new.session_id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        match state {
            None => return Ok(InsertOutcome::SessionMissing),
            Some((0,)) => return Ok(InsertOutcome::SessionClosed),
            Some(_) => {}
        }
        if let Some(parent) = new.parent_message_id {
            let found: Option<(i64,)> =
                sqlx::query_as("SELECT id FROM messages WHERE id = $1 AND session_id = $2")
                    .bind(parent)
                    .bind(new.session_id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            if found.is_none() {
                return Ok(InsertOutcome::ParentNotInSession);
            }
        }
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO messages (session_id, sender, sender_type, content, visibility, metadata, parent_message_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(new.session_id.as_str())
        .bind(&new.sender)
        .bind(&new.sender_type)
        .bind(&new.content)
        .bind(new.visibility.as_str())
        .bind(Value::Object(new.metadata.clone()).to_string())
        .bind(new.parent_message_id)
        .bind(&at)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("UPDATE sessions SET updated_at = $2 WHERE id = $1")
            .bind(new.session_id.as_str())
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        let audit = AuditEvent {
            event: "message_added",
            actor: new.sender.clone(),
            session_id: Some(new.session_id.as_str().to_owned()),
            details: serde_json::json!({"message_id": id, "visibility": new.visibility.as_str()}),
            at: new.at,
        };
        insert_audit(&mut *tx, &audit).await?;
        tx.commit().await?;
        Ok(InsertOutcome::Inserted(MessageRecord::from_new(id, new)))
    }

    async fn list_messages(&self, query: &MessageQuery<'_>) -> StoreResult<Vec<MessageRecord>> {
        const ASC: &str = concat!(
            "SELECT m.id, m.session_id, m.sender, m.sender_type, m.content, m.visibility, m.message_type, m.metadata, \
             m.parent_message_id, m.created_at FROM messages m",
            message_read_where!(),
            "ORDER BY m.id ASC LIMIT $7 OFFSET $8"
        );
        const DESC: &str = concat!(
            "SELECT m.id, m.session_id, m.sender, m.sender_type, m.content, m.visibility, m.message_type, m.metadata, \
             m.parent_message_id, m.created_at FROM messages m",
            message_read_where!(),
            "ORDER BY m.id DESC LIMIT $7 OFFSET $8"
        );
        let sql = if query.newest_first { DESC } else { ASC };
        let rows = bind_read(sqlx::query_as(sql), query)
            .bind(i64::from(query.limit))
            .bind(query.offset)
            .fetch_all(&self.reader)
            .await?;
        rows.into_iter().map(message).collect()
    }

    async fn count_messages(&self, query: &MessageQuery<'_>) -> StoreResult<i64> {
        const SQL: &str = concat!("SELECT COUNT(*) FROM messages m", message_read_where!());
        let (kind, id, ty) = query.reader.sql_params();
        let (n,): (i64,) = sqlx::query_as(SQL)
            .bind(kind)
            .bind(id)
            .bind(ty)
            .bind(query.session_id.as_str())
            .bind(query.only.map(Visibility::as_str))
            .bind(query.after_id)
            .fetch_one(&self.reader)
            .await?;
        Ok(n)
    }

    async fn insert_token(&self, t: &TokenRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO agent_tokens (token_hash, agent_id, agent_type, permissions, issued_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&t.token_hash)
        .bind(&t.agent_id)
        .bind(&t.agent_type)
        .bind(t.permissions.join(","))
        .bind(rfc3339(t.issued_at))
        .bind(rfc3339(t.expires_at))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn find_token(&self, token_hash: &str) -> StoreResult<Option<TokenRecord>> {
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT token_hash, agent_id, agent_type, permissions, issued_at, expires_at, revoked_at \
             FROM agent_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.reader)
        .await?;
        row.map(token).transpose()
    }

    async fn revoke_token(&self, token_hash: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE agent_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(token_hash)
        .bind(rfc3339(at))
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn rotate_token(
        &self,
        old_hash: &str,
        new: &TokenRecord,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let at = rfc3339(at);
        let done = sqlx::query(
            "UPDATE agent_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(old_hash)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO agent_tokens (token_hash, agent_id, agent_type, permissions, issued_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&new.token_hash)
        .bind(&new.agent_id)
        .bind(&new.agent_type)
        .bind(new.permissions.join(","))
        .bind(rfc3339(new.issued_at))
        .bind(rfc3339(new.expires_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn audit(&self, event: &AuditEvent) -> StoreResult<()> {
        insert_audit(&self.writer, event).await
    }

    async fn recent_audit(&self, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        let rows: Vec<(String, String, Option<String>, String, String)> = sqlx::query_as(
            "SELECT event, actor, session_id, details, created_at FROM audit_log ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter()
            .map(|(event, actor, session_id, details, created_at)| {
                Ok(AuditRecord {
                    event,
                    actor,
                    session_id,
                    details: serde_json::from_str(&details).unwrap_or(Value::Null),
                    created_at: ts(&created_at)?,
                })
            })
            .collect()
    }
}
