//! PostgreSQL backend: schema `shared_context`, JSONB metadata, a tuned pool, one round trip per
//! write (data-modifying CTEs), and per-connection settings applied at connect time.

use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::types::Json;
use sqlx::{ConnectOptions as _, Connection as _};

mod memory;
mod search;

use super::visibility::message_read_where;
use super::*;
use crate::domain::{SessionId, Visibility};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Everything we create lives here, so we share a database with others politely.
pub const SCHEMA: &str = "shared_context";

pub struct PgStore {
    pool: PgPool,
}

type SessionRow = (
    i64,
    String,
    String,
    String,
    Json<Map<String, Value>>,
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
    Json<Map<String, Value>>,
    Option<i64>,
    DateTime<Utc>,
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

impl PgStore {
    pub async fn connect(url: &str, options: &ConnectOptions) -> anyhow::Result<Self> {
        let statement_timeout_ms = options.statement_timeout.as_millis().to_string();
        let opts = PgConnectOptions::from_str(url)?
            .application_name(&options.application_name)
            .options([
                ("search_path", SCHEMA),
                ("statement_timeout", statement_timeout_ms.as_str()),
                ("idle_in_transaction_session_timeout", "60000"),
            ])
            .log_statements(tracing::log::LevelFilter::Trace);
        // The schema must exist before the pool's search_path points at it and migrations run.
        let mut bootstrap = opts.connect().await?;
        sqlx::query("CREATE SCHEMA IF NOT EXISTS shared_context")
            .execute(&mut bootstrap)
            .await?;
        bootstrap.close().await?;

        let mut pool_options = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .min_connections(options.min_connections)
            .acquire_timeout(options.acquire_timeout)
            .test_before_acquire(true);
        pool_options = pool_options
            .max_lifetime(options.max_lifetime)
            .idle_timeout(options.idle_timeout);
        let pool = pool_options.connect_with(opts).await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn session(row: SessionRow) -> SessionRecord {
    let (seq, id, purpose, created_by, Json(metadata), is_active, created_at, updated_at) = row;
    SessionRecord {
        id,
        purpose,
        created_by,
        metadata,
        is_active,
        created_at,
        updated_at,
        seq,
    }
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
        Json(metadata),
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
        metadata,
        parent_message_id: parent,
        created_at,
    })
}

fn token(row: TokenRow) -> TokenRecord {
    let (token_hash, agent_id, agent_type, permissions, issued_at, expires_at, revoked_at) = row;
    TokenRecord {
        token_hash,
        agent_id,
        agent_type,
        permissions: parse_permissions(&permissions),
        issued_at,
        expires_at,
        revoked_at,
    }
}

const SESSION_RETURNING: &str =
    "seq, id, purpose, created_by, metadata, is_active, created_at, updated_at";

#[async_trait]
impl CoreStore for PgStore {
    fn backend(&self) -> &'static str {
        "postgresql"
    }

    fn pool_stats(&self) -> PoolStats {
        let size = self.pool.size();
        let idle = self.pool.num_idle() as u32;
        PoolStats {
            size,
            idle,
            in_use: size.saturating_sub(idle),
            max: self.pool.options().get_max_connections(),
        }
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn server_version(&self) -> StoreResult<String> {
        let (v,): (String,) = sqlx::query_as("SHOW server_version")
            .fetch_one(&self.pool)
            .await?;
        Ok(format!("PostgreSQL {v}"))
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn create_session(&self, new: &NewSession) -> StoreResult<SessionRecord> {
        let row: SessionRow = sqlx::query_as(
            "WITH s AS (INSERT INTO sessions (id, purpose, created_by, metadata, is_active, created_at, updated_at) \
               VALUES ($1, $2, $3, $4, TRUE, $5, $5) \
               RETURNING seq, id, purpose, created_by, metadata, is_active, created_at, updated_at), \
             a AS (INSERT INTO audit_log (created_at, event, actor, session_id, details) \
               SELECT $5, 'session_created', $3, s.id, jsonb_build_object('purpose_chars', char_length(s.purpose)) FROM s) \
             SELECT seq, id, purpose, created_by, metadata, is_active, created_at, updated_at FROM s",
        )
        .bind(new.id.as_str())
        .bind(&new.purpose)
        .bind(&new.created_by)
        .bind(Json(&new.metadata))
        .bind(new.at)
        .fetch_one(&self.pool)
        .await?;
        Ok(session(row))
    }

    async fn get_session(&self, id: &SessionId) -> StoreResult<Option<SessionRecord>> {
        let sql = format!("SELECT {SESSION_RETURNING} FROM sessions WHERE id = $1");
        let row: Option<SessionRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(session))
    }

    async fn list_sessions(
        &self,
        active_only: bool,
        limit: u32,
        before_seq: Option<i64>,
    ) -> StoreResult<Vec<SessionRecord>> {
        // Two statements so the active-only read can use the partial index.
        let sql = if active_only {
            "SELECT seq, id, purpose, created_by, metadata, is_active, created_at, updated_at FROM sessions \
             WHERE is_active AND seq < $1 ORDER BY seq DESC LIMIT $2"
        } else {
            "SELECT seq, id, purpose, created_by, metadata, is_active, created_at, updated_at FROM sessions \
             WHERE seq < $1 ORDER BY seq DESC LIMIT $2"
        };
        let rows: Vec<SessionRow> = sqlx::query_as(sql)
            .bind(before_seq.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(session).collect())
    }

    async fn close_session(
        &self,
        id: &SessionId,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<SessionRecord>> {
        let row: Option<SessionRow> = sqlx::query_as(
            "UPDATE sessions SET is_active = FALSE, updated_at = $2 WHERE id = $1 \
             RETURNING seq, id, purpose, created_by, metadata, is_active, created_at, updated_at",
        )
        .bind(id.as_str())
        .bind(at)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(session))
    }

    async fn add_message(&self, new: &NewMessage) -> StoreResult<InsertOutcome> {
        // The UPDATE takes the session's row lock before the INSERT draws an id, so ids within a
        // session commit in order and `after_id` cursors never skip a message.
        let inserted: Option<(i64,)> = sqlx::query_as(
            "WITH s AS (UPDATE sessions SET updated_at = $8 WHERE id = $1 AND is_active RETURNING id), \
             ins AS (INSERT INTO messages (session_id, sender, sender_type, content, visibility, metadata, parent_message_id, created_at) \
               SELECT s.id, $2, $3, $4, $5, $6, $7, $8 FROM s \
               WHERE $7::bigint IS NULL OR EXISTS (SELECT 1 FROM messages p WHERE p.id = $7 AND p.session_id = $1) \
               RETURNING id), \
             a AS (INSERT INTO audit_log (created_at, event, actor, session_id, details) \
               SELECT $8, 'message_added', $2, $1, jsonb_build_object('message_id', ins.id, 'visibility', $5::text) FROM ins) \
             SELECT id FROM ins",
        )
        .bind(new.session_id.as_str())
        .bind(&new.sender)
        .bind(&new.sender_type)
        .bind(&new.content)
        .bind(new.visibility.as_str())
        .bind(Json(&new.metadata))
        .bind(new.parent_message_id)
        .bind(new.at)
        .fetch_optional(&self.pool)
        .await?;
        if let Some((id,)) = inserted {
            return Ok(InsertOutcome::Inserted(MessageRecord::from_new(id, new)));
        }
        let state: Option<(bool,)> = sqlx::query_as("SELECT is_active FROM sessions WHERE id = $1")
            .bind(new.session_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(match state {
            None => InsertOutcome::SessionMissing,
            Some((false,)) => InsertOutcome::SessionClosed,
            Some((true,)) => InsertOutcome::ParentNotInSession,
        })
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
        let (kind, id, ty) = query.reader.sql_params();
        let rows: Vec<MessageRow> = sqlx::query_as(if query.newest_first { DESC } else { ASC })
            .bind(kind)
            .bind(id)
            .bind(ty)
            .bind(query.session_id.as_str())
            .bind(query.only.map(Visibility::as_str))
            .bind(query.after_id)
            .bind(i64::from(query.limit))
            .bind(query.offset)
            .fetch_all(&self.pool)
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
            .fetch_one(&self.pool)
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
        .bind(t.issued_at)
        .bind(t.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn find_token(&self, token_hash: &str) -> StoreResult<Option<TokenRecord>> {
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT token_hash, agent_id, agent_type, permissions, issued_at, expires_at, revoked_at \
             FROM agent_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(token))
    }

    async fn revoke_token(&self, token_hash: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE agent_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
        )
        .bind(token_hash)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn rotate_token(
        &self,
        old_hash: &str,
        new: &TokenRecord,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let row: Option<(String,)> = sqlx::query_as(
            "WITH old AS (UPDATE agent_tokens SET revoked_at = $7 \
               WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $7 RETURNING token_hash) \
             INSERT INTO agent_tokens (token_hash, agent_id, agent_type, permissions, issued_at, expires_at) \
             SELECT $2, $3, $4, $5, $6, $8 FROM old RETURNING token_hash",
        )
        .bind(old_hash)
        .bind(&new.token_hash)
        .bind(&new.agent_id)
        .bind(&new.agent_type)
        .bind(new.permissions.join(","))
        .bind(new.issued_at)
        .bind(at)
        .bind(new.expires_at)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    async fn audit(&self, e: &AuditEvent) -> StoreResult<()> {
        sqlx::query("INSERT INTO audit_log (created_at, event, actor, session_id, details) VALUES ($1, $2, $3, $4, $5)")
            .bind(e.at)
            .bind(e.event)
            .bind(&e.actor)
            .bind(&e.session_id)
            .bind(Json(&e.details))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn recent_audit(&self, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        let rows: Vec<(String, String, Option<String>, Json<Value>, DateTime<Utc>)> =
            sqlx::query_as("SELECT event, actor, session_id, details, created_at FROM audit_log ORDER BY id DESC LIMIT $1")
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(
                |(event, actor, session_id, Json(details), created_at)| AuditRecord {
                    event,
                    actor,
                    session_id,
                    details,
                    created_at,
                },
            )
            .collect())
    }
}
