//! The five original tables in a dump on PostgreSQL: `sessions` (by seq), `messages`,
//! `agent_memory` and `audit_log` (by id) and `agent_tokens` (by hash), read page by page along
//! the primary key and inserted with one `INSERT … SELECT FROM UNNEST(arrays)` per batch
//! (explicit ids need `OVERRIDING SYSTEM VALUE`).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::PgConnection;
use sqlx::types::Json;

use super::after_id;
use crate::storage::StoreResult;
use crate::storage::dump::{
    AuditDump, DumpBatch, DumpKey, MemoryDump, MessageDump, SessionDump, TokenDump,
};

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

pub(super) async fn sessions(
    conn: &mut PgConnection,
    after: Option<&DumpKey>,
    limit: i64,
) -> StoreResult<DumpBatch> {
    let rows: Vec<SessionRow> = sqlx::query_as(
        "SELECT seq, id, purpose, created_by, metadata, is_active, created_at, updated_at \
                     FROM sessions WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after_id(after))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(DumpBatch::Sessions(
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
    ))
}

pub(super) async fn messages(
    conn: &mut PgConnection,
    after: Option<&DumpKey>,
    limit: i64,
) -> StoreResult<DumpBatch> {
    let rows: Vec<MessageRow> = sqlx::query_as(
                    "SELECT id, session_id, sender, sender_type, content, visibility, message_type, metadata, \
                     parent_message_id, created_at FROM messages WHERE id > $1 ORDER BY id LIMIT $2",
                )
                .bind(after_id(after))
                .bind(limit)
                .fetch_all(conn)
                .await?;
    Ok(DumpBatch::Messages(
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
    ))
}

pub(super) async fn agent_memory(
    conn: &mut PgConnection,
    after: Option<&DumpKey>,
    limit: i64,
) -> StoreResult<DumpBatch> {
    let rows: Vec<MemoryRow> = sqlx::query_as(
                    "SELECT id, agent_id, session_id, key, value, value_size, metadata, created_at, updated_at, \
                     expires_at FROM agent_memory WHERE id > $1 ORDER BY id LIMIT $2",
                )
                .bind(after_id(after))
                .bind(limit)
                .fetch_all(conn)
                .await?;
    Ok(DumpBatch::AgentMemory(
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
    ))
}

pub(super) async fn audit_log(
    conn: &mut PgConnection,
    after: Option<&DumpKey>,
    limit: i64,
) -> StoreResult<DumpBatch> {
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT id, created_at, event, actor, session_id, details FROM audit_log \
                     WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after_id(after))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(DumpBatch::AuditLog(
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
    ))
}

pub(super) async fn agent_tokens(
    conn: &mut PgConnection,
    after: Option<&DumpKey>,
    limit: i64,
) -> StoreResult<DumpBatch> {
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
    Ok(DumpBatch::AgentTokens(
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
    ))
}

pub(super) async fn insert_sessions(
    conn: &mut PgConnection,
    rows: &[SessionDump],
) -> StoreResult<()> {
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
    Ok(())
}

pub(super) async fn insert_messages(
    conn: &mut PgConnection,
    rows: &[MessageDump],
) -> StoreResult<()> {
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
    Ok(())
}

pub(super) async fn insert_agent_memory(
    conn: &mut PgConnection,
    rows: &[MemoryDump],
) -> StoreResult<()> {
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
    Ok(())
}

pub(super) async fn insert_audit_log(
    conn: &mut PgConnection,
    rows: &[AuditDump],
) -> StoreResult<()> {
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
    Ok(())
}

pub(super) async fn insert_agent_tokens(
    conn: &mut PgConnection,
    rows: &[TokenDump],
) -> StoreResult<()> {
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
    Ok(())
}
